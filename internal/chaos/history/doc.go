// Package history records what the chaos harness's clients did, one JSON
// object per line (history.jsonl), and reads it back for the checkers.
//
// The model is Jepsen's: every client operation is two lines, an invoke
// written just before the request leaves and a completion written when the
// client knows (or gives up knowing) the outcome. The completion's phase says
// what is known:
//
//	ok    the broker answered success; result fields are set (Offset, Records…)
//	fail  the broker definitely did not apply it (a non-retriable rejection)
//	info  indeterminate: timeout, disconnect, retries exhausted — it may or
//	      may not have happened, and may still happen later
//
// An invoke and its completion share ID, Process, Type, Topic, Partition and
// Value. A Process is one logical client that has at most one operation in
// flight, so per process the lines alternate invoke, completion, invoke, ….
//
// # Usage
//
//	rec := history.NewRecorder(f)        // f: the run's history.jsonl
//	inv := rec.Invoke(history.Op{Process: 3, Type: history.Send,
//		Topic: "t", Partition: 2, Value: "p3-17", Producer: "p3", Idempotent: true})
//	r := client.ProduceSync(ctx, rec)    // the real request
//	switch {
//	case r.Err == nil:
//		rec.Complete(inv, history.OK, func(op *history.Op) { op.Offset = r.Offset })
//	case definite(r.Err):
//		rec.Complete(inv, history.Fail, func(op *history.Op) { op.Err = r.Err.Error() })
//	default:
//		rec.Complete(inv, history.Info, func(op *history.Op) { op.Err = r.Err.Error() })
//	}
//	…
//	err := rec.Close()                   // flushes; the first write error
//	ops, err := history.ReadAll(f2)      // later, for the checkers
//
// # Contract
//
// Time is monotonic nanoseconds since NewRecorder (time.Since of a start
// captured there), taken under the recorder's lock, so lines appear in the
// file in non-decreasing Time order and an op completed before another was
// invoked has a smaller completion Time than that invoke Time: the real-time
// order the linearizability checks rely on. IDs are 1, 2, 3, … in invoke
// order. A Recorder is safe for concurrent use by any goroutine; writes go
// through one bufio.Writer (bounded), and the first write error is sticky.
//
// # Format
//
// One Op per line, fields by their short JSON tags, zero values omitted where
// the tag says omitempty:
//
//	{"id":7,"p":3,"t":"send","ph":"invoke","ns":1200345,"topic":"t","part":2,"off":0,"v":"p3-17","prod":"p3","idem":true}
//	{"id":7,"p":3,"t":"send","ph":"ok","ns":3400021,"topic":"t","part":2,"off":412,"e":4,"v":"p3-17","prod":"p3","idem":true}
//	{"id":8,"p":9,"t":"poll","ph":"ok","ns":3500000,"topic":"t","part":2,"off":410,"recs":[{"o":410,"v":"p1-3","e":4},{"o":411,"v":"p2-9","e":4}]}
//
// Value ids are "p{producer}-{seq}", seq increasing per producer instance;
// a record's payload is the value id, ':' and filler.
package history
