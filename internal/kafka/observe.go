package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Observer is told about every request the server handles: the metrics
// hook. Its methods are called from handler goroutines, concurrently, so
// an implementation must be safe for any goroutine and cheap (counters,
// histograms). A nil Observer observes nothing.
type Observer interface {
	// Request reports one handled request: its API key, how long its
	// handler took (for Produce with acks=all that includes waiting for
	// the commit), and whether the handler failed (the connection is
	// closed then).
	Request(key int16, took time.Duration, failed bool)
	// TopicBytes reports record-batch bytes received in a Produce request
	// (in) or sent in a Fetch response (out) for one topic, named by
	// name or, from v13 on, by ID only (name is then "").
	TopicBytes(in bool, name string, id [16]byte, n int)
}

// Observe makes s report to o. Call it before Serve; nil turns
// observation off. The registry s was built with is not modified: s
// serves a copy whose handlers are wrapped.
func (s *Server) Observe(o Observer) {
	if o == nil {
		return
	}
	s.reg = s.reg.observed(o)
}

// observed returns a copy of r whose handlers report to o.
func (r *Registry) observed(o Observer) *Registry {
	c := &Registry{apis: make(map[int16]*registered, len(r.apis))}
	for k, a := range r.apis {
		w := *a
		w.Handle = observeHandler(o, a.Handle)
		c.apis[k] = &w
	}
	return c
}

func observeHandler(o Observer, h Handler) Handler {
	return func(ctx context.Context, r *Request) (kmsg.Response, error) {
		start := time.Now()
		if p, ok := r.Msg.(*kmsg.ProduceRequest); ok {
			// Counted before handling: the records alias the frame buffer,
			// which is the handler's to retain or release.
			observeProduce(o, p)
		}
		resp, err := h(ctx, r)
		o.Request(r.Key, time.Since(start), err != nil)
		if f, ok := resp.(*kmsg.FetchResponse); ok && err == nil {
			observeFetch(o, f)
		}
		return resp, err
	}
}

func observeProduce(o Observer, p *kmsg.ProduceRequest) {
	for i := range p.Topics {
		t := &p.Topics[i]
		if n := sumBytes(t.Partitions, func(p *kmsg.ProduceRequestTopicPartition) []byte { return p.Records }); n > 0 {
			o.TopicBytes(true, t.Topic, t.TopicID, n)
		}
	}
}

func observeFetch(o Observer, f *kmsg.FetchResponse) {
	for i := range f.Topics {
		t := &f.Topics[i]
		if n := sumBytes(t.Partitions, func(p *kmsg.FetchResponseTopicPartition) []byte { return p.RecordBatches }); n > 0 {
			o.TopicBytes(false, t.Topic, t.TopicID, n)
		}
	}
}

// sumBytes adds up the lengths of the record sets of parts.
func sumBytes[P any](parts []P, records func(*P) []byte) int {
	n := 0
	for i := range parts {
		n += len(records(&parts[i]))
	}
	return n
}
