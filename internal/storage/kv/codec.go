package kv

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/petrel-streaming/petrel/internal/model"
)

var snapMagic = [4]byte{'P', 'T', 'K', 'V'}

const (
	snapVersion   = 1
	snapHeaderLen = 4 + 4 + 8 + 4 // magic, version, journal seq, count
	opDelete      = 1             // flag bit of an op in a batch
)

// EncodeBatch appends ops as one batch (the payload of one journal record).
// It panics if an op is outside the limits (see CheckOps).
func EncodeBatch(dst []byte, ops []Op) []byte {
	mustCheck(ops)
	dst = binary.AppendUvarint(dst, uint64(len(ops)))
	for _, op := range ops {
		flags := byte(0)
		if op.Delete {
			flags = opDelete
		}
		dst = append(dst, flags)
		dst = binary.AppendUvarint(dst, uint64(len(op.Key)))
		dst = append(dst, op.Key...)
		if !op.Delete {
			dst = binary.AppendUvarint(dst, uint64(len(op.Value)))
			dst = append(dst, op.Value...)
		}
	}
	return dst
}

// decoder reads fields with a sticky error: the first failure is kept and
// every later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("kv: "+format+": %w", append(args, model.ErrCorrupt)...)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != max(1, (bits.Len64(v)+6)/7) { // overflow, short or not minimal
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.fail("short field")
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) bytes(n uint64, limit int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) || n > uint64(len(d.b)) {
		d.fail("%s of %d bytes (limit %d, %d left)", what, n, limit, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// DecodeBatch decodes a batch made by EncodeBatch. The values alias b. Any
// malformation, a size beyond the limits or trailing bytes is an error
// wrapping model.ErrCorrupt.
func DecodeBatch(b []byte) ([]Op, error) {
	d := decoder{b: b}
	n := d.uvarint()
	if n > uint64(len(b)) { // every op takes at least 2 bytes
		d.fail("batch of %d ops in %d bytes", n, len(b))
	}
	var ops []Op
	if d.err == nil {
		ops = make([]Op, 0, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		var op Op
		if len(d.b) == 0 || d.b[0]&^opDelete != 0 {
			d.fail("op %d: bad flags", i)
			break
		}
		op.Delete = d.b[0] == opDelete
		d.b = d.b[1:]
		op.Key = string(d.bytes(d.uvarint(), MaxKeyBytes, "key"))
		if !op.Delete {
			op.Value = d.bytes(d.uvarint(), MaxValueBytes, "value")
		}
		if d.err == nil && len(op.Key) == 0 {
			d.fail("op %d: empty key", i)
		}
		ops = append(ops, op)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return ops, nil
}

// Decode decodes a snapshot made by Store.Encode and returns the store and
// its journal seq. Every failure wraps model.ErrCorrupt.
func Decode(b []byte) (*Store, uint64, error) {
	if len(b) < snapHeaderLen+4 {
		return nil, 0, fmt.Errorf("kv: snapshot of %d bytes: %w", len(b), model.ErrCorrupt)
	}
	body := b[:len(b)-4]
	if got, want := model.CRC32C(body), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return nil, 0, fmt.Errorf("kv: snapshot crc %08x, stored %08x: %w", got, want, model.ErrCorrupt)
	}
	if [4]byte(body[:4]) != snapMagic {
		return nil, 0, fmt.Errorf("kv: snapshot magic %q: %w", body[:4], model.ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(body[4:]); v != snapVersion {
		return nil, 0, fmt.Errorf("kv: snapshot version %d: %w", v, model.ErrCorrupt)
	}
	seq := binary.LittleEndian.Uint64(body[8:])
	d := decoder{b: body[snapHeaderLen:]}
	n := binary.LittleEndian.Uint32(body[16:])
	if uint64(n) > uint64(len(d.b))/8 { // every entry takes at least 8 bytes
		d.fail("snapshot of %d entries in %d bytes", n, len(d.b))
	}
	s := New()
	for i := uint32(0); i < n && d.err == nil; i++ {
		k := string(d.bytes(uint64(d.u32()), MaxKeyBytes, "key"))
		v := d.bytes(uint64(d.u32()), MaxValueBytes, "value")
		if d.err == nil && len(k) == 0 {
			d.fail("entry %d: empty key", i)
		}
		if _, dup := s.m[k]; dup && d.err == nil {
			d.fail("entry %d: duplicate key %q", i, k)
		}
		s.m[k] = append([]byte{}, v...)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, 0, d.err
	}
	return s, seq, nil
}
