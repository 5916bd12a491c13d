package storage

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// armed passes operations to inj only while on.
type armed struct {
	on  atomic.Bool
	inj *vfs.Nth
}

func (a *armed) MaybeError(op vfs.Op) error {
	if !a.on.Load() {
		return nil
	}
	return a.inj.MaybeError(op)
}

// injScenario is one storage operation run under "fail operation n".
type injScenario struct {
	name string
	// setup builds the log before the operation; it returns the entries
	// appended so far.
	setup func(t *testing.T, l *Log, g *gen) []byte
	// op runs the operation; it returns the entries the log should hold
	// if it succeeds (for the check after a successful run).
	op func(l *Log, g *gen, all []byte) ([]byte, error)
	// startMayMove: the operation may remove segments from the front.
	startMayMove bool
}

func injScenarios() []injScenario {
	fill := func(n int, syncEvery int) func(t *testing.T, l *Log, g *gen) []byte {
		return func(t *testing.T, l *Log, g *gen) []byte {
			var all []byte
			for i := 0; i < n; i++ {
				b := g.data(nil, 1+i%2, 200+i*31%400)
				mustAppend(t, l, b)
				all = append(all, b...)
				if i%syncEvery == syncEvery-1 {
					mustSync(t, l)
				}
			}
			return all
		}
	}
	appendSync := func(l *Log, g *gen, all []byte) ([]byte, error) {
		b := g.data(nil, 2, 700)
		b = g.data(b, 1, 100)
		if err := l.Append(b); err != nil {
			return all, err
		}
		all = append(all, b...)
		return all, syncLog(l)
	}
	return []injScenario{
		{name: "append", setup: fill(5, 2), op: func(l *Log, g *gen, all []byte) ([]byte, error) {
			b := g.data(nil, 1, 300)
			if err := l.Append(b); err != nil {
				return all, err
			}
			return append(all, b...), nil
		}},
		{name: "sync", setup: fill(7, 3), op: func(l *Log, _ *gen, all []byte) ([]byte, error) {
			return all, syncLog(l)
		}},
		{name: "roll", setup: fill(9, 4), op: appendSync}, // 4 KiB segments: the append rolls
		{name: "truncate-suffix", setup: fill(30, 5), op: func(l *Log, _ *gen, all []byte) ([]byte, error) {
			// Once begun, a truncation may take entries ≥ 12 away, durable
			// or not, even if it then fails.
			cut := prefixEntries(all, 11)
			if err := l.TruncateSuffix(12); err != nil {
				return cut, err
			}
			return cut, syncLog(l)
		}},
		{name: "retain", setup: fill(40, 40), startMayMove: true, op: func(l *Log, _ *gen, all []byte) ([]byte, error) {
			if _, err := l.Retain(RetentionPolicy{Bytes: 5000}, l.LastIndex()); err != nil {
				return all, err
			}
			return all, syncLog(l)
		}},
	}
}

// checkRecovered opens a crash clone and checks the log is a contiguous
// run of all, ending at or after durable, starting at index 1 unless the
// start may have moved.
func checkRecovered(t *testing.T, mem *vfs.MemFS, o Options, all []byte, durable int, startMayMove bool) {
	t.Helper()
	clone := mem.CrashClone()
	l, err := Open(clone, "/d", o)
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer l.Close()
	got := entriesOf(t, l)
	first := int(l.FirstIndex())
	if !startMayMove && first != 1 {
		t.Fatalf("first index %d", first)
	}
	n := countEntries(got)
	want := prefixEntries(all, min(first-1+n, countEntries(all)))[len(prefixEntries(all, first-1)):]
	if !bytes.Equal(got, want) {
		t.Fatalf("recovered [%d, %d] is not what was appended there", first, first+n-1)
	}
	if first-1+n < durable {
		t.Fatalf("recovered up to %d, but %d was durable", first-1+n, durable)
	}
}

func TestErrorInjection(t *testing.T) {
	clk := &testClock{t: time.Unix(1000, 0)}
	for _, sc := range injScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			for n := 0; n < 500; n++ {
				mem := vfs.NewMem()
				a := &armed{inj: vfs.FailNth(n)}
				fsys := vfs.NewErrorFS(mem, a)
				o := testOpts(clk)
				l := mustOpen(t, fsys, "/d", o)
				g := newGen()
				all := sc.setup(t, l, g)
				durable := int(l.DurableIndex())
				a.on.Store(true)
				after, err := sc.op(l, g, all)
				a.on.Store(false)
				if !a.inj.Fired() {
					if err != nil {
						t.Fatalf("op %d never failed, but: %v", n, err)
					}
					checkRecovered(t, mem, testOpts(clk), after, int(l.DurableIndex()), sc.startMayMove)
					t.Logf("%s: succeeded after failing each of its %d operations", sc.name, n)
					return
				}
				if err != nil && !errors.Is(err, vfs.ErrInjected) {
					t.Fatalf("op %d: error without the injected cause: %v", n, err)
				}
				// The appended entries (a superset of what is durable) bound
				// what may come back.
				longest := after
				if len(all) > len(longest) {
					longest = all
				}
				// A truncation may legitimately take durable entries away.
				checkRecovered(t, mem, testOpts(clk), longest, min(durable, countEntries(after)), sc.startMayMove)
				l.Close()
			}
			t.Fatal("operation still failing after 500 injections")
		})
	}
}

func TestErrorInjectionOpen(t *testing.T) {
	clk := &testClock{t: time.Unix(1000, 0)}
	// A crashed log with unsynced, partly written-back tail pages.
	base := vfs.NewMem()
	l := mustOpen(t, base, "/d", testOpts(clk))
	g := newGen()
	var all []byte
	for i := 0; i < 25; i++ {
		b := g.data(nil, 1, 150+i*71%500)
		mustAppend(t, l, b)
		all = append(all, b...)
		if i == 15 {
			mustSync(t, l)
		}
	}
	durable := int(l.DurableIndex())
	for n := 0; n < 500; n++ {
		mem := base.CrashClone()
		a := &armed{inj: vfs.FailNth(n)}
		a.on.Store(true)
		l2, err := Open(vfs.NewErrorFS(mem, a), "/d", testOpts(clk))
		a.on.Store(false)
		if !a.inj.Fired() {
			if err != nil {
				t.Fatal(err)
			}
			l2.Close()
			checkRecovered(t, mem, testOpts(clk), all, durable, false)
			t.Logf("open succeeded after failing each of its %d operations", n)
			return
		}
		if err == nil {
			l2.Close()
		} else if !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("op %d: %v", n, err)
		}
		checkRecovered(t, mem, testOpts(clk), all, durable, false)
	}
	t.Fatal("open still failing after 500 injections")
}
