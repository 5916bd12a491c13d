package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/check"
	"github.com/petrel-streaming/petrel/internal/chaos/history"
	"github.com/petrel-streaming/petrel/internal/chaos/nemesis"
)

// opCounts are the figures of the ops line.
type opCounts struct {
	SendInvoked   int `json:"send_invoked"`
	SendOK        int `json:"send_ok"`
	SendFail      int `json:"send_fail"`
	SendInfo      int `json:"send_info"`
	InfoLaterSeen int `json:"info_later_seen"`
	// Probes are the sends straight to one node (not in the send figures).
	Probes       int `json:"probes"`
	ProbesOK     int `json:"probes_ok"`
	Polls        int `json:"polls"`
	ListOffsets  int `json:"list_offsets"`
	Commits      int `json:"commits"`
	FetchOffsets int `json:"fetch_offsets"`
	Reads        int `json:"reads"`
}

// summary is the JSON line of CHAOS.md §2.7 (the figures this run has).
type summary struct {
	Tool          string            `json:"tool"`
	Version       int               `json:"version"`
	Seed          uint64            `json:"seed"`
	Git           string            `json:"git"`
	Mode          string            `json:"mode"`
	Smoke         bool              `json:"smoke"`
	DurationS     float64           `json:"duration_s"`
	Nodes         int               `json:"nodes"`
	Partitions    int               `json:"partitions"`
	Faults        map[string]int    `json:"faults"`
	FaultsHealed  int               `json:"faults_healed"`
	FaultsSkipped map[string]string `json:"faults_skipped"`
	Ops           opCounts          `json:"ops"`
	Figures       map[string]int    `json:"figures"` // count per check: acked_lost is lost-write's
	Linearizable  map[string]string `json:"linearizable"`
	// Liveness figures (check.Figures), seconds: per fault type over its
	// injections, the worst partition's fault → first ack; heal → the same.
	UnavailabilityS map[string]pcts `json:"unavailability_s"`
	RecoveryS       pcts            `json:"recovery_s"`
	NoAckAfter      []string        `json:"no_ack_after,omitempty"`
	Targets         targetsS        `json:"targets"`
	Checks          []check.Result  `json:"checks"`
	Passed          int             `json:"passed"`
	Failed          int             `json:"failed"`
	SafetyFailed    int             `json:"safety_failed"`
	// NegativeControl is the verdict of a --negative-control run.
	NegativeControl string `json:"negative_control,omitempty"`
}

// pcts are a figure's percentiles, in seconds.
type pcts struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func newPcts(ds []time.Duration) pcts {
	return pcts{N: len(ds), P50: check.Pct(ds, 50).Seconds(), P99: check.Pct(ds, 99).Seconds(), Max: check.Pct(ds, 100).Seconds()}
}

// targetsS are the liveness targets, seconds (0: none).
type targetsS struct {
	UnavailableS float64 `json:"unavailable_s"`
	RecoveryS    float64 `json:"recovery_s"`
}

func newSummary(o options, mode string, rep nemesis.Report, skipped map[string]string, in check.Input, results []check.Result) *summary {
	s := &summary{Tool: "petrel-chaos", Version: 1, Seed: o.seed, Git: gitRev(), Mode: mode, Smoke: o.smoke,
		DurationS: o.duration.Seconds(), Nodes: o.nodes, Partitions: partitions + 1, Faults: rep.Injected, FaultsSkipped: skipped,
		Ops: countOps(in.Ops), Figures: map[string]int{}, Linearizable: map[string]string{}, Checks: results,
		UnavailabilityS: map[string]pcts{},
		Targets:         targetsS{UnavailableS: o.targets.Unavailable.Seconds(), RecoveryS: o.targets.Recovery.Seconds()}}
	lf := check.Figures(in)
	for name, ds := range lf.Unavailable {
		s.UnavailabilityS[name] = newPcts(ds)
	}
	s.RecoveryS, s.NoAckAfter = newPcts(lf.Recovery), lf.Never
	if o.fixedSchedule() {
		s.DurationS = 0
	}
	for _, n := range rep.Healed {
		s.FaultsHealed += n
	}
	for _, r := range results {
		s.Figures[strings.ReplaceAll(r.Name, "-", "_")] = r.Count
		if r.Name == "linearizable" {
			s.Linearizable["lin"] = r.Detail
		}
		if r.Severity == check.Safety && !r.Passed && !r.Inconclusive {
			s.SafetyFailed++
		}
	}
	s.Figures["acked_lost"] = s.Figures["lost_write"]
	s.Passed, s.Failed = check.Summarize(results)
	if o.negative {
		s.NegativeControl = negativeOutcome(s)
	}
	return s
}

// countOps counts completions by type, and info sends whose value some
// poll or read saw.
func countOps(ops []history.Op) opCounts {
	var c opCounts
	seen := map[string]bool{}
	for _, o := range ops {
		if (o.Type == history.Poll || o.Type == history.Read) && o.Phase == history.OK {
			for _, r := range o.Records {
				seen[r.Value] = true
			}
		}
	}
	for _, o := range ops {
		if o.Type == history.Send && o.Node != nil {
			if o.Phase != history.Invoke {
				c.Probes++
				if o.Phase == history.OK {
					c.ProbesOK++
				}
			}
			continue
		}
		if o.Phase == history.Invoke {
			if o.Type == history.Send {
				c.SendInvoked++
			}
			continue
		}
		switch o.Type {
		case history.Send:
			switch o.Phase {
			case history.OK:
				c.SendOK++
			case history.Fail:
				c.SendFail++
			default:
				c.SendInfo++
				if seen[o.Value] {
					c.InfoLaterSeen++
				}
			}
		case history.Poll:
			c.Polls++
		case history.ListOffsets:
			c.ListOffsets++
		case history.Commit:
			c.Commits++
		case history.FetchOffset:
			c.FetchOffsets++
		case history.Read:
			c.Reads++
		}
	}
	return c
}

// print writes the §2.7 text: faults, ops, one line per check, the tally
// and the JSON line.
func (s *summary) print(w io.Writer, results []check.Result) error {
	var b strings.Builder
	b.WriteString("faults:")
	names := make([]string, 0, len(s.Faults))
	for n := range s.Faults {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, " %s=%d", n, s.Faults[n])
	}
	fmt.Fprintf(&b, " (healed %d)\n", s.FaultsHealed)
	o := s.Ops
	fmt.Fprintf(&b, "ops: send invoked=%d ok=%d fail=%d info=%d (info later seen: %d); polls=%d; list_offsets=%d; commits=%d; fetch_offsets=%d; reads=%d; probes=%d (ok %d)\n",
		o.SendInvoked, o.SendOK, o.SendFail, o.SendInfo, o.InfoLaterSeen, o.Polls, o.ListOffsets, o.Commits, o.FetchOffsets, o.Reads, o.Probes, o.ProbesOK)
	if len(s.UnavailabilityS) > 0 {
		b.WriteString("unavailability (fault → first ack on every partition):")
		names = names[:0]
		for n := range s.UnavailabilityS {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := s.UnavailabilityS[n]
			fmt.Fprintf(&b, " %s p50=%.2fs max=%.2fs (n=%d);", n, p.P50, p.Max, p.N)
		}
		r := s.RecoveryS
		fmt.Fprintf(&b, " recovery (heal → the same) p50=%.2fs p99=%.2fs max=%.2fs (n=%d)\n", r.P50, r.P99, r.Max, r.N)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := check.Format(w, results); err != nil {
		return err
	}
	fmt.Fprintf(w, "chaos: %d passed, %d failed\n", s.Passed, s.Failed)
	if s.NegativeControl != "" {
		fmt.Fprintf(w, "negative control: %s\n", s.NegativeControl)
	}
	j, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", j)
	return err
}

// skippedMap maps each skipped fault to its reason.
func skippedMap(skipped []string) map[string]string {
	m := map[string]string{}
	for _, s := range skipped {
		name, reason, _ := strings.Cut(s, ": ")
		m[name] = reason
	}
	return m
}

// gitRev is the commit the harness was built from, or "unknown".
func gitRev() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				return s.Value[:7]
			}
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return "unknown"
}
