package state

import (
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
)

func TestObservePhases(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	cs := &CustomerStatus{Name: "acme", Status: StatusProgressing}
	ready := func() Condition { c, _ := cs.Condition(ConditionReady); return c }

	if first, _ := cs.ObservePhases(map[string]bool{}, t0); first || ready().Status != ConditionFalse || ready().Reason != ReasonProvisioning {
		t.Fatalf("nothing done: %+v", ready())
	}
	cs.ObservePhases(map[string]bool{plan.PhaseServersRunning: true}, t0.Add(40*time.Second))
	done := map[string]bool{}
	for _, p := range plan.Phases() {
		done[p] = true
	}
	first, took := cs.ObservePhases(done, t0.Add(4*time.Minute))
	if !first || took != 4*time.Minute || ready().Status != ConditionTrue || cs.Provisioning.TimeToReady() != 4*time.Minute {
		t.Fatalf("all done: first %v took %v %+v", first, took, ready())
	}
	if ph := cs.Provisioning.Phases[0]; ph.Name != plan.PhaseServersRunning || ph.AfterSeconds != 40 {
		t.Errorf("first phase %+v", ph)
	}
	// A phase regresses: not Ready, but time-to-ready is kept and not re-reported.
	delete(done, plan.PhaseServicesHealthy)
	if first, _ := cs.ObservePhases(done, t0.Add(time.Hour)); first || ready().Reason != ReasonNotReady {
		t.Errorf("regressed: %+v", ready())
	}
	done[plan.PhaseServicesHealthy] = true
	if first, _ := cs.ObservePhases(done, t0.Add(2*time.Hour)); first || cs.Provisioning.TimeToReady() != 4*time.Minute {
		t.Errorf("ready again reported as first, or time-to-ready moved: %v", cs.Provisioning.TimeToReady())
	}
	if err := cs.validate(); err != nil {
		t.Error(err)
	}
}
