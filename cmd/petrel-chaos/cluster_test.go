package main

import (
	"errors"
	"testing"

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

// TestOnlyFaults: --faults leaves the named faults as they were and makes
// the others unavailable, with the reason.
func TestOnlyFaults(t *testing.T) {
	in := []nemesis.Fault{{Name: "kill"}, {Name: "isolate"}}
	if got := onlyFaults(in, nil); len(got) != 2 || !got[0].Usable() || !got[1].Usable() {
		t.Fatal("no --faults changed the catalog")
	}
	got := onlyFaults(in, []string{"isolate"})
	if !errors.Is(got[0].Available(), errNotChosen) || !got[1].Usable() || in[0].Available != nil {
		t.Fatalf("--faults isolate: %v %v (input changed: %v)", got[0].Usable(), got[1].Usable(), in[0].Available != nil)
	}
}
