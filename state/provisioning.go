package state

import (
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/plan"
)

// ConditionReady is True when every provisioning phase (plan.Phases) is
// done: the infrastructure runs and the data services answer their health
// checks through the customer's tunnel.
const ConditionReady = "Ready"

// Reasons of the Ready condition.
const (
	ReasonReady        = "Ready"        // Ready True
	ReasonProvisioning = "Provisioning" // Ready False: not every phase has been done yet
	ReasonNotReady     = "NotReady"     // Ready False: a phase done before is no longer
)

// Provisioning records the phases of a customer's VDC coming up.
type Provisioning struct {
	// StartedAt is when the phases were first observed (the first apply
	// that created the customer's resources).
	StartedAt time.Time     `json:"started_at"`
	Phases    []PhaseStatus `json:"phases"`
	// ReadyAt is when every phase was first done together.
	ReadyAt time.Time `json:"ready_at,omitzero"`
}

// PhaseStatus is one phase.
type PhaseStatus struct {
	Name string `json:"name"`
	Done bool   `json:"done"`
	// DoneAt is when the phase was first seen done; AfterSeconds is that
	// time minus StartedAt.
	DoneAt       time.Time `json:"done_at,omitzero"`
	AfterSeconds float64   `json:"after_seconds,omitempty"`
}

// TimeToReady is ReadyAt minus StartedAt (0 while not ready yet).
func (p *Provisioning) TimeToReady() time.Duration {
	if p == nil || p.ReadyAt.IsZero() {
		return 0
	}
	return p.ReadyAt.Sub(p.StartedAt)
}

// ObservePhases records which phases are done now (plan.Phases names;
// missing ones count as not done) and sets the Ready condition. It
// reports whether the customer became Ready for the first time, with the
// time that took.
func (cs *CustomerStatus) ObservePhases(done map[string]bool, now time.Time) (firstReady bool, took time.Duration) {
	if cs.Provisioning == nil {
		cs.Provisioning = &Provisioning{StartedAt: now}
	}
	p := cs.Provisioning
	byName := map[string]PhaseStatus{}
	for _, ph := range p.Phases {
		byName[ph.Name] = ph
	}
	p.Phases = p.Phases[:0]
	var pending []string
	for _, name := range plan.Phases() {
		ph := byName[name]
		ph.Name, ph.Done = name, done[name]
		if ph.Done && ph.DoneAt.IsZero() {
			ph.DoneAt = now
			ph.AfterSeconds = now.Sub(p.StartedAt).Seconds()
		}
		if !ph.Done {
			pending = append(pending, name)
		}
		p.Phases = append(p.Phases, ph)
	}
	switch {
	case len(pending) == 0:
		if p.ReadyAt.IsZero() {
			p.ReadyAt, firstReady, took = now, true, now.Sub(p.StartedAt)
		}
		cs.SetCondition(Condition{Type: ConditionReady, Status: ConditionTrue, Reason: ReasonReady,
			Message: "every provisioning phase is done"}, now)
	case p.ReadyAt.IsZero():
		cs.SetCondition(Condition{Type: ConditionReady, Status: ConditionFalse, Reason: ReasonProvisioning,
			Message: "waiting for " + strings.Join(pending, ", ")}, now)
	default:
		cs.SetCondition(Condition{Type: ConditionReady, Status: ConditionFalse, Reason: ReasonNotReady,
			Message: "no longer done: " + strings.Join(pending, ", ")}, now)
	}
	return firstReady, took
}
