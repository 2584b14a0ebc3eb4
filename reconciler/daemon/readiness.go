package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/state"
)

// HealthChecker is implemented by AgentStores that can tell whether a
// customer's data services answer (ServiceStores: through the customer's
// network; EmbeddedStores: always, they are in-process).
type HealthChecker interface {
	Health(ctx context.Context, t AgentTarget) error
}

// healthTimeout bounds one customer's health check.
const healthTimeout = 10 * time.Second

// pinger is a store that can check its own service.
type pinger interface {
	Health(ctx context.Context) error
}

// Health checks each enabled data service of the customer with a real
// call through the same clients the agents use.
func (s *ServiceStores) Health(ctx context.Context, t AgentTarget) error {
	deps, release, err := s.For(ctx, t)
	if err != nil {
		return err
	}
	defer release.Close()
	var errs []error
	for _, st := range []any{deps.Objects, deps.Vectors, deps.Graph} {
		if p, ok := st.(pinger); ok {
			errs = append(errs, p.Health(ctx))
		}
	}
	return errors.Join(errs...)
}

// Health is always nil: the embedded stores are in the daemon's process.
func (e *EmbeddedStores) Health(context.Context, AgentTarget) error { return nil }

// observeReadiness records the provisioning phases of the named customers
// (nil: every customer in git) from the observation and, once the
// infrastructure is up, the data services' health. A status is written
// only when a customer's phases changed.
func (d *Daemon) observeReadiness(ctx context.Context, names []string) {
	d.mu.Lock()
	if names == nil {
		names = slices.Sorted(maps.Keys(d.desired))
	}
	type job struct {
		target AgentTarget
		obs    []plan.Resource
	}
	var jobs []job
	for _, name := range names {
		c, ok := d.desired[name]
		obs := d.observed[name]
		if !ok || c.Suspended || d.holds[name] || len(obs) == 0 {
			continue
		}
		jobs = append(jobs, job{target: AgentTarget{Customer: name, Services: c.Services}, obs: obs})
	}
	d.mu.Unlock()

	for _, j := range jobs {
		name := j.target.Customer
		done := plan.InfraPhases(name, j.obs)
		infra := true
		for _, ok := range done {
			infra = infra && ok
		}
		if infra {
			done[plan.PhaseServicesHealthy] = d.servicesHealthy(ctx, j.target, j.obs)
		}
		key := phaseKey(done)
		d.mu.Lock()
		same := d.phases[name] == key
		d.mu.Unlock()
		if same {
			continue
		}
		var first bool
		var took time.Duration
		if _, err := d.cfg.Store.UpdateStatus(name, func(cs *state.CustomerStatus) error {
			first, took = cs.ObservePhases(done, time.Now().UTC())
			return nil
		}); err != nil {
			d.log.Warn("record provisioning phases", "customer", name, "err", err)
			continue
		}
		d.mu.Lock()
		d.phases[name] = key
		ready := 0
		for _, k := range d.phases {
			if k == readyKey {
				ready++
			}
		}
		d.mu.Unlock()
		if m := d.cfg.Metrics; m != nil {
			m.CustomersReady.Set(float64(ready))
			if first {
				m.TimeToReady.Observe(took.Seconds())
			}
		}
		if first {
			d.log.Info("customer ready", "customer", name, "time_to_ready", took.Round(time.Second).String())
		}
	}
}

// servicesHealthy checks the customer's data services with a bounded
// timeout; a customer without agent stores configured is never healthy
// (nothing could have checked it).
func (d *Daemon) servicesHealthy(ctx context.Context, t AgentTarget, obs []plan.Resource) bool {
	hc, ok := d.cfg.AgentStores.(HealthChecker)
	if !ok {
		return false
	}
	secrets, err := d.cfg.Store.Secrets(t.Customer)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return false
	}
	t.Observed, t.Secrets, t.Addresses = obs, secrets, d.addressesOf(t.Customer)
	cctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	if err := hc.Health(cctx, t); err != nil {
		d.log.Debug("data services not healthy", "customer", t.Customer, "err", err)
		return false
	}
	return true
}

var readyKey = phaseKey(func() map[string]bool {
	m := map[string]bool{}
	for _, p := range plan.Phases() {
		m[p] = true
	}
	return m
}())

// phaseKey is a comparable summary of which phases are done.
func phaseKey(done map[string]bool) string {
	var b strings.Builder
	for _, p := range plan.Phases() {
		fmt.Fprintf(&b, "%s=%t;", p, done[p])
	}
	return b.String()
}
