package main

import (
	"math"
	"reflect"
	"testing"

	"github.com/petrel-streaming/petrel/internal/chaos/check"
	"github.com/petrel-streaming/petrel/internal/chaos/nemesis"
)

// TestNetMode: one node or --net loopback stay in loopback mode, with the
// reason; inside the namespace the run is in netns mode.
func TestNetMode(t *testing.T) {
	t.Setenv(envInNetns, "")
	for _, o := range []options{{nodes: 1, net: modeAuto}, {nodes: 3, net: modeLoopback}} {
		if mode, reexec, why := o.netMode(); mode != modeLoopback || reexec || why == nil {
			t.Errorf("%+v: %s %v %v", o, mode, reexec, why)
		}
	}
	t.Setenv(envInNetns, "1")
	if mode, reexec, why := (options{nodes: 3, net: modeAuto}).netMode(); mode != modeNetns || reexec || why != nil {
		t.Errorf("inside: %s %v %v", mode, reexec, why)
	}
}

// TestFaultSpans: the fault log's spans become the checks' windows.
func TestFaultSpans(t *testing.T) {
	got := faultSpans([]nemesis.Event{
		{Time: 1, Ev: "inject", Fault: "isolate"}, {Time: 2, Ev: "minority", Fault: "isolate", Node: 1},
		{Time: 3, Ev: "injected", Fault: "isolate"}, {Time: 9, Ev: "heal", Fault: "isolate"},
		{Time: 10, Ev: "inject", Fault: "kill-leader"},
	})
	want := []check.FaultSpan{
		{Fault: "isolate", Injected: 3, Heal: 9, Minority: []int32{1}, MinorityFrom: 2},
		{Fault: "kill-leader", Injected: 10, Heal: math.MaxInt64},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%+v\nwant %+v", got, want)
	}
}
