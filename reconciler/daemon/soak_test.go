package daemon_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/state"
)

// BenchmarkDaemonConverge is the soak: N customers (VDC_BENCH_CUSTOMERS,
// default 1000) pushed to an empty fleet; it reports the time to converge,
// the API calls that took, the steady-state API calls per hour at the
// drift interval the daemon chose for Hetzner's budget, and memory.
func BenchmarkDaemonConverge(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("VDC_BENCH_CUSTOMERS")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		f := newFixture(b)
		files := map[string]string{}
		tiers := []string{"casual", "pro", "enterprise"}
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("c%04d", i)
			files[name+".yaml"] = fmt.Sprintf("name: %s\ndisplayName: C%d\nowner: ops@c%d.example\ntier: %s\n", name, i, i, tiers[i%3])
		}
		f.push(b, "fleet", files)
		ctls := []*simctl.Controller{f.stack.Hetzner.Control(), f.stack.Exoscale.Control(), f.stack.ONE.Control()}
		calls := func() (n int64) {
			for _, c := range ctls {
				n += c.Total("*")
			}
			return n
		}
		start := time.Now()
		d := f.startWith(b, func(c *daemon.Config) {
			c.Workers = 8
			c.DriftMin = time.Minute
			c.HetznerLimitPerHour = 3600
		})
		for {
			list, err := f.store.ListStatus()
			if err != nil {
				b.Fatal(err)
			}
			synced := 0
			for _, cs := range list {
				if cs.Status == state.StatusSynced {
					synced++
				}
			}
			if synced == n {
				break
			}
			if time.Since(start) > 30*time.Minute {
				b.Fatalf("%d of %d synced after 30 minutes", synced, n)
			}
			time.Sleep(200 * time.Millisecond)
		}
		converge := time.Since(start)
		convergeCalls := calls()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)

		// Steady state: one full refresh, costed at the daemon's interval.
		interval := d.DriftInterval()
		refresh := refreshCalls(b, f)
		perHour := float64(refresh) * float64(time.Hour) / float64(interval)
		b.ReportMetric(converge.Seconds(), "s-to-converge")
		b.ReportMetric(float64(convergeCalls), "api-calls-to-converge")
		b.ReportMetric(float64(refresh), "api-calls/refresh")
		b.ReportMetric(interval.Seconds(), "s-drift-interval")
		b.ReportMetric(perHour, "steady-api-calls/h")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		b.Logf("%d customers: converged in %s with %d API calls; steady state %d calls per refresh every %s = %.0f calls/h; heap %d MiB",
			n, converge.Round(time.Second), convergeCalls, refresh, interval.Round(time.Second), perHour, ms.HeapInuse>>20)
	}
}

// refreshCalls measures one full refresh's API calls (all clouds).
func refreshCalls(b *testing.B, f *fixture) int64 {
	ctls := []*simctl.Controller{f.stack.Hetzner.Control(), f.stack.Exoscale.Control(), f.stack.ONE.Control()}
	for _, c := range ctls {
		c.ResetCounters()
	}
	for _, p := range f.ps.All {
		if _, err := p.Observe(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	var n int64
	for _, c := range ctls {
		n += c.Total("*")
	}
	return n
}
