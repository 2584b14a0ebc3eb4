package reconciler_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/hetzner"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// world is the three simulators, the real adapters on them, and a state store.
type world struct {
	stack     *simstack.Stack
	providers map[plan.Cloud]reconciler.Provider
	store     *state.Store
	hetzner   *hetzner.Provider
}

func newWorld(tb testing.TB, o simstack.Options) *world {
	tb.Helper()
	ctx := context.Background()
	st, err := simstack.Start(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	ps, err := st.NewProviders(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	store, err := state.Open(filepath.Join(tb.TempDir(), "state.db"), state.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	return &world{stack: st, store: store, hetzner: ps.Hetzner, providers: ps.All}
}

func (w *world) controllers() []*simctl.Controller {
	return []*simctl.Controller{w.stack.Hetzner.Control(), w.stack.Exoscale.Control(), w.stack.ONE.Control()}
}

// calls returns the API calls received by all three simulators.
func (w *world) calls() int64 {
	var n int64
	for _, c := range w.controllers() {
		n += c.Total("*")
	}
	return n
}

func (w *world) resetCalls() {
	for _, c := range w.controllers() {
		c.ResetCounters()
	}
}

// customers generates n valid customers (tiers in turn).
func customers(tb testing.TB, n int) []schema.Customer {
	tb.Helper()
	l, err := schema.NewLoader()
	if err != nil {
		tb.Fatal(err)
	}
	tiers := []string{"casual", "pro", "enterprise"}
	files := make([]schema.File, n)
	for i := range files {
		name := fmt.Sprintf("cust-%04d", i)
		files[i] = schema.File{Path: "customers/" + name + ".yaml", Data: fmt.Appendf(nil,
			"name: %s\ndisplayName: C%d\nowner: ops@c%d.example\ntier: %s\nregion: %s\n", name, i, i, tiers[i%3], []string{"fsn1", "nbg1"}[i%2])}
	}
	res := l.Load(files)
	if !res.OK() {
		tb.Fatal(res.Error())
	}
	return res.Customers
}

// plan refreshes the observation and plans cs against it.
func (w *world) plan(tb testing.TB, cs []schema.Customer) ([]plan.Resource, *plan.Plan) {
	tb.Helper()
	ctx := context.Background()
	observed, err := reconciler.Refresh(ctx, w.providers, w.store)
	if err != nil {
		tb.Fatalf("refresh: %v", err)
	}
	prices, err := w.hetzner.ServerTypePrices(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	pr := plan.DefaultExoscalePrices()
	pr.HetznerServerMonthly = prices
	p, err := plan.Build(plan.Input{Commit: "test", Customers: cs, Observed: observed, Now: time.Now(), Prices: pr})
	if err != nil {
		tb.Fatalf("plan: %v", err)
	}
	return observed, p
}

// converge refreshes, plans and applies until the plan is empty (at most
// rounds times) and returns the number of rounds that applied something.
func (w *world) converge(tb testing.TB, cs []schema.Customer, rounds int) int {
	tb.Helper()
	ctx := context.Background()
	conv := &reconciler.Converger{Providers: w.providers, Store: w.store, FrontendSSHKey: w.stack.FrontendSSHKey(), Holder: "e2e", Who: "test", Concurrency: 8}
	for i := 0; i < rounds; i++ {
		observed, p := w.plan(tb, cs)
		if !p.HasChanges() {
			return i
		}
		res, err := conv.Converge(ctx, p, observed)
		if err != nil {
			tb.Fatalf("converge: %v", err)
		}
		if err := res.Err(); err != nil {
			tb.Logf("round %d: %v", i, err)
		}
	}
	tb.Fatalf("not converged after %d rounds", rounds)
	return rounds
}

// ready waits (a few seconds: the fast latency profile) until every
// infrastructure phase of every customer shows done in the observed
// resources: servers running, hosts MONITORED, the image READY and the
// data VM RUNNING, i.e. what apply built would really come up.
func (w *world) ready(tb testing.TB, cs []schema.Customer) {
	tb.Helper()
	w.readyWithin(tb, cs, 10*time.Second)
}

func (w *world) readyWithin(tb testing.TB, cs []schema.Customer, limit time.Duration) {
	tb.Helper()
	var last map[string]map[string]bool
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var observed []plan.Resource
		for _, p := range w.providers {
			rs, err := p.Observe(context.Background())
			if err != nil {
				tb.Fatal(err)
			}
			observed = append(observed, rs...)
		}
		last = map[string]map[string]bool{}
		all := true
		for _, c := range cs {
			last[c.Name] = plan.InfraPhases(c.Name, observed)
			for _, ph := range plan.Phases() {
				if ph != plan.PhaseServicesHealthy && !last[c.Name][ph] {
					all = false
				}
			}
		}
		if all {
			return
		}
	}
	tb.Fatalf("not ready: %v", last)
}

// BenchmarkCommitToInfraReadyRealistic: one new customer from its first
// apply until every infrastructure phase is done (servers running, hosts
// MONITORED, image READY, data VM RUNNING) with the simulators' realistic
// latencies; minutes of wall time, little CPU (run with -benchtime=1x).
func BenchmarkCommitToInfraReadyRealistic(b *testing.B) {
	for range b.N {
		w := newWorld(b, simstack.Options{HetznerRateLimitPerHour: -1, Latency: simstack.LatencyRealistic})
		cs := customers(b, 1)
		start := time.Now()
		w.converge(b, cs, 3)
		applied := time.Since(start)
		w.readyWithin(b, cs, 15*time.Minute)
		b.ReportMetric(applied.Seconds(), "s-apply")
		b.ReportMetric(time.Since(start).Seconds(), "s-ready")
	}
}

// inventory is every managed resource as "kind.name attrs", sorted, and
// fails on a duplicated name.
func (w *world) inventory(tb testing.TB) []string {
	tb.Helper()
	var out []string
	seen := map[string]bool{}
	for _, p := range w.providers {
		rs, err := p.Observe(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		for _, r := range rs {
			addr := r.Address().String()
			if seen[addr] {
				tb.Errorf("duplicate resource %s", addr)
			}
			seen[addr] = true
			keys := make([]string, 0, len(r.Attrs))
			for k := range r.Attrs {
				if k != "cardinality" {
					keys = append(keys, k+"="+r.Attrs[k])
				}
			}
			sort.Strings(keys)
			out = append(out, addr+" "+strings.Join(keys, " "))
		}
	}
	sort.Strings(out)
	return out
}

// TestApplyConvergesUnderFaults injects 10 % 5xx on every endpoint of the
// three clouds, latency, and 429s on Hetzner; the apply still converges to
// exactly what a clean apply makes, and reports its API call count.
func TestApplyConvergesUnderFaults(t *testing.T) {
	cs := customers(t, 3)

	clean := newWorld(t, simstack.Options{HetznerRateLimitPerHour: -1})
	clean.converge(t, cs, 3)
	clean.ready(t, cs)
	cleanCalls := clean.calls()
	want := clean.inventory(t)

	w := newWorld(t, simstack.Options{HetznerRateLimitPerHour: -1})
	for _, c := range w.controllers() {
		if _, err := c.AddFault(simctl.Fault{Pattern: "*", ErrorRate: 0.10, Status: 503}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddFault(simctl.Fault{Pattern: "*", Latency: simctl.Duration(3 * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.stack.Hetzner.Control().AddFault(simctl.Fault{Pattern: "POST /v1/*", RateLimit: true, Times: 5}); err != nil {
		t.Fatal(err)
	}
	rounds := w.converge(t, cs, 6)
	faultCalls := w.calls()
	var injected int64
	for _, c := range w.controllers() {
		injected += c.Injected()
	}
	got := w.inventory(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("clouds differ from a clean apply\n got: %v\nwant: %v", got, want)
	}
	t.Logf("3 customers, %d resources: clean apply %d API calls; with 10%% 5xx, 3 ms latency and 5 forced 429s: %d API calls (%d answered by a fault) in %d apply rounds",
		len(want), cleanCalls, faultCalls, injected, rounds)
	// Call totals alone prove nothing: latency lets async operations finish
	// between polls, so a faulty run can need fewer polls than a clean one.
	if injected < 5 {
		t.Errorf("only %d requests were answered by a fault (at least the 5 forced 429s expected): were the faults applied?", injected)
	}
}

// recorder wraps the real providers and records when each mutating call
// ran, to check the executor's step graph on the real simulators.
type recorder struct {
	reconciler.Provider
	mu       *sync.Mutex
	spans    map[string][2]time.Time
	inFlight *int
	maxIn    *int
}

func (r recorder) record(addr string, call func() error) error {
	r.mu.Lock()
	start := time.Now()
	*r.inFlight++
	*r.maxIn = max(*r.maxIn, *r.inFlight)
	r.mu.Unlock()
	err := call()
	r.mu.Lock()
	*r.inFlight--
	r.spans[addr] = [2]time.Time{start, time.Now()}
	r.mu.Unlock()
	return err
}

func (r recorder) Create(ctx context.Context, res plan.Resource, ids plan.Lookup) (got plan.Resource, err error) {
	err = r.record(res.Address().String(), func() error { got, err = r.Provider.Create(ctx, res, ids); return err })
	return got, err
}

// TestApplyRunsIndependentStepsTogether: a new customer's steps overlap
// where they are independent, and no step starts before a step it waits
// for (plan.StepWaits) has finished; the result is what a strictly ordered
// apply makes.
func TestApplyRunsIndependentStepsTogether(t *testing.T) {
	cs := customers(t, 3)[2:] // an enterprise customer: two servers
	serial := newWorld(t, simstack.Options{HetznerRateLimitPerHour: -1})
	conv := &reconciler.Converger{Providers: serial.providers, Store: serial.store, FrontendSSHKey: serial.stack.FrontendSSHKey(),
		Holder: "e2e", Who: "test", StepConcurrency: 1}
	observed, p := serial.plan(t, cs)
	if res, err := conv.Converge(context.Background(), p, observed); err != nil || res.Err() != nil {
		t.Fatalf("serial apply: %v %v", err, res.Err())
	}
	want := serial.inventory(t)

	w := newWorld(t, simstack.Options{HetznerRateLimitPerHour: -1})
	for _, c := range w.controllers() { // every call takes a while, so overlaps show
		if _, err := c.AddFault(simctl.Fault{Pattern: "*", Latency: simctl.Duration(5 * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	spans := map[string][2]time.Time{}
	var inFlight, maxIn int
	wrapped := map[plan.Cloud]reconciler.Provider{}
	for cloud, p := range w.providers {
		wrapped[cloud] = recorder{Provider: p, mu: &mu, spans: spans, inFlight: &inFlight, maxIn: &maxIn}
	}
	conv = &reconciler.Converger{Providers: wrapped, Store: w.store, FrontendSSHKey: w.stack.FrontendSSHKey(), Holder: "e2e", Who: "test"}
	observed, p = w.plan(t, cs)
	res, err := conv.Converge(context.Background(), p, observed)
	if err != nil || res.Err() != nil {
		t.Fatalf("apply: %v %v", err, res.Err())
	}
	steps := plan.Steps(p.Actions)
	for i, ws := range plan.StepWaits(p.Actions, steps) {
		for _, j := range ws {
			before, after := spans[steps[j].Address], spans[steps[i].Address]
			if after[0].Before(before[1]) {
				t.Errorf("%s started before %s, which it waits for, finished", steps[i].Address, steps[j].Address)
			}
		}
	}
	if len(spans) != len(steps) {
		t.Errorf("%d create calls for %d steps", len(spans), len(steps))
	}
	if maxIn < 2 {
		t.Errorf("at most %d step(s) ran at once: independent steps were not overlapped", maxIn)
	}
	if got := w.inventory(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the overlapped apply built something else than the ordered one\n got: %v\nwant: %v", got, want)
	}
	t.Logf("%d steps, up to %d at once", len(steps), maxIn)
}
