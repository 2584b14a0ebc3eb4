package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/daemon/workqueue"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

const holdCursor = "hold"

// reconcile converges one customer (the work queue's function): the
// on-call hold and a file's suspension stop it before planning; the rest
// is reconciler.Converge.
func (d *Daemon) reconcile(ctx context.Context, name string) (err error) {
	start := time.Now()
	outcome := reconciler.Outcome(reconcileError)
	d.mu.Lock()
	request := d.requests[name] // every request made before this start is handled by it
	d.mu.Unlock()
	defer func() {
		if m := d.cfg.Metrics; m != nil {
			m.ObserveReconcile(outcome, time.Since(start))
		}
		run := ReconcileRun{Request: request, Start: start.UTC(), End: time.Now().UTC(), Outcome: string(outcome)}
		if err != nil {
			run.Err = err.Error()
		}
		d.mu.Lock()
		d.runs[name] = run
		d.mu.Unlock()
	}()
	log := d.log.With("customer", name, "reconcile_id", fmt.Sprintf("%d", start.UnixNano()))
	d.mu.Lock()
	c, inGit := d.desired[name]
	held := d.holds[name]
	obs := append([]plan.Resource(nil), d.observed[name]...)
	d.mu.Unlock()

	if held || (inGit && c.Suspended) {
		reason := "suspended in its file"
		if held {
			reason = "on hold (vdc suspend)"
		}
		if d.sched != nil {
			_ = d.sched.Suspend(name)
		}
		outcome = reconciler.OutcomeSuspended
		_, err := d.cfg.Store.UpdateStatus(name, func(cs *state.CustomerStatus) error {
			reconciler.MarkSuspended(cs, reason, time.Now().UTC())
			return nil
		})
		return err
	}
	if !inGit && len(obs) == 0 {
		d.forget(name)
		outcome = reconciler.OutcomeDeleted
		return d.cfg.Store.DeleteCustomer(name)
	}

	p, buildErr := d.build([]string{name}, "")
	if p == nil {
		return workqueue.Terminal(buildErr)
	}
	res, err := d.conv.Converge(ctx, p, obs)
	if res.Apply != nil {
		d.setObserved(name, res.Observed)
		if m := d.cfg.Metrics; m != nil {
			m.ObserveApply(res.Record.Result)
		}
	}
	if err != nil {
		if errors.Is(err, reconciler.ErrPlanRefused) {
			outcome = reconciler.OutcomeRefused
			log.Warn("plan refused", "reason", p.Refused)
			return workqueue.Terminal(err)
		}
		return err
	}
	cr, _ := res.Customer(name)
	outcome = cr.Outcome
	switch cr.Outcome {
	case reconciler.OutcomeRefused:
		log.Warn("plan refused", "reason", cr.Err)
		return workqueue.Terminal(cr.Err)
	case reconciler.OutcomeFailed:
		log.Error("apply failed", "err", cr.Err)
		return cr.Err
	case reconciler.OutcomeDeleted:
		log.Info("deleted", "steps", res.Apply.Done, "duration", time.Since(start))
		d.forget(name)
		return nil
	case reconciler.OutcomeApplied:
		log.Info("applied", "summary", cr.Summary, "steps", res.Apply.Done, "duration", time.Since(start))
	}
	d.markDecisionsApplied(name, p.CreatedAt)
	d.scheduleAgents(c, inGit)
	d.observeReadiness(ctx, []string{name})
	return nil
}

// markDecisionsApplied records that the clouds now match the customer's
// autoscaler decisions made before the plan that converged them.
func (d *Daemon) markDecisionsApplied(name string, planned time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.decisions[name] {
		if !d.decisions[name][i].At.After(planned) {
			d.decisions[name][i].Applied = true
		}
	}
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
	delete(d.phases, name)
	d.mu.Unlock()
}

// setObserved replaces the cached observation of one customer.
func (d *Daemon) setObserved(name string, rs []plan.Resource) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(rs) == 0 {
		delete(d.observed, name)
		return
	}
	d.observed[name] = rs
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
		plan.JobIngest:       c.Agents.Ingest.Duration,
		plan.JobRelationship: c.Agents.Relationship.Duration,
		plan.JobLearning:     c.Agents.Learning.Duration,
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
