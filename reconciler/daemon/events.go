package daemon

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/state"
)

// Event is one entry of a customer's timeline (GET …/events, vdc events).
type Event struct {
	At time.Time `json:"at"`
	// Kind is condition, apply, autoscale, agent or reconcile.
	Kind    string `json:"kind"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
	// Warning marks what needs a look: a condition turned False, a failed
	// apply, agent run or reconcile.
	Warning bool `json:"warning"`
}

// The event kinds.
const (
	EventCondition = "condition"
	EventApply     = "apply"
	EventAutoscale = "autoscale"
	EventAgent     = "agent"
	EventReconcile = "reconcile"
)

// Timeline merges what is known about a customer into one list, oldest
// first: each condition's last transition, the applies of history, the
// autoscaler's decisions, failed agent runs and the last reconcile.
func Timeline(v CustomerView, history []state.ApplyRecord, agentRuns []AgentRun) []Event {
	var ev []Event
	for _, c := range v.Status.Conditions {
		reason := c.Type + "=" + string(c.Status)
		if c.Reason != "" {
			reason += " (" + c.Reason + ")"
		}
		ev = append(ev, Event{At: c.LastTransition, Kind: EventCondition, Reason: reason, Message: c.Message,
			Warning: c.Status == state.ConditionFalse && c.Reason != state.ReasonSuspended})
	}
	for _, r := range history {
		msg := fmt.Sprintf("commit %s, %d action(s)", plan.ShortCommit(r.Commit), r.Actions)
		if r.Duration > 0 {
			msg += " in " + r.Duration.Round(time.Millisecond).String()
		}
		if r.Who != "" {
			msg += " by " + r.Who
		}
		if len(r.Errors) > 0 {
			msg += ": " + strings.Join(r.Errors, "; ")
		}
		ev = append(ev, Event{At: r.When, Kind: EventApply, Reason: "apply " + string(r.Result), Message: msg,
			Warning: r.Result != state.ResultSucceeded})
	}
	for _, d := range v.Autoscale {
		applied := "not applied yet"
		if d.Applied {
			applied = "applied"
		}
		ev = append(ev, Event{At: d.At, Kind: EventAutoscale, Reason: fmt.Sprintf("scale %s %d→%d", d.Resource, d.From, d.To),
			Message: fmt.Sprintf("%s (%+.2f USD/month, %s)", d.Reason, d.MonthlyCostDeltaUSD, applied)})
	}
	for _, r := range agentRuns {
		if r.Err == "" {
			continue
		}
		ev = append(ev, Event{At: r.Start, Kind: EventAgent, Reason: r.Job + " failed", Message: r.Err, Warning: true})
	}
	if r := v.Reconcile.Last; r != nil {
		ev = append(ev, Event{At: r.End, Kind: EventReconcile, Reason: "reconcile " + r.Outcome,
			Message: strings.TrimSpace(fmt.Sprintf("took %s %s", r.End.Sub(r.Start).Round(time.Millisecond), r.Err)), Warning: !r.Done()})
	}
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At.Before(ev[j].At) })
	return ev
}
