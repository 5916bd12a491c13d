package rpc

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Method selects the handler of a request. Ids below FirstUserMethod belong
// to the transport itself.
type Method uint16

const (
	methodHello     Method = 1 // handshake, first frame each way
	MethodPing      Method = 2 // node-level liveness; answered by the transport
	methodRaft      Method = 3 // one-way batch of Raft messages for many groups
	FirstUserMethod Method = 16
)

// Version is the protocol version a hello carries. A peer with another
// version is refused with ErrVersion.
const Version = 1

// headerBytes is the fixed frame header (see doc.go).
const headerBytes = 20

// frame flags.
const (
	flagResponse uint8 = 1 << 0 // answers the request with the same correlation id
	flagError    uint8 = 1 << 1 // response payload is an error (code, message)
	flagOneway   uint8 = 1 << 2 // request expects no response
	flagsKnown         = flagResponse | flagError | flagOneway
)

// helloToProbe in a hello's to field asks for the acceptor's identity
// only: it answers with its hello and closes (see Probe).
const helloToProbe = -1

// helloMaxBytes bounds the first frame read from a connection, before the
// peer is known: a stranger cannot make us allocate more than this.
const helloMaxBytes = 512

// maxMessageBytes bounds an error message on the wire.
const maxMessageBytes = 1024

type header struct {
	payloadLen    int
	method        Method
	flags         uint8
	corr          uint64
	timeoutMillis uint32 // requests: the caller's remaining deadline; 0 = none
}

// appendHeader appends the 20-byte header of a frame with payloadLen bytes.
func appendHeader(dst []byte, h header) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(headerBytes-4+h.payloadLen))
	dst = binary.BigEndian.AppendUint16(dst, uint16(h.method))
	dst = append(dst, h.flags, 0)
	dst = binary.BigEndian.AppendUint64(dst, h.corr)
	return binary.BigEndian.AppendUint32(dst, h.timeoutMillis)
}

// parseHeader checks a header against maxFrame (the whole frame's bytes)
// before anything is allocated for its payload.
func parseHeader(b *[headerBytes]byte, maxFrame int) (header, error) {
	n := binary.BigEndian.Uint32(b[0:4])
	if n < headerBytes-4 {
		return header{}, fmt.Errorf("%w: length %d below header", ErrBadFrame, n)
	}
	if uint64(n)+4 > uint64(maxFrame) {
		return header{}, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, uint64(n)+4, maxFrame)
	}
	h := header{
		payloadLen:    int(n) - (headerBytes - 4),
		method:        Method(binary.BigEndian.Uint16(b[4:6])),
		flags:         b[6],
		corr:          binary.BigEndian.Uint64(b[8:16]),
		timeoutMillis: binary.BigEndian.Uint32(b[16:20]),
	}
	if h.flags&^flagsKnown != 0 || b[7] != 0 {
		return header{}, fmt.Errorf("%w: flags %#x reserved %#x", ErrBadFrame, h.flags, b[7])
	}
	if h.flags&flagError != 0 && h.flags&flagResponse == 0 {
		return header{}, fmt.Errorf("%w: error flag on a request", ErrBadFrame)
	}
	return h, nil
}

// readFrame reads one frame; the payload is freshly allocated (the caller
// owns it) and only after the header passed the size check.
func readFrame(r io.Reader, hb *[headerBytes]byte, maxFrame int) (header, []byte, error) {
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return header{}, nil, err
	}
	h, err := parseHeader(hb, maxFrame)
	if err != nil {
		return header{}, nil, err
	}
	payload := make([]byte, h.payloadLen)
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return header{}, nil, err
	}
	return h, payload, nil
}

// hello is the handshake payload, sent by the dialer and echoed (with the
// answering node's identity) by the acceptor.
type hello struct {
	version uint16
	from    int32  // sender's node id
	to      int32  // the node id the sender expects at the other end; helloToProbe
	cluster string // cluster id, at most 255 bytes
}

func (h hello) appendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, h.version)
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.from))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.to))
	dst = append(dst, byte(len(h.cluster)))
	return append(dst, h.cluster...)
}

func decodeHello(b []byte) (hello, error) {
	r := reader{b: b}
	h := hello{version: r.u16(), from: int32(r.u32()), to: int32(r.u32())}
	h.cluster = string(r.bytes(int(r.u8())))
	if err := r.done("hello"); err != nil {
		return hello{}, err
	}
	return h, nil
}

// appendErrorPayload encodes an error response: code u16, length u16, text.
func appendErrorPayload(dst []byte, code Code, msg string) []byte {
	if len(msg) > maxMessageBytes {
		msg = msg[:maxMessageBytes]
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(msg)))
	return append(dst, msg...)
}

func decodeErrorPayload(b []byte) (*RemoteError, error) {
	r := reader{b: b}
	code := Code(r.u16())
	msg := string(r.bytes(int(r.u16())))
	if err := r.done("error response"); err != nil {
		return nil, err
	}
	return &RemoteError{Code: code, Message: msg}, nil
}

// reader decodes network bytes with a sticky error: the first short read
// or bad value is recorded and every later read returns zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrBadFrame}, args...)...)
	}
	r.b = nil
}

func (r *reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || n > len(r.b) {
		r.fail("need %d bytes, have %d", n, len(r.b))
		return false
	}
	return true
}

func (r *reader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns the next n bytes as a view of the input (capacity capped,
// so an append by the owner cannot overwrite what follows).
func (r *reader) bytes(n int) []byte {
	if !r.need(n) {
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// count reads a uvarint element count, checked against max and against
// the bytes left (each element takes at least minBytes), so that nothing
// is allocated for elements the input cannot hold.
func (r *reader) count(max, minBytes int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(max) || n*uint64(minBytes) > uint64(len(r.b)) {
		r.fail("count %d (max %d, %d bytes left)", n, max, len(r.b))
		return 0
	}
	return int(n)
}

// done reports the sticky error, or trailing bytes.
func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("rpc: decode %s: %w", what, r.err)
	}
	return nil
}
