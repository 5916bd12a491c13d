package kafka

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// byteConn is a net.Conn that reads from a fixed input and discards writes.
type byteConn struct{ r *bytes.Reader }

func (c byteConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c byteConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c byteConn) Close() error                     { return nil }
func (c byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c byteConn) SetDeadline(time.Time) error      { return nil }
func (c byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c byteConn) SetWriteDeadline(time.Time) error { return nil }
func fuzzServer(t testing.TB) *Server {
	reg := NewRegistry()
	if err := reg.Register(API{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: (&testHandlers{}).metadata}); err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Config{MaxRequestBytes: 1 << 20, DefaultMaxBodyBytes: 64 << 10}, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seedFrames() [][]byte {
	v3 := kmsg.NewPtrApiVersionsRequest()
	v3.Version, v3.ClientSoftwareName, v3.ClientSoftwareVersion = 3, "kgo", "1.0"
	return [][]byte{
		frame(kmsg.NewPtrApiVersionsRequest(), 1, kmsg.StringPtr("client")),
		frame(v3, 2, nil),
		frame(metadataReq(1, "a", "b"), 3, nil),
		frame(metadataReq(12, "topic"), 4, kmsg.StringPtr("c")),
		append(frame(metadataReq(9), 5, nil), frame(metadataReq(4, "x"), 6, nil)...),
		rawFrame(3, 1, 1, []byte{0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'}),
		rawFrame(18, 3, 1, []byte{0, 2, 'a', 2, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f}),
		rawFrame(18, 99, 1, nil),
		[]byte("GET / HTTP/1.1\r\n"),
	}
}

// FuzzFrame feeds a byte stream to a connection's frame reader: every
// frame is accepted or refused without panic, and the decode budget is
// whole again afterwards.
func FuzzFrame(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s)
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newConn(s, byteConn{bytes.NewReader(in)}, 1)
		defer c.cancel()
		for range 64 {
			p, err := c.readRequest()
			if err != nil {
				break
			}
			if p.req == nil || p.req.Msg == nil {
				t.Fatal("request without message")
			}
			c.release(p)
		}
		if used := s.budget.Used(); used != 0 {
			t.Fatalf("budget holds %d after the stream", used)
		}
	})
}

// FuzzRequestHeader: the header parsers never panic and return a suffix of
// their input as the body.
func FuzzRequestHeader(f *testing.F) {
	for _, s := range seedFrames() {
		if len(s) > 4 {
			f.Add(s[4:], false)
			f.Add(s[4:], true)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, flexible bool) {
		if len(in) < fixedHeaderBytes {
			return
		}
		h := parseFixedHeader(int32(len(in)), in)
		_ = h
		_, body, err := parseHeaderRest(in[fixedHeaderBytes:], flexible)
		if err == nil && !bytes.HasSuffix(in, body) {
			t.Fatal("body is not a suffix of the frame")
		}
	})
}

// FuzzDecodeRequest decodes a body as any key × version kmsg knows: no
// panic, allocation within the budget charge, and an accepted body
// re-encodes to one that decodes to the same request.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range seedFrames() {
		if len(s) > 14 {
			f.Add(int16(s[4])<<8|int16(s[5]), int16(s[6])<<8|int16(s[7]), s[14:])
		}
	}
	f.Add(int16(0), int16(9), []byte{0, 0, 1, 0, 0, 0, 0, 2, 2, 't', 2, 0, 0, 0, 0, 0, 0, 0})
	amp := map[[2]int16]float64{}
	f.Fuzz(func(t *testing.T, key, version int16, body []byte) {
		proto := kmsg.RequestForKey(key)
		if proto == nil || version < 0 || version > proto.MaxVersion() {
			return
		}
		k := [2]int16{key, version}
		if _, ok := amp[k]; !ok {
			amp[k] = amplification(key, version)
		}
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		req, err := decodeRequest(key, version, body)
		runtime.ReadMemStats(&b)
		if grew, limit := int64(b.TotalAlloc-a.TotalAlloc), int64(float64(len(body))*(1+amp[k]))+requestOverheadBytes; grew > limit {
			t.Fatalf("%s v%d: %d body bytes allocated %d, bound %d", kmsg.NameForKey(key), version, len(body), grew, limit)
		}
		if err != nil {
			return
		}
		again, err := decodeRequest(key, version, req.AppendTo(nil))
		if err != nil {
			t.Fatalf("%s v%d: re-encoded request does not decode: %v", kmsg.NameForKey(key), version, err)
		}
		if !reflect.DeepEqual(req, again) {
			t.Fatalf("%s v%d: round trip differs", kmsg.NameForKey(key), version)
		}
	})
}
