package autoscale

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/schema"
)

const cust = "acme"

// tick is one Evaluate of the rule table: the observed state, the metrics
// and what must come out.
type tick struct {
	at      time.Duration // since the start
	servers int           // observed servers srv-1..N
	hosts   int           // observed hosts srv-1..N (0: same as servers, -1: none)
	cpu     float64       // every host's CPU %; NaN: hosts not reported
	cpuBy   map[int]float64
	volume  int     // observed volume GB (0: none)
	used    float64 // datastore used %; NaN: not reported
	// file edits for this and later ticks
	maxServers, maxGB int
	suspended         bool
	want              []string // "servers 1→3"
	reason            string   // substring of the joined reasons
	target            plan.Scale
}

func TestRules(t *testing.T) {
	nan := math.NaN()
	// pro defaults: servers 1..4, step 2, cpu 80 / low 30, cooldown 5m;
	// volume 50..500 GB, +50 GB above 80 % used; window 5m.
	for _, tc := range []struct {
		name  string
		ticks []tick
	}{
		{"window must span half of it before a decision", []tick{
			{at: 0, servers: 1, cpu: 95, used: nan, volume: 50},
			{at: time.Minute, servers: 1, cpu: 95, used: nan, volume: 50},
			{at: 2 * time.Minute, servers: 1, cpu: 95, used: nan, volume: 50},
			{at: 2*time.Minute + 30*time.Second, servers: 1, cpu: 95, used: nan, volume: 50,
				want: []string{"servers 1→3"}, reason: "avg host CPU 95% > 80% over 5m0s on 1 host: +2 servers", target: plan.Scale{Servers: 3}},
		}},
		{"one sample is never enough", []tick{
			{at: 0, servers: 1, cpu: 99, used: nan},
			{at: 10 * time.Minute, servers: 1, cpu: 99, used: nan},
		}},
		{"threshold is strict", []tick{
			{at: 0, servers: 2, cpu: 80, used: nan},
			{at: 3 * time.Minute, servers: 2, cpu: 80, used: nan},
			{at: 10 * time.Minute, servers: 2, cpu: 30, used: nan},
			{at: 13 * time.Minute, servers: 2, cpu: 30, used: nan},
		}},
		{"average over hosts and samples", []tick{
			{at: 0, servers: 2, cpuBy: map[int]float64{1: 100, 2: 70}, used: nan},              // 85
			{at: 3 * time.Minute, servers: 2, cpuBy: map[int]float64{1: 90, 2: 60}, used: nan}, // 75; window 80

			{at: 4 * time.Minute, servers: 2, cpuBy: map[int]float64{1: 100, 2: 90}, used: nan, // 95; window 85
				want: []string{"servers 2→4"}, reason: "avg host CPU 85% > 80% over 5m0s on 2 hosts", target: plan.Scale{Servers: 4}},
		}},
		{"old samples leave the window", []tick{
			{at: 0, servers: 2, cpu: 100, used: nan},
			{at: 6 * time.Minute, servers: 2, cpu: 75, used: nan},
			{at: 9 * time.Minute, servers: 2, cpu: 75, used: nan}, // with the 100 % sample it would average 83
		}},
		{"hosts without data are not counted", []tick{
			{at: 0, servers: 2, cpuBy: map[int]float64{1: 90}, used: nan},
			{at: 3 * time.Minute, servers: 2, cpuBy: map[int]float64{1: 90}, used: nan,
				want: []string{"servers 2→4"}, reason: "on 1 host:", target: plan.Scale{Servers: 4}},
		}},
		{"no hosts observed: no decision", []tick{
			{at: 0, servers: 2, hosts: -1, cpu: 95, used: nan},
			{at: 3 * time.Minute, servers: 2, hosts: -1, cpu: 95, used: nan},
		}},
		{"capped at max", []tick{
			{at: 0, servers: 3, cpu: 95, used: nan},
			{at: 3 * time.Minute, servers: 3, cpu: 95, used: nan,
				want: []string{"servers 3→4"}, reason: "+1 server (capped at maxServers 4)", target: plan.Scale{Servers: 4}},
		}},
		{"at max nothing", []tick{
			{at: 0, servers: 4, cpu: 95, used: nan},
			{at: 3 * time.Minute, servers: 4, cpu: 95, used: nan},
		}},
		{"scale in removes the highest servers", []tick{
			{at: 0, servers: 4, cpu: 10, used: nan},
			{at: 3 * time.Minute, servers: 4, cpu: 10, used: nan,
				want:   []string{"servers 4→2"},
				reason: "avg host CPU 10% < 30% over 5m0s on 4 hosts: -2 servers (removes agentvdc-acme-srv-4, agentvdc-acme-srv-3)",
				target: plan.Scale{Servers: 2}},
		}},
		{"floored at min", []tick{
			{at: 0, servers: 2, cpu: 5, used: nan},
			{at: 3 * time.Minute, servers: 2, cpu: 5, used: nan,
				want: []string{"servers 2→1"}, reason: "(floored at minServers 1)", target: plan.Scale{Servers: 1}},
		}},
		{"at min nothing", []tick{
			{at: 0, servers: 1, cpu: 5, used: nan},
			{at: 3 * time.Minute, servers: 1, cpu: 5, used: nan},
		}},
		{"target pending until reached, then cooldown, then max", []tick{
			{at: 0, servers: 1, cpu: 95, used: nan},
			{at: 3 * time.Minute, servers: 1, cpu: 95, used: nan, want: []string{"servers 1→3"}, target: plan.Scale{Servers: 3}},
			{at: 9 * time.Minute, servers: 1, cpu: 95, used: nan, target: plan.Scale{Servers: 3}}, // not applied yet: pending
			{at: 12 * time.Minute, servers: 1, cpu: 95, used: nan, target: plan.Scale{Servers: 3}},
			{at: 13 * time.Minute, servers: 3, cpu: 95, used: nan}, // reached: cleared; 3 hosts restart the window
			{at: 14 * time.Minute, servers: 3, cpu: 95, used: nan},
			{at: 16 * time.Minute, servers: 3, cpu: 95, used: nan,
				want: []string{"servers 3→4"}, target: plan.Scale{Servers: 4}},
			{at: 17 * time.Minute, servers: 4, cpu: 95, used: nan},
			{at: 30 * time.Minute, servers: 4, cpu: 95, used: nan},
		}},
		{"cooldown since the last decision", []tick{
			{at: 0, servers: 1, cpu: 95, used: nan},
			{at: 3 * time.Minute, servers: 1, cpu: 95, used: nan, want: []string{"servers 1→3"}, target: plan.Scale{Servers: 3}},
			{at: 4 * time.Minute, servers: 3, cpu: 10, used: nan},
			{at: 7 * time.Minute, servers: 3, cpu: 10, used: nan}, // window full, 4m since the decision < 5m
			{at: 8 * time.Minute, servers: 3, cpu: 10, used: nan,
				want: []string{"servers 3→1"}, target: plan.Scale{Servers: 1}},
		}},
		{"a file edit lowering max wins over a pending target", []tick{
			{at: 0, servers: 1, cpu: 95, used: nan},
			{at: 3 * time.Minute, servers: 1, cpu: 95, used: nan, want: []string{"servers 1→3"}, target: plan.Scale{Servers: 3}},
			{at: 4 * time.Minute, servers: 1, cpu: 95, used: nan, maxServers: 2, target: plan.Scale{Servers: 2}},
			{at: 5 * time.Minute, servers: 2, cpu: 95, used: nan, maxServers: 2},
		}},
		{"a file edit lowering max to the observed count clears the target", []tick{
			{at: 0, servers: 1, cpu: 95, used: nan},
			{at: 3 * time.Minute, servers: 1, cpu: 95, used: nan, want: []string{"servers 1→3"}, target: plan.Scale{Servers: 3}},
			{at: 4 * time.Minute, servers: 1, cpu: 95, used: nan, maxServers: 1},
		}},
		{"observed above max: the plan scales in, not the autoscaler", []tick{
			{at: 0, servers: 4, cpu: 5, used: nan, maxServers: 3},
			{at: 3 * time.Minute, servers: 4, cpu: 5, used: nan, maxServers: 3},
		}},
		{"suspended: skipped, pending target dropped", []tick{
			{at: 0, servers: 1, cpu: 95, used: nan},
			{at: 3 * time.Minute, servers: 1, cpu: 95, used: nan, want: []string{"servers 1→3"}, target: plan.Scale{Servers: 3}},
			{at: 4 * time.Minute, servers: 1, cpu: 95, used: 99, volume: 50, suspended: true},
			{at: 20 * time.Minute, servers: 1, cpu: 95, used: 99, volume: 50, suspended: true},
		}},
		{"storage grows by step, pending until reached, cooldown, capped, never past max", []tick{
			{at: 0, servers: 1, cpu: nan, volume: 400, used: 85,
				want: []string{"storage_gb 400→450"}, reason: "datastore agentvdc-acme-system 85% used > 80%: +50 GB (400 → 450 GB)", target: plan.Scale{VolumeGB: 450}},
			{at: 12 * time.Minute, servers: 1, cpu: nan, volume: 400, used: 85, target: plan.Scale{VolumeGB: 450}},
			{at: 13 * time.Minute, servers: 1, cpu: nan, volume: 470, used: 85, // above the target counts as reached
				want: []string{"storage_gb 470→500"}, reason: "+30 GB (470 → 500 GB) (capped at maxGB 500)", target: plan.Scale{VolumeGB: 500}},
			{at: 14 * time.Minute, servers: 1, cpu: nan, volume: 500, used: 95},
			{at: 60 * time.Minute, servers: 1, cpu: nan, volume: 500, used: 95},
		}},
		{"storage cooldown is 10 minutes", []tick{
			{at: 0, servers: 1, cpu: nan, volume: 50, used: 90, want: []string{"storage_gb 50→100"}, target: plan.Scale{VolumeGB: 100}},
			{at: time.Minute, servers: 1, cpu: nan, volume: 100, used: 90},
			{at: 9 * time.Minute, servers: 1, cpu: nan, volume: 100, used: 90},
			{at: 10 * time.Minute, servers: 1, cpu: nan, volume: 100, used: 90, want: []string{"storage_gb 100→150"}, target: plan.Scale{VolumeGB: 150}},
		}},
		{"storage threshold is strict and volume never shrinks", []tick{
			{at: 0, servers: 1, cpu: nan, volume: 100, used: 80},
			{at: time.Hour, servers: 1, cpu: nan, volume: 100, used: 1},
		}},
		{"storage without an observed volume waits", []tick{
			{at: 0, servers: 1, cpu: nan, used: 99},
		}},
		{"a lowered maxGB clamps the volume target", []tick{
			{at: 0, servers: 1, cpu: nan, volume: 100, used: 90, want: []string{"storage_gb 100→150"}, target: plan.Scale{VolumeGB: 150}},
			{at: time.Minute, servers: 1, cpu: nan, volume: 100, used: 90, maxGB: 120, target: plan.Scale{VolumeGB: 120}},
			{at: 2 * time.Minute, servers: 1, cpu: nan, volume: 120, used: 90, maxGB: 120},
		}},
		{"compute and storage in one evaluation", []tick{
			{at: 0, servers: 2, cpu: 90, volume: 50, used: nan},
			{at: 3 * time.Minute, servers: 2, cpu: 90, volume: 50, used: 81,
				want: []string{"servers 2→4", "storage_gb 50→100"}, target: plan.Scale{Servers: 4, VolumeGB: 100}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCustomers(t, "pro", map[string]string{cust: ""})[0]
			m := &fakeMetrics{}
			clk := newClock()
			t0 := clk.Now()
			s := New(Options{Metrics: m, Now: clk.Now})
			var got []Decision
			for i, tk := range tc.ticks {
				clk.Set(t0.Add(tk.at))
				if tk.maxServers > 0 {
					c.Compute.MaxServers = tk.maxServers
				}
				if tk.maxGB > 0 {
					c.Storage.MaxGB = tk.maxGB
				}
				c.Suspended = tk.suspended
				hosts := tk.hosts
				if hosts == 0 {
					hosts = tk.servers
				}
				m.cpu, m.used = map[string]float64{}, map[string]float64{}
				for n := 1; n <= hosts; n++ {
					if v, ok := tk.cpuBy[n]; ok {
						m.cpu[plan.ServerName(cust, n)] = v
					} else if tk.cpuBy == nil && !math.IsNaN(tk.cpu) {
						m.cpu[plan.ServerName(cust, n)] = tk.cpu
					}
				}
				if !math.IsNaN(tk.used) {
					m.used[plan.SystemDatastoreName(cust)] = tk.used
				}
				obs := observedFor(cust, seq(1, tk.servers), seq(1, max(hosts, 0)), tk.volume)
				ds, err := s.Evaluate(context.Background(), []schema.Customer{c}, obs)
				if err != nil {
					t.Fatalf("tick %d: %v", i, err)
				}
				var short, reasons []string
				for _, d := range ds {
					short = append(short, fmt.Sprintf("%s %d→%d", d.Resource, d.From, d.To))
					reasons = append(reasons, d.Reason)
					if d.Customer != cust || !d.At.Equal(clk.Now()) {
						t.Errorf("tick %d: decision %+v: wrong customer or time", i, d)
					}
				}
				if diff := cmp.Diff(tk.want, short); diff != "" {
					t.Errorf("tick %d (+%s): decisions (-want +got):\n%s\nreasons: %q", i, tk.at, diff, reasons)
				}
				if tk.reason != "" && !strings.Contains(strings.Join(reasons, "\n"), tk.reason) {
					t.Errorf("tick %d: reasons %q lack %q", i, reasons, tk.reason)
				}
				if gotT := s.Targets()[cust]; gotT != tk.target {
					t.Errorf("tick %d (+%s): target %+v, want %+v", i, tk.at, gotT, tk.target)
				}
				got = append(got, ds...)
			}
			if m.cpuCalls != len(tc.ticks) || m.usedCalls != len(tc.ticks) {
				t.Errorf("metric calls %d/%d for %d evaluations, want one each", m.cpuCalls, m.usedCalls, len(tc.ticks))
			}
			if diff := cmp.Diff(got, s.Recent(cust)); len(got) > 0 && diff != "" {
				t.Errorf("Recent differs from the returned decisions:\n%s", diff)
			}
		})
	}
}

func TestCost(t *testing.T) {
	const eur, usd = 12.49, 1.10
	prices := plan.DefaultExoscalePrices()
	prices.EURToUSD = usd
	prices.HetznerServerMonthly = map[string]map[string]float64{"ccx13": {"fsn1": eur}}
	for _, tc := range []struct {
		name     string
		servers  int
		cpu      float64
		volume   int
		used     float64
		prices   plan.Prices
		resource string
		want     float64
		unpriced bool
	}{
		{"two servers added", 1, 95, 0, 0, prices, ResourceServers, math.Round(2*eur*usd*100) / 100, false},
		{"two servers removed", 4, 5, 0, 0, prices, ResourceServers, -math.Round(2*eur*usd*100) / 100, false},
		{"server type without a price", 1, 95, 0, 0, plan.Prices{}, ResourceServers, 0, true},
		{"50 GB at the configured price", 1, 50, 100, 90, prices, ResourceStorageGB, math.Round(50*prices.ExoscaleVolumeGBMonthly*usd*100) / 100, false},
		{"50 GB at the default price", 1, 50, 100, 90, plan.Prices{}, ResourceStorageGB,
			math.Round(50*plan.DefaultExoscalePrices().ExoscaleVolumeGBMonthly*plan.DefaultEURToUSD*100) / 100, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCustomers(t, "pro", map[string]string{cust: ""})[0]
			clk := newClock()
			t0 := clk.Now()
			m := &fakeMetrics{cpu: map[string]float64{}, used: map[string]float64{plan.SystemDatastoreName(cust): tc.used}}
			for n := 1; n <= tc.servers; n++ {
				m.cpu[plan.ServerName(cust, n)] = tc.cpu
			}
			s := New(Options{Metrics: m, Now: clk.Now, Prices: func() plan.Prices { return tc.prices }})
			obs := observedFor(cust, seq(1, tc.servers), seq(1, tc.servers), tc.volume)
			var ds []Decision
			for _, at := range []time.Duration{0, 3 * time.Minute} {
				clk.Set(t0.Add(at))
				got, err := s.Evaluate(context.Background(), []schema.Customer{c}, obs)
				if err != nil {
					t.Fatal(err)
				}
				ds = append(ds, got...)
			}
			if len(ds) != 1 || ds[0].Resource != tc.resource {
				t.Fatalf("decisions %+v, want one of %s", ds, tc.resource)
			}
			if ds[0].MonthlyCostDeltaUSD != tc.want || ds[0].Unpriced != tc.unpriced {
				t.Errorf("cost %v unpriced %v, want %v %v", ds[0].MonthlyCostDeltaUSD, ds[0].Unpriced, tc.want, tc.unpriced)
			}
		})
	}
}

func TestMetricErrors(t *testing.T) {
	c := loadCustomers(t, "pro", map[string]string{cust: ""})[0]
	obs := observedFor(cust, seq(1, 1), seq(1, 1), 100)
	boom := errors.New("hostpool unreachable")
	for _, tc := range []struct {
		name            string
		cpuErr, usedErr error
		wantN           int
		wantErr         bool
	}{
		{"host cpu fails: storage still decides", boom, nil, 1, true},
		{"datastore fails: error, no storage decision", nil, boom, 0, true},
		{"both fail", boom, boom, 0, true},
		{"none fails", nil, nil, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeMetrics{cpuErr: tc.cpuErr, usedErr: tc.usedErr,
				cpu: map[string]float64{plan.ServerName(cust, 1): 50}, used: map[string]float64{plan.SystemDatastoreName(cust): 95}}
			s := New(Options{Metrics: m, Now: newClock().Now})
			ds, err := s.Evaluate(context.Background(), []schema.Customer{c}, obs)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, boom)) {
				t.Errorf("err %v, want error %v wrapping %v", err, tc.wantErr, boom)
			}
			if len(ds) != tc.wantN {
				t.Errorf("decisions %+v, want %d", ds, tc.wantN)
			}
			if m.cpuCalls != 1 || m.usedCalls != 1 {
				t.Errorf("calls %d/%d, want 1/1", m.cpuCalls, m.usedCalls)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	c := loadCustomers(t, "pro", map[string]string{cust: ""})[0]
	noName := c
	noName.Name = ""
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		s    *Scaler
		ctx  context.Context
		cs   []schema.Customer
		want string
	}{
		{"no metrics", New(Options{}), context.Background(), []schema.Customer{c}, "no metrics source"},
		{"duplicate customer", New(Options{Metrics: &fakeMetrics{}}), context.Background(), []schema.Customer{c, c}, "given twice"},
		{"customer without a name", New(Options{Metrics: &fakeMetrics{}}), context.Background(), []schema.Customer{noName}, "has no name"},
		{"cancelled", New(Options{Metrics: &fakeMetrics{}}), ctx, []schema.Customer{c}, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := tc.s.Evaluate(tc.ctx, tc.cs, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || ds != nil {
				t.Errorf("got %v, %v; want error containing %q", ds, err, tc.want)
			}
		})
	}
}

// TestCustomersIndependent: many customers in one observed list, each
// scaled by its own hosts only; resources found by label or Customer field.
func TestCustomersIndependent(t *testing.T) {
	cs := loadCustomers(t, "pro", map[string]string{"hot": "", "cold": "", "calm": "", "gone": "suspended: true\n"})
	m := &fakeMetrics{cpu: map[string]float64{}, used: map[string]float64{}}
	var obs []plan.Resource
	for name, cpu := range map[string]float64{"hot": 95, "cold": 5, "calm": 50, "gone": 99} {
		obs = append(obs, observedFor(name, seq(1, 3), seq(1, 3), 100)...)
		for n := 1; n <= 3; n++ {
			m.cpu[plan.ServerName(name, n)] = cpu
		}
	}
	// A host of another customer named like hot's would be ignored: hosts
	// are matched by customer and name.
	m.cpu["agentvdc-hot-srv-9"] = 0
	clk := newClock()
	t0 := clk.Now()
	s := New(Options{Metrics: m, Now: clk.Now})
	var got []string
	for _, at := range []time.Duration{0, 3 * time.Minute} {
		clk.Set(t0.Add(at))
		ds, err := s.Evaluate(context.Background(), cs, obs)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			got = append(got, fmt.Sprintf("%s %s %d→%d", d.Customer, d.Resource, d.From, d.To))
		}
	}
	want := []string{"cold servers 3→1", "hot servers 3→4"}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	wantT := map[string]plan.Scale{"cold": {Servers: 1}, "hot": {Servers: 4}}
	if diff := cmp.Diff(wantT, s.Targets()); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	s.Forget("hot")
	if _, ok := s.Targets()["hot"]; ok || s.Recent("hot") != nil {
		t.Error("Forget kept hot's state")
	}
}

func TestSnapshotRestore(t *testing.T) {
	c := loadCustomers(t, "pro", map[string]string{cust: ""})[0]
	m := &fakeMetrics{cpu: map[string]float64{plan.ServerName(cust, 1): 95}, used: map[string]float64{plan.SystemDatastoreName(cust): 90}}
	clk := newClock()
	t0 := clk.Now()
	s := New(Options{Metrics: m, Now: clk.Now})
	obs := observedFor(cust, seq(1, 1), seq(1, 1), 100)
	var made []Decision
	for _, at := range []time.Duration{0, 3 * time.Minute} {
		clk.Set(t0.Add(at))
		ds, err := s.Evaluate(context.Background(), []schema.Customer{c}, obs)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, ds...)
	}
	if len(made) != 2 {
		t.Fatalf("decisions %+v, want servers and storage", made)
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(snap), `"version":1`) {
		t.Errorf("snapshot has no version: %s", snap)
	}

	// A restarted scaler keeps targets, recent decisions and cooldowns.
	r := New(Options{Metrics: m, Now: clk.Now})
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Targets(), r.Targets()); diff != "" {
		t.Errorf("targets after restore (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(made, r.Recent(cust)); diff != "" {
		t.Errorf("recent after restore (-before +after):\n%s", diff)
	}
	// Targets reached; the window refills; still inside both cooldowns.
	reached := observedFor(cust, seq(1, 3), seq(1, 3), 150)
	for _, n := range []int{2, 3} {
		m.cpu[plan.ServerName(cust, n)] = 95
	}
	for _, at := range []time.Duration{4 * time.Minute, 7 * time.Minute, 7*time.Minute + 59*time.Second} {
		clk.Set(t0.Add(at))
		ds, err := r.Evaluate(context.Background(), []schema.Customer{c}, reached)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 0 {
			t.Errorf("+%s: decisions %+v inside the restored cooldown", at, ds)
		}
	}
	clk.Set(t0.Add(8 * time.Minute))
	ds, err := r.Evaluate(context.Background(), []schema.Customer{c}, reached)
	if err != nil || len(ds) != 1 || ds[0].Resource != ResourceServers {
		t.Errorf("after the compute cooldown: %+v, %v; want one servers decision", ds, err)
	}

	for _, tc := range []struct{ name, data, want string }{
		{"newer version", `{"version":2,"customers":{}}`, "newer"},
		{"no version", `{"customers":{}}`, "no version"},
		{"not json", `{`, "restore"},
		{"negative target", `{"version":1,"customers":{"a":{"target":{"servers":-1}}}}`, "negative target"},
		{"empty name", `{"version":1,"customers":{"":{}}}`, "without a name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.Targets()
			err := r.Restore([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
			if diff := cmp.Diff(before, r.Targets()); diff != "" {
				t.Errorf("a refused restore changed state:\n%s", diff)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	cs := loadCustomers(t, "pro", map[string]string{"aa1": "", "aa2": ""})
	m := &fakeMetrics{cpu: map[string]float64{"agentvdc-aa1-srv-1": 90}, used: map[string]float64{}}
	s := New(Options{Metrics: m})
	obs := observedFor("aa1", seq(1, 1), seq(1, 1), 50)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				if _, err := s.Evaluate(context.Background(), cs, obs); err != nil {
					t.Error(err)
				}
				_ = s.Targets()
				_ = s.Recent("aa1")
				if _, err := s.Snapshot(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
