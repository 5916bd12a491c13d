package petrel_test

// TestCrash: the real binary, kill -9 at random moments, restart, and every
// acknowledged record is where it was acknowledged (CHAOS.md G1, G2, G4,
// G12, G13 on one node).
//
// One data dir lives through every round. A round starts `petrel serve` on
// free loopback ports, waits for /v1/status/ready, checks the whole log
// (below), then runs a franz-go producer (idempotent, acks=all, up to 5
// requests in flight, manual partitioner over 4 partitions, values
// "r<round>-<seq>-<padding>") and SIGKILLs the process, by its PID, once a
// seeded random number of records of this round were acknowledged (or the
// produce budget ends), while requests are still in flight. A final start
// checks the log once more and then stops the broker with SIGTERM, which
// must exit 0 within 30 s.
//
// The check, after every restart, reads every partition from offset 0 up to
// its high watermark and asserts:
//   - dense: the record read at position i has offset i, no gaps, and the
//     high watermark is the number of records read;
//   - no lost or moved write: every acknowledged (partition, offset, value)
//     is below the high watermark and the record at that offset has that
//     value;
//   - final offsets: the log read after the previous restart is a prefix of
//     this one, byte-equal values at every offset;
//   - no phantom: every value in the log was sent by the test;
//   - no duplicate: no value at two offsets. The producer is idempotent and
//     a killed round's client is closed, never resumed, so not even a send
//     whose outcome was unknown at the kill (in flight, or failed by Close)
//     may appear twice; such a send may appear once or not at all;
//   - per-producer order: within a partition, one round's sequence numbers
//     increase with the offset;
//   - the broker's stderr holds no "panic:", "fatal error:" or "DATA RACE";
//   - group offsets committed while producing survive (crash_groups_test.go).
//
// PETREL_CRASH_ROUNDS sets the kills (default 3; `make crash` runs 20);
// PETREL_CRASH_SEED replays a seed (printed on every run; the kill moments
// follow it, the broker's timing does not).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	crashTopic      = "crash"
	crashPartitions = 4
)

func TestCrash(t *testing.T) {
	rounds := envInt(t, "PETREL_CRASH_ROUNDS", 3)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PETREL_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PETREL_CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("crash test: seed=%d rounds=%d (replay: PETREL_CRASH_SEED=%d)", seed, rounds, seed)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	deadline := time.Now().Add(time.Duration(rounds+2) * 90 * time.Second)

	bin := buildPetrel(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	h := &crashHistory{acked: map[string]ackedRecord{}, sent: map[string]bool{}}
	var groups *groupCommits
	for round := 0; round <= rounds; round++ {
		if time.Now().After(deadline) {
			t.Fatalf("time budget spent after %d rounds", round)
		}
		p := startPetrel(t, bin, dataDir, round)
		if round == 0 {
			createCrashTopic(t, p.kafka)
			groups = newGroupCommits(t, p.kafka)
		} else {
			h.check(t, p)
			groups.check(t, p)
		}
		if round == rounds {
			p.terminate(t)
			break
		}
		target, jitter := 1+rng.IntN(600), time.Duration(rng.IntN(40))*time.Millisecond
		stopCommits := groups.start(t, p.kafka)
		n := produceUntilKill(t, p, h, round, target, jitter, rng.Uint64())
		stopCommits()
		t.Logf("round %d: killed after %d acks this round (target %d); %d acked in all, %d sent",
			round, n, target, len(h.acked), len(h.sent))
	}
}

// ackedRecord is where the broker said a record went.
type ackedRecord struct {
	partition int32
	offset    int64
}

// crashHistory is what the producers sent and what the broker acknowledged,
// and the log as last read. Values are unique per send.
type crashHistory struct {
	mu    sync.Mutex
	acked map[string]ackedRecord
	sent  map[string]bool
	log   [crashPartitions][]string // after the previous restart
}

// produceUntilKill produces round's records until target of them are
// acknowledged (or 20 s pass), waits jitter more, kills the broker with SIGKILL while the
// producer keeps sending, then closes the client and waits for every
// callback. It returns the acknowledgements of this round.
func produceUntilKill(t *testing.T, p *petrelProc, h *crashHistory, round, target int, jitter time.Duration, seed uint64) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.kafka),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond),
		kgo.MaxBufferedRecords(400),
		kgo.RetryTimeout(5*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	var (
		callbacks sync.WaitGroup
		mu        sync.Mutex
		acks      int
		reached   = make(chan struct{})
		produced  = make(chan struct{})
	)
	go func() {
		defer close(produced)
		pad := rand.New(rand.NewPCG(seed, 1))
		for seq := 0; seq < 1_000_000 && ctx.Err() == nil; seq++ {
			v := fmt.Sprintf("r%d-%d-%s", round, seq, strings.Repeat("x", pad.IntN(200)))
			h.mu.Lock()
			h.sent[v] = true
			h.mu.Unlock()
			callbacks.Add(1)
			r := &kgo.Record{Topic: crashTopic, Partition: int32(seq % crashPartitions), Value: []byte(v)}
			cl.Produce(ctx, r, func(r *kgo.Record, err error) {
				defer callbacks.Done()
				if err != nil {
					return
				}
				h.mu.Lock()
				h.acked[string(r.Value)] = ackedRecord{r.Partition, r.Offset}
				h.mu.Unlock()
				mu.Lock()
				acks++
				if acks == target {
					close(reached)
				}
				mu.Unlock()
			})
		}
	}()
	budget := time.NewTimer(20 * time.Second)
	defer budget.Stop()
	select {
	case <-reached:
		// The fault schedule, not synchronisation: land the kill at a
		// random point of the next batches' fsync and commit.
		time.Sleep(jitter)
	case <-budget.C:
		t.Logf("round %d: produce budget spent before %d acks; killing anyway", round, target)
	case <-p.exited:
		t.Fatalf("broker exited on its own during round %d:\n%s", round, p.logTail())
	}
	p.kill(t)
	stop()
	<-produced // Produce returns at once for a cancelled context
	closed := make(chan struct{})
	go func() { cl.Close(); callbacks.Wait(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(60 * time.Second):
		t.Fatal("producer callbacks still pending 60 s after the kill")
	}
	mu.Lock()
	defer mu.Unlock()
	return acks
}

// check reads the whole topic from a freshly started broker and asserts
// the properties listed at the top of the file.
func (h *crashHistory) check(t *testing.T, p *petrelProc) {
	t.Helper()
	log := readAll(t, p)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.verify(log); err != nil {
		t.Fatalf("%v\nbroker log:\n%s", err, p.logTail())
	}
	total := 0
	for part := range log {
		total += len(log[part])
	}
	t.Logf("check: %d records in the log, %d acknowledged all found at their offsets", total, len(h.acked))
	h.log = log
}

// verify checks log (dense by construction: index = offset) against the
// history; h.mu is held.
func (h *crashHistory) verify(log [crashPartitions][]string) error {
	where := map[string]ackedRecord{}
	for part, vals := range log {
		prev := h.log[part]
		if len(vals) < len(prev) {
			return fmt.Errorf("TRUNCATED: partition %d has %d records, %d were read before the kill", part, len(vals), len(prev))
		}
		lastSeq := map[int]int{}
		for off, v := range vals {
			if off < len(prev) && prev[off] != v {
				return fmt.Errorf("REWRITTEN: partition %d offset %d: read %.40q before the kill, %.40q now", part, off, prev[off], v)
			}
			if !h.sent[v] {
				return fmt.Errorf("PHANTOM: partition %d offset %d: value %.40q was never sent", part, off, v)
			}
			if w, dup := where[v]; dup {
				return fmt.Errorf("DUPLICATE: value %.40q at %d/%d and %d/%d", v, w.partition, w.offset, part, off)
			}
			where[v] = ackedRecord{int32(part), int64(off)}
			round, seq, err := parseCrashValue(v)
			if err != nil {
				return err
			}
			if last, ok := lastSeq[round]; ok && seq <= last {
				return fmt.Errorf("REORDERED: partition %d offset %d: round %d seq %d after seq %d", part, off, round, seq, last)
			}
			lastSeq[round] = seq
		}
	}
	for v, a := range h.acked {
		got, ok := where[v]
		if !ok {
			return fmt.Errorf("LOST: acknowledged %.40q at %d/%d is not in the log (partition has %d records)",
				v, a.partition, a.offset, len(log[a.partition]))
		}
		if got != a {
			return fmt.Errorf("MOVED: %.40q acknowledged at %d/%d is at %d/%d", v, a.partition, a.offset, got.partition, got.offset)
		}
	}
	return nil
}

// readAll reads every partition of the crash topic from offset 0 to its
// high watermark, asserting offsets are dense.
func readAll(t *testing.T, p *petrelProc) [crashPartitions][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := newClient(t, p.kafka)
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, crashTopic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("list end offsets: %v %v", err, ends.Error())
	}
	var hw [crashPartitions]int64
	from := map[int32]kgo.Offset{}
	for part := range hw {
		o, ok := ends.Lookup(crashTopic, int32(part))
		if !ok {
			t.Fatalf("no end offset for partition %d", part)
		}
		hw[part] = o.Offset
		if o.Offset > 0 {
			from[int32(part)] = kgo.NewOffset().At(0)
		}
	}
	var log [crashPartitions][]string
	if len(from) == 0 {
		return log
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.kafka), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{crashTopic: from}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	done := func() bool {
		for part := range hw {
			if int64(len(log[part])) < hw[part] {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading: %v (have %v of %v)", ctx.Err(), lens(log), hw)
		}
		fs.EachError(func(_ string, part int32, err error) { t.Fatalf("fetch partition %d: %v", part, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= hw[r.Partition] {
				return // produced after ListOffsets: nothing does, but stay exact
			}
			if want := int64(len(log[r.Partition])); r.Offset != want {
				t.Fatalf("partition %d: offset %d read where %d was next (gap or repeat)", r.Partition, r.Offset, want)
			}
			log[r.Partition] = append(log[r.Partition], string(r.Value))
		})
	}
	return log
}

func lens(log [crashPartitions][]string) []int {
	out := make([]int, len(log))
	for i := range log {
		out[i] = len(log[i])
	}
	return out
}

func parseCrashValue(v string) (round, seq int, err error) {
	parts := strings.SplitN(v, "-", 3)
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "r") {
		return 0, 0, fmt.Errorf("value %.40q is not r<round>-<seq>-<pad>", v)
	}
	if round, err = strconv.Atoi(parts[0][1:]); err == nil {
		seq, err = strconv.Atoi(parts[1])
	}
	if err != nil {
		return 0, 0, fmt.Errorf("value %.40q: %w", v, err)
	}
	return round, seq, nil
}

func createCrashTopic(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newClient(t, addr)
	defer cl.Close()
	res, err := kadm.NewClient(cl).CreateTopics(ctx, crashPartitions, 1, nil, crashTopic)
	if err != nil || res[crashTopic].Err != nil {
		t.Fatalf("create topic: %v %v", err, res[crashTopic].Err)
	}
}

// TestCrashCheckFails: the crash check catches each anomaly it claims to.
func TestCrashCheckFails(t *testing.T) {
	base := func() *crashHistory {
		h := &crashHistory{acked: map[string]ackedRecord{}, sent: map[string]bool{}}
		for _, v := range []string{"r0-0-", "r0-1-", "r0-2-", "r0-3-", "r1-0-"} {
			h.sent[v] = true
		}
		h.acked["r0-0-"] = ackedRecord{0, 0}
		h.acked["r0-2-"] = ackedRecord{0, 1}
		h.log[0] = []string{"r0-0-"}
		return h
	}
	good := [crashPartitions][]string{{"r0-0-", "r0-2-", "r1-0-"}, {"r0-1-"}}
	if err := base().verify(good); err != nil {
		t.Fatalf("a correct log fails: %v", err)
	}
	for name, log := range map[string][crashPartitions][]string{
		"LOST":      {{"r0-0-"}, {"r0-1-"}},
		"MOVED":     {{"r0-0-", "r0-1-", "r0-2-"}},
		"DUPLICATE": {{"r0-0-", "r0-2-"}, {"r0-1-", "r0-1-"}},
		"PHANTOM":   {{"r0-0-", "r0-2-", "r9-9-"}},
		"REORDERED": {{"r0-0-", "r0-2-", "r0-1-"}},
		"REWRITTEN": {{"r0-1-", "r0-2-"}, {"r0-0-"}},
		"TRUNCATED": {{}, {"r0-0-", "r0-2-"}},
	} {
		err := base().verify(log)
		if err == nil || !strings.HasPrefix(err.Error(), name) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
