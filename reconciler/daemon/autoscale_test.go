package daemon_test

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/reconciler/gitsource"
	"github.com/agentvdc/agentvdc/state"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// startWith runs a daemon with extra configuration.
func (f *fixture) startWith(t testing.TB, mod func(*daemon.Config)) *daemon.Daemon {
	t.Helper()
	src, _, err := gitsource.Open(context.Background(), gitsource.Options{URL: f.url, CacheDir: filepath.Join(f.data, "git")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := daemon.Config{
		Source: src, Ref: "main", Path: "customers", PollInterval: 200 * time.Millisecond,
		Providers: f.ps.All, Store: f.store, FrontendSSHKey: f.stack.FrontendSSHKey(),
		Prices: func(ctx context.Context) (plan.Prices, error) {
			p := plan.DefaultExoscalePrices()
			hp, err := f.ps.Hetzner.ServerTypePrices(ctx)
			p.HetznerServerMonthly = hp
			return p, err
		},
		DriftMin: time.Hour, AutoscaleInterval: time.Hour,
		BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second,
	}
	mod(&cfg)
	d, err := daemon.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	return d
}

// observedOf lists a customer's resources of one kind, straight from the cloud.
func (f *fixture) observedOf(t testing.TB, kind plan.Kind, customer string) []plan.Resource {
	t.Helper()
	rs, err := f.ps.All[kind.Cloud()].Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []plan.Resource
	for _, r := range rs {
		if r.Kind == kind && r.Customer == customer {
			out = append(out, r)
		}
	}
	return out
}

// TestAutoscalingThroughTheDaemon: host CPU 90 % grows the servers by step
// up to max and never past it, 10 % brings them back to min after the
// cooldown, a datastore 85 % full grows the volume up to max; every
// decision goes through plan/apply. VM CPU 90 % makes OneFlow add worker
// VMs, which the daemon does not treat as drift.
func TestAutoscalingThroughTheDaemon(t *testing.T) {
	f := newFixture(t)
	const gamma = "name: gamma\ndisplayName: Gamma\nowner: ops@gamma.example\ntier: pro\n" +
		"compute:\n  minServers: 1\n  maxServers: 3\n  minWorkers: 1\n  maxWorkers: 4\n  autoscale:\n    step: 2\n    cooldown: 2m\n" +
		"storage:\n  initialGB: 50\n  maxGB: 120\n  autoscale:\n    stepGB: 50\n"
	f.push(t, "gamma", map[string]string{"gamma.yaml": gamma})
	clock := &fakeClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	scaler := autoscale.New(autoscale.Options{Metrics: f.ps.OpenNebula, Window: 2 * time.Minute, Now: clock.Now,
		Prices: func() plan.Prices { return plan.DefaultExoscalePrices() }})
	d := f.startWith(t, func(c *daemon.Config) { c.Autoscaler = scaler })
	waitFor(t, 30*time.Second, "gamma synced", f.synced("gamma", head(t, f.work)))
	ctx := context.Background()

	setHostCPU := func(pct float64) {
		for _, h := range f.observedOf(t, plan.ONEHost, "gamma") {
			id, _ := strconv.Atoi(h.ID)
			if err := f.stack.ONE.SetHostCPU(id, pct); err != nil {
				t.Fatal(err)
			}
		}
	}
	decisions := func() int {
		v, err := d.Customer(ctx, "gamma")
		if err != nil {
			t.Fatal(err)
		}
		return len(v.Autoscale)
	}
	servers := func() int { return len(f.observedOf(t, plan.HetznerServer, "gamma")) }
	// tick: one autoscaler evaluation 30 s later, then wait for the
	// reconcile it queued (if any) to finish.
	tick := func(pct float64) {
		setHostCPU(pct)
		clock.Advance(30 * time.Second)
		before, called := decisions(), time.Now()
		if err := d.Autoscale(ctx); err != nil {
			t.Fatal(err)
		}
		if decisions() == before {
			return
		}
		waitFor(t, 30*time.Second, "the decision applied", func() bool {
			st, _ := f.store.GetStatus("gamma")
			return st.Status == state.StatusSynced && st.LastAppliedAt.After(called)
		})
	}
	maxSeen := 0
	for i := 0; i < 20 && servers() < 3; i++ {
		tick(90)
		maxSeen = max(maxSeen, servers())
	}
	if servers() != 3 {
		t.Fatalf("servers after sustained 90%% CPU: %d, want max 3", servers())
	}
	for i := 0; i < 8; i++ {
		tick(90)
		if n := servers(); n > 3 {
			t.Fatalf("grew past max: %d servers", n)
		}
	}
	if hosts := len(f.observedOf(t, plan.ONEHost, "gamma")); hosts != 3 {
		t.Fatalf("%d OpenNebula hosts for 3 servers", hosts)
	}
	v, err := d.Customer(ctx, "gamma")
	if err != nil || len(v.Autoscale) == 0 || v.Autoscale[0].Resource != "servers" || v.Autoscale[0].Reason == "" {
		t.Fatalf("decision not recorded with its reason: %+v %v", v.Autoscale, err)
	}
	for i := 0; i < 20 && servers() > 1; i++ {
		tick(10)
	}
	if servers() != 1 {
		t.Fatalf("servers after CPU 10%%: %d, want min 1", servers())
	}

	// Storage: 85 % used grows the volume by 50 GB steps up to 120 GB.
	ds := f.observedOf(t, plan.ONEDatastore, "gamma")
	dsID, _ := strconv.Atoi(ds[0].ID)
	if err := f.stack.ONE.SetDatastoreUsed(dsID, 85); err != nil {
		t.Fatal(err)
	}
	volume := func() string { return f.observedOf(t, plan.ExoBlockVolume, "gamma")[0].Attrs["size_gb"] }
	for i := 0; i < 10 && volume() != "120"; i++ {
		clock.Advance(11 * time.Minute) // past the storage cooldown
		tick(50)
	}
	if got := volume(); got != "120" {
		t.Fatalf("volume after 85%% used: %s GB, want 120 (max)", got)
	}
	clock.Advance(11 * time.Minute)
	tick(50)
	if got := volume(); got != "120" {
		t.Fatalf("volume grew past max: %s", got)
	}

	// OneFlow scales the worker VMs by the declared policies; the daemon
	// leaves the role's cardinality alone.
	svc := f.observedOf(t, plan.ONEFlowService, "gamma")[0]
	svcID, _ := strconv.Atoi(svc.ID)
	if _, err := f.stack.ONE.SetRoleCPU(svcID, "workers", 90); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := 0; i <= plan.PolicyPeriodNumber+1; i++ {
		f.stack.ONE.EvaluateElasticity(now.Add(time.Duration(i*plan.PolicyPeriod) * time.Second))
	}
	card := f.observedOf(t, plan.ONEFlowService, "gamma")[0].Attrs["cardinality"]
	if card != "3" {
		t.Fatalf("workers role cardinality after VM CPU 90%%: %s, want 1+step 2 = 3", card)
	}
	called := time.Now()
	if err := d.Reconcile(ctx, "gamma"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a reconcile after OneFlow scaled", func() bool {
		st, _ := f.store.GetStatus("gamma")
		return st.Status == state.StatusSynced && st.UpdatedAt.After(called)
	})
	if got := f.observedOf(t, plan.ONEFlowService, "gamma")[0]; got.ID != svc.ID || got.Attrs["cardinality"] != "3" {
		t.Fatalf("the daemon undid OneFlow's scaling: id %s→%s cardinality %s", svc.ID, got.ID, got.Attrs["cardinality"])
	}
}

// TestAgentSchedules: the daemon runs each customer's agents from its file,
// never two runs of one job at once; an on-call hold stops them, a deleted
// customer's jobs are gone.
func TestAgentSchedules(t *testing.T) {
	f := newFixture(t)
	const fast = "agents:\n  ingest: 1s\n"
	f.push(t, "two", map[string]string{"alpha.yaml": alpha + fast + "protection:\n  deletionProtection: false\n", "beta.yaml": beta + fast})
	var mu sync.Mutex
	runs := map[string]int{}
	var running, overlap atomic.Int32
	d := f.startWith(t, func(c *daemon.Config) {
		c.AllowDelete = true
		c.Agents = func(ctx context.Context, customer, job string) error {
			if running.Add(1) > 1 && job == "ingest" && customer == "alpha" {
				overlap.Add(1)
			}
			defer running.Add(-1)
			mu.Lock()
			runs[customer+"/"+job]++
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			return nil
		}
	})
	count := func(k string) int { mu.Lock(); defer mu.Unlock(); return runs[k] }
	waitFor(t, 30*time.Second, "both synced", func() bool {
		return f.synced("alpha", head(t, f.work))() && f.synced("beta", head(t, f.work))()
	})
	waitFor(t, 10*time.Second, "ingest runs every second", func() bool { return count("alpha/ingest") >= 2 && count("beta/ingest") >= 2 })
	if count("alpha/relationship") != 0 {
		t.Error("the hourly relationship agent ran within seconds")
	}
	v, err := d.Customer(context.Background(), "alpha")
	if err != nil || len(v.Agents) != 3 {
		t.Fatalf("agents in the view: %+v %v", v.Agents, err)
	}

	// An on-call hold stops a customer's jobs.
	if err := d.Hold(context.Background(), "beta", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "beta suspended", func() bool {
		st, _ := f.store.GetStatus("beta")
		return st.Status == state.StatusSuspended
	})
	held := count("beta/ingest")
	time.Sleep(2500 * time.Millisecond)
	if n := count("beta/ingest"); n > held+1 {
		t.Errorf("a held customer's ingest kept running: %d → %d", held, n)
	}

	// A deleted customer's jobs are gone.
	f.push(t, "remove alpha", map[string]string{"alpha.yaml": ""})
	waitFor(t, 30*time.Second, "alpha deleted", func() bool { return len(f.observedOf(t, plan.HetznerServer, "alpha")) == 0 })
	waitFor(t, 10*time.Second, "alpha's schedule removed", func() bool {
		_, err := d.Customer(context.Background(), "alpha")
		return err != nil
	})
	after := count("alpha/ingest")
	time.Sleep(2500 * time.Millisecond)
	if n := count("alpha/ingest"); n != after {
		t.Errorf("a deleted customer's ingest kept running: %d → %d", after, n)
	}
}
