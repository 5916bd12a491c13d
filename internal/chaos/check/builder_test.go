package check

import "github.com/petrel-streaming/petrel/internal/chaos/history"

// hb builds a history by hand on a logical clock: every line is 10 ns after
// the previous one, so "completed before invoked" is exact.
type hb struct {
	ops []history.Op
	t   int64
	id  int64
}

// pending is an invoked op waiting for its completion.
type pending struct {
	b   *hb
	inv history.Op
}

func (b *hb) invoke(op history.Op) *pending {
	b.t += 10
	b.id++
	op.ID, op.Phase, op.Time = b.id, history.Invoke, b.t
	b.ops = append(b.ops, op)
	return &pending{b, op}
}

func (p *pending) end(ph history.Phase, fill func(*history.Op)) {
	op := p.inv
	if fill != nil {
		fill(&op)
	}
	p.b.t += 10
	op.Phase, op.Time = ph, p.b.t
	p.b.ops = append(p.b.ops, op)
}

func (p *pending) ok(off int64) { p.end(history.OK, func(o *history.Op) { o.Offset = off }) }
func (p *pending) fail()        { p.end(history.Fail, func(o *history.Op) { o.Err = "INVALID_RECORD" }) }
func (p *pending) info()        { p.end(history.Info, func(o *history.Op) { o.Err = "timeout" }) }

var t0 = history.TP{Topic: "t", Partition: 0}

// send invokes a send of value to tp by process p; the producer is the
// value's prefix.
func (b *hb) send(p int, tp history.TP, value string, idem bool) *pending {
	prod, _, _ := splitValue(value)
	return b.invoke(history.Op{Process: p, Type: history.Send, Topic: tp.Topic, Partition: tp.Partition,
		Value: value, Producer: prod, Idempotent: idem})
}

// sendOK sends and acks at off, with nothing in between.
func (b *hb) sendOK(p int, tp history.TP, value string, off int64) {
	b.send(p, tp, value, true).ok(off)
}

func recs(pairs ...any) []history.Rec {
	var out []history.Rec
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, history.Rec{Offset: int64(pairs[i].(int)), Value: pairs[i+1].(string)})
	}
	return out
}

// poll records an ok poll by process p returning rs.
func (b *hb) poll(p int, tp history.TP, rs []history.Rec) {
	pos := int64(0)
	if len(rs) > 0 {
		pos = rs[0].Offset
	}
	b.invoke(history.Op{Process: p, Type: history.Poll, Topic: tp.Topic, Partition: tp.Partition, Offset: pos}).
		end(history.OK, func(o *history.Op) { o.Records = rs })
}

// read records the final read of tp.
func (b *hb) read(tp history.TP, rs []history.Rec) {
	b.invoke(history.Op{Process: 100, Type: history.Read, Topic: tp.Topic, Partition: tp.Partition}).
		end(history.OK, func(o *history.Op) { o.Records = rs })
}

func (b *hb) list(p int, tp history.TP, hw int64) {
	b.invoke(history.Op{Process: p, Type: history.ListOffsets, Topic: tp.Topic, Partition: tp.Partition}).ok(hw)
}

func (b *hb) commit(p int, g string, tp history.TP, off int64) *pending {
	return b.invoke(history.Op{Process: p, Type: history.Commit, Topic: tp.Topic, Partition: tp.Partition,
		Group: g, Offset: off})
}

func (b *hb) fetch(p int, g string, tp history.TP, off int64) {
	b.invoke(history.Op{Process: p, Type: history.FetchOffset, Topic: tp.Topic, Partition: tp.Partition, Group: g}).ok(off)
}
