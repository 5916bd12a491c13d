package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// entriesOf reads the whole log back as encoded entries.
func entriesOf(t testing.TB, l *Log) []byte {
	t.Helper()
	if l.LastIndex() < l.FirstIndex() {
		return nil
	}
	ents, err := l.Entries(l.FirstIndex(), l.LastIndex()+1, 1<<40)
	if err != nil {
		t.Fatalf("entries: %v", err)
	}
	var b []byte
	for _, e := range ents {
		b = AppendEntry(b, e.EntryHeader, e.Payload)
	}
	return b
}

// prefixEntries returns the first n entries of enc.
func prefixEntries(enc []byte, n int) []byte {
	at := 0
	for ; n > 0; n-- {
		h, _, _, _ := DecodeEntryHeader(enc[at:])
		at += int(h.Size())
	}
	return enc[:at]
}

func countEntries(enc []byte) int {
	n := 0
	for rest := enc; len(rest) > 0; n++ {
		_, _, r, _ := DecodeEntryHeader(rest)
		rest = r
	}
	return n
}

// writeLog makes a synced, closed log of n entries and returns them.
func writeLog(t testing.TB, fsys vfs.FS, dir string, o Options, n int) []byte {
	t.Helper()
	l := mustOpen(t, fsys, dir, o)
	g := newGen()
	var all []byte
	for i := 0; i < n; i++ {
		b := g.data(nil, 1+i%3, 20+i*37%300)
		mustAppend(t, l, b)
		all = append(all, b...)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return all
}

func lastSegment(t testing.TB, fsys vfs.FS, dir string) string {
	names, err := fsys.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	last := ""
	for _, n := range names {
		if _, ok := parseSegmentName(n); ok {
			last = n
		}
	}
	return path.Join(dir, last)
}

func rewrite(t testing.TB, fsys vfs.FS, name string, fn func([]byte) []byte) {
	t.Helper()
	f, err := fsys.Open(name, vfs.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, _ := f.Size()
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && size > 0 {
		t.Fatal(err)
	}
	b = fn(b)
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryTornTail(t *testing.T) {
	forEachFS(t, func(t *testing.T, c fsCase) {
		clk := &testClock{t: time.Unix(1000, 0)}
		all := writeLog(t, c.fs, c.dir, testOpts(clk), 40)
		seg := lastSegment(t, c.fs, c.dir)
		rewrite(t, c.fs, seg, func(b []byte) []byte {
			b = b[:len(b)-7]                        // tear the last entry
			return append(b, make([]byte, 5000)...) // and preallocated zeros
		})
		l := mustOpen(t, c.fs, c.dir, testOpts(clk))
		if l.LastIndex() != 39 {
			t.Fatalf("recovered %s, want last 39", describe(l))
		}
		if got := entriesOf(t, l); !bytes.Equal(got, prefixEntries(all, 39)) {
			t.Fatal("recovered entries differ")
		}
		fi, err := c.fs.Stat(seg)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size != l.act.st.size {
			t.Fatalf("file %d bytes, logical end %d: not trimmed", fi.Size, l.act.st.size)
		}
		// The log goes on from the recovered end.
		g := newGen()
		g.idx, g.off, g.ts = 40, l.NextOffset(), 5000
		mustAppend(t, l, g.data(nil, 1, 10))
		l.Close()
	})
}

func TestRecoveryIndexRebuilt(t *testing.T) {
	for _, damage := range []string{"missing", "garbage", "past-end", "truncated"} {
		t.Run(damage, func(t *testing.T) {
			fsys := vfs.NewMem()
			clk := &testClock{t: time.Unix(1000, 0)}
			o := testOpts(clk)
			o.SegmentBytes = 1 << 20
			all := writeLog(t, fsys, "/d", o, 50)
			idx := lastSegment(t, fsys, "/d")
			idx = idx[:len(idx)-len(logSuffix)] + indexSuffix
			switch damage {
			case "missing":
				if err := fsys.Remove(idx); err != nil {
					t.Fatal(err)
				}
			case "garbage":
				rewrite(t, fsys, idx, func(b []byte) []byte { return bytes.Repeat([]byte{0xab}, 100) })
			case "past-end":
				rewrite(t, fsys, idx, func(b []byte) []byte {
					return indexPoint{index: 60, offset: 500, pos: 1 << 30, maxTs: 1}.appendTo(b)
				})
			case "truncated":
				rewrite(t, fsys, idx, func(b []byte) []byte { return b[:indexPointSize+5] })
			}
			l := mustOpen(t, fsys, "/d", o)
			defer l.Close()
			if l.LastIndex() != 50 || !bytes.Equal(entriesOf(t, l), all) {
				t.Fatalf("recovered %s", describe(l))
			}
			if len(l.act.st.points) < 5 {
				t.Fatalf("index not rebuilt: %d points", len(l.act.st.points))
			}
			raw, _ := l.lf.readIndexFile(idx)
			if got := parseIndex(raw, 1, l.act.st.size); len(got) != len(l.act.st.points) {
				t.Fatalf("index file has %d valid points, memory %d", len(got), len(l.act.st.points))
			}
		})
	}
}

func TestCorruptSealedSegment(t *testing.T) {
	forEachFS(t, func(t *testing.T, c fsCase) {
		clk := &testClock{t: time.Unix(1000, 0)}
		writeLog(t, c.fs, c.dir, testOpts(clk), 40)
		first := path.Join(c.dir, segmentName(1)+logSuffix)
		rewrite(t, c.fs, first, func(b []byte) []byte { b[EntryHeaderSize+70] ^= 0x40; return b })
		l := mustOpen(t, c.fs, c.dir, testOpts(clk))
		defer l.Close()
		b, err := l.ReadBatches(0, 1<<20, l.NextOffset(), nil)
		if !errors.Is(err, model.ErrCorrupt) || len(b) != 0 {
			t.Fatalf("read of a flipped bit: %d bytes, %v", len(b), err)
		}
		if want := first; !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Fatalf("error does not name the file: %v", err)
		}
		if _, err := l.Entries(1, 2, 100); !errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("entries: %v", err)
		}
		// Entries past the damaged one still read.
		if _, err := l.Entries(2, 3, 100); err != nil {
			t.Fatalf("entries after the damage: %v", err)
		}
	})
}

// TestCrashDurability appends, syncs and rolls at random, crashes at
// random points and checks that the recovered log is a prefix of what was
// appended holding every entry durable before the crash.
func TestCrashDurability(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	rounds := 30
	if testing.Short() {
		rounds = 10
	}
	for round := 0; round < rounds; round++ {
		mem := vfs.NewMem()
		clk := &testClock{t: time.Unix(1000, 0)}
		o := testOpts(clk)
		o.Direct = round%2 == 1
		l := mustOpen(t, mem, "/d", o)
		g := newGen()
		var all []byte
		steps := 20 + rng.IntN(60)
		for s := 0; s < steps; s++ {
			var b []byte
			for k := rng.IntN(3); k >= 0; k-- {
				if rng.IntN(6) == 0 {
					b = g.internal(b, rng.IntN(30))
				} else {
					b = g.data(b, 1+rng.IntN(5), rng.IntN(700))
				}
			}
			mustAppend(t, l, b)
			all = append(all, b...)
			if rng.IntN(3) == 0 {
				mustSync(t, l)
			}
		}
		durable := int(l.DurableIndex())
		var opts []vfs.CrashCloneOptions
		if rng.IntN(2) == 0 {
			opts = append(opts, vfs.CrashCloneOptions{KeepUnsyncedPages: rand.New(rand.NewPCG(rng.Uint64(), 2))})
		}
		clone := mem.CrashClone(opts...)
		o2 := testOpts(clk)
		o2.Direct = o.Direct
		l2, err := Open(clone, "/d", o2)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		got := entriesOf(t, l2)
		n := countEntries(got)
		if n < durable || !bytes.Equal(got, prefixEntries(all, n)) {
			t.Fatalf("round %d (seed %d): recovered %d entries (durable %d), prefix match %v",
				round, seed, n, durable, bytes.Equal(got, prefixEntries(all, min(n, countEntries(all)))))
		}
		if l2.DurableIndex() != l2.LastIndex() {
			t.Fatalf("after open durable %d last %d", l2.DurableIndex(), l2.LastIndex())
		}
		// The recovered log takes appends again.
		g2 := newGen()
		g2.idx, g2.off, g2.term, g2.ts = l2.LastIndex()+1, l2.NextOffset(), g.term, g.ts
		b := g2.data(nil, 2, rng.IntN(5000))
		mustAppend(t, l2, b)
		mustSync(t, l2)
		if got := entriesOf(t, l2); !bytes.Equal(got[len(got)-len(b):], b) {
			t.Fatalf("round %d: append after recovery reads back differently", round)
		}
		l2.Close()
		l.Close()
	}
}

func FuzzSegmentRecovery(f *testing.F) {
	f.Add(uint8(30), uint16(0), []byte{})
	f.Add(uint8(30), uint16(3), []byte{1, 2, 3})
	f.Add(uint8(10), uint16(500), bytes.Repeat([]byte{0}, 100))
	f.Add(uint8(5), uint16(41), []byte("garbage garbage garbage garbage garbage garbage"))
	f.Fuzz(func(t *testing.T, n uint8, cut uint16, tail []byte) {
		fsys := vfs.NewMem()
		clk := &testClock{t: time.Unix(1000, 0)}
		o := testOpts(clk)
		all := writeLog(t, fsys, "/d", o, int(n%64)+1)
		seg := lastSegment(t, fsys, "/d")
		rewrite(t, fsys, seg, func(b []byte) []byte {
			b = b[:len(b)-min(int(cut), len(b))]
			return append(b, tail...)
		})
		l, err := Open(fsys, "/d", o)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer l.Close()
		got := entriesOf(t, l)
		k := countEntries(got)
		if !bytes.Equal(got, prefixEntries(all, k)) {
			t.Fatalf("recovered %d entries that are not a prefix", k)
		}
		if _, err := l.ReadBatches(l.StartOffset(), 1<<20, l.NextOffset(), nil); err != nil {
			t.Fatalf("read: %v", err)
		}
	})
}
