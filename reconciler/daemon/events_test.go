package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/state"
)

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	v := daemon.CustomerView{Name: "acme"}
	v.Status.Conditions = []state.Condition{
		{Type: state.ConditionReconciling, Status: state.ConditionFalse, Reason: state.ReasonApplyFailed, Message: "hetzner: 503", LastTransition: at(5)},
		{Type: state.ConditionGitValid, Status: state.ConditionTrue, Reason: state.ReasonValid, LastTransition: at(1)},
	}
	v.Autoscale = []daemon.ScaleDecision{{Decision: autoscale.Decision{At: at(3), Resource: "servers", From: 1, To: 3, Reason: "cpu 91% > 80%", MonthlyCostDeltaUSD: 24.5}, Applied: true}}
	v.Reconcile.Last = &daemon.ReconcileRun{Request: 2, Start: at(6), End: at(7), Outcome: "failed", Err: "hetzner: 503"}
	history := []state.ApplyRecord{{When: at(4), Commit: "0123456789abcdef", Who: "daemon", Result: state.ResultFailed, Actions: 2, Errors: []string{"hetzner: 503"}}}
	runs := []daemon.AgentRun{{Job: "ingest", Start: at(2), Err: "minio: connection refused"}, {Job: "ingest", Start: at(2).Add(time.Second)}}

	ev := daemon.Timeline(v, history, runs)
	var got []string
	for _, e := range ev {
		mark := " "
		if e.Warning {
			mark = "!"
		}
		got = append(got, mark+e.Kind+" "+e.Reason)
	}
	want := []string{
		" condition GitValid=True (Valid)",
		"!agent ingest failed",
		" autoscale scale servers 1→3",
		"!apply apply failed",
		"!condition Reconciling=False (ApplyFailed)",
		"!reconcile reconcile failed",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(ev[2].Message, "+24.50 USD/month, applied") || !strings.Contains(ev[3].Message, "commit 0123456789ab, 2 action(s) by daemon: hetzner: 503") {
		t.Errorf("messages: %q / %q", ev[2].Message, ev[3].Message)
	}
	if (daemon.ReconcileRun{Outcome: "applied"}).Done() != true || (daemon.ReconcileRun{Outcome: "suspended"}).Done() || (daemon.ReconcileRun{Outcome: "applied", Err: "x"}).Done() {
		t.Error("ReconcileRun.Done")
	}
}
