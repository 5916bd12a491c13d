package kafka

import (
	"encoding/binary"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func sizePrefix(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

// TestBadInput sends each malformed input on its own connection, asserts
// the server closes it, and that a fresh connection is still served
// (CHAOS.md §3.1, §3.2). Trailing bytes after a valid body close the
// connection (doc.go).
func TestBadInput(t *testing.T) {
	ts := startServer(t, Config{})
	apiV0 := frame(kmsg.NewPtrApiVersionsRequest(), 1, nil)
	trailing := append([]byte(nil), apiV0...)
	trailing = append(trailing, 1, 2, 3)
	binary.BigEndian.PutUint32(trailing, uint32(len(trailing)-4))

	// Metadata v1 (key registered): topics array INT32_MAX, tiny payload.
	hugeArray := rawFrame(3, 1, 1, []byte{0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'})
	// ApiVersions v3: tagged-field count 2^32-1 (kmsg alone spins ~60 s).
	tagBomb := rawFrame(18, 3, 1, []byte{0, 2, 'a', 2, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f})
	// Metadata v9 (flexible): compact array count 2^31 in a varint.
	compactHuge := rawFrame(3, 9, 1, []byte{0, 0xff, 0xff, 0xff, 0xff, 0x07, 0})

	cases := []struct {
		name string
		in   []byte
	}{
		{"size -1", sizePrefix(-1)},
		{"size INT32_MIN", sizePrefix(math.MinInt32)},
		{"size 0", sizePrefix(0)},
		{"size 0x7FFFFFFF", sizePrefix(math.MaxInt32)},
		{"size above max request", sizePrefix(DefaultMaxRequestBytes + 1)},
		{"above ApiVersions cap", append(sizePrefix(2<<20), 0, 18, 0, 0, 0, 0, 0, 1)},
		{"TLS ClientHello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}},
		{"HTTP GET", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"unknown key 32767", rawFrame(32767, 0, 1, nil)},
		{"unknown key -1", rawFrame(-1, 0, 1, nil)},
		{"kmsg key not registered", rawFrame(1, 4, 1, nil)},
		{"unsupported version", rawFrame(3, 13, 1, []byte{0})},
		{"negative version", rawFrame(18, -1, 1, nil)},
		{"client id past frame", append(sizePrefix(10), 0, 18, 0, 0, 0, 0, 0, 1, 0x7f, 0xff)},
		{"truncated frame", append(sizePrefix(100), apiV0[4:]...)},
		{"trailing garbage", trailing},
		{"huge array count", hugeArray},
		{"tag count bomb", tagBomb},
		{"compact array huge", compactHuge},
	}
	for i := int32(1); i <= 9; i++ {
		cases = append(cases, struct {
			name string
			in   []byte
		}{"size below header " + string(rune('0'+i)), append(sizePrefix(i), make([]byte, i)...)})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			nc := ts.dial(t)
			if _, err := nc.Write(tc.in); err != nil {
				t.Fatal(err)
			}
			if tc.name == "truncated frame" {
				_ = nc.(interface{ CloseWrite() error }).CloseWrite()
			}
			if d := expectClosed(t, nc); d > 5*time.Second {
				t.Fatalf("closed only after %v", d)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := int64(after.TotalAlloc - before.TotalAlloc); grew > 8<<20 {
				t.Fatalf("allocated %d bytes for a rejected input", grew)
			}
			waitFor(t, "budget released", func() bool { return ts.srv.Stats().DecodeBytesInUse == 0 })
			ts.checkServes(t)
		})
	}
}

// TestManyAnnouncedHugeFrames: connections that each announce a maximal
// frame and stall hold at most the decode budget between them; the others
// wait (backpressure) and the server keeps serving small requests once the
// stallers time out.
func TestManyAnnouncedHugeFrames(t *testing.T) {
	const budget = 256 << 20 // two 1 MiB Metadata frames at ~98× amplification
	ts := startServer(t, Config{DecodeBudgetBytes: budget, ReadTimeout: 300 * time.Millisecond})
	hdr := append(sizePrefix(1<<20), 0, 3, 0, 1, 0, 0, 0, 1) // Metadata v1, 1 MiB, no body
	for range 40 {
		nc := ts.dial(t)
		if _, err := nc.Write(hdr); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "budget to be charged", func() bool { return ts.srv.Stats().DecodeBytesInUse > 0 })
	if used := ts.srv.Stats().DecodeBytesInUse; used > budget {
		t.Fatalf("budget overdrawn: %d", used)
	}
	waitFor(t, "stallers to be closed", func() bool { return ts.srv.Stats().Connections == 0 })
	ts.checkServes(t)
}
