package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

func TestValidateRoundTrip(t *testing.T) {
	sets := map[string][]rec{
		"one":   {{key: []byte("k"), value: []byte("v")}},
		"nulls": {{nullKey: true, value: []byte("v")}, {key: []byte("k"), nullValue: true, tsDelta: 5}},
		"headers": {{key: []byte("k"), value: []byte("v"), headers: [][2][]byte{{[]byte("h1"), []byte("x")}, {[]byte("h2"), nil}}},
			{value: []byte("w"), headers: [][2][]byte{{[]byte("h"), nil}}, nullHeaderValue: true, tsDelta: -3}},
		"many": recsOfSize(100<<10, 300),
	}
	for name, recs := range sets {
		for _, c := range allCodecs {
			for _, xerial := range []bool{false, true} {
				if xerial && c != CodecSnappy {
					continue
				}
				t.Run(fmt.Sprintf("%s/%v/xerial=%v", name, c, xerial), func(t *testing.T) {
					raw := build(t, spec{codec: c, recs: recs, pid: 7, epoch: 2, seq: 40, xerial: xerial})
					info, err := Validate(raw, Limits{})
					if err != nil {
						t.Fatal(err)
					}
					wantMax := int64(-1)
					for _, r := range recs {
						wantMax = max(wantMax, 1_700_000_000_000+r.tsDelta)
					}
					want := Info{
						Count: int32(len(recs)), FirstTimestamp: 1_700_000_000_000, MaxTimestamp: wantMax,
						ProducerID: 7, ProducerEpoch: 2, BaseSequence: 40, Compression: c,
						Bytes: len(raw), RecordBytes: len(encodeRecords(recs)),
					}
					if info != want {
						t.Fatalf("info\n got %+v\nwant %+v", info, want)
					}
				})
			}
		}
	}
}

// TestBuilderAgreesWithKmsg checks the test builder against franz-go's
// decoder, so the walker and the builder cannot share a misreading.
func TestBuilderAgreesWithKmsg(t *testing.T) {
	recs := []rec{
		{key: []byte("k"), value: []byte("v"), tsDelta: 9, headers: [][2][]byte{{[]byte("h"), []byte("x")}}},
		{nullKey: true, nullValue: true},
	}
	raw := build(t, spec{recs: recs})
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(raw); err != nil {
		t.Fatal(err)
	}
	data := rb.Records
	for i, r := range recs {
		var kr kmsg.Record
		if err := kr.ReadFrom(data); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if kr.OffsetDelta != int32(i) || kr.TimestampDelta64 != r.tsDelta ||
			!bytes.Equal(kr.Key, r.key) || (kr.Key == nil) != r.nullKey || (kr.Value == nil) != r.nullValue ||
			len(kr.Headers) != len(r.headers) {
			t.Fatalf("record %d: kmsg read %+v, built %+v", i, kr, r)
		}
		data = data[int(kr.Length)+varintLen(int64(kr.Length)):]
	}
	if len(data) != 0 {
		t.Fatalf("%d bytes left after the records", len(data))
	}
}

func varintLen(v int64) int { return len(binary.AppendVarint(nil, v)) }

func TestValidateRules(t *testing.T) {
	valid := spec{pid: 5, epoch: 1, seq: 0, recs: []rec{{key: []byte("k"), value: []byte("v")}, {key: []byte("k2"), value: []byte("v2")}}}
	if _, err := Validate(build(t, valid), Limits{}); err != nil {
		t.Fatalf("the base case must pass: %v", err)
	}
	with := func(f func(*spec)) []byte {
		s := valid
		s.recs = append([]rec(nil), valid.recs...)
		f(&s)
		return build(t, s)
	}
	raw := func(f func([]byte) []byte) []byte { return f(build(t, valid)) }
	setCRC := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[17:], model.Batch(b).ComputeCRC())
		return b
	}
	cases := []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"empty", nil, Limits{}, ErrInvalidRecord},
		{"short header", raw(func(b []byte) []byte { return b[:16] }), Limits{}, ErrCorrupt},
		{"magic 1", raw(func(b []byte) []byte { b[16] = 1; return b }), Limits{}, ErrUnsupportedMagic},
		{"magic 0", raw(func(b []byte) []byte { b[16] = 0; return b }), Limits{}, ErrUnsupportedMagic},
		{"length past end", raw(func(b []byte) []byte { return b[:len(b)-1] }), Limits{}, ErrCorrupt},
		{"length below header", raw(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 10); return b }), Limits{}, ErrCorrupt},
		{"two batches", raw(func(b []byte) []byte { return append(b, b...) }), Limits{}, ErrInvalidRecord},
		{"trailing bytes", raw(func(b []byte) []byte { return append(b, 1, 2, 3) }), Limits{}, ErrCorrupt},
		{"codec 5", with(func(s *spec) { s.attrs = 5 }), Limits{}, ErrUnsupportedCompression},
		{"codec 7", with(func(s *spec) { s.attrs = 7 }), Limits{}, ErrUnsupportedCompression},
		{"zstd before v7", with(func(s *spec) { s.codec = CodecZstd }), Limits{NoZstd: true}, ErrUnsupportedCompression},
		{"base offset", with(func(s *spec) { s.baseOffset = 3 }), Limits{}, ErrInvalidRecord},
		{"too large", with(func(s *spec) { s.recs = recsOfSize(2000, 100) }), Limits{MaxMessageBytes: 1000}, ErrTooLarge},
		{"crc", raw(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), Limits{}, ErrCorrupt},
		{"crc of header field", raw(func(b []byte) []byte { b[60] ^= 1; return b }), Limits{}, ErrCorrupt},
		{"count zero", with(func(s *spec) { s.count, s.lastDelta = i32(0), i32(-1) }), Limits{}, ErrInvalidRecord},
		{"count negative", with(func(s *spec) { s.count, s.lastDelta = i32(-2), i32(-3) }), Limits{}, ErrInvalidRecord},
		{"count vs last delta", with(func(s *spec) { s.lastDelta = i32(5) }), Limits{}, ErrInvalidRecord},
		{"count above records", with(func(s *spec) { s.count, s.lastDelta = i32(3), i32(2) }), Limits{}, ErrInvalidRecord},
		{"count below records", with(func(s *spec) { s.count, s.lastDelta = i32(1), i32(0) }), Limits{}, ErrInvalidRecord},
		{"control", with(func(s *spec) { s.attrs = model.AttrControl | model.AttrTransactional }), Limits{}, ErrInvalidRecord},
		{"control not transactional", with(func(s *spec) { s.attrs = model.AttrControl }), Limits{AllowControl: true}, ErrInvalidRecord},
		{"sequence negative", with(func(s *spec) { s.seq = -1 }), Limits{}, ErrInvalidRecord},
		{"log append time", with(func(s *spec) { s.attrs = model.AttrLogAppendTime }), Limits{}, ErrInvalidTimestamp},
		{"gzip garbage", with(func(s *spec) { s.codec, s.noCompress = CodecGzip, true }), Limits{}, ErrCorrupt},
		{"snappy garbage", with(func(s *spec) {
			s.codec, s.rawRecords = CodecSnappy, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			s.noCompress = true
		}), Limits{}, ErrCorrupt},
		{"xerial chunk past end", with(func(s *spec) {
			s.codec, s.noCompress = CodecSnappy, true
			s.rawRecords = append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 5)
		}), Limits{}, ErrCorrupt},
		{"lz4 garbage", with(func(s *spec) { s.codec, s.noCompress = CodecLZ4, true }), Limits{}, ErrCorrupt},
		{"zstd garbage", with(func(s *spec) { s.codec, s.noCompress = CodecZstd, true }), Limits{}, ErrCorrupt},
		{"zstd truncated", with(func(s *spec) {
			s.codec, s.noCompress = CodecZstd, true
			z := compressFor(t, CodecZstd, encodeRecords(s.recs), false)
			s.rawRecords = z[:len(z)-2]
		}), Limits{}, ErrCorrupt},
		{"decompressed over cap", with(func(s *spec) { s.codec, s.recs = CodecZstd, recsOfSize(4096, 512) }), Limits{MaxUncompressedBytes: 1024}, ErrTooLarge},
		{"offset delta", with(func(s *spec) { s.recs[1].offDelta = i32(0) }), Limits{}, ErrInvalidRecord},
		{"offset delta compressed", with(func(s *spec) { s.codec, s.recs[1].offDelta = CodecLZ4, i32(7) }), Limits{}, ErrInvalidRecord},
		{"key length below -1", with(func(s *spec) {
			s.rawRecords = encodeRecord(nil, 0, rec{})
			s.rawRecords[4] = 3 // zigzag -2 as key length
			s.recs = s.recs[:1]
		}), Limits{}, ErrInvalidRecord},
		{"key past record", with(func(s *spec) {
			s.recs = s.recs[:1]
			r := encodeRecord(nil, 0, rec{key: []byte("abc")})
			r[4] = 40
			s.rawRecords = r
		}), Limits{}, ErrInvalidRecord},
		{"record length past data", with(func(s *spec) { r := encodeRecords(s.recs); r[0] = 0x7e; s.rawRecords = r }), Limits{}, ErrInvalidRecord},
		{"record length short of fields", with(func(s *spec) {
			r := encodeRecords(s.recs[:1])
			r[0] -= 2 // zigzag: length-1
			s.rawRecords, s.recs = append(r, 0), s.recs[:1]
		}), Limits{}, ErrInvalidRecord},
		{"record length long of fields", with(func(s *spec) {
			r := encodeRecords(s.recs[:1])
			r[0] += 2
			s.rawRecords, s.recs = append(r, 0), s.recs[:1]
		}), Limits{}, ErrInvalidRecord},
		{"bytes after records", with(func(s *spec) { s.trailing = []byte{0} }), Limits{}, ErrInvalidRecord},
		{"header null key", with(func(s *spec) {
			s.recs = s.recs[:1]
			r := encodeRecord(nil, 0, rec{headers: [][2][]byte{{[]byte("h"), []byte("v")}}})
			i := bytes.Index(r, []byte("h"))
			r = append(append(r[:i-1:i-1], 1), r[i+1:]...) // key length -1
			r[0] = byte(2 * (len(r) - 1))
			s.rawRecords = r
		}), Limits{}, ErrInvalidRecord},
		{"header count huge", with(func(s *spec) {
			s.recs = s.recs[:1]
			r := encodeRecord(nil, 0, rec{})
			r[len(r)-1] = 0x7e // zigzag 63 headers in 0 bytes
			s.rawRecords = r
		}), Limits{}, ErrInvalidRecord},
		{"header count negative", with(func(s *spec) {
			s.recs = s.recs[:1]
			r := encodeRecord(nil, 0, rec{})
			r[len(r)-1] = 1
			s.rawRecords = r
		}), Limits{}, ErrInvalidRecord},
		{"varint too long", with(func(s *spec) {
			s.recs = s.recs[:1]
			s.rawRecords = []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}
		}), Limits{}, ErrInvalidRecord},
		{"null key compacted", with(func(s *spec) { s.recs[1].nullKey = true }), Limits{Compacted: true}, ErrInvalidRecord},
		{"timestamp too old", with(func(s *spec) {}), Limits{NowMs: 1_700_000_000_000 + 10_000, TimestampBeforeMaxMs: 5_000}, ErrInvalidTimestamp},
		{"timestamp too new", with(func(s *spec) { s.recs[1].tsDelta = 7_000 }), Limits{NowMs: 1_700_000_000_000, TimestampAfterMaxMs: 5_000}, ErrInvalidTimestamp},
		{"crc fixed but header lies", setCRC(raw(func(b []byte) []byte { binary.BigEndian.PutUint32(b[57:], 9); return b })), Limits{}, ErrInvalidRecord},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Validate(c.in, c.lim)
			t.Log(err)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	ok := []struct {
		name string
		s    spec
		lim  Limits
	}{
		{"non-idempotent", spec{pid: -1, epoch: -1, seq: -1}, Limits{}},
		{"transactional", spec{pid: 3, attrs: model.AttrTransactional}, Limits{}},
		{"control from the broker", spec{pid: 3, attrs: model.AttrControl | model.AttrTransactional}, Limits{AllowControl: true}},
		{"null key, not compacted", spec{recs: []rec{{nullKey: true}}}, Limits{}},
		{"timestamp -1 outside the window", spec{baseTs: -1}, Limits{NowMs: 1e12, TimestampBeforeMaxMs: 1}},
		{"timestamp inside the window", spec{}, Limits{NowMs: 1_700_000_000_000 + 4_000, TimestampBeforeMaxMs: 5_000, TimestampAfterMaxMs: 5_000}},
		{"exactly max.message.bytes", spec{}, Limits{MaxMessageBytes: len(build(t, spec{}))}},
		{"exactly the decompression cap", spec{codec: CodecGzip}, Limits{MaxUncompressedBytes: len(encodeRecords([]rec{{key: []byte("k"), value: []byte("v")}}))}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Validate(build(t, c.s), c.lim); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBomb: a batch that decompresses to far more than the cap fails with
// ErrTooLarge for every codec, and, once the pooled decoders exist, allocates
// little more than the cap.
func TestBomb(t *testing.T) {
	const limit = 256 << 10
	bomb := make([]byte, 16<<20)
	for _, c := range allCodecs[1:] {
		for _, xerial := range []bool{false, true} {
			if xerial && c != CodecSnappy {
				continue
			}
			t.Run(fmt.Sprintf("%v/xerial=%v", c, xerial), func(t *testing.T) {
				in := build(t, spec{codec: c, rawRecords: bomb, xerial: xerial})
				// Warm up: a decoder's own buffers (lz4 keeps two of its
				// frame's block size, up to 4 MiB) are pooled and reused.
				Validate(in, Limits{MaxUncompressedBytes: limit})
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				_, err := Validate(in, Limits{MaxUncompressedBytes: limit})
				runtime.ReadMemStats(&after)
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("got %v, want ErrTooLarge", err)
				}
				bound := uint64(8*limit + 2<<20)
				if c == CodecLZ4 {
					// A frame may declare 4 MiB blocks: the reader needs that
					// buffer (pooled, but the race detector drops pooled items).
					bound += 8 << 20
				}
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
					t.Fatalf("allocated %d bytes for a %d-byte cap", alloc, limit)
				}
			})
		}
	}
}

func TestErrorCode(t *testing.T) {
	cases := []struct {
		err  error
		want int16
	}{
		{nil, 0},
		{ErrCorrupt, kerr.CorruptMessage.Code},
		{fmt.Errorf("wrapped: %w", ErrTooLarge), kerr.MessageTooLarge.Code},
		{ErrInvalidRecord, kerr.InvalidRecord.Code},
		{ErrUnsupportedMagic, kerr.InvalidRecord.Code},
		{ErrUnsupportedCompression, kerr.UnsupportedCompressionType.Code},
		{ErrInvalidTimestamp, kerr.InvalidTimestamp.Code},
		{fmt.Errorf("x: %w", model.ErrCorrupt), kerr.CorruptMessage.Code},
		{errors.New("other"), kerr.UnknownServerError.Code},
	}
	for _, c := range cases {
		if got := ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if !errors.Is(ErrCorrupt, model.ErrCorrupt) {
		t.Error("ErrCorrupt must match model.ErrCorrupt")
	}
	if errors.Is(ErrInvalidRecord, ErrUnsupportedMagic) || errors.Is(ErrUnsupportedMagic, ErrInvalidRecord) {
		t.Error("sentinels must be distinct")
	}
}

// TestConcurrentValidate exercises the pools from several goroutines (run
// with -race).
func TestConcurrentValidate(t *testing.T) {
	var ins [][]byte
	for _, c := range allCodecs {
		ins = append(ins, build(t, spec{codec: c, recs: recsOfSize(20<<10, 700)}))
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			var err error
			for i := range 50 {
				if _, err = Validate(ins[(g+i)%len(ins)], Limits{}); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
