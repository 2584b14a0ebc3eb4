package daemon_test

import (
	"context"
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
