package journal

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

func fuzzOpts() Options {
	o := smallOpts()
	o.MaxFiles = 2
	return o
}

// fuzzImage is a valid two-file journal image made by the journal itself.
func fuzzImage(f *testing.F) []byte { return fuzzImage2(f) }

func fuzzImage2(f testing.TB) []byte {
	mem := vfs.NewMem()
	j := mustOpen(f, mem, testDir, fuzzOpts())
	replayAll(f, j, 0)
	rng := rand.New(rand.NewPCG(1, 1))
	for range 14 {
		j.Add(genRecord(rng, 700))
		round(f, j)
	}
	j.Close()
	var img []byte
	for _, name := range []string{"/0.jnl", "/1.jnl"} {
		fl, _ := mem.OpenReadOnly(testDir + name)
		b := make([]byte, fuzzOpts().FileSize)
		fl.ReadAt(b, 0)
		fl.Close()
		img = append(img, b...)
	}
	return img
}

// FuzzJournalReplay writes arbitrary bytes over the two files of a journal
// and replays it: no panic, only CRC-valid records of a header's generation
// with consecutive seqs come out, and the journal then takes a new record
// that a second replay yields after the same records.
func FuzzJournalReplay(f *testing.F) {
	img := fuzzImage(f)
	f.Add(img, uint8(1))
	f.Add(img[:HeaderBlockSize+500], uint8(0))
	f.Add(img[len(img)/2:], uint8(5))
	f.Fuzz(fuzzReplay)
}

func fuzzReplay(t *testing.T, data []byte, from8 uint8) {
	opts := fuzzOpts()
	from := uint64(from8)
	mem := vfs.NewMem()
	mustOpen(t, mem, testDir, opts).Close()
	var gens []uint64
	for i, name := range []string{"/0.jnl", "/1.jnl"} {
		lo := min(len(data), i*int(opts.FileSize))
		part := data[lo:min(len(data), lo+int(opts.FileSize))]
		fl, _ := mem.Open(testDir+name, vfs.OpenOptions{})
		fl.WriteAt(part, 0)
		fl.Sync()
		fl.Close()
		if h, err := decodeFileHeader(part); err == nil {
			gens = append(gens, h.gen)
		}
	}
	j := mustOpen(t, mem, testDir, opts)
	out := replayAll(t, j, from)
	for k, g := range out {
		if k > 0 && g.seq != out[k-1].seq+1 || g.seq < max(from, 1) {
			t.Fatalf("record %d: seq %d after %v (from %d)", k, g.seq, out[:k], from)
		}
		found := false
		for _, gen := range gens {
			found = found || bytes.Contains(data, appendRecord(nil, gen, g.seq, g.rec))
		}
		if !found {
			t.Fatalf("record seq %d is not in the input under any header's generation", g.seq)
		}
	}
	r := Record{Kind: 9, Payload: []byte("after")}
	seq, err := j.Add(r)
	if err == ErrFull {
		j.Close()
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	round(t, j)
	j.Close()
	j = mustOpen(t, mem, testDir, opts)
	again := replayAll(t, j, from)
	j.Close()
	if len(again) == 0 || again[len(again)-1].seq != seq || string(again[len(again)-1].rec.Payload) != "after" {
		t.Fatalf("new record %d not replayed last (%d records)", seq, len(again))
	}
	prev := again[:len(again)-1]
	if len(out) > 0 && (len(prev) != len(out) || prev[0].seq != out[0].seq) {
		t.Fatalf("second replay: %d records before the new one, first replay had %d", len(prev), len(out))
	}
}
