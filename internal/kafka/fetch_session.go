package kafka

// Fetch sessions (KIP-227): the broker remembers, per session, the
// partitions a client fetches and their fetch parameters, so that an
// incremental request lists only what changed and an incremental response
// only the partitions with something new.
//
//	request (SessionID, SessionEpoch)   what happens
//	(any, -1)  FINAL                     full fetch, no session; session
//	                                     SessionID (if any) is closed
//	(any, 0)   INITIAL                   full fetch; session SessionID (if
//	                                     any) is closed; a new session is
//	                                     created from the request's
//	                                     partitions if the cache has room
//	                                     (response SessionID ≠ 0, else 0)
//	(n, e), e ≠ 0, -1   incremental      n unknown: FETCH_SESSION_ID_NOT_FOUND;
//	                                     e ≠ session epoch: INVALID_FETCH_
//	                                     SESSION_EPOCH; v13+ against a session
//	                                     made by v<13 or the reverse:
//	                                     FETCH_SESSION_TOPIC_ID_ERROR (all
//	                                     top level, no partitions, SessionID
//	                                     0). Else the request's partitions
//	                                     are added or updated, ForgottenTopics
//	                                     removed, the epoch advances, and the
//	                                     fetch reads every partition of the
//	                                     session (the long poll watches them
//	                                     all).
//
// A session's epoch is 1 after creation and advances by one per
// incremental request (wrapping from MaxInt32 to 1). An incremental
// response holds a session partition only if it has records, an error, or
// a high watermark or log start offset different from the last response
// that held it (Kafka's CachedPartition.maybeUpdateResponseData);
// partitions that returned records move to the end of the session's order
// so that a response's byte limit does not starve the later ones.
//
// Sessions of v13+ requests key partitions by topic id, older ones by
// topic name. A topic id the broker does not know stays in the session
// and is answered UNKNOWN_TOPIC_ID in every response until the client
// forgets it (errors are always sent).
//
// Bounds: at most sessionLimits.Sessions sessions (Kafka's
// max.incremental.fetch.session.cache.slots, 1000), SessionPartitions
// partitions per session and Partitions over all sessions. A full fetch
// that does not fit gets no session (SessionID 0), after trying to evict
// one as Kafka does: the least recently used session if idle longer than
// EvictAfter, else the smallest session older than EvictAfter if the new
// one has more partitions. An incremental request that would grow its
// session past a bound closes it and is answered
// FETCH_SESSION_ID_NOT_FOUND: the client then sends a full fetch, which
// gets a session only if it fits.
//
// Ownership: one sessionCache per Fetch registration, shared by every
// connection's handler goroutines (a session may move between a client's
// connections); a mutex guards it. This is the wire edge, not the data
// path: the lock is held only to open and finish a request, never while
// reading partitions or long polling. A request keeps the epoch it
// expects; if another request of the same session finished meanwhile,
// finish answers INVALID_FETCH_SESSION_EPOCH (a duplicate request, in
// Kafka's words).

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sessionLimits bound a sessionCache; zero fields take the defaults.
type sessionLimits struct {
	Sessions          int           // sessions cached (1000)
	SessionPartitions int           // partitions in one session (10,000)
	Partitions        int           // partitions over all sessions (100,000)
	EvictAfter        time.Duration // idle time that makes a session stale, and age that makes it evictable (2 min)
}

func (l sessionLimits) withDefaults() sessionLimits {
	if l.Sessions <= 0 {
		l.Sessions = 1000
	}
	if l.SessionPartitions <= 0 {
		l.SessionPartitions = 10_000
	}
	if l.Partitions <= 0 {
		l.Partitions = 100_000
	}
	if l.EvictAfter <= 0 {
		l.EvictAfter = 2 * time.Minute
	}
	return l
}

// sessionKey names a partition in a session: by topic id (v13+) or by
// topic name.
type sessionKey struct {
	topicID   [16]byte
	topic     string
	partition int32
}

// fetchPart is one partition a fetch reads and the parameters it reads
// with, from the request (full fetch) or the session (incremental).
type fetchPart struct {
	key         sessionKey
	topic       string   // as the request named it (v<13)
	topicID     [16]byte // as the request named it (v13+)
	fetchOffset int64
	maxBytes    int32
	leaderEpoch int32
}

// cachedPart is a session's partition: its fetch parameters and what the
// last response that held it said.
type cachedPart struct {
	fetchPart
	sentHW, sentLogStart int64
	toEnd                bool // finish: returned records, moves last
}

type fetchSession struct {
	id, epoch int32
	usesIDs   bool
	parts     []*cachedPart // order of reading
	index     map[sessionKey]*cachedPart
	created   time.Time
	lastUsed  time.Time
}

// sessionCache holds the fetch sessions of one broker. Any goroutine.
type sessionCache struct {
	lim      sessionLimits
	mu       sync.Mutex
	sessions map[int32]*fetchSession
	parts    int // over all sessions
}

func newSessionCache(lim sessionLimits) *sessionCache {
	return &sessionCache{lim: lim.withDefaults(), sessions: make(map[int32]*fetchSession)}
}

type fetchMode uint8

const (
	modeSessionless fetchMode = iota // answer in full, no session
	modeFull                         // answer in full, then try to create a session
	modeIncremental                  // read the session, answer what changed
	modeError                        // top-level error, no partitions
)

// fetchContext is what open decided for one request.
type fetchContext struct {
	mode    fetchMode
	errCode int16       // modeError
	parts   []fetchPart // what to read, in order
	usesIDs bool
	session *fetchSession // modeIncremental
	epoch   int32         // the session epoch finish expects (modeIncremental)
}

const (
	finalEpoch   = -1
	initialEpoch = 0
)

func nextEpoch(e int32) int32 {
	if e == math.MaxInt32 {
		return 1
	}
	return e + 1
}

// requestParts lists a request's partitions in order.
func requestParts(req *kmsg.FetchRequest) []fetchPart {
	n := 0
	for i := range req.Topics {
		n += len(req.Topics[i].Partitions)
	}
	parts := make([]fetchPart, 0, n)
	ids := req.Version >= 13
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			fp := fetchPart{topic: t.Topic, topicID: t.TopicID, fetchOffset: p.FetchOffset,
				maxBytes: p.PartitionMaxBytes, leaderEpoch: p.CurrentLeaderEpoch}
			fp.key = partKey(ids, t.Topic, t.TopicID, p.Partition)
			parts = append(parts, fp)
		}
	}
	return parts
}

func partKey(ids bool, topic string, id [16]byte, p int32) sessionKey {
	if ids {
		return sessionKey{topicID: id, partition: p}
	}
	return sessionKey{topic: topic, partition: p}
}

// open decides how a request is served and, for an incremental one,
// applies it to its session.
func (c *sessionCache) open(req *kmsg.FetchRequest, now time.Time) fetchContext {
	ids := req.Version >= 13
	if req.Version < 7 {
		return fetchContext{mode: modeSessionless, parts: requestParts(req)}
	}
	if req.SessionEpoch == finalEpoch || req.SessionEpoch == initialEpoch {
		mode := modeFull
		if req.SessionEpoch == finalEpoch {
			mode = modeSessionless
		}
		if req.SessionID != 0 {
			c.mu.Lock()
			if s := c.sessions[req.SessionID]; s != nil {
				c.removeLocked(s)
			}
			c.mu.Unlock()
		}
		return fetchContext{mode: mode, parts: requestParts(req), usesIDs: ids}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[req.SessionID]
	switch {
	case s == nil:
		return fetchContext{mode: modeError, errCode: kerr.FetchSessionIDNotFound.Code}
	case s.epoch != req.SessionEpoch:
		return fetchContext{mode: modeError, errCode: kerr.InvalidFetchSessionEpoch.Code}
	case s.usesIDs != ids:
		return fetchContext{mode: modeError, errCode: kerr.FetchSessionTopicIDError.Code}
	}
	c.parts -= len(s.parts)
	added := requestParts(req)
	for _, fp := range added {
		if cp := s.index[fp.key]; cp != nil {
			cp.fetchPart = fp
			continue
		}
		cp := &cachedPart{fetchPart: fp, sentHW: -1, sentLogStart: -1}
		s.index[fp.key] = cp
		s.parts = append(s.parts, cp)
	}
	forgot := false
	for _, t := range req.ForgottenTopics {
		for _, p := range t.Partitions {
			k := partKey(ids, t.Topic, t.TopicID, p)
			if s.index[k] != nil {
				delete(s.index, k)
				forgot = true
			}
		}
	}
	if forgot {
		kept := s.parts[:0]
		for _, cp := range s.parts {
			if s.index[cp.key] == cp {
				kept = append(kept, cp)
			}
		}
		clear(s.parts[len(kept):])
		s.parts = kept
	}
	c.parts += len(s.parts)
	if len(s.parts) > c.lim.SessionPartitions || c.parts > c.lim.Partitions {
		c.removeLocked(s)
		return fetchContext{mode: modeError, errCode: kerr.FetchSessionIDNotFound.Code}
	}
	if len(s.parts) == 0 {
		// Kafka: a session left empty is closed and the request
		// answered without one.
		c.removeLocked(s)
		return fetchContext{mode: modeSessionless, parts: added, usesIDs: ids}
	}
	s.lastUsed = now
	s.epoch = nextEpoch(s.epoch)
	parts := make([]fetchPart, len(s.parts))
	for i, cp := range s.parts {
		parts[i] = cp.fetchPart
	}
	return fetchContext{mode: modeIncremental, parts: parts, usesIDs: ids, session: s, epoch: s.epoch}
}

// partResult is what a fetch read for one of its parts.
type partResult struct {
	part fetchPart
	resp kmsg.FetchResponseTopicPartition
}

// finish completes a request with what it read (one result per part of
// fc, in order): it returns the results to answer, the response's
// SessionID and its top-level error code.
func (c *sessionCache) finish(fc *fetchContext, results []partResult, now time.Time) ([]partResult, int32, int16) {
	switch fc.mode {
	case modeError:
		return nil, 0, fc.errCode
	case modeSessionless:
		return results, 0, 0
	case modeFull:
		return results, c.create(fc.usesIDs, results, now), 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := fc.session
	if s.epoch != fc.epoch {
		return nil, s.id, kerr.InvalidFetchSessionEpoch.Code
	}
	out := results[:0]
	moved := false
	for _, r := range results {
		cp := s.index[r.part.key]
		if cp == nil || !cp.mustRespond(&r.resp) {
			continue
		}
		out = append(out, r)
		if len(r.resp.RecordBatches) > 0 {
			cp.toEnd, moved = true, true
		}
	}
	if moved {
		s.parts = moveToEnd(s.parts)
	}
	return out, s.id, 0
}

// moveToEnd moves the parts marked toEnd (they returned records) to the
// end of a session's order, keeping relative order, and clears the marks.
func moveToEnd(parts []*cachedPart) []*cachedPart {
	order := make([]*cachedPart, 0, len(parts))
	for _, cp := range parts {
		if !cp.toEnd {
			order = append(order, cp)
		}
	}
	for _, cp := range parts {
		if cp.toEnd {
			cp.toEnd = false
			order = append(order, cp)
		}
	}
	return order
}

// mustRespond reports whether an incremental response holds this
// partition, and records what it says (Kafka's maybeUpdateResponseData).
func (cp *cachedPart) mustRespond(r *kmsg.FetchResponseTopicPartition) bool {
	must := len(r.RecordBatches) > 0
	if cp.sentHW != r.HighWatermark {
		must = true
		cp.sentHW = r.HighWatermark
	}
	if cp.sentLogStart != r.LogStartOffset {
		must = true
		cp.sentLogStart = r.LogStartOffset
	}
	if r.ErrorCode != 0 {
		// Sent again once the error is gone.
		cp.sentHW = -1
		must = true
	}
	return must
}

// create makes a session of a full fetch's partitions if the cache has
// room (evicting as Kafka does) and returns its id, or 0.
func (c *sessionCache) create(ids bool, results []partResult, now time.Time) int32 {
	s := &fetchSession{epoch: 1, usesIDs: ids, index: make(map[sessionKey]*cachedPart, len(results)),
		created: now, lastUsed: now}
	for _, r := range results {
		cp := s.index[r.part.key]
		if cp == nil {
			cp = &cachedPart{}
			s.index[r.part.key] = cp
			s.parts = append(s.parts, cp)
		}
		*cp = cachedPart{fetchPart: r.part, sentHW: r.resp.HighWatermark, sentLogStart: r.resp.LogStartOffset}
	}
	if len(s.parts) == 0 || len(s.parts) > c.lim.SessionPartitions || len(s.parts) > c.lim.Partitions {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.sessions) >= c.lim.Sessions || c.parts+len(s.parts) > c.lim.Partitions {
		if !c.evictLocked(len(s.parts), now) {
			return 0
		}
	}
	for s.id == 0 || c.sessions[s.id] != nil {
		s.id = rand.Int32N(math.MaxInt32) + 1 // 1..MaxInt32; sessions ≤ 1000 of 2^31
	}
	c.sessions[s.id] = s
	c.parts += len(s.parts)
	return s.id
}

// evictLocked evicts one session to make room for a new one of size
// partitions, per Kafka's FetchSessionCache.tryEvict (without privileged
// follower sessions): the least recently used session if idle longer
// than EvictAfter, else the smallest (then lowest id) session created
// more than EvictAfter ago if the new one is larger. A linear scan: at
// most lim.Sessions, and only when a full fetch finds the cache full.
func (c *sessionCache) evictLocked(size int, now time.Time) bool {
	var lru, small *fetchSession
	for _, s := range c.sessions {
		if lru == nil || s.lastUsed.Before(lru.lastUsed) || s.lastUsed.Equal(lru.lastUsed) && s.id < lru.id {
			lru = s
		}
		if now.Sub(s.created) > c.lim.EvictAfter &&
			(small == nil || len(s.parts) < len(small.parts) || len(s.parts) == len(small.parts) && s.id < small.id) {
			small = s
		}
	}
	switch {
	case lru == nil:
		return false
	case now.Sub(lru.lastUsed) > c.lim.EvictAfter:
		c.removeLocked(lru)
	case small != nil && size > len(small.parts):
		c.removeLocked(small)
	default:
		return false
	}
	return true
}

func (c *sessionCache) removeLocked(s *fetchSession) {
	if c.sessions[s.id] != s {
		return
	}
	delete(c.sessions, s.id)
	c.parts -= len(s.parts)
}

// stats reports the sessions and partitions cached.
func (c *sessionCache) stats() (sessions, partitions int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions), c.parts
}
