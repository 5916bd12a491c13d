package group

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestPartitionFor checks Kafka's group → partition rule against values
// computed independently (Java String.hashCode by hand, in Python),
// including a hash of MinInt32 (Utils.abs gives 0) and non-BMP runes
// (two UTF-16 units).
func TestPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		group   string
		n       int
		want50  int32
		wantArg int32
	}{
		{"", 7, 0, 0},
		{"my-group", 7, 12, 1},
		{"hello", 7, 22, 0},
		{"test-group-42", 7, 31, 4},
		{"日本語グループ", 7, 31, 3},
		{"😀x", 7, 39, 0},
		{"polygenelubricants", 7, 0, 0}, // hashCode is MinInt32
	} {
		if got := PartitionFor(tc.group, 50); got != tc.want50 {
			t.Errorf("PartitionFor(%q, 50) = %d, want %d", tc.group, got, tc.want50)
		}
		if got := PartitionFor(tc.group, tc.n); got != tc.wantArg {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tc.group, tc.n, got, tc.wantArg)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := New(DefaultConfig(), &counterRand{}); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mut := range map[string]func(*Config){
		"negative delay":   func(c *Config) { c.InitialRebalanceDelay = -time.Second },
		"zero min session": func(c *Config) { c.MinSessionTimeout = 0 },
		"max < min":        func(c *Config) { c.MaxSessionTimeout = time.Second },
		"zero group size":  func(c *Config) { c.MaxGroupSize = 0 },
		"zero groups":      func(c *Config) { c.MaxGroups = 0 },
		"negative md":      func(c *Config) { c.MaxOffsetMetadataBytes = -1 },
		"zero proto md":    func(c *Config) { c.MaxProtocolMetadataBytes = 0 },
	} {
		cfg := DefaultConfig()
		mut(&cfg)
		if _, err := New(cfg, &counterRand{}); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// TestHandleUnsupported: keys and versions outside APIs are refused and
// queue nothing; every listed range is accepted at both ends.
func TestHandleUnsupported(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	for _, req := range []kmsg.Request{
		kmsg.NewPtrProduceRequest(),
		&kmsg.OffsetCommitRequest{Version: 10},
		&kmsg.OffsetFetchRequest{Version: 10},
		nil,
	} {
		if err := h.c.Handle(h.now, 1, Client{}, req); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%T: %v, want ErrUnsupported", req, err)
		}
	}
	if h.c.HasReady() {
		t.Fatal("refused requests queued output")
	}
	for _, api := range APIs() {
		for _, v := range []int16{api.MinVersion, api.MaxVersion} {
			req := kmsg.RequestForKey(api.Key)
			req.SetVersion(v)
			if err := h.c.Handle(h.now, 1, Client{}, req); err != nil {
				t.Errorf("key %d v%d: %v", api.Key, v, err)
			}
			if rd := h.c.Ready(); len(rd.Responses) != 1 || rd.Responses[0].Msg.GetVersion() != v || rd.Responses[0].Msg.Key() != api.Key {
				t.Errorf("key %d v%d: responses %+v", api.Key, v, rd.Responses)
			}
		}
	}
}
