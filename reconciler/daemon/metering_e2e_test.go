package daemon_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon"
)

// vclock is a virtual clock that moves a minute each time it is read.
type vclock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *vclock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

func (c *vclock) jump(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *vclock) read() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// TestDaemonMetersUsageAcrossARestartAndDowntime (issue 12, metering):
// the daemon meters what it observes, a virtual minute per sample; it is
// stopped, three hours pass, and a new daemon on the same state file goes
// on. Every hour is recorded once; the downtime is carried forward and
// marked estimated.
func TestDaemonMetersUsageAcrossARestartAndDowntime(t *testing.T) {
	f := newFixture(t)
	f.push(t, "beta", map[string]string{"beta.yaml": beta})
	clock := &vclock{t: time.Date(2026, 12, 4, 1, 30, 0, 0, time.UTC)}
	var frozen sync.Mutex // held while the first daemon converges: no samples yet
	frozen.Lock()
	mod := func(c *daemon.Config) {
		c.MeterInterval = 5 * time.Millisecond
		c.Now = func() time.Time { frozen.Lock(); defer frozen.Unlock(); return clock.Now() }
	}
	_, stop := f.startMod(t, 100*time.Millisecond, mod)
	waitFor(t, 60*time.Second, "beta synced", f.synced("beta", head(t, f.work)))
	frozen.Unlock()
	waitFor(t, 30*time.Second, "two virtual hours", func() bool { return clock.read().After(time.Date(2026, 12, 4, 4, 5, 0, 0, time.UTC)) })
	stop()
	clock.jump(3 * time.Hour)
	_, stop = f.startMod(t, 100*time.Millisecond, mod)
	waitFor(t, 30*time.Second, "an hour after the restart", func() bool { return clock.read().After(time.Date(2026, 12, 4, 8, 30, 0, 0, time.UTC)) })
	stop()

	recs, err := f.store.Usage("beta", time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[time.Time]bool{}
	estimated := 0
	for _, r := range recs {
		if seen[r.Hour] {
			t.Fatalf("hour %s recorded twice", r.Hour)
		}
		seen[r.Hour] = true
		total := 0.0
		for _, v := range r.ServerHours {
			total += v
		}
		if total <= 0 || r.VolumeGBHours <= 0 {
			t.Errorf("%s: %+v, want server-hours and volume GB-hours of a converged pro customer", r.Hour.Format("15:04"), r)
		}
		if r.Estimated {
			estimated++
		}
	}
	// 01:00 … 07:00 closed (08:00 is open): seven hours, and the three of
	// the downtime are estimated (plus the partial first hour and the
	// hour the first daemon stopped in).
	for h := time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC); h.Before(time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)); h = h.Add(time.Hour) {
		if !seen[h] {
			t.Errorf("hour %s not metered", h.Format("15:04"))
		}
	}
	if estimated < 3 {
		t.Errorf("%d estimated hours, want at least the 3 of the downtime", estimated)
	}
	d, _ := f.startMod(t, time.Hour, nil)
	body, err := d.Usage(context.Background(), "beta", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || len(body) != len(recs) {
		t.Fatalf("Usage through the daemon: %d records, %v; want %d", len(body), err, len(recs))
	}
}

// tenMinutes is a virtual clock that moves ten minutes per reading and
// can be frozen while the daemon converges.
type tenMinutes struct {
	mu     sync.Mutex
	t      time.Time
	frozen sync.Mutex
}

func (c *tenMinutes) Now() time.Time {
	c.frozen.Lock()
	defer c.frozen.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(10 * time.Minute)
	return c.t
}

func (c *tenMinutes) read() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// TestRunawayRaisesACostAnomalyInTheDaemon (issue 12, cost anomalies):
// two virtual days at one server, then a runaway to four servers for a
// day: the customer's view carries the anomaly, naming the servers.
func TestRunawayRaisesACostAnomalyInTheDaemon(t *testing.T) {
	f := newFixture(t)
	clock := &tenMinutes{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	clock.frozen.Lock()
	f.push(t, "beta", map[string]string{"beta.yaml": beta})
	d, _ := f.startMod(t, 100*time.Millisecond, func(c *daemon.Config) {
		c.MeterInterval = 2 * time.Millisecond
		c.Now = clock.Now
	})
	waitFor(t, 60*time.Second, "beta synced", f.synced("beta", head(t, f.work)))
	clock.frozen.Unlock()
	waitFor(t, 60*time.Second, "two virtual days", func() bool { return clock.read().After(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)) })
	clock.frozen.Lock()
	if v, _ := d.Customer(context.Background(), "beta"); v.CostAnomaly != nil {
		t.Fatalf("anomaly before the runaway: %+v", v.CostAnomaly)
	}
	f.push(t, "runaway", map[string]string{"beta.yaml": beta + "compute:\n  minServers: 4\n  maxServers: 4\n"})
	waitFor(t, 60*time.Second, "beta at four servers", f.synced("beta", head(t, f.work)))
	runawayAt := clock.read()
	clock.frozen.Unlock()
	waitFor(t, 60*time.Second, "a virtual day of runaway", func() bool { return clock.read().After(runawayAt.Add(26 * time.Hour)) })
	clock.frozen.Lock()
	defer clock.frozen.Unlock()
	v, err := d.Customer(context.Background(), "beta")
	if err != nil {
		t.Fatal(err)
	}
	a := v.CostAnomaly
	if a == nil {
		t.Fatal("no cost anomaly after a day at four times the servers")
	}
	if !strings.Contains(strings.Join(a.Causes, "\n"), "hetzner_server") || a.DailyUSD < 1.5*a.BaselineUSD {
		t.Fatalf("anomaly %+v, want the servers named and the day above 1.5× the baseline", a)
	}
	t.Logf("anomaly: %s; causes: %v", a.Reason, a.Causes)
}
