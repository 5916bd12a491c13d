package storage

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// ddEnv is the state of one datadriven file: a log on an in-memory FS.
type ddEnv struct {
	mem  *vfs.MemFS
	clk  *testClock
	opts Options
	l    *Log
	g    *gen
}

func scanInt(t *testing.T, d *datadriven.TestData, key string, def int) int {
	if d.HasArg(key) {
		d.ScanArgs(t, key, &def)
	}
	return def
}

func (e *ddEnv) open(t *testing.T, d *datadriven.TestData) string {
	if e.l != nil {
		e.l.Close()
	}
	e.opts.SegmentBytes = int64(scanInt(t, d, "segment-bytes", int(e.opts.SegmentBytes)))
	e.opts.IndexIntervalBytes = scanInt(t, d, "interval", e.opts.IndexIntervalBytes)
	e.opts.StartIndex = model.Index(scanInt(t, d, "start", int(e.opts.StartIndex)))
	l, err := Open(e.mem, "/d", e.opts)
	if err != nil {
		return "error: " + err.Error()
	}
	e.l = l
	e.g.idx, e.g.off, e.g.term = l.LastIndex()+1, l.NextOffset(), max(l.LastTerm(), e.g.term)
	return e.state()
}

// state prints the log's bounds and every segment with its index points.
func (e *ddEnv) state() string {
	var b strings.Builder
	l := e.l
	fmt.Fprintf(&b, "log first=%d last=%d term=%d offsets=[%d,%d) durable=%d\n",
		l.FirstIndex(), l.LastIndex(), l.LastTerm(), l.StartOffset(), l.NextOffset(), l.DurableIndex())
	v := l.view()
	for k := 0; k <= len(v.segs); k++ {
		s, st, err := v.stateOf(k)
		if err != nil {
			fmt.Fprintf(&b, "segment %d: %v\n", s.base, err)
			continue
		}
		if st.points, err = v.pointsOf(k, st); err != nil {
			fmt.Fprintf(&b, "segment %d: %v\n", s.base, err)
			continue
		}
		kind := "closed"
		if k == len(v.segs) {
			kind = "active"
		}
		fi, _ := e.mem.Stat(s.logPath)
		fmt.Fprintf(&b, "%s %s: entries [%d,%d] offsets [%d,%d) bytes=%d file=%d maxTs=%d\n",
			kind, segmentName(s.base), s.base, st.last, st.baseOffset, st.nextOffset, st.size, fi.Size, st.maxTs)
		for _, p := range st.points {
			fmt.Fprintf(&b, "  point index=%d offset=%d pos=%d maxTs=%d\n", p.index, p.offset, p.pos, p.maxTs)
		}
	}
	return b.String()
}

func (e *ddEnv) run(t *testing.T, d *datadriven.TestData) string {
	if d.Cmd != "open" && e.l == nil {
		t.Fatalf("%s: open first", d.Pos)
	}
	switch d.Cmd {
	case "open":
		return e.open(t, d)
	case "append":
		n, count, size := scanInt(t, d, "n", 1), scanInt(t, d, "count", 1), scanInt(t, d, "size", 100)
		if d.HasArg("term") {
			e.g.term = model.Term(scanInt(t, d, "term", 0))
		}
		var b []byte
		for i := 0; i < n; i++ {
			if d.HasArg("internal") {
				b = e.g.internal(b, size)
			} else {
				b = e.g.data(b, count, size)
			}
		}
		if err := e.l.Append(b); err != nil {
			return "error: " + err.Error()
		}
		return e.state()
	case "sync":
		if err := syncLog(e.l); err != nil {
			return "error: " + err.Error()
		}
		return e.state()
	case "truncate-suffix":
		err := e.l.TruncateSuffix(model.Index(scanInt(t, d, "from", 0)))
		e.g.idx, e.g.off = e.l.LastIndex()+1, e.l.NextOffset()
		if err != nil {
			return "error: " + err.Error()
		}
		return e.state()
	case "truncate-prefix":
		if err := e.l.TruncatePrefix(model.Index(scanInt(t, d, "start", 0))); err != nil {
			return "error: " + err.Error()
		}
		return e.state()
	case "retain":
		p := RetentionPolicy{Bytes: int64(scanInt(t, d, "bytes", -1))}
		if d.HasArg("age") {
			var s string
			d.ScanArgs(t, "age", &s)
			age, err := time.ParseDuration(s)
			if err != nil {
				t.Fatal(err)
			}
			p.Age = age
		}
		n, err := e.l.Retain(p, model.Index(scanInt(t, d, "limit", int(e.l.LastIndex()))))
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("removed %d\n%s", n, e.state())
	case "advance":
		var s string
		d.ScanArgs(t, "by", &s)
		dur, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		e.clk.advance(dur)
		return ""
	case "read":
		from := model.Offset(scanInt(t, d, "from", 0))
		upTo := model.Offset(scanInt(t, d, "upto", int(e.l.NextOffset())))
		b, err := e.l.ReadBatches(from, scanInt(t, d, "max", 1<<20), upTo, nil)
		if err != nil {
			return "error: " + err.Error()
		}
		var out strings.Builder
		for len(b) > 0 {
			bt, rest, err := model.ParseBatch(b)
			if err != nil {
				return "error: " + err.Error()
			}
			fmt.Fprintf(&out, "batch [%d,%d] bytes=%d maxTs=%d\n", bt.BaseOffset(), bt.LastOffset(), len(bt), bt.MaxTimestamp())
			b = rest
		}
		if out.Len() == 0 {
			return "no batches\n"
		}
		return out.String()
	case "entries":
		ents, err := e.l.Entries(model.Index(scanInt(t, d, "lo", 1)), model.Index(scanInt(t, d, "hi", 1)),
			uint64(scanInt(t, d, "max", 1<<20)))
		if err != nil {
			return "error: " + err.Error()
		}
		var out strings.Builder
		for _, en := range ents {
			fmt.Fprintf(&out, "entry %d term=%d %s offsets [%d,%d) len=%d\n", en.Index, en.Term, en.Type, en.Offset, en.NextOffset(), en.Len)
		}
		return out.String()
	case "offset-for-time":
		o, ok, err := e.l.OffsetForTimestamp(int64(scanInt(t, d, "ts", 0)))
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("offset=%d found=%v\n", o, ok)
	case "index-file":
		return e.indexFile(t, d)
	case "damage-index":
		name := e.segPath(t, d, indexSuffix)
		f, err := e.mem.Open(name, vfs.OpenOptions{})
		if err != nil {
			return "error: " + err.Error()
		}
		defer f.Close()
		junk := []byte("not an index point, not at all!!")
		if _, err := f.WriteAt(junk, int64(scanInt(t, d, "point", 0))*indexPointSize); err != nil {
			t.Fatal(err)
		}
		return ""
	case "remove-index":
		if err := e.mem.Remove(e.segPath(t, d, indexSuffix)); err != nil {
			return "error: " + err.Error()
		}
		return ""
	case "evict":
		c := e.opts.Indexes
		c.mu.Lock()
		for s := range c.items {
			c.forgetLocked(s)
		}
		c.mu.Unlock()
		return ""
	case "index-cache":
		return fmt.Sprintf("bytes=%d read-backs=%d\n", e.opts.Indexes.Bytes(), e.opts.Indexes.Loads())
	case "kill":
		// A killed process: the log is abandoned, the page cache kept.
		e.l = nil
		e.opts.Handles, e.opts.Indexes = NewHandleCache(4), NewIndexCache(1<<20)
		return e.open(t, d)
	case "crash":
		e.l = nil
		e.mem = e.mem.CrashClone()
		return e.open(t, d)
	default:
		t.Fatalf("%s: unknown command %s", d.Pos, d.Cmd)
	}
	return ""
}

// segPath is the file of the segment named by the "seg" argument (its
// base index).
func (e *ddEnv) segPath(t *testing.T, d *datadriven.TestData, suffix string) string {
	return "/d/" + segmentName(model.Index(scanInt(t, d, "seg", 1))) + suffix
}

// indexFile prints the points of a segment's index file that parse (the
// longest valid prefix) and how many bytes follow them.
func (e *ddEnv) indexFile(t *testing.T, d *datadriven.TestData) string {
	seg := model.Index(scanInt(t, d, "seg", 1))
	lf := e.l.lf
	raw, err := lf.readIndexFile(e.segPath(t, d, indexSuffix))
	if err != nil {
		return "error: " + err.Error()
	}
	fi, err := e.mem.Stat(e.segPath(t, d, logSuffix))
	if err != nil {
		return "error: " + err.Error()
	}
	pts := parseIndex(raw, seg, fi.Size)
	var b strings.Builder
	fmt.Fprintf(&b, "%d bytes, %d valid points\n", len(raw), len(pts))
	for _, p := range pts {
		fmt.Fprintf(&b, "  point index=%d offset=%d pos=%d maxTs=%d\n", p.index, p.offset, p.pos, p.maxTs)
	}
	return b.String()
}

func TestDatadriven(t *testing.T) {
	datadriven.Walk(t, "testdata/log", func(t *testing.T, path string) {
		clk := &testClock{t: time.Unix(1000, 0)}
		e := &ddEnv{mem: vfs.NewMem(), clk: clk, g: newGen()}
		e.opts = Options{Logger: quietLogger(), SegmentBytes: 1024, IndexIntervalBytes: 256,
			PreallocStep: 4096, Now: clk.now, Handles: NewHandleCache(4), Indexes: NewIndexCache(1 << 20)}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string { return e.run(t, d) })
		if e.l != nil {
			e.l.Close()
		}
	})
}
