package nemesis

import (
	"context"
	"fmt"
	"time"
)

// Report is what a Run did.
type Report struct {
	Injected map[string]int `json:"injected"`
	Healed   map[string]int `json:"healed"`
	None     int            `json:"none"`   // no-fault cycles
	Errors   []string       `json:"errors"` // failed injects and heals: findings
}

// HealTimeout bounds one heal (restart, readiness) even when the run's
// context is done: a fault is always undone.
const HealTimeout = 2 * time.Minute

// Run executes s: warm-up, then each step's inject, hold, heal and gap.
// It stops early (healing first) when ctx is done. Every event goes to log.
func Run(ctx context.Context, s Schedule, faults []Fault, log *Log) Report {
	rep := Report{Injected: map[string]int{}, Healed: map[string]int{}}
	byName := map[string]Fault{}
	for _, f := range faults {
		byName[f.Name] = f
	}
	if !wait(ctx, s.WarmUp) {
		return rep
	}
	for _, st := range s.Steps {
		if st.Fault == "" {
			log.Add(Event{Ev: "none", Detail: st.String()})
			rep.None++
			if !wait(ctx, st.Hold+st.Gap) {
				return rep
			}
			continue
		}
		f, ok := byName[st.Fault]
		if !ok || !f.Usable() {
			log.Add(Event{Ev: "skip", Fault: st.Fault, Detail: "not usable here"})
			continue
		}
		log.Add(Event{Ev: "inject", Fault: f.Name, Detail: st.String()})
		if err := f.Inject(ctx); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s inject: %v", f.Name, err))
			log.Add(Event{Ev: "error", Fault: f.Name, Detail: "inject: " + err.Error()})
		} else {
			log.Add(Event{Ev: "injected", Fault: f.Name})
		}
		rep.Injected[f.Name]++
		live := wait(ctx, st.Hold)
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), HealTimeout)
		log.Add(Event{Ev: "heal", Fault: f.Name})
		err := f.Heal(hctx)
		cancel()
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s heal: %v", f.Name, err))
			log.Add(Event{Ev: "error", Fault: f.Name, Detail: "heal: " + err.Error()})
		} else {
			rep.Healed[f.Name]++
			log.Add(Event{Ev: "healed", Fault: f.Name})
		}
		if !live || !wait(ctx, st.Gap) {
			return rep
		}
	}
	return rep
}

// wait sleeps d (the schedule's own time, not synchronisation) unless ctx
// ends first; it reports whether ctx is still live.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
