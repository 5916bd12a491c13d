package nemesis

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Step is one cycle of a schedule: inject Fault ("" = a no-fault cycle),
// hold it, heal, then wait Gap.
type Step struct {
	Fault string        `json:"fault,omitempty"`
	Hold  time.Duration `json:"hold"`
	Gap   time.Duration `json:"gap"`
}

func (s Step) String() string {
	name := s.Fault
	if name == "" {
		name = "none"
	}
	return fmt.Sprintf("%s hold=%v gap=%v", name, s.Hold, s.Gap)
}

// Schedule is a warm-up and the cycles after it.
type Schedule struct {
	WarmUp time.Duration `json:"warm_up"`
	Steps  []Step        `json:"steps"`
}

// PlanOptions shape a random schedule (CHAOS.md §2.4).
type PlanOptions struct {
	Duration       time.Duration // fault phase budget, warm-up included
	WarmUp         time.Duration // default 15 s
	GapMin, GapMax time.Duration // recovery gap, default U(5, 10) s
	HealCost       time.Duration // expected heal time, counted against Duration (default 2 s)
}

// Plan draws a schedule from seed over the usable faults: cycles until the
// next one would end past Duration, each a no-fault cycle with
// probability 1/6, else a uniformly chosen fault held U(Hold).
func Plan(seed uint64, faults []Fault, o PlanOptions) Schedule {
	if o.WarmUp == 0 {
		o.WarmUp = 15 * time.Second
	}
	if o.GapMax == 0 {
		o.GapMin, o.GapMax = 5*time.Second, 10*time.Second
	}
	if o.HealCost == 0 {
		o.HealCost = 2 * time.Second
	}
	var usable []Fault
	for _, f := range faults {
		if f.Usable() {
			usable = append(usable, f)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e656d65736973))
	s := Schedule{WarmUp: o.WarmUp}
	used := o.WarmUp
	for range 100_000 { // bounded; the duration ends it long before
		st := Step{Gap: uniform(rng, o.GapMin, o.GapMax)}
		if len(usable) == 0 || rng.IntN(6) == 0 {
			st.Hold = uniform(rng, 5*time.Second, 20*time.Second)
		} else {
			f := usable[rng.IntN(len(usable))]
			st.Fault, st.Hold = f.Name, uniform(rng, f.Hold[0], f.Hold[1])
		}
		cost := st.Hold + st.Gap + o.HealCost
		if used+cost > o.Duration {
			break
		}
		used += cost
		s.Steps = append(s.Steps, st)
	}
	return s
}

// uniform is U(a, b), at millisecond resolution.
func uniform(rng *rand.Rand, a, b time.Duration) time.Duration {
	if b <= a {
		return a
	}
	return a + time.Duration(rng.Int64N(int64((b-a)/time.Millisecond)+1))*time.Millisecond
}

// Smoke is the fixed CI sequence of CHAOS.md §2.4 (kill -9 → pause 8 s →
// isolate 10 s → kill-all → power-fail one), extended by terminate and
// truncate-tail, 10 s warm-up and 5 s gaps. Faults not usable here are
// left out; skipped names them with the reason.
func Smoke(faults []Fault) (s Schedule, skipped []string) {
	return fixed(faults, []Step{
		{Fault: "kill", Hold: time.Second}, {Fault: "pause", Hold: 8 * time.Second},
		{Fault: "isolate", Hold: 10 * time.Second}, {Fault: "kill-all", Hold: time.Second},
		{Fault: "power-fail", Hold: time.Second}, {Fault: "terminate", Hold: time.Second},
		{Fault: "truncate-tail", Hold: 0},
	})
}

// ClusterSmoke is the short fixed sequence on a cluster (CI, ≈ 40 s of
// faults): kill -9 of a partition's leader, restarted after 1 s, then
// (netns mode) a partition's leader isolated from the other nodes for
// 8 s; 10 s warm-up, 5 s gaps.
func ClusterSmoke(faults []Fault) (s Schedule, skipped []string) {
	return fixed(faults, []Step{{Fault: "kill-leader", Hold: time.Second}, {Fault: "isolate", Hold: 8 * time.Second}})
}

// fixed is a fixed sequence of steps, 10 s warm-up and 5 s gaps, without
// the faults not usable here (skipped names them with the reason).
func fixed(faults []Fault, steps []Step) (s Schedule, skipped []string) {
	byName := map[string]Fault{}
	for _, f := range faults {
		byName[f.Name] = f
	}
	s.WarmUp = 10 * time.Second
	for _, st := range steps {
		f, ok := byName[st.Fault]
		switch {
		case !ok:
			skipped = append(skipped, st.Fault+": unknown fault")
			continue
		case !f.Usable():
			skipped = append(skipped, fmt.Sprintf("%s: %v", f.Name, f.Available()))
			continue
		}
		st.Gap = 5 * time.Second
		s.Steps = append(s.Steps, st)
	}
	return s, skipped
}
