package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/daemon/workqueue"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

const holdCursor = "hold"

// reconcile converges one customer (the work queue's function).
func (d *Daemon) reconcile(ctx context.Context, name string) (err error) {
	start := time.Now()
	defer func() {
		if m := d.cfg.Metrics; m != nil {
			result := api.ResultSuccess
			if err != nil {
				result = api.ResultFailure
			}
			m.ObserveReconcile(result, time.Since(start))
		}
	}()
	log := d.log.With("customer", name, "reconcile_id", fmt.Sprintf("%d", start.UnixNano()))
	d.mu.Lock()
	c, inGit := d.desired[name]
	held := d.holds[name]
	_, hasResources := d.observed[name]
	commit := d.commit
	d.mu.Unlock()
	now := time.Now().UTC()

	if held || (inGit && c.Suspended) {
		reason := "suspended in its file"
		if held {
			reason = "on hold (vdc suspend)"
		}
		if d.sched != nil {
			_ = d.sched.Suspend(name)
		}
		_, err := d.cfg.Store.UpdateStatus(name, func(cs *state.CustomerStatus) error {
			cs.Status, cs.UpdatedAt = state.StatusSuspended, now
			cs.SetCondition(state.Condition{Type: "Reconciling", Status: state.ConditionFalse, Reason: "Suspended", Message: reason}, now)
			return nil
		})
		return err
	}
	if !inGit && !hasResources {
		d.forget(name)
		return d.cfg.Store.DeleteCustomer(name)
	}

	p, buildErr := d.build([]string{name}, "")
	if p == nil {
		return workqueue.Terminal(buildErr)
	}
	var cp plan.CustomerPlan
	for _, x := range p.Customers {
		if x.Name == name {
			cp = x
		}
	}
	summary := fmt.Sprintf("%d to create, %d to update, %d to replace, %d to delete", cp.Counts.Create, cp.Counts.Update, cp.Counts.Replace, cp.Counts.Delete)
	if p.Refused != "" || cp.Blocked != "" {
		msg := p.Refused
		if msg == "" {
			msg = cp.Blocked
		}
		_, _ = d.cfg.Store.UpdateStatus(name, func(cs *state.CustomerStatus) error {
			cs.Status, cs.LastError, cs.LastPlanSummary, cs.UpdatedAt = state.StatusDegraded, msg, summary, now
			cs.SetCondition(state.Condition{Type: "Reconciling", Status: state.ConditionFalse, Reason: "Refused", Message: msg}, now)
			return nil
		})
		log.Warn("plan refused", "reason", msg)
		return workqueue.Terminal(errors.New(msg))
	}
	if !p.HasChanges() {
		_, err := d.cfg.Store.UpdateStatus(name, func(cs *state.CustomerStatus) error {
			cs.Status, cs.LastError, cs.LastPlanSummary, cs.Drift, cs.UpdatedAt = state.StatusSynced, "", summary, 0, now
			if inGit && cs.LastAppliedCommit == "" {
				cs.LastAppliedCommit, cs.LastAppliedAt = commit, now
			}
			cs.SetCondition(state.Condition{Type: "Reconciling", Status: state.ConditionTrue, Reason: "Synced"}, now)
			return nil
		})
		d.scheduleAgents(c, inGit)
		return err
	}

	holder := fmt.Sprintf("daemon-%d", os.Getpid())
	if prev, err := reconciler.TakeLease(d.cfg.Store, name, holder, 30*time.Minute, now); err != nil {
		return err
	} else if prev != "" {
		log.Warn("took over the lease of a process that is gone", "previous_holder", prev)
	}
	defer d.cfg.Store.Release(name, holder)
	_, _ = d.cfg.Store.UpdateStatus(name, func(cs *state.CustomerStatus) error {
		cs.Status, cs.LastPlanSummary, cs.UpdatedAt = state.StatusProgressing, summary, now
		return nil
	})
	log.Info("applying", "summary", summary, "commit", commit)
	d.mu.Lock()
	obs := append([]plan.Resource(nil), d.observed[name]...)
	d.mu.Unlock()
	res, err := d.exec.Apply(ctx, p.Actions, obs)
	if err == nil {
		err = res.Err()
	}
	d.patchObserved(name, res.Changed, res.Deleted)
	rec := state.ApplyRecord{ID: res.ApplyID, When: now, Commit: commit, Who: "daemon", Customers: []string{name}, Actions: res.Done, Duration: time.Since(start), Result: api.ResultSuccess}
	if err != nil {
		rec.Result, rec.Errors = api.ResultFailure, []string{err.Error()}
	}
	_ = d.cfg.Store.AppendHistory(rec)
	if m := d.cfg.Metrics; m != nil {
		m.ObserveApply(rec.Result)
	}
	after := time.Now().UTC()
	_, _ = d.cfg.Store.UpdateStatus(name, func(cs *state.CustomerStatus) error {
		cs.UpdatedAt = after
		if err != nil {
			cs.Status, cs.LastError = state.StatusError, err.Error()
			cs.SetCondition(state.Condition{Type: "Reconciling", Status: state.ConditionFalse, Reason: "ApplyFailed", Message: err.Error()}, after)
			return nil
		}
		cs.Status, cs.LastError, cs.Drift = state.StatusSynced, "", 0
		cs.LastAppliedCommit, cs.LastAppliedAt = commit, after
		cs.SetCondition(state.Condition{Type: "Reconciling", Status: state.ConditionTrue, Reason: "Applied", Message: summary}, after)
		return nil
	})
	if err != nil {
		log.Error("apply failed", "err", err)
		return err
	}
	log.Info("applied", "steps", res.Done, "duration", time.Since(start))
	if !inGit {
		d.forget(name)
		_ = d.cfg.Store.DeleteCustomer(name)
		return nil
	}
	d.scheduleAgents(c, true)
	return nil
}

// forget drops a deleted customer from the agents and the autoscaler.
func (d *Daemon) forget(name string) {
	if d.sched != nil {
		d.sched.Remove(name)
	}
	if d.cfg.Autoscaler != nil {
		d.cfg.Autoscaler.Forget(name)
	}
	if d.cfg.AgentStores != nil {
		if err := d.cfg.AgentStores.Forget(name); err != nil {
			d.log.Warn("close the agents' data service clients", "customer", name, "err", err)
		}
	}
	d.mu.Lock()
	delete(d.decisions, name)
	d.mu.Unlock()
}

// patchObserved folds an apply's results into the cached observation.
func (d *Daemon) patchObserved(name string, changed []plan.Resource, deleted []plan.Address) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.observed[name]
	gone := map[plan.Address]bool{}
	for _, a := range deleted {
		gone[a] = true
	}
	for _, r := range changed {
		gone[r.Address()] = true // replaced by the new version below
	}
	out := cur[:0:0]
	for _, r := range cur {
		if !gone[r.Address()] {
			out = append(out, r)
		}
	}
	out = append(out, changed...)
	if len(out) == 0 {
		delete(d.observed, name)
		return
	}
	d.observed[name] = out
}

// scheduleAgents keeps the customer's agent jobs in step with its file.
func (d *Daemon) scheduleAgents(c schema.Customer, inGit bool) {
	if d.sched == nil {
		return
	}
	if !inGit {
		d.sched.Remove(c.Name)
		return
	}
	_ = d.sched.Set(c.Name, map[string]time.Duration{
		"ingest":       c.Agents.Ingest.Duration,
		"relationship": c.Agents.Relationship.Duration,
		"learning":     c.Agents.Learning.Duration,
	})
	_ = d.sched.Resume(c.Name)
}

func (d *Daemon) loadHolds() {
	list, err := d.cfg.Store.ListStatus()
	if err != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, cs := range list {
		if b, err := d.cfg.Store.Cursor(holdCursor, cs.Name); err == nil && string(b) == "1" {
			d.holds[cs.Name] = true
		}
	}
}

// customerOfFile maps customers/NAME.yaml to NAME.
func customerOfFile(file string) string {
	base := file
	for i := len(file) - 1; i >= 0; i-- {
		if file[i] == '/' {
			base = file[i+1:]
			break
		}
	}
	for _, ext := range []string{".yaml", ".yml"} {
		if len(base) > len(ext) && base[len(base)-len(ext):] == ext {
			return base[:len(base)-len(ext)]
		}
	}
	return ""
}
