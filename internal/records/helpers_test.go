package records

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/petrel-streaming/petrel/internal/model"
)

// rec is one record for the test builder. A nil offDelta means its position.
type rec struct {
	key, value         []byte
	nullKey, nullValue bool
	tsDelta            int64
	offDelta           *int32
	headers            [][2][]byte
	nullHeaderValue    bool
}

// spec describes a batch for build. Zero values give a valid idempotent
// batch of spec.recs; the override fields break it on purpose.
type spec struct {
	codec      Codec
	attrs      int16 // extra attribute bits
	baseOffset model.Offset
	baseTs     int64
	pid        int64
	epoch      int16
	seq        int32
	recs       []rec
	xerial     bool // snappy framing (else raw block)
	count      *int32
	lastDelta  *int32
	rawRecords []byte // replaces the encoded records section when non-nil
	trailing   []byte // appended to the (possibly compressed) records section
	noCompress bool   // sets the codec bit but leaves the data as is
}

func i32(v int32) *int32 { return &v }

func appendVarint(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

func appendField(dst, b []byte, null bool) []byte {
	if null {
		return appendVarint(dst, -1)
	}
	return append(appendVarint(dst, int64(len(b))), b...)
}

func encodeRecord(dst []byte, pos int32, r rec) []byte {
	var body []byte
	body = append(body, 0)
	body = appendVarint(body, r.tsDelta)
	od := pos
	if r.offDelta != nil {
		od = *r.offDelta
	}
	body = appendVarint(body, int64(od))
	body = appendField(body, r.key, r.nullKey)
	body = appendField(body, r.value, r.nullValue)
	body = appendVarint(body, int64(len(r.headers)))
	for _, h := range r.headers {
		body = appendField(body, h[0], false)
		body = appendField(body, h[1], r.nullHeaderValue)
	}
	return append(appendVarint(dst, int64(len(body))), body...)
}

func encodeRecords(recs []rec) []byte {
	var out []byte
	for i, r := range recs {
		out = encodeRecord(out, int32(i), r)
	}
	return out
}

func build(t testing.TB, s spec) []byte {
	t.Helper()
	if s.recs == nil {
		s.recs = []rec{{key: []byte("k"), value: []byte("v")}}
	}
	data := s.rawRecords
	if data == nil {
		data = encodeRecords(s.recs)
	}
	if s.codec != CodecNone && !s.noCompress {
		data = compressFor(t, s.codec, data, s.xerial)
	}
	data = append(data, s.trailing...)
	n := int32(len(s.recs))
	if s.count != nil {
		n = *s.count
	}
	d := n - 1
	if s.lastDelta != nil {
		d = *s.lastDelta
	}
	if s.baseTs == 0 {
		s.baseTs = 1_700_000_000_000
	}
	maxTs := s.baseTs
	for _, r := range s.recs {
		maxTs = max(maxTs, s.baseTs+r.tsDelta)
	}
	return model.AppendBatch(nil, model.BatchFields{
		BaseOffset: s.baseOffset, Attributes: int16(s.codec) | s.attrs,
		LastOffsetDelta: d, BaseTimestamp: s.baseTs, MaxTimestamp: maxTs,
		ProducerID: s.pid, ProducerEpoch: s.epoch, BaseSequence: s.seq, RecordCount: n,
	}, data)
}

// compressFor compresses src as a Kafka client would for codec c.
func compressFor(t testing.TB, c Codec, src []byte, xerial bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch c {
	case CodecGzip:
		w := gzip.NewWriter(&buf)
		w.Write(src)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case CodecSnappy:
		if !xerial {
			return snappy.Encode(nil, src)
		}
		buf.Write(xerialMagic)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		for len(src) > 0 { // chunks of 32 KiB, as snappy-java writes
			n := min(len(src), 32<<10)
			blk := snappy.Encode(nil, src[:n])
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(blk))))
			buf.Write(blk)
			src = src[n:]
		}
	case CodecLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(src)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case CodecZstd:
		e, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		return e.EncodeAll(src, nil)
	default:
		t.Fatalf("no compressor for %v", c)
	}
	return buf.Bytes()
}

// recsOfSize returns records whose values add up to about size bytes.
func recsOfSize(size, per int) []rec {
	var recs []rec
	for i := 0; size > 0; i++ {
		n := min(per, size)
		v := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		recs = append(recs, rec{key: []byte{byte(i)}, value: v, tsDelta: int64(i)})
		size -= n
	}
	return recs
}
