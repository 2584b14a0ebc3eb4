// Package apitest owns an in-memory api.Service for tests of the API's
// consumers (the vdc on-call commands, the status page): customers,
// histories and plans are what the test puts in; calls are recorded.
package apitest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// Service is an in-memory api.Service. The zero value is not usable; use New.
type Service struct {
	mu         sync.Mutex
	customers  map[string]daemon.CustomerView
	history    map[string][]state.ApplyRecord
	plans      map[string]*plan.Plan
	ready      error
	reconciles []string
	syncs      int
}

var _ api.Service = (*Service)(nil)

// New returns a Service holding customers.
func New(customers ...daemon.CustomerView) *Service {
	s := &Service{
		customers: map[string]daemon.CustomerView{},
		history:   map[string][]state.ApplyRecord{},
		plans:     map[string]*plan.Plan{},
	}
	for _, c := range customers {
		s.customers[c.Name] = c
	}
	return s
}

// SetHistory sets a customer's history (newest first).
func (s *Service) SetHistory(name string, h []state.ApplyRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history[name] = slices.Clone(h)
}

// SetPlan makes Plan(ref) return p.
func (s *Service) SetPlan(ref string, p *plan.Plan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plans[ref] = p
}

// SetReady sets what Ready returns.
func (s *Service) SetReady(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready = err
}

// Reconciled returns the customers Reconcile was called for, in order.
func (s *Service) Reconciled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reconciles)
}

// Syncs counts Sync calls.
func (s *Service) Syncs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncs
}

// Customers implements api.Service.
func (s *Service) Customers(ctx context.Context) ([]daemon.CustomerView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]daemon.CustomerView, 0, len(s.customers))
	for _, c := range s.customers {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Customer implements api.Service.
func (s *Service) Customer(ctx context.Context, name string) (daemon.CustomerView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[name]
	if !ok {
		return daemon.CustomerView{}, fmt.Errorf("customer %q: %w", name, daemon.ErrNotFound)
	}
	return c, nil
}

// Reconcile implements api.Service.
func (s *Service) Reconcile(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.customers[name]; !ok {
		return fmt.Errorf("customer %q: %w", name, daemon.ErrNotFound)
	}
	s.reconciles = append(s.reconciles, name)
	c := s.customers[name]
	c.Reconcile.Requested++ // never handled: a real daemon's reconcile would finish it
	s.customers[name] = c
	return nil
}

// Hold implements api.Service: it sets Hold and the status (Suspended,
// or OutOfSync on resume, as a real daemon would until it reconciles).
func (s *Service) Hold(ctx context.Context, name string, hold bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[name]
	if !ok {
		return fmt.Errorf("customer %q: %w", name, daemon.ErrNotFound)
	}
	c.Hold = hold
	if hold {
		c.Status.Status = state.StatusSuspended
	} else if c.Status.Status == state.StatusSuspended {
		c.Status.Status = state.StatusOutOfSync
	}
	s.customers[name] = c
	return nil
}

// History implements api.Service.
func (s *Service) History(ctx context.Context, name string, limit int) ([]state.ApplyRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.customers[name]; !ok {
		return nil, fmt.Errorf("customer %q: %w", name, daemon.ErrNotFound)
	}
	h := s.history[name]
	if limit > 0 && len(h) > limit {
		h = h[:limit]
	}
	return slices.Clone(h), nil
}

// Plan implements api.Service.
func (s *Service) Plan(ctx context.Context, ref string) (*plan.Plan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.plans[ref]
	if !ok {
		return nil, fmt.Errorf("ref %q: %w", ref, daemon.ErrBadRef)
	}
	return p, nil
}

// PlanFiles implements api.Service: the plan SetPlan set for commit.
func (s *Service) PlanFiles(ctx context.Context, commit string, files []schema.File, targets, excludes []string) (*plan.Plan, error) {
	return s.Plan(ctx, commit)
}

// Events implements api.Service: daemon.Timeline of the customer and its
// history.
func (s *Service) Events(ctx context.Context, name string, limit int) ([]daemon.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[name]
	if !ok {
		return nil, fmt.Errorf("customer %q: %w", name, daemon.ErrNotFound)
	}
	ev := daemon.Timeline(c, s.history[name], nil)
	if limit > 0 && len(ev) > limit {
		ev = ev[len(ev)-limit:]
	}
	return ev, nil
}

// Sync implements api.Service.
func (s *Service) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	return nil
}

// Ready implements api.Service.
func (s *Service) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// Sample returns three customers in different states as of now: acme
// (Synced, pro, agents ok, a scale-up), bluebird (Error, enterprise, a
// failing agent, drift 2) and casa (Suspended by on-call, casual).
func Sample(now time.Time) []daemon.CustomerView {
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	ready := func(st state.ConditionStatus, reason, msg string, at time.Time) []state.Condition {
		return []state.Condition{{Type: "Ready", Status: st, Reason: reason, Message: msg, LastTransition: at}}
	}
	agents := func(ingestErr string, fails uint64) []daemon.AgentJob {
		return []daemon.AgentJob{
			{Job: plan.JobIngest, Interval: 5 * time.Second, Next: now.Add(3 * time.Second), Runs: 120, Failures: fails,
				LastRun: &daemon.AgentRun{Start: ago(2 * time.Second), Duration: 40 * time.Millisecond, Err: ingestErr}},
			{Job: plan.JobRelationship, Interval: time.Hour, Next: now.Add(40 * time.Minute), Runs: 3,
				LastRun: &daemon.AgentRun{Start: ago(20 * time.Minute), Duration: 3 * time.Second}},
			{Job: plan.JobLearning, Interval: 2 * time.Hour, Next: now.Add(90 * time.Minute), Runs: 0},
		}
	}
	return []daemon.CustomerView{
		{
			Name: "acme-analytics", DisplayName: "Acme Analytics GmbH", Tier: "pro", Region: "eu-central", InGit: true,
			Status: state.CustomerStatus{
				Name: "acme-analytics", Status: state.StatusSynced,
				LastAppliedCommit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904", LastAppliedAt: ago(3 * time.Minute),
				LastPlanSummary: "no changes", Conditions: ready(state.ConditionTrue, "Synced", "", ago(3*time.Minute)),
				UpdatedAt: ago(time.Minute),
			},
			Servers: 3, MinServers: 1, MaxServers: 5, StorageGB: 100, MaxStorageGB: 500,
			MonthlyCostUSD: 18.42, ListPriceUSD: 25,
			Resources: []plan.Resource{
				{Kind: plan.HetznerServer, Name: "acme-analytics-1", Customer: "acme-analytics", ID: "1001", Attrs: map[string]string{"server_type": "cx22", "location": "fsn1"}},
				{Kind: plan.HetznerServer, Name: "acme-analytics-2", Customer: "acme-analytics", ID: "1002", Attrs: map[string]string{"server_type": "cx22", "location": "fsn1"}},
				{Kind: plan.ExoBlockVolume, Name: "acme-analytics-data", Customer: "acme-analytics", ID: "vol-7", Attrs: map[string]string{"size_gb": "100"}},
			},
			Agents: agents("", 0),
			Autoscale: []daemon.ScaleDecision{
				{Decision: autoscale.Decision{Customer: "acme-analytics", At: ago(10 * time.Minute), Resource: autoscale.ResourceServers, From: 2, To: 3,
					Reason: "hosts CPU 91% > 80% over 5m", MonthlyCostDeltaUSD: 4.35}, Applied: true},
			},
		},
		{
			Name: "bluebird-books", DisplayName: "Bluebird Books", Tier: "enterprise", Region: "eu-central", InGit: true,
			Status: state.CustomerStatus{
				Name: "bluebird-books", Status: state.StatusError,
				LastAppliedCommit: "9fceb02d0ae598e95dc970b74767f19372d61af8", LastAppliedAt: ago(26 * time.Hour),
				LastError: "hetzner: create server bluebird-books-4: rate limited (429)", Drift: 2,
				Conditions: ready(state.ConditionFalse, "ApplyFailed", "rate limited", ago(5*time.Minute)),
				UpdatedAt:  ago(5 * time.Minute),
				Provisioning: &state.Provisioning{StartedAt: ago(26 * time.Hour), Phases: []state.PhaseStatus{
					{Name: plan.PhaseServersRunning, Done: true, DoneAt: ago(26*time.Hour - 41*time.Second), AfterSeconds: 41},
					{Name: plan.PhaseHostsMonitored, Done: true, DoneAt: ago(26*time.Hour - 95*time.Second), AfterSeconds: 95},
					{Name: plan.PhaseImageReady, Done: true, DoneAt: ago(26*time.Hour - 150*time.Second), AfterSeconds: 150},
					{Name: plan.PhaseDataVMRunning},
					{Name: plan.PhaseServicesHealthy},
				}},
			},
			Servers: 4, MinServers: 2, MaxServers: 8, StorageGB: 250, MaxStorageGB: 1000,
			MonthlyCostUSD: 61.1, ListPriceUSD: 100,
			Agents: agents("qdrant: connection refused", 7),
		},
		{
			Name: "casa-verde", Tier: "casual", InGit: true, Hold: true,
			Status: state.CustomerStatus{
				Name: "casa-verde", Status: state.StatusSuspended,
				LastAppliedCommit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904", LastAppliedAt: ago(49 * time.Hour),
				UpdatedAt: ago(time.Hour),
			},
			Servers: 1, MinServers: 1, MaxServers: 1, StorageGB: 10, MaxStorageGB: 10,
			MonthlyCostUSD: 7.9, ListPriceUSD: 12,
		},
	}
}
