package journal

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

func TestFormatRecordRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := genRecord(rng, 100)
	b := appendRecord(nil, 7, 42, r)
	v, err := decodeRecord(b, 1<<20)
	if err != nil || v.gen != 7 || v.seq != 42 || v.rec.Key != r.Key || v.rec.Kind != r.Kind || string(v.rec.Payload) != string(r.Payload) || v.size != int64(len(b)) {
		t.Fatalf("round trip: %+v %v", v, err)
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x40
		if _, err := decodeRecord(c, 1<<20); err == nil {
			t.Fatalf("flip of byte %d not detected", i)
		}
	}
	if _, err := decodeRecord(make([]byte, 4096), 1<<20); !errors.Is(err, model.ErrCorrupt) {
		t.Fatalf("zeros decoded as a record: %v", err)
	}
	if _, err := decodeRecord(b[:len(b)-1], 1<<20); !errors.Is(err, model.ErrShort) {
		t.Fatalf("short record: %v", err)
	}
	h := appendFileHeader(nil, fileHeader{gen: 3, firstSeq: 9})
	if len(h) != HeaderBlockSize {
		t.Fatalf("header block %d bytes", len(h))
	}
	if got, err := decodeFileHeader(h); err != nil || got != (fileHeader{3, 9}) {
		t.Fatalf("header round trip %+v %v", got, err)
	}
	if _, err := decodeFileHeader(make([]byte, HeaderBlockSize)); !errors.Is(err, model.ErrCorrupt) {
		t.Fatalf("zero header accepted: %v", err)
	}
}

// TestRoundTripLaps adds records of random sizes over several laps of the
// ring, releasing as it goes, and reopens at random points: each replay
// yields exactly the records not yet released.
func TestRoundTripLaps(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys vfs.FS, dir string, opts Options) {
		seed := rand.Uint64()
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 0))
		m := newModel()
		j := mustOpen(t, fsys, dir, opts)
		replayAll(t, j, 0)
		released := uint64(1)
		for step := 0; step < 400; step++ {
			r := genRecord(rng, rng.IntN(3000))
			_, err := m.add(t, j, r)
			if errors.Is(err, ErrFull) {
				round(t, j)
				released = j.DurableSeq() + 1
				j.Release(released)
				if _, err = m.add(t, j, r); err != nil {
					t.Fatalf("step %d: add after release: %v", step, err)
				}
			} else if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if rng.IntN(3) == 0 {
				round(t, j)
			}
			if rng.IntN(40) == 0 {
				round(t, j)
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
				last := j.LastSeq()
				j = mustOpen(t, fsys, dir, opts)
				m.check(t, replayAll(t, j, released), released, last)
			}
		}
		round(t, j)
		gen := j.nextGen
		j.Close()
		if gen < uint64(3*opts.MaxFiles) {
			t.Fatalf("only %d generations: the ring did not wrap several times", gen)
		}
		last := j.LastSeq()
		j = mustOpen(t, fsys, dir, opts)
		m.check(t, replayAll(t, j, released), released, last)
		j.Close()
	})
}

// TestReplayFrom checks Replay(from) from the first record, the middle of a
// file, a file's first record, the last record and past it.
func TestReplayFrom(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys vfs.FS, dir string, opts Options) {
		rng := rand.New(rand.NewPCG(3, 4))
		m := newModel()
		j := mustOpen(t, fsys, dir, opts)
		replayAll(t, j, 0)
		var firsts []uint64
		for range 30 {
			if _, err := m.add(t, j, genRecord(rng, 1000)); err != nil {
				t.Fatal(err)
			}
			if j.pend[len(j.pend)-1].off == 0 && len(j.pend[len(j.pend)-1].buf) == HeaderBlockSize+1048 {
				firsts = append(firsts, j.LastSeq())
			}
			round(t, j)
		}
		last := j.LastSeq()
		j.Close()
		if len(firsts) < 3 {
			t.Fatalf("records began only %d files", len(firsts))
		}
		for _, from := range []uint64{0, 1, 2, firsts[1] - 1, firsts[1], firsts[1] + 1, firsts[2], last - 1, last, last + 1} {
			j := mustOpen(t, fsys, dir, opts)
			m.check(t, replayAll(t, j, from), max(from, 1), last)
			m.check(t, replayAll(t, j, from), max(from, 1), last) // a second pass sees the same
			if got := j.LastSeq(); got != max(last, from-1) && from > 0 {
				t.Fatalf("from %d: last seq %d after replay, want %d", from, got, last)
			}
			j.Close()
		}
	})
}

// TestFullThenRelease: Add reports ErrFull when every file is live, and
// Release of the oldest file makes room again.
func TestFullThenRelease(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys vfs.FS, dir string, opts Options) {
		rng := rand.New(rand.NewPCG(5, 6))
		m := newModel()
		j := mustOpen(t, fsys, dir, opts)
		defer j.Close()
		replayAll(t, j, 0)
		var err error
		n := 0
		for ; n < 1000; n++ {
			if _, err = m.add(t, j, genRecord(rng, 2000)); err != nil {
				break
			}
		}
		if !errors.Is(err, ErrFull) {
			t.Fatalf("after %d adds: %v, want ErrFull", n, err)
		}
		if j.Used() > j.Capacity() || j.Used() < j.Capacity()-opts.FileSize {
			t.Fatalf("used %d of %d when full", j.Used(), j.Capacity())
		}
		j.Release(j.LastSeq() + 1) // nothing durable yet: must free nothing
		if _, err := j.Add(genRecord(rng, 2000)); !errors.Is(err, ErrFull) {
			t.Fatalf("release of undurable records made room: %v", err)
		}
		round(t, j)
		j.Release(2) // the first file still holds record 2
		if _, err := j.Add(genRecord(rng, 2000)); !errors.Is(err, ErrFull) {
			t.Fatalf("partial release made room: %v", err)
		}
		j.Release(j.files[(j.liveStart+1)%len(j.files)].hdr.firstSeq)
		if _, err := m.add(t, j, genRecord(rng, 2000)); err != nil {
			t.Fatalf("after releasing a file: %v", err)
		}
		if _, err := j.Add(Record{Kind: 1, Payload: make([]byte, opts.FileSize)}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("huge record: %v", err)
		}
		if _, err := j.Add(Record{}); !errors.Is(err, ErrInvalidKind) {
			t.Fatalf("kind 0: %v", err)
		}
	})
}

// TestStaleLapNeverReplayed writes lap 1 of file 0 full, wraps around, and
// writes a shorter lap 2 into it: the lap-1 records after lap 2's end
// (valid crc, older generation) must not come back. A hand-made record with
// the next seq but the old generation is refused too, while the same record
// with the file's generation is accepted (so the check can fail).
func TestStaleLapNeverReplayed(t *testing.T) {
	fsys := vfs.NewMem()
	opts := smallOpts()
	rng := rand.New(rand.NewPCG(7, 8))
	m := newModel()
	j := mustOpen(t, fsys, testDir, opts)
	replayAll(t, j, 0)
	for j.nextGen <= uint64(opts.MaxFiles+1) { // lap 1 of every file, lap 2 of file 0 begun
		if _, err := m.add(t, j, genRecord(rng, 100)); errors.Is(err, ErrFull) {
			round(t, j)
			j.Release(j.DurableSeq() + 1)
		} else if err != nil {
			t.Fatal(err)
		}
	}
	round(t, j)
	if j.head() != 0 || j.files[0].hdr.gen != uint64(opts.MaxFiles+1) {
		t.Fatalf("head %d gen %d: not in lap 2 of file 0", j.head(), j.files[0].hdr.gen)
	}
	from := j.files[0].hdr.firstSeq
	last := j.LastSeq()
	end := j.headEnd
	gen := j.files[0].hdr.gen
	j.Close()

	// The lap-1 record right after lap 2's end must exist (else the test
	// proves nothing): a valid record of generation 1.
	f, _ := fsys.Open(testDir+"/0.jnl", vfs.OpenOptions{})
	buf := make([]byte, 200)
	f.ReadAt(buf, end)
	if _, err := decodeRecord(buf, 1<<20); err != nil {
		t.Logf("no whole lap-1 record at %d (%v); writing one", end, err)
	}
	j = mustOpen(t, fsys, testDir, opts)
	m.check(t, replayAll(t, j, from), from, last)
	j.Close()

	for _, tc := range []struct {
		gen  uint64
		want uint64
	}{{gen - 1, last}, {gen, last + 1}} {
		r := genRecord(rng, 10)
		m.recs[last+1] = r
		f.WriteAt(appendRecord(nil, tc.gen, last+1, r), end)
		f.Sync()
		j = mustOpen(t, fsys, testDir, opts)
		m.check(t, replayAll(t, j, from), from, tc.want)
		j.Close()
	}
	f.Close()
}

// TestTornTailBytes cuts or corrupts the last records of the head file
// byte by byte: replay stops at the last record before the damage.
func TestTornTailBytes(t *testing.T) {
	fsys := vfs.NewMem()
	opts := smallOpts()
	rng := rand.New(rand.NewPCG(9, 10))
	m := newModel()
	j := mustOpen(t, fsys, testDir, opts)
	replayAll(t, j, 0)
	var ends []int64 // end of each record in the head file
	for range 6 {
		m.add(t, j, genRecord(rng, 300))
		ends = append(ends, j.headEnd)
	}
	round(t, j)
	last := j.LastSeq()
	j.Close()
	snap := fsys.CrashClone()
	for k := 1; k < len(ends); k++ { // damage record k+1 (seq k+1): 1-based seqs
		for _, mode := range []string{"zero-tail", "flip-header", "flip-payload", "seq"} {
			c := snap.CrashClone()
			f, _ := c.Open(testDir+"/0.jnl", vfs.OpenOptions{})
			start := ends[k-1]
			switch mode {
			case "zero-tail":
				f.WriteAt(make([]byte, ends[k]-start-1), start+1)
			case "flip-header":
				b := []byte{0}
				f.ReadAt(b, start+8)
				f.WriteAt([]byte{b[0] ^ 1}, start+8)
			case "flip-payload":
				b := []byte{0}
				f.ReadAt(b, ends[k]-1)
				f.WriteAt([]byte{b[0] ^ 0x80}, ends[k]-1)
			case "seq": // a valid record whose seq skips one
				r := genRecord(rng, 300-RecordHeaderSize)
				rec := appendRecord(nil, 1, uint64(k+2), r)
				f.WriteAt(rec, start)
			}
			f.Close()
			j := mustOpen(t, c, testDir, opts)
			m.check(t, replayAll(t, j, 1), 1, uint64(k))
			// The journal goes on after the damage, in a new file.
			r := genRecord(rng, 50)
			seq, err := j.Add(r)
			if err != nil || seq != uint64(k+1) {
				t.Fatalf("%s at %d: add after recovery: seq %d %v", mode, k, seq, err)
			}
			round(t, j)
			j.Close()
			j = mustOpen(t, c, testDir, opts)
			out := replayAll(t, j, 1)
			if len(out) != k+1 || out[k].seq != uint64(k+1) || string(out[k].rec.Payload) != string(r.Payload) {
				t.Fatalf("%s at %d: after recovery and one more round: %d records", mode, k, len(out))
			}
			j.Close()
		}
	}
	_ = last
}

// TestCrashMidRound crash-clones during a round (after the writes, before
// the fdatasync) keeping random subsets of the unsynced pages: replay yields
// every record of completed rounds and a gapless prefix of the rest.
func TestCrashMidRound(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		fsys := vfs.NewMem()
		rng := rand.New(rand.NewPCG(seed, 11))
		m := newModel()
		j := mustOpen(t, fsys, testDir, smallOpts())
		replayAll(t, j, 0)
		for range 5 + rng.IntN(10) {
			m.add(t, j, genRecord(rng, rng.IntN(1500)))
		}
		round(t, j)
		durable := j.LastSeq()
		for range 1 + rng.IntN(12) {
			m.add(t, j, genRecord(rng, rng.IntN(1500)))
		}
		s := j.PrepareSync()
		for _, w := range s.writes { // the writes without the fdatasync
			j.files[w.file].f.WriteAt(w.buf, w.off)
		}
		c := fsys.CrashClone(vfs.CrashCloneOptions{KeepUnsyncedPages: rng})
		j2 := mustOpen(t, c, testDir, smallOpts())
		out := replayAll(t, j2, 1)
		if uint64(len(out)) < durable || uint64(len(out)) > j.LastSeq() {
			t.Fatalf("seed %d: replayed %d records, durable %d, added %d", seed, len(out), durable, j.LastSeq())
		}
		m.check(t, out, 1, uint64(len(out)))
		j2.Close()
		j.Close()
	}
}

func TestReplayOnceAndBeforeAdd(t *testing.T) {
	j := mustOpen(t, vfs.NewMem(), testDir, smallOpts())
	defer j.Close()
	if _, err := j.Add(Record{Kind: 1}); !errors.Is(err, ErrNotReplayed) {
		t.Fatalf("add before replay: %v", err)
	}
	replayAll(t, j, 0)
	replayAll(t, j, 0) // again before any Add: allowed
	j.Add(Record{Kind: 1})
	if err := j.Replay(0, nil); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay after add: %v", err)
	}
	stop := errors.New("stop")
	j2 := mustOpen(t, vfs.NewMem(), testDir, smallOpts())
	j2.Replay(0, nil)
	j2.Add(Record{Kind: 1})
	round(t, j2)
	fsys := vfs.NewMem()
	j3 := mustOpen(t, fsys, testDir, smallOpts())
	j3.Replay(0, nil)
	j3.Add(Record{Kind: 1})
	round(t, j3)
	j3.Close()
	j3 = mustOpen(t, fsys, testDir, smallOpts())
	if err := j3.Replay(0, func(uint64, Record) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn error: %v", err)
	}
	j3.Close()
	j2.Close()
}

func TestGeometryChange(t *testing.T) {
	fsys := vfs.NewMem()
	j := mustOpen(t, fsys, testDir, smallOpts())
	j.Replay(0, nil)
	for j.liveN < 4 { // a header in every file
		j.Add(Record{Kind: 1, Payload: make([]byte, 3000)})
	}
	round(t, j)
	j.Close()
	for _, o := range []Options{{FileSize: 8 * pageSize, MaxFiles: 4}, {FileSize: 4 * pageSize, MaxFiles: 5}, {FileSize: 4 * pageSize, MaxFiles: 2}} {
		if _, err := Open(fsys, testDir, o); !errors.Is(err, ErrGeometry) {
			t.Fatalf("%+v: %v, want ErrGeometry", o, err)
		}
	}
	// An empty journal may change shape.
	fresh := vfs.NewMem()
	mustOpen(t, fresh, testDir, smallOpts()).Close()
	j = mustOpen(t, fresh, testDir, Options{FileSize: 8 * pageSize, MaxFiles: 5})
	j.Close()
	for _, o := range []Options{{FileSize: 100}, {MaxFiles: 1, FileSize: 8192}} {
		if _, err := Open(fresh, testDir, o); err == nil {
			t.Fatalf("%+v accepted", o)
		}
	}
}

func TestDirectFallback(t *testing.T) {
	fsys := vfs.NewMem()
	fsys.SetDirectSupported(false)
	opts := smallOpts()
	opts.Direct = true
	j := mustOpen(t, fsys, testDir, opts)
	if j.Direct() {
		t.Fatal("direct after refusal")
	}
	replayAll(t, j, 0)
	j.Add(Record{Kind: 1, Payload: []byte("x")})
	round(t, j)
	j.Close()
	d := vfs.NewMem()
	j = mustOpen(t, d, testDir, opts)
	if !j.Direct() || d.DirectOpens() != opts.MaxFiles {
		t.Fatalf("direct %v, %d direct opens", j.Direct(), d.DirectOpens())
	}
	j.Close()
	_ = binary.LittleEndian
}

// TestRunConcurrentWithAdd runs each round's job on another goroutine while
// the owner keeps adding (the -race detector checks the ownership split).
func TestRunConcurrentWithAdd(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys vfs.FS, dir string, opts Options) {
		rng := rand.New(rand.NewPCG(12, 13))
		m := newModel()
		j := mustOpen(t, fsys, dir, opts)
		replayAll(t, j, 0)
		released := uint64(1)
		for range 60 {
			s := j.PrepareSync()
			done := make(chan error, 1)
			if s != nil {
				go func() { done <- s.Run() }()
			}
			for range 1 + rng.IntN(4) {
				if _, err := m.add(t, j, genRecord(rng, rng.IntN(1200))); errors.Is(err, ErrFull) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if s != nil {
				j.FinishSync(s, <-done)
			}
			released = max(released, j.DurableSeq()-min(j.DurableSeq(), 3))
			j.Release(released)
		}
		round(t, j)
		last := j.LastSeq()
		j.Close()
		j = mustOpen(t, fsys, dir, opts)
		m.check(t, replayAll(t, j, released), released, last)
		j.Close()
	})
}
