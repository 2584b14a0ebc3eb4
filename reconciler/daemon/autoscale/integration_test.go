package autoscale_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/opennebula"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// The OpenNebula adapter is the autoscaler's Metrics.
var _ autoscale.Metrics = (*opennebula.Provider)(nil)

// loop is the daemon's autoscaling path on the three simulators with the
// real adapters: refresh → Evaluate (OpenNebula adapter as Metrics) →
// plan.Build with Targets → journaled apply.
type loop struct {
	t         *testing.T
	stack     *simstack.Stack
	providers map[plan.Cloud]reconciler.Provider
	one       *opennebula.Provider
	conv      *reconciler.Converger
	prices    plan.Prices
	scaler    *autoscale.Scaler
	start     time.Time
	now       time.Time
	customer  schema.Customer
	decisions []autoscale.Decision
}

func newLoop(t *testing.T, yaml string) *loop {
	t.Helper()
	ctx := context.Background()
	st, err := simstack.Start(simstack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ps, err := st.NewProviders(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	hz, one := ps.Hetzner, ps.OpenNebula
	quiet := slog.New(slog.DiscardHandler)
	store, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hp, err := hz.ServerTypePrices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pr := plan.DefaultExoscalePrices()
	pr.HetznerServerMonthly = hp

	l, err := schema.NewLoader()
	if err != nil {
		t.Fatal(err)
	}
	res := l.Load([]schema.File{{Path: "customers/scaleco.yaml", Data: []byte(
		"name: scaleco\ndisplayName: Scale Co\nowner: ops@scale.example\ntier: pro\nregion: fsn1\n" + yaml)}})
	if !res.OK() {
		t.Fatal(res.Error())
	}
	lp := &loop{t: t, stack: st, one: one, prices: pr, customer: res.Customers[0],
		providers: ps.All,
		start:     time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	lp.conv = &reconciler.Converger{Providers: lp.providers, Store: store, Log: quiet, FrontendSSHKey: st.FrontendSSHKey(), Holder: "autoscale-test", Who: "test"}
	lp.now = lp.start
	lp.scaler = autoscale.New(autoscale.Options{Metrics: one, Now: func() time.Time { return lp.now }, Prices: func() plan.Prices { return lp.prices }})
	lp.converge()
	return lp
}

// converge plans with the scaler's targets and applies until nothing changes.
func (l *loop) converge() []plan.Resource {
	l.t.Helper()
	ctx := context.Background()
	for range 4 {
		observed := l.observe()
		p, err := plan.Build(plan.Input{Commit: "test", Customers: []schema.Customer{l.customer}, Observed: observed,
			Now: time.Now(), Prices: l.prices, Scale: l.scaler.Targets()})
		if err != nil {
			l.t.Fatalf("plan: %v", err)
		}
		if !p.HasChanges() {
			return observed
		}
		res, err := l.conv.Converge(ctx, p, observed)
		if err != nil {
			l.t.Fatalf("apply: %v", err)
		}
		if err := res.Err(); err != nil {
			l.t.Fatalf("apply: %v", err)
		}
	}
	l.t.Fatal("not converged after 4 rounds")
	return nil
}

func (l *loop) observe() []plan.Resource {
	l.t.Helper()
	var all []plan.Resource
	for _, p := range l.providers {
		rs, err := p.Observe(context.Background())
		if err != nil {
			l.t.Fatalf("observe %s: %v", p.Cloud(), err)
		}
		all = append(all, rs...)
	}
	return all
}

// count returns the observed servers, hosts and volume size.
func count(rs []plan.Resource) (servers, hosts, volumeGB int) {
	for _, r := range rs {
		switch r.Kind {
		case plan.HetznerServer:
			servers++
		case plan.ONEHost:
			hosts++
		case plan.ExoBlockVolume:
			volumeGB, _ = strconv.Atoi(r.Attrs["size_gb"])
		}
	}
	return
}

// tick is one evaluation a minute after the last: set the simulated
// metrics on every host and the datastore, evaluate, apply the targets.
func (l *loop) tick(cpu, used float64) []autoscale.Decision {
	l.t.Helper()
	l.now = l.now.Add(time.Minute)
	observed := l.observe()
	for _, r := range observed {
		id, _ := strconv.Atoi(r.ID)
		var err error
		switch r.Kind {
		case plan.ONEHost:
			err = l.stack.ONE.SetHostCPU(id, cpu)
		case plan.ONEDatastore:
			err = l.stack.ONE.SetDatastoreUsed(id, used)
		}
		if err != nil {
			l.t.Fatal(err)
		}
	}
	ctl := l.stack.ONE.Control()
	ctl.ResetCounters()
	ds, err := l.scaler.Evaluate(context.Background(), []schema.Customer{l.customer}, observed)
	if err != nil {
		l.t.Fatalf("evaluate: %v", err)
	}
	if ctl.Total("one.hostpool.info") != 1 || ctl.Total("one.datastorepool.info") != 1 || ctl.Total("*") != 2 {
		l.t.Errorf("evaluate made %v calls, want one hostpool and one datastorepool call", ctl.Counters())
	}
	for _, d := range ds {
		l.t.Logf("+%s %s %s %d→%d %+.2f USD/month: %s", l.now.Sub(l.start), d.Customer, d.Resource, d.From, d.To, d.MonthlyCostDeltaUSD, d.Reason)
	}
	l.decisions = append(l.decisions, ds...)
	l.converge()
	return ds
}

func describe(ds []autoscale.Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s %d→%d", d.Resource, d.From, d.To))
	}
	return out
}

// TestAutoscaleOnSimulators drives the whole path: host CPU 90 % grows the
// servers by step up to max and never past it; CPU 10 % after the cooldown
// shrinks them to min; the datastore 85 % used grows the volume by stepGB
// up to max; a suspended customer gets nothing.
func TestAutoscaleOnSimulators(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: integration test on the three simulators; run it without -short")
	}
	// pro: servers 1..4, step 2, 80 %/30 %, cooldown 5m; volume 50 GB,
	// +50 GB above 80 %, max 120 GB.
	l := newLoop(t, "storage:\n  maxGB: 120\n")
	if s, h, v := count(l.observe()); s != 1 || h != 1 || v != 50 {
		t.Fatalf("after the first apply: %d servers, %d hosts, %d GB; want 1, 1, 50", s, h, v)
	}
	serverUSD := l.prices.HetznerServerMonthly["ccx13"]["fsn1"] * l.prices.EURToUSD
	if serverUSD <= 0 {
		t.Fatalf("the simulator reports no price for ccx13 in fsn1: %v", l.prices.HetznerServerMonthly)
	}

	// Scale out: 1 → 3 → 4, then nothing while CPU stays at 90 %.
	for range 20 {
		l.tick(90, 10)
	}
	got := describe(l.decisions)
	if want := []string{"servers 1→3", "servers 3→4"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("scale-out decisions %v, want %v", got, want)
	}
	if d := l.decisions[0]; !strings.Contains(d.Reason, "avg host CPU 90% > 80% over 5m0s on 1 host: +2 servers") ||
		d.MonthlyCostDeltaUSD != roundCents(2*serverUSD) || d.Unpriced {
		t.Errorf("first decision %+v: want the CPU reason and a cost of 2 × %.4f USD", d, serverUSD)
	}
	if s, h, _ := count(l.observe()); s != 4 || h != 4 {
		t.Fatalf("after scale-out: %d servers, %d hosts; want 4 and 4", s, h)
	}
	if d := l.decisions[1]; d.At.Sub(l.decisions[0].At) < 5*time.Minute {
		t.Errorf("second decision %s after the first, inside the 5m cooldown", d.At.Sub(l.decisions[0].At))
	}
	if tg := l.scaler.Targets(); len(tg) != 0 {
		t.Errorf("targets %v remain after they were reached", tg)
	}

	// Scale in: 4 → 2 → 1 (highest servers removed), then nothing.
	l.decisions = nil
	for range 20 {
		l.tick(10, 10)
	}
	got = describe(l.decisions)
	if want := []string{"servers 4→2", "servers 2→1"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("scale-in decisions %v, want %v", got, want)
	}
	if d := l.decisions[0]; !strings.Contains(d.Reason, "removes agentvdc-scaleco-srv-4, agentvdc-scaleco-srv-3") || d.MonthlyCostDeltaUSD != -roundCents(2*serverUSD) {
		t.Errorf("scale-in decision %+v", d)
	}
	obs := l.observe()
	if s, h, _ := count(obs); s != 1 || h != 1 {
		t.Fatalf("after scale-in: %d servers, %d hosts; want 1 and 1", s, h)
	}
	for _, r := range obs {
		if (r.Kind == plan.HetznerServer || r.Kind == plan.ONEHost) && r.Name != "agentvdc-scaleco-srv-1" {
			t.Errorf("left %s, want only srv-1", r.Address())
		}
	}

	// Storage: 85 % used → 50 → 100 → 120 (capped), never past.
	l.decisions = nil
	for range 30 {
		l.tick(50, 85)
	}
	got = describe(l.decisions)
	if want := []string{"storage_gb 50→100", "storage_gb 100→120"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("storage decisions %v, want %v", got, want)
	}
	volUSD := 50 * l.prices.ExoscaleVolumeGBMonthly * l.prices.EURToUSD
	if d := l.decisions[0]; d.MonthlyCostDeltaUSD != roundCents(volUSD) || !strings.Contains(d.Reason, "datastore agentvdc-scaleco-system 85% used > 80%") {
		t.Errorf("storage decision %+v, want cost %.2f", d, volUSD)
	}
	obs = l.observe()
	if _, _, v := count(obs); v != 120 {
		t.Fatalf("volume %d GB, want 120", v)
	}
	for _, r := range obs {
		if r.Kind == plan.ONEDatastore && r.Attrs["limit_mb"] != strconv.Itoa(120*1024) {
			t.Errorf("datastore limit_mb %s, want %d (follows the volume)", r.Attrs["limit_mb"], 120*1024)
		}
	}

	// Suspended: CPU 95 % and a full datastore change nothing.
	l.customer.Suspended = true
	l.decisions = nil
	for range 12 {
		l.tick(95, 95)
	}
	if len(l.decisions) != 0 {
		t.Errorf("suspended customer got decisions %v", describe(l.decisions))
	}
	if s, h, v := count(l.observe()); s != 1 || h != 1 || v != 120 {
		t.Errorf("suspended customer changed: %d servers, %d hosts, %d GB", s, h, v)
	}
}

func roundCents(v float64) float64 { return math.Round(v*100) / 100 }
