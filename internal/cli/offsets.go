package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// offsetKind says where an offset spec points.
type offsetKind int

const (
	offsetStart offsetKind = iota // the log start
	offsetEnd                     // the high watermark (the next offset)
	offsetExact                   // a given offset
	offsetTime                    // the first record at or after a time
)

// offsetSpec is a parsed -o / --to value.
type offsetSpec struct {
	kind offsetKind
	n    int64 // the offset (offsetExact) or Unix milliseconds (offsetTime)
}

// parseOffset reads start|oldest, end|newest, N, or @T where T is Unix
// milliseconds or an RFC 3339 time (2026-11-23T10:00:00Z).
func parseOffset(s string) (offsetSpec, error) {
	switch strings.ToLower(s) {
	case "start", "oldest", "beginning":
		return offsetSpec{kind: offsetStart}, nil
	case "end", "newest", "latest":
		return offsetSpec{kind: offsetEnd}, nil
	}
	if t, ok := strings.CutPrefix(s, "@"); ok {
		if ms, err := strconv.ParseInt(t, 10, 64); err == nil && ms >= 0 {
			return offsetSpec{kind: offsetTime, n: ms}, nil
		}
		if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return offsetSpec{kind: offsetTime, n: ts.UnixMilli()}, nil
		}
		return offsetSpec{}, fmt.Errorf("offset %q: after @ want Unix milliseconds or an RFC 3339 time", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return offsetSpec{}, fmt.Errorf("offset %q: want start, end, a non-negative offset, or @timestamp", s)
	}
	return offsetSpec{kind: offsetExact, n: n}, nil
}

// kgoOffset is where a consumer starts for this spec.
func (o offsetSpec) kgoOffset() kgo.Offset {
	switch o.kind {
	case offsetEnd:
		return kgo.NewOffset().AtEnd()
	case offsetExact:
		return kgo.NewOffset().At(o.n)
	case offsetTime:
		return kgo.NewOffset().AfterMilli(o.n)
	}
	return kgo.NewOffset().AtStart()
}

// resolve lists the offset this spec names on every partition of topics.
// A time after the last record resolves to the end offset, as a consumer
// starting there would.
func (o offsetSpec) resolve(ctx context.Context, adm *kadm.Client, topics ...string) (kadm.ListedOffsets, error) {
	var (
		lo  kadm.ListedOffsets
		err error
	)
	switch o.kind {
	case offsetStart:
		lo, err = adm.ListStartOffsets(ctx, topics...)
	case offsetTime:
		lo, err = adm.ListOffsetsAfterMilli(ctx, o.n, topics...)
	default:
		lo, err = adm.ListEndOffsets(ctx, topics...)
	}
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		return nil, err
	}
	var ends kadm.ListedOffsets
	for t, ps := range lo {
		for p, l := range ps {
			switch {
			case o.kind == offsetExact:
				l.Offset = o.n
			case o.kind == offsetTime && l.Offset < 0:
				if ends == nil {
					if ends, err = adm.ListEndOffsets(ctx, topics...); err == nil {
						err = ends.Error()
					}
					if err != nil {
						return nil, err
					}
				}
				l.Offset = ends[t][p].Offset
			}
			ps[p] = l
		}
	}
	return lo, nil
}

// parsePartitions reads "0,2,5" (nil for none).
func parsePartitions(items []string) ([]int32, error) {
	var out []int32
	for _, it := range items {
		for _, s := range splitList(it) {
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("partition %q: want a non-negative number", s)
			}
			out = append(out, int32(n))
		}
	}
	return out, nil
}
