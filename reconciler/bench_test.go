package reconciler_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// BenchmarkApply100NewCustomers applies 100 new customers (about 2,000
// resources) to empty simulators through the real clients.
func BenchmarkApply100NewCustomers(b *testing.B) {
	cs := customers(b, 100)
	for b.Loop() {
		b.StopTimer()
		w := newWorld(b, simstack.Options{HetznerRateLimitPerHour: -1})
		b.StartTimer()
		w.converge(b, cs, 2)
		b.StopTimer()
		b.ReportMetric(float64(w.calls()), "api-calls/op")
		w.stack.Close()
		b.StartTimer()
	}
}

// BenchmarkRefresh counts the API calls and time of one full refresh with
// N customers in the clouds (N from VDC_BENCH_CUSTOMERS, default 1000);
// the fleet is applied once first, which takes minutes at 1,000.
func BenchmarkRefresh(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("VDC_BENCH_CUSTOMERS")); err == nil && v > 0 {
		n = v
	}
	w := newWorld(b, simstack.Options{HetznerRateLimitPerHour: -1})
	start := time.Now()
	w.converge(b, customers(b, n), 2)
	b.Logf("applied %d customers in %s", n, time.Since(start).Round(time.Second))
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		w.resetCalls()
		rs, err := reconciler.Refresh(ctx, w.providers, w.store)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(w.calls()), "api-calls/refresh")
		b.ReportMetric(float64(len(rs)), "resources")
	}
}

// BenchmarkPlan1000WarmCache plans 1,000 converged customers from the
// observed cache in state: no cloud is reachable at all (zero API calls by
// construction). "warm-loader" reuses the loader's content-hash cache, as
// the daemon does; "cold-loader" evaluates every file, as a fresh CLI run.
func BenchmarkPlan1000WarmCache(b *testing.B) {
	cs := customers(b, 1000)
	var observed []plan.Resource
	id := 0
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	blocks, err := plan.AssignBlocks(netip.MustParsePrefix(plan.DefaultAddressPool), nil, names)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range cs {
		for _, r := range plan.Expand(c, blocks[c.Name], nil) {
			id++
			r.ID, r.DependsOn = strconv.Itoa(id), nil
			observed = append(observed, r)
		}
	}
	st, err := state.Open(filepath.Join(b.TempDir(), "state.db"), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	byKind := map[plan.Kind][]plan.Resource{}
	for _, r := range observed {
		byKind[r.Kind] = append(byKind[r.Kind], r)
	}
	if err := st.PutObservedKinds(byKind, time.Now()); err != nil {
		b.Fatal(err)
	}
	files := make([]schema.File, len(cs))
	tiers := []string{"casual", "pro", "enterprise"}
	for i := range files {
		name := fmt.Sprintf("cust-%04d", i)
		files[i] = schema.File{Path: "customers/" + name + ".yaml", Data: fmt.Appendf(nil,
			"name: %s\ndisplayName: C%d\nowner: ops@c%d.example\ntier: %s\nregion: %s\n", name, i, i, tiers[i%3], []string{"fsn1", "nbg1"}[i%2])}
	}
	run := func(b *testing.B, l *schema.Loader) {
		res := l.Load(files)
		obs, at, err := st.Observed()
		if err != nil {
			b.Fatal(err)
		}
		p, err := plan.Build(plan.Input{Commit: "c", Customers: res.Customers, Observed: obs, ObservedAt: at, Now: time.Now(), Prices: plan.DefaultExoscalePrices()})
		if err != nil || p.HasChanges() {
			b.Fatalf("converged fleet planned changes: %v", err)
		}
	}
	b.Run("warm-loader", func(b *testing.B) {
		l, _ := schema.NewLoader()
		l.Load(files)
		var ms runtime.MemStats
		for b.Loop() {
			run(b, l)
		}
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	})
	b.Run("cold-loader", func(b *testing.B) {
		for b.Loop() {
			l, _ := schema.NewLoader()
			run(b, l)
		}
	})
}
