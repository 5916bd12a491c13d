package tune

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var phases []string
	p, err := Probe(context.Background(), ProbeConfig{Dir: dir, Duration: 1500 * time.Millisecond, FileBytes: 16 << 20,
		Progress: func(phase string, done float64) {
			mu.Lock()
			defer mu.Unlock()
			if done < 0 || done > 1 {
				t.Errorf("progress %v", done)
			}
			if len(phases) == 0 || phases[len(phases)-1] != phase {
				phases = append(phases, phase)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if p.SequentialWrite.BufferedBytesPerSec <= 0 || (p.DirectIO && p.SequentialWrite.DirectBytesPerSec <= 0) {
		t.Errorf("sequential write %+v (direct %v)", p.SequentialWrite, p.DirectIO)
	}
	if len(p.SyncWrite) != 3 {
		t.Fatalf("sync writes %+v", p.SyncWrite)
	}
	for _, s := range p.SyncWrite {
		if s.Ops <= 0 || s.P50Micros <= 0 || s.P99Micros < s.P50Micros || s.MaxMicros < s.P99Micros {
			t.Errorf("sync write %+v", s)
		}
	}
	if len(p.RandomRead.Levels) != 4 || p.RandomRead.MaxIOPS <= 0 || p.RandomRead.SaturationConcurrency <= 0 {
		t.Errorf("random read %+v", p.RandomRead)
	}
	if phases[len(phases)-1] != "done" || len(phases) < 9 {
		t.Errorf("phases %v", phases)
	}
	if err := WriteIOProperties(dir, p); err != nil {
		t.Fatal(err)
	}
	got, err := ReadIOProperties(filepath.Join(dir, IOPropertiesName))
	if err != nil {
		t.Fatal(err)
	}
	if !got.MeasuredAt.Equal(p.MeasuredAt) || got.RandomRead.MaxIOPS != p.RandomRead.MaxIOPS || len(got.SyncWrite) != 3 || got.SyncWrite[0] != p.SyncWrite[0] {
		t.Errorf("read back %+v\nwrote %+v", got, p)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left in the dir: %v", ents)
	}
}

func TestReadIOPropertiesBad(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key": "version: 1\nwrite_iops: 3\n",
		"version":     "version: 2\n",
		"garbage":     "{",
	} {
		p := filepath.Join(dir, "p.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadIOProperties(p); !errors.Is(err, ErrParse) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestProbeNoDir(t *testing.T) {
	_, err := Probe(context.Background(), ProbeConfig{Dir: filepath.Join(t.TempDir(), "missing"), Duration: time.Second})
	if !errors.Is(err, ErrProbe) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("probe of a missing dir: %v", err)
	}
}
