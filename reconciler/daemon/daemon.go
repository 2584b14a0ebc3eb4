package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/agents/extract"
	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/billing"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/reconciler/daemon/metering"
	"github.com/agentvdc/agentvdc/reconciler/daemon/schedule"
	"github.com/agentvdc/agentvdc/reconciler/daemon/workqueue"
	"github.com/agentvdc/agentvdc/reconciler/gitsource"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// Source is the git repository the daemon follows (gitsource.Repo).
type Source interface {
	Fetch(ctx context.Context) (*gitsource.FetchResult, error)
	Resolve(ref string) (*gitsource.Commit, error)
	Files(c *gitsource.Commit, dir string) ([]schema.File, error)
}

// Autoscaler decides server counts and volume sizes from metrics
// (*autoscale.Scaler implements it).
type Autoscaler interface {
	Evaluate(ctx context.Context, customers []schema.Customer, observed []plan.Resource) ([]autoscale.Decision, error)
	Targets() map[string]plan.Scale
	// Forget drops a deleted customer's samples and targets.
	Forget(customer string)
	// Snapshot and Restore carry cooldowns and targets across restarts.
	Snapshot() ([]byte, error)
	Restore([]byte) error
}

// Config wires the daemon.
type Config struct {
	Source Source
	// Ref is the branch (or tag) followed; Path the customers directory.
	Ref, Path string
	// PollInterval is how often git is fetched (default 1m).
	PollInterval time.Duration

	Providers map[plan.Cloud]reconciler.Provider
	// Prices returns the price table (Hetzner's from its API); it is
	// called at start and on every drift refresh.
	Prices func(ctx context.Context) (plan.Prices, error)
	Store  *state.Store
	// AddressPool is where customers' address blocks come from
	// (plan.DefaultAddressPool when zero).
	AddressPool netip.Prefix
	// FrontendSSHKey is the OpenNebula front-end's public key, authorised
	// on every host (reconciler.Converger.FrontendSSHKey).
	FrontendSSHKey string

	// Workers bounds concurrent reconciles (default 4).
	Workers int
	// DriftMin is the shortest drift-check interval (default 1m). The real
	// interval grows so that refreshes use at most HetznerBudgetShare
	// (default 0.5) of HetznerLimitPerHour (default 3,600).
	DriftMin            time.Duration
	HetznerBudgetShare  float64
	HetznerLimitPerHour int

	// AllowDelete lets the daemon delete unprotected customers removed
	// from git (pruning); MaxDeleteFraction is the mass-deletion breaker.
	AllowDelete       bool
	MaxDeleteFraction float64
	// HetznerServerQuota is the Hetzner project's server quota (0:
	// unknown): plans, the autoscaler's included, that would grow the
	// project past it are refused (plan.Options.HetznerServerQuota).
	HetznerServerQuota int
	// ExoscaleVolumeQuota and ExoscaleStorageQuotaGB are the Exoscale
	// organisation's Block Storage quotas (0: unknown), likewise.
	ExoscaleVolumeQuota    int
	ExoscaleStorageQuotaGB int

	Autoscaler        Autoscaler
	AutoscaleInterval time.Duration // default 1m

	// Agents runs one agent job for a customer. When nil and AgentStores
	// is set, the daemon runs the jobs itself (RunAgent) with the stores
	// AgentStores gives each customer; when both are nil, no agents run.
	Agents schedule.Runner
	// AgentStores gives each agent run its customer's stores (embedded
	// under --sim, else the data services at the observed data VM). The
	// daemon forgets a removed customer there; the caller closes it after
	// Run returns.
	AgentStores AgentStores
	// Extractor reads dumped files for the ingest agent; vdc serve passes
	// an extract.Sandbox (child processes with CPU, memory and time
	// limits). nil extracts in the daemon's process.
	Extractor extract.Extractor

	// MeterInterval is how often the usage meter samples the
	// observation (default 1m); Now is the meter's clock (default
	// time.Now).
	MeterInterval time.Duration
	// Billing is how invoices are computed (tax rate, number prefix).
	Billing billing.Config
	// Anomaly says when a customer's daily cost is an anomaly.
	Anomaly metering.AnomalyRule
	// Payments, if set, receives every issued invoice (Stripe).
	Payments Payments
	// UnpaidDays after issue an unpaid invoice is flagged overdue
	// (default 30).
	UnpaidDays int
	Now        func() time.Time

	Metrics *Metrics
	Logger  *slog.Logger
	// Backoff shapes the per-customer retry backoff (defaults 1s..5m).
	BackoffBase, BackoffMax time.Duration
}

// Daemon is the running reconciler.
type Daemon struct {
	cfg    Config
	log    *slog.Logger
	loader *schema.Loader
	queue  *workqueue.Queue[string]
	sched  *schedule.Scheduler
	conv   *reconciler.Converger
	meter  *metering.Meter
	syncCh chan struct{}

	mu          sync.Mutex
	commit      string
	desired     map[string]schema.Customer
	hashes      map[string]string
	invalid     []schema.Diagnostic
	badCommit   string
	observed    map[string][]plan.Resource // by customer
	observedAt  map[plan.Kind]time.Time
	prices      plan.Prices
	holds       map[string]bool
	decisions   map[string][]ScaleDecision
	anomalies   map[string]*metering.Anomaly
	drift       map[string]int
	ready       error
	lastRefresh time.Time
	refreshCost int // Hetzner list calls of one refresh (estimated from pages)
	// phases is the last recorded phaseKey of each customer.
	phases map[string]string
	// requests counts the reconciles asked through the API per customer;
	// runs is the last finished reconcile of each (vdc reconcile --wait).
	requests map[string]uint64
	runs     map[string]ReconcileRun
}

// New validates the configuration.
func New(cfg Config) (*Daemon, error) {
	if cfg.Source == nil || cfg.Store == nil || len(cfg.Providers) == 0 {
		return nil, errors.New("daemon: Source, Store and Providers are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.PollInterval, time.Minute)
	def(&cfg.DriftMin, time.Minute)
	def(&cfg.AutoscaleInterval, time.Minute)
	def(&cfg.BackoffBase, time.Second)
	def(&cfg.BackoffMax, 5*time.Minute)
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.HetznerBudgetShare <= 0 || cfg.HetznerBudgetShare > 1 {
		cfg.HetznerBudgetShare = 0.5
	}
	if cfg.HetznerLimitPerHour <= 0 {
		cfg.HetznerLimitPerHour = 3600
	}
	if cfg.Path == "" {
		cfg.Path = "customers"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	loader, err := schema.NewLoader()
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		cfg: cfg, log: cfg.Logger, loader: loader,
		queue:     workqueue.New[string](workqueue.Options{BaseDelay: cfg.BackoffBase, MaxDelay: cfg.BackoffMax, Logger: cfg.Logger}),
		syncCh:    make(chan struct{}, 1),
		desired:   map[string]schema.Customer{},
		hashes:    map[string]string{},
		observed:  map[string][]plan.Resource{},
		holds:     map[string]bool{},
		decisions: map[string][]ScaleDecision{},
		anomalies: map[string]*metering.Anomaly{},
		requests:  map[string]uint64{},
		runs:      map[string]ReconcileRun{},
		drift:     map[string]int{},
		phases:    map[string]string{},
		ready:     errors.New("starting: git not loaded and clouds not observed yet"),
	}
	d.meter = metering.New(cfg.Store, 0)
	d.conv = &reconciler.Converger{Providers: cfg.Providers, Store: cfg.Store, Log: cfg.Logger,
		Holder: fmt.Sprintf("daemon-%d", os.Getpid()), Who: "daemon", Concurrency: 1, FrontendSSHKey: cfg.FrontendSSHKey}
	runner := cfg.Agents
	if runner == nil && cfg.AgentStores != nil {
		runner = d.RunAgent
	}
	if runner != nil {
		d.sched, err = schedule.New(schedule.Options{Runner: runner, Logger: cfg.Logger,
			OnRun: func(customer string, r schedule.Run) {
				if m := cfg.Metrics; m != nil {
					var err error
					if r.Err != "" {
						err = errors.New(r.Err)
					}
					m.ObserveAgentRun(r.Job, r.Duration, err)
				}
			}})
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Run runs the daemon until ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	d.loadHolds()
	d.restoreAutoscaler()
	if err := d.settleJournal(); err != nil {
		return err
	}
	if err := d.syncGit(ctx); err != nil {
		d.log.Error("initial git sync", "err", err)
	}
	if err := d.refresh(ctx); err != nil {
		d.log.Error("initial refresh", "err", err)
	}
	d.updateReady()
	d.enqueueAll()
	if d.sched != nil {
		d.sched.Start()
	}

	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = d.queue.Run(workCtx, d.cfg.Workers, d.reconcile) })
	wg.Go(func() { d.gitLoop(ctx) })
	wg.Go(func() { d.driftLoop(ctx) })
	if d.cfg.Autoscaler != nil {
		wg.Go(func() { d.autoscaleLoop(ctx) })
	}
	wg.Go(func() { d.meterLoop(ctx) })
	if m := d.cfg.Metrics; m != nil {
		wg.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					m.QueueDepth.Set(float64(d.queue.Len()))
				}
			}
		})
	}
	<-ctx.Done()
	d.log.Info("shutting down: draining in-flight reconciles")
	drainCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.queue.ShutDownWithDrain(drainCtx); err != nil {
		d.log.Warn("drain", "err", err)
	}
	cancelWork()
	wg.Wait()
	if d.sched != nil {
		if err := d.sched.Stop(drainCtx); err != nil {
			d.log.Warn("stop agents", "err", err)
		}
	}
	return nil
}

// settleJournal closes intents a killed daemon left open.
func (d *Daemon) settleJournal() error {
	pending, err := reconciler.SettleJournal(d.cfg.Store)
	for _, p := range pending {
		d.log.Warn("interrupted call from a previous run", "customer", p.Intent.Customer, "action", p.Intent.Action, "address", p.Intent.Address.String())
	}
	return err
}

func (d *Daemon) updateReady() {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.commit == "" && d.invalid == nil:
		d.ready = errors.New("git not loaded yet")
	case d.lastRefresh.IsZero():
		d.ready = errors.New("clouds not observed yet")
	default:
		d.ready = nil
	}
}

// TriggerSync asks for a git fetch now (webhook); it never blocks.
func (d *Daemon) TriggerSync() {
	select {
	case d.syncCh <- struct{}{}:
	default:
	}
}

func (d *Daemon) gitLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.syncCh:
		}
		if err := d.syncGit(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("git sync", "err", err)
		}
		d.updateReady()
	}
}

// syncGit fetches, and on a new commit loads and validates it. An invalid
// commit keeps the last good desired state and records the errors.
func (d *Daemon) syncGit(ctx context.Context) error {
	res, err := d.cfg.Source.Fetch(ctx)
	if err != nil {
		return err
	}
	for _, u := range res.Forced() {
		d.log.Warn("history rewritten (force-push followed)", "ref", u.Ref, "old", u.Old.String(), "new", u.New.String())
	}
	commit, err := d.cfg.Source.Resolve(d.cfg.Ref)
	if err != nil {
		return err
	}
	hash := commit.Hash.String()
	d.mu.Lock()
	same := hash == d.commit || hash == d.badCommit
	d.mu.Unlock()
	if same {
		return nil
	}
	files, err := d.cfg.Source.Files(commit, d.cfg.Path)
	if err != nil {
		return err
	}
	loaded := d.loader.Load(files)
	if !loaded.OK() {
		d.mu.Lock()
		d.invalid, d.badCommit = loaded.Diagnostics, hash
		d.mu.Unlock()
		d.log.Error("invalid commit: keeping the last good desired state", "commit", hash, "errors", len(loaded.Diagnostics))
		d.recordInvalid(hash, loaded.Diagnostics)
		return nil
	}
	d.mu.Lock()
	var changed []string
	next := make(map[string]schema.Customer, len(loaded.Customers))
	nextHash := make(map[string]string, len(loaded.Customers))
	for _, c := range loaded.Customers {
		next[c.Name], nextHash[c.Name] = c, c.Source.Hash
		if d.hashes[c.Name] != c.Source.Hash {
			changed = append(changed, c.Name)
		}
	}
	for name := range d.desired {
		if _, ok := next[name]; !ok {
			changed = append(changed, name)
		}
	}
	d.desired, d.hashes, d.commit, d.invalid, d.badCommit = next, nextHash, hash, nil, ""
	d.mu.Unlock()
	d.log.Info("new commit", "commit", hash, "customers", len(next), "changed", len(changed))
	for _, name := range changed {
		d.queue.Add(name)
	}
	d.clearInvalid()
	return nil
}

// recordInvalid puts the load errors on the status of the customers whose
// files are wrong (and keeps them reconciled from the last good commit).
func (d *Daemon) recordInvalid(commit string, diags []schema.Diagnostic) {
	byFile := map[string][]string{}
	for _, dg := range diags {
		byFile[dg.File] = append(byFile[dg.File], dg.String())
	}
	now := time.Now().UTC()
	for file, msgs := range byFile {
		name := customerOfFile(file)
		if name == "" {
			continue
		}
		_, _ = d.cfg.Store.UpdateStatus(name, func(cs *state.CustomerStatus) error {
			if cs.Status == "" {
				cs.Status = state.StatusError
			}
			cs.SetCondition(state.Condition{Type: state.ConditionGitValid, Status: state.ConditionFalse, Reason: state.ReasonInvalidFile,
				Message: fmt.Sprintf("commit %s: %s", plan.ShortCommit(commit), joinMax(msgs, 5))}, now)
			cs.UpdatedAt = now
			return nil
		})
	}
}

func (d *Daemon) clearInvalid() {
	list, err := d.cfg.Store.ListStatus()
	if err != nil {
		return
	}
	now := time.Now().UTC()
	for _, cs := range list {
		if c, ok := cs.Condition(state.ConditionGitValid); ok && c.Status == state.ConditionFalse {
			_, _ = d.cfg.Store.UpdateStatus(cs.Name, func(cs *state.CustomerStatus) error {
				cs.SetCondition(state.Condition{Type: state.ConditionGitValid, Status: state.ConditionTrue, Reason: state.ReasonValid}, now)
				return nil
			})
		}
	}
}

// refresh observes every cloud and replaces the cache.
func (d *Daemon) refresh(ctx context.Context) error {
	all, err := reconciler.Refresh(ctx, d.cfg.Providers, d.cfg.Store)
	if err != nil {
		return err
	}
	var prices plan.Prices
	if d.cfg.Prices != nil {
		if prices, err = d.cfg.Prices(ctx); err != nil {
			d.log.Warn("prices", "err", err)
		}
	}
	byCustomer := map[string][]plan.Resource{}
	for _, r := range all {
		byCustomer[r.Customer] = append(byCustomer[r.Customer], r)
	}
	cost := 3 // one list call per Hetzner kind when the adapter cannot tell
	if rc, ok := d.cfg.Providers[plan.Hetzner].(reconciler.RefreshCoster); ok {
		cost = rc.RefreshCalls(all)
	}
	_, at, _ := d.cfg.Store.Observed()
	d.mu.Lock()
	d.observed, d.observedAt, d.lastRefresh, d.refreshCost = byCustomer, at, time.Now(), cost
	if prices.HetznerServerMonthly != nil || d.prices.HetznerServerMonthly == nil {
		d.prices = prices
	}
	d.mu.Unlock()
	d.observeReadiness(ctx, nil)
	return nil
}

// DriftInterval is the time between drift checks: at least DriftMin, and
// long enough that refreshes use at most the budget share of Hetzner's
// hourly request limit.
func (d *Daemon) DriftInterval() time.Duration {
	d.mu.Lock()
	cost := max(d.refreshCost, 3)
	d.mu.Unlock()
	budget := d.cfg.HetznerBudgetShare * float64(d.cfg.HetznerLimitPerHour)
	need := time.Duration(float64(cost) / budget * float64(time.Hour))
	return max(d.cfg.DriftMin, need)
}

func (d *Daemon) driftLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.DriftInterval()):
		}
		if err := d.refresh(ctx); err != nil {
			if ctx.Err() == nil {
				d.log.Error("drift refresh", "err", err)
			}
			continue
		}
		d.updateReady()
		d.checkDrift(ctx)
	}
}

// checkDrift plans every customer against the fresh observation and queues
// those that differ (healing), except suspended and held ones.
func (d *Daemon) checkDrift(ctx context.Context) {
	p, err := d.build(nil, "")
	if p == nil {
		d.log.Error("drift plan", "err", err)
		return
	}
	changed := map[string]int{}
	for _, a := range p.Actions {
		if a.Action != plan.ActionNoOp {
			changed[a.Customer]++
		}
	}
	d.mu.Lock()
	d.drift = changed
	d.mu.Unlock()
	total := 0
	for _, n := range changed {
		total += n
	}
	if m := d.cfg.Metrics; m != nil {
		m.DriftResources.Set(float64(total))
		m.DriftDetected.Add(float64(total))
	}
	now := time.Now().UTC()
	for name, n := range changed {
		_, _ = d.cfg.Store.UpdateStatus(name, func(cs *state.CustomerStatus) error {
			cs.Drift = n
			if cs.Status == state.StatusSynced {
				cs.Status = state.StatusOutOfSync
			}
			cs.UpdatedAt = now
			return nil
		})
		d.queue.Add(name)
	}
}

func (d *Daemon) autoscaleLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.AutoscaleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.Autoscale(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("autoscale", "err", err)
		}
	}
}

// Autoscale runs one autoscaler evaluation and queues the customers it
// decided to scale.
func (d *Daemon) Autoscale(ctx context.Context) error {
	d.mu.Lock()
	cs := make([]schema.Customer, 0, len(d.desired))
	for _, c := range d.desired {
		// The autoscaler drops the samples and targets of suspended
		// customers; an on-call hold counts as suspended.
		c.Suspended = c.Suspended || d.holds[c.Name]
		cs = append(cs, c)
	}
	obs := d.observedLocked()
	d.mu.Unlock()
	// Decisions made before a metric call failed are still recorded.
	decisions, err := d.cfg.Autoscaler.Evaluate(ctx, cs, obs)
	for _, ad := range decisions {
		dec := ScaleDecision{Decision: ad}
		name := dec.Customer
		d.mu.Lock()
		list := append([]ScaleDecision{dec}, d.decisions[name]...)
		if len(list) > 20 {
			list = list[:20]
		}
		d.decisions[name] = list
		d.mu.Unlock()
		if m := d.cfg.Metrics; m != nil {
			m.ObserveAutoscale(dec.Resource, dec.From, dec.To)
		}
		// The autoscaler logged the decision; logged once.
		d.queue.Add(name)
	}
	if snap, serr := d.cfg.Autoscaler.Snapshot(); serr == nil {
		_ = d.cfg.Store.PutCursor(autoscaleCursor, "all", snap)
	}
	return err
}

const autoscaleCursor = "autoscale"

// restoreAutoscaler reloads cooldowns, targets and decisions saved before
// a restart.
func (d *Daemon) restoreAutoscaler() {
	if d.cfg.Autoscaler == nil {
		return
	}
	b, err := d.cfg.Store.Cursor(autoscaleCursor, "all")
	if err != nil || len(b) == 0 {
		return
	}
	if err := d.cfg.Autoscaler.Restore(b); err != nil {
		d.log.Warn("autoscaler state not restored", "err", err)
	}
}

func (d *Daemon) observedLocked() []plan.Resource {
	n := 0
	for _, rs := range d.observed {
		n += len(rs)
	}
	out := make([]plan.Resource, 0, n)
	for _, rs := range d.observed {
		out = append(out, rs...)
	}
	return out
}

// build plans the desired state against the cached observation, for the
// given customers (nil: all), at the current commit.
func (d *Daemon) build(targets []string, commit string) (*plan.Plan, error) {
	d.mu.Lock()
	cs := make([]schema.Customer, 0, len(d.desired))
	for _, c := range d.desired {
		cs = append(cs, c)
	}
	if commit == "" {
		commit = d.commit
	}
	held, err := d.cfg.Store.AddressBlocks()
	if err != nil {
		d.mu.Unlock()
		return nil, err
	}
	in := plan.Input{Commit: commit, Customers: cs, Observed: d.observedLocked(), ObservedAt: d.observedAt,
		Now: time.Now().UTC(), Prices: d.prices, AddressPool: d.cfg.AddressPool, HeldBlocks: held,
		Options: plan.Options{Targets: targets, AllowDelete: d.cfg.AllowDelete, MaxDeleteFraction: d.cfg.MaxDeleteFraction,
			HetznerServerQuota: d.cfg.HetznerServerQuota, ExoscaleVolumeQuota: d.cfg.ExoscaleVolumeQuota, ExoscaleStorageQuotaGB: d.cfg.ExoscaleStorageQuotaGB}}
	d.mu.Unlock()
	sort.Slice(in.Customers, func(i, j int) bool { return in.Customers[i].Name < in.Customers[j].Name })
	if d.cfg.Autoscaler != nil {
		in.Scale = d.cfg.Autoscaler.Targets()
	}
	return plan.Build(in)
}

func (d *Daemon) enqueueAll() {
	d.mu.Lock()
	names := map[string]bool{}
	for n := range d.desired {
		names[n] = true
	}
	for n := range d.observed {
		if n != "" {
			names[n] = true
		}
	}
	d.mu.Unlock()
	for n := range names {
		d.queue.Add(n)
	}
}

func joinMax(msgs []string, n int) string {
	if len(msgs) > n {
		msgs = append(msgs[:n:n], fmt.Sprintf("and %d more", len(msgs)-n))
	}
	return strings.Join(msgs, "; ")
}

var _ Autoscaler = (*autoscale.Scaler)(nil)

func (d *Daemon) now() time.Time {
	if d.cfg.Now != nil {
		return d.cfg.Now()
	}
	return time.Now()
}

// meterLoop samples the observation for the usage meter every
// MeterInterval (default 1m) and once more at shutdown.
func (d *Daemon) meterLoop(ctx context.Context) {
	every := d.cfg.MeterInterval
	if every <= 0 {
		every = time.Minute
	}
	sample := func() {
		d.mu.Lock()
		obs := d.observedLocked()
		d.mu.Unlock()
		now := d.now()
		if n, err := d.meter.Sample(now, obs); err != nil {
			d.log.Warn("usage meter", "err", err)
		} else if n > 0 {
			d.log.Info("usage metered", "records", n)
			d.checkCostAnomalies(now.Truncate(time.Hour))
		}
	}
	sample()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			sample()
			return
		case <-t.C:
			sample()
		}
	}
}

// Usage returns a customer's hourly usage records with from <= hour < to.
func (d *Daemon) Usage(_ context.Context, name string, from, to time.Time) ([]state.UsageRecord, error) {
	return d.cfg.Store.Usage(name, from, to)
}

// checkCostAnomalies compares each customer's last 24 metered hours with
// its baseline once an hour closes; a customer becoming anomalous is
// logged with the causes and counted, and shows in its status.
func (d *Daemon) checkCostAnomalies(until time.Time) {
	rule := d.cfg.Anomaly
	days := rule.BaselineDays
	if days <= 0 {
		days = 7
	}
	d.mu.Lock()
	cs := make([]schema.Customer, 0, len(d.desired))
	for _, c := range d.desired {
		cs = append(cs, c)
	}
	prices := d.prices
	decisions := map[string][]autoscale.Decision{}
	for name, ds := range d.decisions {
		for _, sd := range ds {
			decisions[name] = append(decisions[name], sd.Decision)
		}
	}
	d.mu.Unlock()
	for _, c := range cs {
		recs, err := d.cfg.Store.Usage(c.Name, until.Add(-time.Duration(days+1)*24*time.Hour), until)
		if err != nil {
			d.log.Warn("cost anomaly check", "customer", c.Name, "err", err)
			continue
		}
		a := metering.Detect(c.Name, recs, c.Placement.ListPriceUSD, prices, c.Placement.HetznerLocation, decisions[c.Name], until, rule)
		d.mu.Lock()
		was := d.anomalies[c.Name]
		if a == nil {
			delete(d.anomalies, c.Name)
		} else {
			d.anomalies[c.Name] = a
		}
		d.mu.Unlock()
		switch {
		case a != nil && was == nil:
			d.log.Warn("cost anomaly", "customer", c.Name, "reason", a.Reason, "causes", strings.Join(a.Causes, "; "))
			if m := d.cfg.Metrics; m != nil {
				m.CostAnomalies.Inc()
			}
		case a == nil && was != nil:
			d.log.Info("cost anomaly cleared", "customer", c.Name)
		}
	}
	if m := d.cfg.Metrics; m != nil {
		d.mu.Lock()
		n := len(d.anomalies)
		d.mu.Unlock()
		m.CostAnomalous.Set(float64(n))
	}
}
