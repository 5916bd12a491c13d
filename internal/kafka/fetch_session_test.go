package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchReq builds a Fetch request naming partitions of topic "t" (v<13)
// or of topic id {1} (v13+).
func fetchReq(version int16, id, epoch int32, parts ...int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.SessionID, req.SessionEpoch = version, id, epoch
	if len(parts) > 0 {
		t := kmsg.NewFetchRequestTopic()
		t.Topic, t.TopicID = topicOfVersion(version)
		for _, p := range parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, 0, 1<<20
			t.Partitions = append(t.Partitions, rp)
		}
		req.Topics = append(req.Topics, t)
	}
	return req
}

func topicOfVersion(version int16) (string, [16]byte) {
	if version >= 13 {
		return "", [16]byte{1}
	}
	return "t", [16]byte{}
}

func forget(req *kmsg.FetchRequest, parts ...int32) *kmsg.FetchRequest {
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.Topic, ft.TopicID = topicOfVersion(req.Version)
	ft.Partitions = parts
	req.ForgottenTopics = append(req.ForgottenTopics, ft)
	return req
}

// read fakes the partition reads: hw[p] is partition p's high
// watermark, and a part whose fetch offset is below it gets one byte.
func read(fc *fetchContext, hw map[int32]int64) []partResult {
	var rs []partResult
	for _, p := range fc.parts {
		out := kmsg.NewFetchResponseTopicPartition()
		out.Partition, out.HighWatermark, out.LogStartOffset = p.key.partition, hw[p.key.partition], 0
		if p.fetchOffset < out.HighWatermark {
			out.RecordBatches = []byte{1}
		}
		rs = append(rs, partResult{part: p, resp: out})
	}
	return rs
}

func partitionsOf(rs []partResult) string {
	s := ""
	for _, r := range rs {
		s += fmt.Sprint(r.resp.Partition, " ")
	}
	return s
}

// roundTrip opens and finishes one request.
func roundTrip(c *sessionCache, req *kmsg.FetchRequest, hw map[int32]int64, now time.Time) ([]partResult, int32, int16) {
	fc := c.open(req, now)
	return c.finish(&fc, read(&fc, hw), now)
}

func TestFetchSessionLifecycle(t *testing.T) {
	for _, v := range []int16{12, 13} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			c := newSessionCache(sessionLimits{})
			now := time.Unix(1000, 0)
			hw := map[int32]int64{0: 0, 1: 0, 2: 0}
			rs, id, code := roundTrip(c, fetchReq(v, 0, 0, 0, 1, 2), hw, now)
			if id == 0 || code != 0 || len(rs) != 3 {
				t.Fatalf("create: id %d code %d parts %q", id, code, partitionsOf(rs))
			}
			// Nothing changed: nothing answered.
			rs, id2, code := roundTrip(c, fetchReq(v, id, 1), hw, now)
			if id2 != id || code != 0 || len(rs) != 0 {
				t.Fatalf("idle incremental: id %d code %d parts %q", id2, code, partitionsOf(rs))
			}
			// Partition 1 gets a record: only it is answered, and it
			// moves to the end of the session's order.
			hw[1] = 1
			if rs, _, code = roundTrip(c, fetchReq(v, id, 2), hw, now); code != 0 || partitionsOf(rs) != "1 " {
				t.Fatalf("after produce: code %d parts %q", code, partitionsOf(rs))
			}
			// The client moves partition 1 to offset 1 (records read):
			// the HW is unchanged, nothing is answered; the session's
			// order now reads 0 2 1.
			req := fetchReq(v, id, 3, 1)
			req.Topics[0].Partitions[0].FetchOffset = 1
			fc := c.open(req, now)
			if got := fmt.Sprint(fc.parts[0].key.partition, fc.parts[1].key.partition, fc.parts[2].key.partition); got != "0 2 1" {
				t.Fatalf("session order %s, want 0 2 1", got)
			}
			if rs, _, code = c.finish(&fc, read(&fc, hw), now); code != 0 || len(rs) != 0 {
				t.Fatalf("caught up: code %d parts %q", code, partitionsOf(rs))
			}
			// An error is always answered, and again once it is gone.
			fc = c.open(fetchReq(v, id, 4), now)
			res := read(&fc, hw)
			res[0].resp.ErrorCode = kerr.NotLeaderForPartition.Code
			if rs, _, _ = c.finish(&fc, res, now); partitionsOf(rs) != "0 " {
				t.Fatalf("error: parts %q", partitionsOf(rs))
			}
			if rs, _, _ = roundTrip(c, fetchReq(v, id, 5), hw, now); partitionsOf(rs) != "0 " {
				t.Fatalf("error gone: parts %q", partitionsOf(rs))
			}
			// Wrong epoch, unknown id.
			if _, _, code = roundTrip(c, fetchReq(v, id, 5), hw, now); code != kerr.InvalidFetchSessionEpoch.Code {
				t.Fatalf("wrong epoch: code %d", code)
			}
			if _, _, code = roundTrip(c, fetchReq(v, id+1, 1), hw, now); code != kerr.FetchSessionIDNotFound.Code {
				t.Fatalf("unknown id: code %d", code)
			}
			// A request of the other topic naming is refused.
			other := int16(13)
			if v >= 13 {
				other = 12
			}
			if _, _, code = roundTrip(c, fetchReq(other, id, 6), hw, now); code != kerr.FetchSessionTopicIDError.Code {
				t.Fatalf("topic id mismatch: code %d", code)
			}
			// Forgetting partitions shrinks the session; forgetting the
			// last one closes it.
			if _, _, code = roundTrip(c, forget(fetchReq(v, id, 6), 0, 1), hw, now); code != 0 {
				t.Fatalf("forget: code %d", code)
			}
			if n, p := c.stats(); n != 1 || p != 1 {
				t.Fatalf("after forget: %d sessions %d partitions", n, p)
			}
			if rs, id2, code = roundTrip(c, forget(fetchReq(v, id, 7), 2), hw, now); id2 != 0 || code != 0 || len(rs) != 0 {
				t.Fatalf("forget all: id %d code %d parts %q", id2, code, partitionsOf(rs))
			}
			if n, p := c.stats(); n != 0 || p != 0 {
				t.Fatalf("after forget all: %d sessions %d partitions", n, p)
			}
			// Epoch 0 with an id replaces the session; -1 closes it.
			_, id, _ = roundTrip(c, fetchReq(v, 0, 0, 0), hw, now)
			_, id2, _ = roundTrip(c, fetchReq(v, id, 0, 0), hw, now)
			if id2 == 0 || id2 == id {
				t.Fatalf("replace: %d then %d", id, id2)
			}
			if _, _, code = roundTrip(c, fetchReq(v, id, 1), hw, now); code != kerr.FetchSessionIDNotFound.Code {
				t.Fatalf("replaced session still answers: code %d", code)
			}
			if rs, id, _ = roundTrip(c, fetchReq(v, id2, -1, 0), hw, now); id != 0 || len(rs) != 1 {
				t.Fatalf("final: id %d parts %q", id, partitionsOf(rs))
			}
			if n, _ := c.stats(); n != 0 {
				t.Fatalf("final left %d sessions", n)
			}
		})
	}
}

func TestFetchSessionDuplicateRequest(t *testing.T) {
	c := newSessionCache(sessionLimits{})
	now := time.Unix(1000, 0)
	hw := map[int32]int64{0: 5}
	_, id, _ := roundTrip(c, fetchReq(12, 0, 0, 0), hw, now)
	slow := c.open(fetchReq(12, id, 1), now) // a long poll in flight
	if _, _, code := roundTrip(c, fetchReq(12, id, 2), hw, now); code != 0 {
		t.Fatalf("next epoch: code %d", code)
	}
	if _, id2, code := c.finish(&slow, read(&slow, hw), now); code != kerr.InvalidFetchSessionEpoch.Code || id2 != id {
		t.Fatalf("overtaken request: id %d code %d", id2, code)
	}
}

func TestFetchSessionEpochWraps(t *testing.T) {
	if nextEpoch(1) != 2 || nextEpoch(1<<31-1) != 1 {
		t.Fatalf("nextEpoch: %d %d", nextEpoch(1), nextEpoch(1<<31-1))
	}
}

func TestFetchSessionCacheBounds(t *testing.T) {
	lim := sessionLimits{Sessions: 3, SessionPartitions: 4, Partitions: 10, EvictAfter: time.Minute}
	start := time.Unix(1000, 0)
	hw := map[int32]int64{}
	create := func(c *sessionCache, now time.Time, parts ...int32) int32 {
		_, id, code := roundTrip(c, fetchReq(12, 0, 0, parts...), hw, now)
		if code != 0 {
			t.Fatalf("full fetch: code %d", code)
		}
		return id
	}

	t.Run("slots", func(t *testing.T) {
		c := newSessionCache(lim)
		ids := []int32{create(c, start, 0), create(c, start.Add(time.Second), 0, 1), create(c, start.Add(2*time.Second), 0)}
		for _, id := range ids {
			if id == 0 {
				t.Fatalf("sessions %v: one not created", ids)
			}
		}
		// Full, nothing stale, nothing old enough: no session.
		if id := create(c, start.Add(3*time.Second), 0, 1, 2); id != 0 {
			t.Fatalf("fourth session %d created over 3 slots", id)
		}
		// Keep sessions 1 and 2 in use; session 0 goes stale and is the
		// one evicted.
		later := start.Add(50 * time.Second)
		for i, id := range ids[1:] {
			if _, _, code := roundTrip(c, fetchReq(12, id, 1), hw, later); code != 0 {
				t.Fatalf("session %d: code %d", i+1, code)
			}
		}
		stale := start.Add(61 * time.Second)
		if id := create(c, stale, 0); id == 0 {
			t.Fatalf("no session though session 0 is stale")
		}
		if _, _, code := roundTrip(c, fetchReq(12, ids[0], 1), hw, stale); code != kerr.FetchSessionIDNotFound.Code {
			t.Fatalf("stale session not evicted: code %d", code)
		}
		// Nothing stale now, but sessions 1 and 2 are older than
		// EvictAfter: a larger session evicts the smallest (session 2,
		// 1 partition), an equal one does not.
		old := start.Add(100 * time.Second)
		for _, id := range ids[1:] {
			roundTrip(c, fetchReq(12, id, 2), hw, old)
		}
		if id := create(c, old, 5); id != 0 {
			t.Fatalf("1-partition session evicted an old 1-partition session")
		}
		if id := create(c, old, 5, 6); id == 0 {
			t.Fatalf("2-partition session evicted nothing")
		}
		if _, _, code := roundTrip(c, fetchReq(12, ids[2], 3), hw, old); code != kerr.FetchSessionIDNotFound.Code {
			t.Fatalf("smallest old session not evicted: code %d", code)
		}
		if _, _, code := roundTrip(c, fetchReq(12, ids[1], 3), hw, old); code != 0 {
			t.Fatalf("larger session evicted: code %d", code)
		}
		if n, _ := c.stats(); n != 3 {
			t.Fatalf("%d sessions, want 3", n)
		}
	})

	t.Run("partitions", func(t *testing.T) {
		c := newSessionCache(lim)
		if id := create(c, start, 0, 1, 2, 3, 4); id != 0 {
			t.Fatalf("5-partition session created over a bound of 4")
		}
		id := create(c, start, 0, 1, 2, 3)
		if id == 0 {
			t.Fatalf("4-partition session not created")
		}
		// Growing past the bound closes the session.
		if _, _, code := roundTrip(c, fetchReq(12, id, 1, 4), hw, start); code != kerr.FetchSessionIDNotFound.Code {
			t.Fatalf("grown past the bound: code %d", code)
		}
		if n, p := c.stats(); n != 0 || p != 0 {
			t.Fatalf("after overgrowth: %d sessions %d partitions", n, p)
		}
		// Over all sessions: 4 + 4 fit in 10, a third of 4 does not.
		a, b := create(c, start, 0, 1, 2, 3), create(c, start, 0, 1, 2, 3)
		if a == 0 || b == 0 {
			t.Fatalf("sessions %d %d", a, b)
		}
		if id := create(c, start, 0, 1, 2, 3); id != 0 {
			t.Fatalf("12 partitions cached over a bound of 10")
		}
		if _, p := c.stats(); p != 8 {
			t.Fatalf("%d partitions cached, want 8", p)
		}
		// An incremental request that grows the total past it closes
		// its session.
		if _, _, code := roundTrip(c, forget(fetchReq(12, a, 1, 9, 10), 0, 1), hw, start); code != 0 {
			t.Fatalf("same size: code %d", code)
		}
		roundTrip(c, fetchReq(12, 0, 0, 0, 1), hw, start)
		if _, p := c.stats(); p != 10 {
			t.Fatalf("%d partitions cached, want 10", p)
		}
		if _, _, code := roundTrip(c, forget(fetchReq(12, b, 1, 7), 0, 1), hw, start); code != 0 {
			t.Fatalf("shrink: code %d", code)
		}
		if _, _, code := roundTrip(c, fetchReq(12, b, 2, 11, 12), hw, start); code != kerr.FetchSessionIDNotFound.Code {
			t.Fatalf("total overgrowth: code %d", code)
		}
	})
}
