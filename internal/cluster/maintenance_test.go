package cluster

import (
	"errors"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
)

// TestSnapshotMaintenance: the maintenance flag survives a snapshot, and
// a snapshot with two brokers in maintenance (a state Apply cannot make)
// or an unknown broker flag is corrupt.
func TestSnapshotMaintenance(t *testing.T) {
	s := fuzzState(t)
	if _, err := s.Apply(10, &SetBrokerMaintenance{NodeID: 2, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(11, &SetBrokerMaintenance{NodeID: 1, Enabled: true}); !errors.Is(err, ErrMaintenanceRefused) {
		t.Fatalf("second broker into maintenance: %v", err)
	}
	got, err := DecodeSnapshot(s.AppendSnapshot(nil))
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := got.Tables().InMaintenance(); !ok || id != 2 || !got.Tables().Maintenance(2) || got.Tables().Maintenance(1) {
		t.Fatalf("after the round trip: in maintenance %d %v", id, ok)
	}

	// Forge two brokers in maintenance.
	b := *s.t.brokers[1]
	b.Maintenance = true
	s.t.brokers[1] = &b
	if _, err := DecodeSnapshot(s.AppendSnapshot(nil)); !errors.Is(err, model.ErrCorrupt) {
		t.Fatalf("two brokers in maintenance: %v", err)
	}
	b.Maintenance = false

	// An unknown flag bit: the first broker's flags byte follows its
	// rack, 28 + 4 + (2+3) + (2+3) + 2 bytes in (28: magic, version,
	// index, next producer id, node id high water, broker count).
	snap := s.AppendSnapshot(nil)
	const at = 28 + 4 + 5 + 5 + 2
	if snap[at] != 0 {
		t.Fatalf("byte %d is %#x, not broker 1's flags", at, snap[at])
	}
	snap[at] = 4
	body := snap[:len(snap)-4]
	snap = append(body, byteCRC(body)...)
	if _, err := DecodeSnapshot(snap); !errors.Is(err, model.ErrCorrupt) {
		t.Fatalf("flag 4: %v", err)
	}
}
