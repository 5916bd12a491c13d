package journal

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// TestLostHeaderNoPhantom is the regression test for a generation reused
// after a crash. A round begins a new file; the crash keeps the page of its
// records but not its header page, so replay ends before them. After the
// restart the next file begun is the same ring file; if it took the same
// generation, a crash that now keeps the new header but not the new
// records' page would replay the stale records of the first attempt as if
// they were the new ones (found by TestCrashProperty, seed
// 2451475558214322746).
func TestLostHeaderNoPhantom(t *testing.T) {
	fsys := vfs.NewMem()
	opts := smallOpts()
	j := mustOpen(t, fsys, testDir, opts)
	replayAll(t, j, 0)
	m := newModel()
	// Fill the first file, then one record that begins the second.
	add := func() {
		if _, err := m.add(t, j, Record{Kind: 1, Payload: bytes.Repeat([]byte{1}, 900)}); err != nil {
			t.Fatal(err)
		}
	}
	add()
	first := j.head()
	round(t, j)
	for n := 0; ; n++ {
		add()
		if j.head() != first {
			break
		}
		round(t, j)
		if n > 100 {
			t.Fatal("the first file never filled")
		}
	}
	durable := j.DurableSeq()
	s := j.PrepareSync()
	if s == nil || len(s.writes) == 0 {
		t.Fatal("no job")
	}
	// The job's writes: possibly the tail of file 0, then file 1 from its
	// header. Write everything but file 1's header page.
	for _, w := range s.writes {
		if w.off == 0 {
			j.files[w.file].f.WriteAt(w.buf[HeaderBlockSize:], HeaderBlockSize)
			continue
		}
		j.files[w.file].f.WriteAt(w.buf, w.off)
	}
	stale := j.LastSeq()
	c := fsys.CrashClone(vfs.CrashCloneOptions{KeepUnsyncedPages: rand.New(rand.NewPCG(1, 1))})
	// KeepUnsyncedPages keeps a random subset: keep trying seeds until the
	// clone has the record page and not the header (both are what a page
	// cache may write back).
	for seed := uint64(2); ; seed++ {
		if hasRecordsWithoutHeader(c, j, s) {
			break
		}
		if seed > 200 {
			t.Fatal("no clone kept the records without the header")
		}
		c = fsys.CrashClone(vfs.CrashCloneOptions{KeepUnsyncedPages: rand.New(rand.NewPCG(seed, 1))})
	}
	j.Close()

	j = mustOpen(t, c, testDir, opts)
	out := replayAll(t, j, 1)
	if end := uint64(len(out)); end != durable {
		t.Fatalf("replayed to %d, want %d (the torn round's records are not durable)", end, durable)
	}
	// The same seqs again, with other contents, in a round whose header
	// reaches the disk but whose records do not.
	for seq := durable + 1; seq <= stale; seq++ {
		if _, err := j.Add(Record{Kind: 2, Payload: []byte("new")}); err != nil {
			t.Fatal(err)
		}
	}
	s = j.PrepareSync()
	for _, w := range s.writes {
		if w.off == 0 {
			j.files[w.file].f.WriteAt(w.buf[:HeaderBlockSize], 0)
		}
	}
	if err := j.files[s.writes[0].file].f.Datasync(); err != nil {
		t.Fatal(err)
	}
	c2 := c.CrashClone()
	j.Close()
	j = mustOpen(t, c2, testDir, opts)
	out = replayAll(t, j, 1)
	for _, g := range out[durable:] {
		t.Errorf("replayed seq %d kind %d of %d bytes: a record of the lost round, resurrected", g.seq, g.rec.Kind, len(g.rec.Payload))
	}
	j.Close()
}

// hasRecordsWithoutHeader reports whether the clone holds the job's
// second-file records but not its header.
func hasRecordsWithoutHeader(c *vfs.MemFS, j *Journal, s *SyncJob) bool {
	for _, w := range s.writes {
		if w.off != 0 {
			continue
		}
		f, err := c.Open(j.fileName(w.file), vfs.OpenOptions{})
		if err != nil {
			return false
		}
		defer f.Close()
		hdr := make([]byte, HeaderBlockSize)
		rec := make([]byte, pageSize)
		f.ReadAt(hdr, 0)
		f.ReadAt(rec, HeaderBlockSize)
		_, herr := decodeFileHeader(hdr)
		return herr != nil && bytes.Equal(rec, w.buf[HeaderBlockSize:HeaderBlockSize+pageSize])
	}
	return false
}

// TestPipelinedJobs prepares a second job while the first is in flight
// and runs the second first: its writes must wait for the first's (they
// share the partial last page), both must end durable, in order.
func TestPipelinedJobs(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys vfs.FS, dir string, opts Options) {
		rng := rand.New(rand.NewPCG(7, 8))
		m := newModel()
		j := mustOpen(t, fsys, dir, opts)
		replayAll(t, j, 0)
		released := uint64(1)
		for range 40 {
			var jobs []*SyncJob
			for range 2 {
				for range 1 + rng.IntN(3) {
					if _, err := m.add(t, j, genRecord(rng, rng.IntN(1500))); errors.Is(err, ErrFull) {
						break
					} else if err != nil {
						t.Fatal(err)
					}
				}
				if s := j.PrepareSync(); s != nil {
					jobs = append(jobs, s)
				}
			}
			errs := make([]chan error, len(jobs))
			for i := len(jobs) - 1; i >= 0; i-- { // the later job starts first
				errs[i] = make(chan error, 1)
				go func() { errs[i] <- jobs[i].Run() }()
				if i > 0 {
					select {
					case err := <-errs[i]:
						t.Fatalf("the second job finished (%v) before the first was run", err)
					case <-time.After(time.Millisecond):
					}
				}
			}
			for i, s := range jobs {
				j.FinishSync(s, <-errs[i])
				if j.DurableSeq() != s.LastSeq() {
					t.Fatalf("durable %d after job %d, want %d", j.DurableSeq(), i, s.LastSeq())
				}
			}
			released = max(released, j.DurableSeq()-min(j.DurableSeq(), 3))
			j.Release(released)
		}
		last := j.LastSeq()
		j.Close()
		j = mustOpen(t, fsys, dir, opts)
		m.check(t, replayAll(t, j, released), released, last)
		j.Close()
	})
}

// TestFinishOutOfOrder: finishing the newer job first fails the journal.
func TestFinishOutOfOrder(t *testing.T) {
	j := mustOpen(t, vfs.NewMem(), testDir, smallOpts())
	defer j.Close()
	replayAll(t, j, 0)
	var jobs []*SyncJob
	for range 2 {
		if _, err := j.Add(Record{Kind: 1, Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j.PrepareSync())
	}
	for _, s := range jobs {
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
	}
	j.FinishSync(jobs[1], nil)
	if j.Err() == nil || j.DurableSeq() != 0 {
		t.Fatalf("err %v, durable %d after finishing out of order", j.Err(), j.DurableSeq())
	}
}
