package kafka

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type recordingObserver struct {
	mu       sync.Mutex
	requests []int16
	failed   []bool
	in, out  map[string]int
}

func (o *recordingObserver) Request(key int16, took time.Duration, failed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, key)
	o.failed = append(o.failed, failed)
}

func (o *recordingObserver) TopicBytes(in bool, name string, id [16]byte, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if name == "" {
		name = "id:" + string(id[:1])
	}
	if in {
		o.in[name] += n
	} else {
		o.out[name] += n
	}
}

func TestObserveWrapsHandlers(t *testing.T) {
	o := &recordingObserver{in: map[string]int{}, out: map[string]int{}}
	fetch := func(context.Context, *Request) (kmsg.Response, error) {
		resp := kmsg.NewPtrFetchResponse()
		named := kmsg.NewFetchResponseTopic()
		named.Topic = "a"
		for _, n := range []int{10, 0, 5} {
			p := kmsg.NewFetchResponseTopicPartition()
			p.RecordBatches = make([]byte, n)
			named.Partitions = append(named.Partitions, p)
		}
		byID := kmsg.NewFetchResponseTopic()
		byID.TopicID = [16]byte{'x'}
		p := kmsg.NewFetchResponseTopicPartition()
		p.RecordBatches = make([]byte, 7)
		byID.Partitions = append(byID.Partitions, p)
		resp.Topics = append(resp.Topics, named, byID)
		return resp, nil
	}
	produce := func(context.Context, *Request) (kmsg.Response, error) { return nil, errors.New("boom") }

	reg := NewRegistry()
	for _, a := range []API{{Key: 1, MinVersion: 4, MaxVersion: 12, Handle: fetch}, {Key: 0, MinVersion: 3, MaxVersion: 9, Handle: produce}} {
		if err := reg.Register(a); err != nil {
			t.Fatal(err)
		}
	}
	obs := reg.observed(o)

	preq := kmsg.NewPtrProduceRequest()
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "a"
	for _, n := range []int{3, 4} {
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Records = make([]byte, n)
		pt.Partitions = append(pt.Partitions, pp)
	}
	preq.Topics = append(preq.Topics, pt)
	if _, err := obs.apis[0].Handle(context.Background(), &Request{Key: 0, Msg: preq}); err == nil {
		t.Fatal("the wrapped handler's error was lost")
	}
	if _, err := obs.apis[1].Handle(context.Background(), &Request{Key: 1, Msg: kmsg.NewPtrFetchRequest()}); err != nil {
		t.Fatal(err)
	}
	if len(o.requests) != 2 || o.requests[0] != 0 || !o.failed[0] || o.requests[1] != 1 || o.failed[1] {
		t.Errorf("requests %v failed %v", o.requests, o.failed)
	}
	if o.in["a"] != 7 || o.out["a"] != 15 || o.out["id:x"] != 7 {
		t.Errorf("bytes in %v out %v", o.in, o.out)
	}
	// The original registry is untouched: observing is the server's.
	if _, err := reg.apis[1].Handle(context.Background(), &Request{Key: 1, Msg: kmsg.NewPtrFetchRequest()}); err != nil || len(o.requests) != 2 {
		t.Errorf("the original registry reports too (%d requests)", len(o.requests))
	}
	if len(obs.apis) != len(reg.apis) {
		t.Errorf("observed registry has %d keys, want %d", len(obs.apis), len(reg.apis))
	}
}
