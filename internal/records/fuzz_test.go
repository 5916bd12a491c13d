package records

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
)

// fuzzSeeds are valid batches of every codec and shape; the committed corpus
// in testdata/fuzz/FuzzValidate holds them (PETREL_WRITE_CORPUS=1 rewrites it).
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, c := range allCodecs {
		seeds = append(seeds,
			build(t, spec{codec: c, pid: 1, epoch: 0, seq: 0}),
			build(t, spec{codec: c, pid: -1, epoch: -1, seq: -1, recs: []rec{
				{nullKey: true, value: []byte("v")},
				{key: []byte("k"), nullValue: true, tsDelta: 3, headers: [][2][]byte{{[]byte("h"), []byte("x")}}},
			}}))
	}
	seeds = append(seeds, build(t, spec{codec: CodecSnappy, xerial: true, recs: recsOfSize(300, 100)}))
	return seeds
}

func FuzzValidate(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := Limits{MaxUncompressedBytes: 1 << 20}
		info, err := Validate(in, lim)
		if err != nil {
			if code := ErrorCode(err); code <= 0 {
				t.Fatalf("error without a Kafka code: %v", err)
			}
			for _, s := range []error{ErrCorrupt, ErrTooLarge, ErrInvalidRecord, ErrUnsupportedMagic, ErrUnsupportedCompression, ErrInvalidTimestamp} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		b := model.Batch(in)
		if info.Bytes != len(in) || info.Count != b.RecordCount() || info.Count <= 0 || b.Validate() != nil {
			t.Fatalf("accepted %x with info %+v", in, info)
		}
		again, err := Validate(in, lim)
		if err != nil || again != info {
			t.Fatalf("not deterministic: %+v then %+v, %v", info, again, err)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzValidate from fuzzSeeds
// when PETREL_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("PETREL_WRITE_CORPUS") != "1" {
		t.Skip("set PETREL_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzValidate")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds(t) {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, "seed"+strconv.Itoa(i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzFirstAtOrAfter: a stored batch read back for ListOffsets by time
// never panics, and an answer is one of the batch's offsets whose record
// timestamp qualifies.
func FuzzFirstAtOrAfter(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, int64(0))
		f.Add(s, int64(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, ts int64) {
		o, rts, ok, err := FirstAtOrAfter(in, ts, 1<<20)
		if err != nil || !ok {
			return
		}
		b, _, perr := model.ParseBatch(in)
		if perr != nil {
			t.Fatalf("answered for a batch that does not parse: %v", perr)
		}
		if o < b.BaseOffset() || o > b.LastOffset() || rts < ts {
			t.Fatalf("offset %d ts %d for [%d, %d] at %d", o, rts, b.BaseOffset(), b.LastOffset(), ts)
		}
	})
}
