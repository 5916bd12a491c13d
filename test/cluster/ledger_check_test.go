package cluster_test

import (
	"slices"
	"testing"
)

// TestCheck: the final-read check passes a consistent run and names each
// anomaly of a broken one (the check must be able to fail).
func TestCheck(t *testing.T) {
	final := func() map[int32][]rec {
		return map[int32][]rec{
			0: {{0, 0, "v0"}, {0, 1, "v2"}, {0, 2, "v4"}},
			1: {{1, 0, "v1"}, {1, 1, "v3"}},
		}
	}
	acked := []rec{{0, 0, "v0"}, {1, 0, "v1"}, {0, 1, "v2"}, {1, 1, "v3"}} // v4 was not acknowledged: fine
	reads := map[[2]int64]string{{0, 0}: "v0", {1, 1}: "v3"}
	if got := check(acked, reads, final()); len(got) != 0 {
		t.Fatalf("consistent run: %+v", got)
	}
	names := func(fs []finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.name)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		edit  func(f map[int32][]rec, acked []rec, reads map[[2]int64]string) []rec
		wants []string
	}{
		{"lost tail", func(f map[int32][]rec, a []rec, _ map[[2]int64]string) []rec {
			f[1] = f[1][:1]
			return a
		}, []string{"lost", "unstable"}},
		{"hole", func(f map[int32][]rec, a []rec, _ map[[2]int64]string) []rec {
			f[0] = []rec{f[0][0], f[0][2]}
			return a
		}, []string{"gap", "lost"}},
		{"moved", func(f map[int32][]rec, a []rec, _ map[[2]int64]string) []rec {
			f[0][1].v, f[0][2].v = "v4", "v2"
			return a
		}, []string{"moved"}},
		{"duplicate", func(f map[int32][]rec, a []rec, _ map[[2]int64]string) []rec {
			f[0][2].v = "v2"
			return a
		}, []string{"duplicate"}},
		{"reordered", func(f map[int32][]rec, a []rec, _ map[[2]int64]string) []rec {
			f[0][1].v, f[0][2].v = "v4", "v2"
			return append(a[:2:2], rec{0, 2, "v2"}, rec{1, 1, "v3"}, rec{0, 1, "v4"})
		}, []string{"reordered"}},
		{"unstable", func(_ map[int32][]rec, a []rec, r map[[2]int64]string) []rec {
			r[[2]int64{0, 2}] = "v9"
			return a
		}, []string{"unstable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, r := final(), map[[2]int64]string{{0, 0}: "v0", {1, 1}: "v3"}
			a := tc.edit(f, slices.Clone(acked), r)
			if got := names(check(a, r, f)); !slices.Equal(got, tc.wants) {
				t.Fatalf("findings %v, want %v", got, tc.wants)
			}
		})
	}
}
