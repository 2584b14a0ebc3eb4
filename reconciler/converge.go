package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/state"
)

// ConvergeStore is what Converge keeps in state (state.Store implements it).
type ConvergeStore interface {
	Journal
	SecretStore
	Leaser
	ObservedCache
	UpdateStatuses(names []string, fn func(*state.CustomerStatus) error) error
	AppendHistory(state.ApplyRecord) error
	DeleteCustomer(name string) error
	HoldBlocks(blocks map[string]string) error
}

// Converger is the one converge path: the daemon, vdc apply and vdc
// reconcile all make the clouds match a plan through Converge, so the
// lease, the journaled apply, the observation that follows, the statuses
// and the history are the same whoever asks.
type Converger struct {
	Providers map[plan.Cloud]Provider
	Store     ConvergeStore
	Log       *slog.Logger
	// Holder names the lease holder ("daemon-PID", "vdc-apply-PID"); Who
	// the actor in the apply history.
	Holder, Who string
	// LeaseTTL bounds how long a lease outlives a killed holder (default 30m).
	LeaseTTL time.Duration
	// Concurrency is how many customers are applied at once (default 4).
	Concurrency int
	// StepConcurrency is how many independent steps of one customer run at
	// once (default 4; 1 applies a customer's steps strictly in order).
	StepConcurrency int
	// Progress, if set, is called after every step (from several goroutines).
	Progress func(StepEvent)
	// RefreshAfter re-reads every cloud after an apply and caches the
	// result (vdc apply: the next plan starts from the truth). Without it
	// the observation is patched with what the providers returned, which
	// costs no API calls (the daemon; its drift refresh reads the truth).
	RefreshAfter bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// FrontendSSHKey is the OpenNebula front-end's public key (an
	// authorized_keys line), authorised on every host so oned can drive
	// and monitor it. Creating a server without it fails that step.
	FrontendSSHKey string
}

// Outcome is what Converge did for one customer.
type Outcome string

// The outcomes.
const (
	OutcomeSynced    Outcome = "synced"    // nothing to change
	OutcomeApplied   Outcome = "applied"   // every step succeeded
	OutcomeDeleted   Outcome = "deleted"   // removed from git: its resources and its state are gone
	OutcomeFailed    Outcome = "failed"    // a step failed; the rest of its steps were not run
	OutcomeRefused   Outcome = "refused"   // the plan may not be applied for it
	OutcomeSuspended Outcome = "suspended" // suspended in its file: left alone
)

// CustomerResult is one customer's outcome.
type CustomerResult struct {
	Name    string
	Outcome Outcome
	// Summary counts the customer's planned changes.
	Summary string
	// Err says why for OutcomeFailed and OutcomeRefused.
	Err error
}

// ConvergeResult is what a Converge did.
type ConvergeResult struct {
	// Customers are the customers of the plan, sorted by name.
	Customers []CustomerResult
	// Apply is the executor's result; nil when nothing was applied.
	Apply *ApplyResult
	// Record is the apply history entry; nil when nothing was applied.
	Record *state.ApplyRecord
	// Observed is the observation after the apply: refreshed
	// (RefreshAfter) or the given one patched with the apply's changes.
	Observed []plan.Resource
	// TookOver maps a customer to the holder of a dead process whose
	// lease was taken over.
	TookOver map[string]string
}

// Customer returns one customer's result.
func (r *ConvergeResult) Customer(name string) (CustomerResult, bool) {
	for _, c := range r.Customers {
		if c.Name == name {
			return c, true
		}
	}
	return CustomerResult{}, false
}

// Err joins the failed customers' errors (nil when none failed).
func (r *ConvergeResult) Err() error {
	var errs []error
	for _, c := range r.Customers {
		if c.Outcome == OutcomeFailed {
			errs = append(errs, fmt.Errorf("customer %s: %w", c.Name, c.Err))
		}
	}
	return errors.Join(errs...)
}

// Refused explains the customers the plan refused (protected deletions,
// impossible changes); nil when there are none.
func (r *ConvergeResult) Refused() error {
	var lines []string
	for _, c := range r.Customers {
		if c.Outcome == OutcomeRefused {
			lines = append(lines, fmt.Sprintf("customer %s: %v", c.Name, c.Err))
		}
	}
	if lines == nil {
		return nil
	}
	return fmt.Errorf("refused for %d customers:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// ErrPlanRefused is returned by Converge for a plan that refuses itself
// (Plan.Refused: invalid files, the mass-deletion breaker).
var ErrPlanRefused = errors.New("plan refused")

// Converge makes the clouds match p, which was planned against observed:
// it records the outcome of every customer of the plan in its status
// (conditions included), takes the lease of each customer with changes,
// applies their steps (journaled), updates the observation and appends
// one history record. Customer failures are in the result (Err); the
// error return is for what stopped the whole converge (a refused plan, a
// lease, state, or a cancelled ctx).
func (c *Converger) Converge(ctx context.Context, p *plan.Plan, observed []plan.Resource) (*ConvergeResult, error) {
	now := c.now()
	res := &ConvergeResult{Observed: observed}
	if p.Refused != "" {
		return res, c.refuseAll(p, res, now)
	}
	var changing []string
	byOutcome := map[Outcome][]string{}
	reasons := map[string]string{}
	summaries := map[string]string{}
	withSteps := customersWithSteps(p)
	for _, cp := range p.Customers {
		summaries[cp.Name] = Summary(cp.Counts)
		cr := CustomerResult{Name: cp.Name, Summary: summaries[cp.Name]}
		switch {
		case cp.Blocked != "":
			cr.Outcome, cr.Err = OutcomeRefused, errors.New(cp.Blocked)
			reasons[cp.Name] = cp.Blocked
		case cp.Status == plan.StatusSuspended:
			cr.Outcome = OutcomeSuspended
		case withSteps[cp.Name]:
			changing = append(changing, cp.Name)
			continue // outcome after the apply
		default:
			cr.Outcome = OutcomeSynced
		}
		byOutcome[cr.Outcome] = append(byOutcome[cr.Outcome], cp.Name)
		res.Customers = append(res.Customers, cr)
	}
	if err := c.recordUnchanged(p.Commit, byOutcome, reasons, summaries, inGit(p), now); err != nil {
		return res, err
	}
	if len(changing) > 0 {
		if err := c.apply(ctx, p, observed, changing, summaries, res); err != nil {
			return res, err
		}
	}
	slices.SortFunc(res.Customers, func(a, b CustomerResult) int { return strings.Compare(a.Name, b.Name) })
	return res, ctx.Err()
}

// apply runs the changing customers' steps under their leases and records
// their outcomes.
func (c *Converger) apply(ctx context.Context, p *plan.Plan, observed []plan.Resource, changing []string, summaries map[string]string, res *ConvergeResult) error {
	log := c.log()
	start := c.now()
	for _, name := range changing {
		prev, err := TakeLease(c.Store, name, c.Holder, c.leaseTTL(), start)
		if err != nil {
			return fmt.Errorf("customer %s: %w", name, err)
		}
		defer func() { _ = c.Store.Release(name, c.Holder) }()
		if prev != "" {
			if res.TookOver == nil {
				res.TookOver = map[string]string{}
			}
			res.TookOver[name] = prev
			log.Warn("took over the lease of a process that is gone", "customer", name, "previous_holder", prev)
		}
	}
	if err := c.Store.UpdateStatuses(changing, func(cs *state.CustomerStatus) error {
		cs.Status, cs.LastPlanSummary = state.StatusProgressing, summaries[cs.Name]
		return nil
	}); err != nil {
		return fmt.Errorf("record progress: %w", err)
	}
	held := map[string]string{}
	for _, name := range changing {
		if b := p.Blocks()[name]; b != "" {
			held[name] = b
		}
	}
	if err := c.Store.HoldBlocks(held); err != nil {
		return fmt.Errorf("%w: %w", ErrPlanRefused, err)
	}
	x := &executor{Providers: c.Providers, Journal: c.Store, Secrets: c.Store, Log: log, Progress: c.Progress,
		Concurrency: c.Concurrency, StepConcurrency: c.StepConcurrency, Addresses: p.Addresses, FrontendSSHKey: c.FrontendSSHKey}
	applied, applyErr := x.Apply(ctx, p.Actions, observed)
	res.Apply = applied
	if c.RefreshAfter {
		if all, err := Refresh(ctx, c.Providers, c.Store); err != nil {
			log.Warn("refresh after apply", "err", err)
			res.Observed = PatchObserved(observed, applied.Changed, applied.Deleted)
		} else {
			res.Observed = all
		}
	} else {
		res.Observed = PatchObserved(observed, applied.Changed, applied.Deleted)
	}
	rec := c.record(p, start, changing, applied, applyErr)
	res.Record = &rec
	if err := c.Store.AppendHistory(rec); err != nil {
		log.Warn("apply history", "err", err)
	}
	return c.recordApplied(p, changing, summaries, applied, applyErr, res)
}

// record is the history entry of an apply.
func (c *Converger) record(p *plan.Plan, start time.Time, changing []string, applied *ApplyResult, applyErr error) state.ApplyRecord {
	rec := state.ApplyRecord{ID: applied.ApplyID, When: start.UTC(), Commit: p.Commit, Who: c.Who,
		Customers: slices.Sorted(slices.Values(changing)), Actions: applied.Done, Duration: c.now().Sub(start)}
	for _, name := range rec.Customers {
		if err := failure(name, applied, applyErr); err != nil {
			rec.Errors = append(rec.Errors, fmt.Sprintf("%s: %v", name, err))
		}
	}
	switch {
	case len(rec.Errors) == 0:
		rec.Result = state.ResultSucceeded
	case len(rec.Errors) == len(rec.Customers):
		rec.Result = state.ResultFailed
	default:
		rec.Result = state.ResultPartial
	}
	return rec
}

// failure is why name's steps did not all succeed (nil if they did).
func failure(name string, applied *ApplyResult, applyErr error) error {
	if err := applied.Failed[name]; err != nil {
		return err
	}
	if !slices.Contains(applied.Applied, name) {
		if applyErr == nil {
			applyErr = errors.New("not applied")
		}
		return applyErr
	}
	return nil
}

// recordApplied sets the status of the customers that had steps.
func (c *Converger) recordApplied(p *plan.Plan, changing []string, summaries map[string]string, applied *ApplyResult, applyErr error, res *ConvergeResult) error {
	deleted := map[string]bool{}
	for _, cp := range p.Customers {
		if !cp.InGit {
			deleted[cp.Name] = true
		}
	}
	after := c.now().UTC()
	var keep, gone []string
	for _, name := range changing {
		cr := CustomerResult{Name: name, Summary: summaries[name], Outcome: OutcomeApplied}
		if err := failure(name, applied, applyErr); err != nil {
			cr.Outcome, cr.Err = OutcomeFailed, err
		} else if deleted[name] {
			cr.Outcome = OutcomeDeleted
			gone = append(gone, name)
			res.Customers = append(res.Customers, cr)
			continue
		}
		keep = append(keep, name)
		res.Customers = append(res.Customers, cr)
	}
	byName := map[string]CustomerResult{}
	for _, cr := range res.Customers {
		byName[cr.Name] = cr
	}
	err := c.Store.UpdateStatuses(keep, func(cs *state.CustomerStatus) error {
		cr := byName[cs.Name]
		if cr.Outcome == OutcomeFailed {
			cs.Status, cs.LastError = state.StatusError, cr.Err.Error()
			cs.SetCondition(state.Condition{Type: state.ConditionReconciling, Status: state.ConditionFalse, Reason: state.ReasonApplyFailed, Message: cr.Err.Error()}, after)
			return nil
		}
		cs.Status, cs.LastError, cs.Drift = state.StatusSynced, "", 0
		cs.LastAppliedCommit, cs.LastAppliedAt = p.Commit, after
		cs.SetCondition(state.Condition{Type: state.ConditionReconciling, Status: state.ConditionTrue, Reason: state.ReasonApplied, Message: cr.Summary}, after)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	for _, name := range gone {
		// Its resources are deleted: its status, cursors and secrets go too.
		if err := c.Store.DeleteCustomer(name); err != nil {
			return fmt.Errorf("forget deleted customer %s: %w", name, err)
		}
	}
	return nil
}

// recordUnchanged sets the status of the customers without steps.
func (c *Converger) recordUnchanged(commit string, byOutcome map[Outcome][]string, reasons, summaries map[string]string, inGit map[string]bool, now time.Time) error {
	set := func(o Outcome, fn func(*state.CustomerStatus)) error {
		if len(byOutcome[o]) == 0 {
			return nil
		}
		return c.Store.UpdateStatuses(byOutcome[o], func(cs *state.CustomerStatus) error {
			cs.LastPlanSummary = summaries[cs.Name]
			fn(cs)
			return nil
		})
	}
	err := set(OutcomeSynced, func(cs *state.CustomerStatus) {
		cs.Status, cs.LastError, cs.Drift = state.StatusSynced, "", 0
		if inGit[cs.Name] && cs.LastAppliedCommit == "" {
			cs.LastAppliedCommit, cs.LastAppliedAt = commit, now
		}
		cs.SetCondition(state.Condition{Type: state.ConditionReconciling, Status: state.ConditionTrue, Reason: state.ReasonSynced}, now)
	})
	if err == nil {
		err = set(OutcomeRefused, func(cs *state.CustomerStatus) {
			cs.Status, cs.LastError = state.StatusDegraded, reasons[cs.Name]
			cs.SetCondition(state.Condition{Type: state.ConditionReconciling, Status: state.ConditionFalse, Reason: state.ReasonRefused, Message: reasons[cs.Name]}, now)
		})
	}
	if err == nil {
		err = set(OutcomeSuspended, func(cs *state.CustomerStatus) { MarkSuspended(cs, "suspended in its file", now) })
	}
	if err != nil {
		return fmt.Errorf("record status: %w", err)
	}
	return nil
}

// refuseAll records a self-refused plan on the customers it would change.
func (c *Converger) refuseAll(p *plan.Plan, res *ConvergeResult, now time.Time) error {
	withSteps := customersWithSteps(p)
	var names []string
	for _, cp := range p.Customers {
		if withSteps[cp.Name] || cp.Status == plan.StatusDelete || cp.Status == plan.StatusBlocked {
			names = append(names, cp.Name)
			res.Customers = append(res.Customers, CustomerResult{Name: cp.Name, Outcome: OutcomeRefused, Summary: Summary(cp.Counts), Err: errors.New(p.Refused)})
		}
	}
	err := c.Store.UpdateStatuses(names, func(cs *state.CustomerStatus) error {
		cs.Status, cs.LastError = state.StatusDegraded, p.Refused
		cs.SetCondition(state.Condition{Type: state.ConditionReconciling, Status: state.ConditionFalse, Reason: state.ReasonRefused, Message: p.Refused}, now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record status: %w", err)
	}
	return fmt.Errorf("%w: %s", ErrPlanRefused, p.Refused)
}

// MarkSuspended sets a suspended customer's status (suspended in its file,
// or on an on-call hold).
func MarkSuspended(cs *state.CustomerStatus, reason string, now time.Time) {
	cs.Status = state.StatusSuspended
	cs.SetCondition(state.Condition{Type: state.ConditionReconciling, Status: state.ConditionFalse, Reason: state.ReasonSuspended, Message: reason}, now)
}

// Summary is a customer's planned changes in words.
func Summary(c plan.Counts) string {
	return fmt.Sprintf("%d to create, %d to update, %d to replace, %d to delete", c.Create, c.Update, c.Replace, c.Delete)
}

// PatchObserved folds an apply's results into an observation: the changed
// resources replace their old versions, the deleted ones are dropped.
func PatchObserved(observed, changed []plan.Resource, deleted []plan.Address) []plan.Resource {
	gone := make(map[plan.Address]bool, len(deleted)+len(changed))
	for _, a := range deleted {
		gone[a] = true
	}
	for _, r := range changed {
		gone[r.Address()] = true
	}
	out := make([]plan.Resource, 0, len(observed)+len(changed))
	for _, r := range observed {
		if !gone[r.Address()] {
			out = append(out, r)
		}
	}
	out = append(out, changed...)
	plan.SortResources(out)
	return out
}

func customersWithSteps(p *plan.Plan) map[string]bool {
	m := map[string]bool{}
	for _, s := range p.Steps {
		m[p.Actions[s.Index].Customer] = true
	}
	return m
}

func inGit(p *plan.Plan) map[string]bool {
	m := make(map[string]bool, len(p.Customers))
	for _, cp := range p.Customers {
		m[cp.Name] = cp.InGit
	}
	return m
}

func (c *Converger) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Converger) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

func (c *Converger) leaseTTL() time.Duration {
	if c.LeaseTTL <= 0 {
		return 30 * time.Minute
	}
	return c.LeaseTTL
}
