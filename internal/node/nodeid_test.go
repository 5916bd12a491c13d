package node

import (
	"context"
	"testing"
)

func TestSeedIndex(t *testing.T) {
	seeds := []string{"10.0.0.1:33145", "localhost:33146", "127.0.0.1:33147"}
	for _, c := range []struct {
		addr string
		want int
	}{
		{"10.0.0.1:33145", 0},   // as written
		{"127.0.0.1:33146", 1},  // a name for this address
		{"localhost:33147", 2},  // an address for this name
		{"127.0.0.1:33145", -1}, // the port matches, the host does not
		{"10.0.0.1:33146", -1},
		{"not an address", -1},
	} {
		if got := seedIndex(context.Background(), c.addr, seeds); got != c.want {
			t.Errorf("seedIndex(%q) = %d, want %d", c.addr, got, c.want)
		}
	}
}
