package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Codec is a record batch compression codec (attributes bits 0-2).
type Codec int8

// The codecs Kafka defines. Values 5-7 are unassigned.
const (
	CodecNone   Codec = model.CodecNone
	CodecGzip   Codec = model.CodecGzip
	CodecSnappy Codec = model.CodecSnappy
	CodecLZ4    Codec = model.CodecLZ4
	CodecZstd   Codec = model.CodecZstd
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// pooledBufMax is the largest decompression buffer returned to the pool;
// larger ones are left to the garbage collector, so the pool stays bounded.
const pooledBufMax = 1 << 20

// Pools of decompressors and output buffers. They are caches with no
// observable state: any goroutine may take one, uses it alone, and puts it
// back. zstd decoders are the expensive ones; they run synchronously
// (concurrency 1, DecodeAll only), so a pooled decoder owns no goroutine.
var (
	bufPool  = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}
	zstdPool = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			panic(err) // only for invalid options, fixed above
		}
		return d
	}}
	gzipPool sync.Pool // *gzip.Reader; New needs a valid stream, so made on demand
	lz4Pool  = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
)

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= pooledBufMax {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// decompress appends the decompressed form of src to dst[:0], never growing
// it past limit bytes: past that it fails with ErrTooLarge, so a zip bomb
// costs at most limit bytes (plus one block) of memory. Malformed input fails
// with ErrCorrupt.
func decompress(c Codec, dst, src []byte, limit int) ([]byte, error) {
	dst = dst[:0]
	var err error
	switch c {
	case CodecGzip:
		dst, err = gunzip(dst, src, limit)
	case CodecSnappy:
		dst, err = unsnappy(dst, src, limit)
	case CodecLZ4:
		r := lz4Pool.Get().(*lz4.Reader)
		r.Reset(bytes.NewReader(src))
		dst, err = readCapped(r, dst, limit)
		r.Reset(nil)
		lz4Pool.Put(r)
	case CodecZstd:
		d := zstdPool.Get().(*zstd.Decoder)
		if err = d.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(limit))); err == nil {
			dst, err = d.DecodeAll(src, dst)
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
				err = fmt.Errorf("%w: zstd output over %d bytes", ErrTooLarge, limit)
			}
		}
		zstdPool.Put(d)
	default:
		return dst, fmt.Errorf("%w: %v", ErrUnsupportedCompression, c)
	}
	if err != nil && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w: %v: %v", ErrCorrupt, c, err)
	}
	return dst, err
}

func gunzip(dst, src []byte, limit int) ([]byte, error) {
	r, _ := gzipPool.Get().(*gzip.Reader)
	var err error
	if r == nil {
		r, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = r.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return dst, err
	}
	dst, err = readCapped(r, dst, limit)
	gzipPool.Put(r)
	return dst, err
}

// readCapped appends everything r yields to dst, failing with ErrTooLarge as
// soon as more than limit bytes have come out.
func readCapped(r io.Reader, dst []byte, limit int) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			if len(dst) > limit {
				return dst, fmt.Errorf("%w: decompressed size over %d bytes", ErrTooLarge, limit)
			}
			grow := min(max(cap(dst), 4<<10), limit+1-len(dst))
			dst = slices.Grow(dst, grow) // one allocation per step
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return dst, fmt.Errorf("%w: decompressed size over %d bytes", ErrTooLarge, limit)
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// xerialMagic opens the framing Java clients (snappy-java) put around
// snappy blocks: magic, then version and minimum compatible version (int32
// each), then chunks of [int32 length][raw snappy block].
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

// unsnappy decodes xerial-framed snappy (Java clients) or a raw snappy block
// (librdkafka may send one), checking each block's announced size against
// limit before allocating for it.
func unsnappy(dst, src []byte, limit int) ([]byte, error) {
	if len(src) < xerialHeaderSize || !bytes.HasPrefix(src, xerialMagic) {
		return snappyBlock(dst, src, limit)
	}
	src = src[xerialHeaderSize:]
	for len(src) > 0 {
		if len(src) < 4 {
			return dst, fmt.Errorf("%w: xerial snappy: %d bytes of chunk length", ErrCorrupt, len(src))
		}
		n := int64(binary.BigEndian.Uint32(src))
		src = src[4:]
		if n > int64(len(src)) {
			return dst, fmt.Errorf("%w: xerial snappy: chunk of %d bytes in %d", ErrCorrupt, n, len(src))
		}
		var err error
		if dst, err = snappyBlock(dst, src[:n], limit); err != nil {
			return dst, err
		}
		src = src[n:]
	}
	return dst, nil
}

// snappyBlock appends one decoded raw snappy block to dst.
func snappyBlock(dst, src []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return dst, err
	}
	if n > limit-len(dst) {
		return dst, fmt.Errorf("%w: snappy block of %d bytes after %d, limit %d", ErrTooLarge, n, len(dst), limit)
	}
	at := len(dst)
	dst = growLen(dst, n)
	out, err := snappy.Decode(dst[at:], src)
	if err != nil {
		return dst[:at], err
	}
	if len(out) != n || (n > 0 && &out[0] != &dst[at]) {
		return dst[:at], fmt.Errorf("%w: snappy block decoded to %d bytes, announced %d", ErrCorrupt, len(out), n)
	}
	return dst, nil
}

// growLen extends b by n bytes, reallocating only when its capacity is short.
func growLen(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	return append(b, make([]byte, n)...)
}
