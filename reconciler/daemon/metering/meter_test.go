package metering

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/state"
)

func servers(customer string, types ...string) []plan.Resource {
	var rs []plan.Resource
	for i, t := range types {
		rs = append(rs, plan.Resource{Kind: plan.HetznerServer, Name: customer + "-srv-" + string(rune('1'+i)), Customer: customer,
			Attrs: map[string]string{"server_type": t}})
	}
	rs = append(rs, plan.Resource{Kind: plan.ExoBlockVolume, Name: customer + "-data", Customer: customer, Attrs: map[string]string{"size_gb": "50"}},
		plan.Resource{Kind: plan.ExoInstance, Name: customer + "-storage", Customer: customer, Attrs: map[string]string{"instance_type": "standard.small"}})
	return rs
}

var t0 = time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)

func openStore(t *testing.T, path string) *state.Store {
	t.Helper()
	s, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sampleEveryMinute samples from..to (exclusive) with obs(at).
func sampleEveryMinute(t *testing.T, m *Meter, from, to time.Time, obs func(time.Time) []plan.Resource) {
	t.Helper()
	for at := from; at.Before(to); at = at.Add(time.Minute) {
		if _, err := m.Sample(at, obs(at)); err != nil {
			t.Fatal(err)
		}
	}
}

func usage(t *testing.T, s *state.Store, customer string) map[time.Time]state.UsageRecord {
	t.Helper()
	recs, err := s.Usage(customer, t0.Add(-24*time.Hour), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	out := map[time.Time]state.UsageRecord{}
	for _, r := range recs {
		if _, dup := out[r.Hour]; dup {
			t.Fatalf("hour %s stored twice", r.Hour)
		}
		out[r.Hour] = r
	}
	return out
}

// TestAutoscaledServersBilledForTheHoursTheyRan: a second server from
// 02:20 to 03:40 adds 40 minutes to each hour.
func TestAutoscaledServersBilledForTheHoursTheyRan(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	m := New(s, 0)
	sampleEveryMinute(t, m, t0, t0.Add(2*time.Hour+time.Minute), func(at time.Time) []plan.Resource {
		if !at.Before(t0.Add(20*time.Minute)) && at.Before(t0.Add(100*time.Minute)) {
			return servers("acme", "cx22", "cx22")
		}
		return servers("acme", "cx22")
	})
	u := usage(t, s, "acme")
	for _, h := range []time.Time{t0, t0.Add(time.Hour)} {
		r, ok := u[h]
		if !ok {
			t.Fatalf("no record for %s", h)
		}
		if got := r.ServerHours["cx22"]; got != 1.6667 {
			t.Errorf("%s: %v cx22 hours, want 1.6667", h.Format("15:04"), got)
		}
		if r.VolumeGBHours != 50 || r.StorageNodeHours["standard.small"] != 1 || r.Estimated || r.ObservedMinutes != 60 {
			t.Errorf("%s: %+v", h.Format("15:04"), r)
		}
	}
	if len(u) != 2 {
		t.Errorf("%d hours closed, want 2 (04:00 is still open)", len(u))
	}
}

// TestMeteringAcrossAKillAndDowntime: the daemon is killed at 02:30 (its
// open samples lost) and comes back at 05:30. Every hour from 02:00 to
// 05:00 is counted exactly once, the unobserved time carried forward and
// marked estimated; a second restart counts nothing again.
func TestMeteringAcrossAKillAndDowntime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openStore(t, path)
	one := func(time.Time) []plan.Resource { return servers("acme", "cx32") }
	m := New(s, 0)
	sampleEveryMinute(t, m, t0.Add(-10*time.Minute), t0.Add(30*time.Minute), one)
	// SIGKILL: nothing flushed, the meter is gone; the state file holds
	// what the last committed hour left.
	s.Close()
	s = openStore(t, path)
	m = New(s, 0)
	sampleEveryMinute(t, m, t0.Add(3*time.Hour+30*time.Minute), t0.Add(4*time.Hour+10*time.Minute), one)
	u := usage(t, s, "acme")
	for i, wantObserved := range []float64{10, 0, 0, 30} {
		h := t0.Add(time.Duration(i) * time.Hour)
		r, ok := u[h]
		if !ok {
			t.Fatalf("hour %s missing", h.Format("15:04"))
		}
		if r.ServerHours["cx32"] != 1 {
			t.Errorf("%s: %v server-hours, want 1 (carried forward)", h.Format("15:04"), r.ServerHours)
		}
		if !r.Estimated || r.ObservedMinutes != wantObserved {
			t.Errorf("%s: estimated %v, observed %v min, want estimated with %v", h.Format("15:04"), r.Estimated, r.ObservedMinutes, wantObserved)
		}
	}
	// 01:00 was the first, partial hour; 06:00 is open.
	if len(u) != 5 {
		t.Errorf("%d hours recorded, want 5 (01:00 to 05:00)", len(u))
	}
	// Another restart replaying the same times writes nothing new.
	s.Close()
	s = openStore(t, path)
	m = New(s, 0)
	for at := t0.Add(4*time.Hour + 10*time.Minute); at.Before(t0.Add(5*time.Hour + 5*time.Minute)); at = at.Add(time.Minute) {
		if _, err := m.Sample(at, one(at)); err != nil {
			t.Fatal(err)
		}
	}
	// A clock that jumps back is ignored, not double counted.
	if n, err := m.Sample(t0.Add(time.Hour), one(t0)); err != nil || n != 0 {
		t.Fatalf("sample in a closed hour: %d written, %v", n, err)
	}
	u = usage(t, s, "acme")
	if r := u[t0.Add(4*time.Hour)]; r.ServerHours["cx32"] != 1 || r.Estimated {
		t.Errorf("06:00 after the second restart: %+v, want 1 observed server-hour", r)
	}
	if len(u) != 6 {
		t.Errorf("%d hours, want 6", len(u))
	}
}
