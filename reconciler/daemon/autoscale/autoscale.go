package autoscale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/schema"
)

// Metrics is the monitoring the autoscaler reads; the OpenNebula adapter
// (reconciler/clouds/opennebula.Provider) satisfies it. Each method is one pool
// call covering every managed object.
type Metrics interface {
	// HostCPU returns host name → CPU use in percent of capacity.
	HostCPU(ctx context.Context) (map[string]float64, error)
	// DatastoreUsage returns datastore name → used space in percent.
	DatastoreUsage(ctx context.Context) (map[string]float64, error)
}

// Resources a Decision scales.
const (
	ResourceServers   = "servers"
	ResourceStorageGB = "storage_gb"
)

// Defaults of Options.
const (
	DefaultWindow          = 5 * time.Minute
	DefaultStorageCooldown = 10 * time.Minute
	// RecentPerCustomer is how many decisions per customer Recent keeps.
	RecentPerCustomer = 20
)

// Log attribute keys.
const (
	logKeyCustomer = "customer"
	logKeyResource = "resource"
	logKeyFrom     = "from"
	logKeyTo       = "to"
	logKeyReason   = "reason"
	logKeyCostUSD  = "monthly_cost_delta_usd"
	logKeyErr      = "err"
	logKeyMetric   = "metric"
)

// Options configure a Scaler.
type Options struct {
	// Metrics is the monitoring source (required).
	Metrics Metrics
	// Window is the span the host CPU is averaged over (default 5m).
	Window time.Duration
	// StorageCooldown is the minimum time between two storage decisions of
	// a customer (default 10m).
	StorageCooldown time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives one record per decision and per failed metric call
	// (default: discard).
	Logger *slog.Logger
	// Prices returns the current unit prices for the cost of a decision
	// (default: plan.DefaultExoscalePrices, which has no Hetzner prices).
	Prices func() plan.Prices
}

// Decision is one scaling decision.
type Decision struct {
	Customer string    `json:"customer"`
	At       time.Time `json:"at"`
	// Resource is ResourceServers or ResourceStorageGB.
	Resource string `json:"resource"`
	// From is the observed value, To the target (server count or GB).
	From   int    `json:"from"`
	To     int    `json:"to"`
	Reason string `json:"reason"`
	// MonthlyCostDeltaUSD is the monthly cost of the change (negative on
	// scale-in).
	MonthlyCostDeltaUSD float64 `json:"monthly_cost_delta_usd"`
	// Unpriced is set when the server type has no known price in the
	// customer's location (the delta then counts it as zero).
	Unpriced bool `json:"unpriced,omitempty"`
}

// sample is one Evaluate's mean CPU over a customer's reporting hosts.
type sample struct {
	at    time.Time
	cpu   float64
	hosts int
}

// bounds are the file's limits a target is clamped to.
type bounds struct {
	MinServers int `json:"min_servers"`
	MaxServers int `json:"max_servers"`
	MaxGB      int `json:"max_gb"`
}

// custState is what the scaler keeps per customer.
type custState struct {
	samples     []sample
	lastCompute time.Time
	lastStorage time.Time
	target      plan.Scale
	bounds      bounds
	recent      []Decision
}

// Scaler evaluates the autoscaling rules; it is safe for concurrent use.
type Scaler struct {
	metrics         Metrics
	window          time.Duration
	storageCooldown time.Duration
	now             func() time.Time
	log             *slog.Logger
	prices          func() plan.Prices

	mu    sync.Mutex
	state map[string]*custState
}

// New returns a Scaler with o's defaults filled in. A nil o.Metrics makes
// every Evaluate fail with ErrNoMetrics.
func New(o Options) *Scaler {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.StorageCooldown <= 0 {
		o.StorageCooldown = DefaultStorageCooldown
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Prices == nil {
		o.Prices = plan.DefaultExoscalePrices
	}
	return &Scaler{
		metrics: o.Metrics, window: o.Window, storageCooldown: o.StorageCooldown,
		now: o.Now, log: o.Logger, prices: o.Prices,
		state: map[string]*custState{},
	}
}

// ErrNoMetrics is returned by Evaluate when the Scaler has no Metrics.
var ErrNoMetrics = errors.New("autoscale: no metrics source configured")

// Evaluate samples the metrics (one HostCPU and one DatastoreUsage call
// for all customers), adds a sample to each customer's window, clears
// targets the observed resources have reached, and returns the new
// decisions in customer order (compute before storage). observed may hold
// any customers' resources.
//
// When one metric call fails, the rules that need the other still run:
// Evaluate returns their decisions together with the error (wrapped with
// %w); a caller should record the decisions even when err != nil. When
// both fail, no state changes.
func (s *Scaler) Evaluate(ctx context.Context, customers []schema.Customer, observed []plan.Resource) ([]Decision, error) {
	if s.metrics == nil {
		return nil, ErrNoMetrics
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(customers))
	for i := range customers {
		n := customers[i].Name
		if n == "" {
			return nil, fmt.Errorf("autoscale: customer %d has no name", i)
		}
		if seen[n] {
			return nil, fmt.Errorf("autoscale: customer %s given twice", n)
		}
		seen[n] = true
	}
	var errs []error
	cpu, err := s.metrics.HostCPU(ctx)
	if err != nil {
		s.log.Warn("autoscale: metric call failed", slog.String(logKeyMetric, "host_cpu"), slog.String(logKeyErr, err.Error()))
		errs = append(errs, fmt.Errorf("autoscale: host cpu: %w", err))
		cpu = nil
	}
	usage, err := s.metrics.DatastoreUsage(ctx)
	if err != nil {
		s.log.Warn("autoscale: metric call failed", slog.String(logKeyMetric, "datastore_usage"), slog.String(logKeyErr, err.Error()))
		errs = append(errs, fmt.Errorf("autoscale: datastore usage: %w", err))
		usage = nil
	}
	if len(errs) == 2 {
		return nil, errors.Join(errs...)
	}
	obs := indexObserved(observed, seen)
	prices := withDefaults(s.prices())

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []Decision
	for i := range customers {
		c := &customers[i]
		st := s.state[c.Name]
		if st == nil {
			st = &custState{}
			s.state[c.Name] = st
		}
		ob := obs[c.Name]
		if ob == nil {
			ob = &custObserved{}
		}
		e := eval{s: s, c: c, st: st, ob: ob, now: now, prices: prices}
		out = append(out, e.run(cpu, usage)...)
	}
	for _, d := range out {
		s.log.Info("autoscale decision",
			slog.String(logKeyCustomer, d.Customer), slog.String(logKeyResource, d.Resource),
			slog.Int(logKeyFrom, d.From), slog.Int(logKeyTo, d.To),
			slog.String(logKeyReason, d.Reason), slog.Float64(logKeyCostUSD, d.MonthlyCostDeltaUSD))
	}
	return out, errors.Join(errs...)
}

// Targets returns the pending targets per customer, for plan.Input.Scale.
// They are clamped to the bounds of the files as of the last Evaluate.
func (s *Scaler) Targets() map[string]plan.Scale {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]plan.Scale{}
	for name, st := range s.state {
		if st.target != (plan.Scale{}) {
			out[name] = st.target
		}
	}
	return out
}

// Recent returns the customer's last decisions, oldest first.
func (s *Scaler) Recent(customer string) []Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.state[customer]; st != nil {
		return slices.Clone(st.recent)
	}
	return nil
}

// Forget drops everything known about a customer (deleted from git).
func (s *Scaler) Forget(customer string) {
	s.mu.Lock()
	delete(s.state, customer)
	s.mu.Unlock()
}

// withDefaults fills what p leaves out of the prices a decision uses.
func withDefaults(p plan.Prices) plan.Prices {
	d := plan.DefaultExoscalePrices()
	if p.EURToUSD <= 0 {
		p.EURToUSD = d.EURToUSD
	}
	if p.ExoscaleVolumeGBMonthly <= 0 {
		p.ExoscaleVolumeGBMonthly = d.ExoscaleVolumeGBMonthly
	}
	return p
}
