package main

import "testing"

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
