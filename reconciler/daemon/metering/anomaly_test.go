package metering

import (
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/state"
)

func hours(from time.Time, n int, servers float64, gb float64) []state.UsageRecord {
	var out []state.UsageRecord
	for i := 0; i < n; i++ {
		out = append(out, state.UsageRecord{Customer: "acme", Hour: from.Add(time.Duration(i) * time.Hour),
			ServerHours: map[string]float64{"ccx13": servers}, StorageNodeHours: map[string]float64{"standard.small": 1}, VolumeGBHours: gb, ObservedMinutes: 60})
	}
	return out
}

func prices() plan.Prices {
	p := plan.DefaultExoscalePrices()
	p.HetznerServerMonthly = map[string]map[string]float64{"ccx13": {"fsn1": 12.49}}
	return p
}

// TestRunawayRaisesACostAnomaly: a week at one server, then the
// autoscaler pushes the customer to its maximum of 8 for a day.
func TestRunawayRaisesACostAnomaly(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	recs := append(hours(start, 7*24, 1, 50), hours(start.Add(7*24*time.Hour), 24, 8, 50)...)
	until := start.Add(8 * 24 * time.Hour)
	decisions := []autoscale.Decision{{Customer: "acme", At: start.Add(7*24*time.Hour + 10*time.Minute), Resource: autoscale.ResourceServers, From: 1, To: 8, Reason: "cpu 97% > 80%"}}
	a := Detect("acme", recs, 25, prices(), "fsn1", decisions, until, AnomalyRule{AboveListPrice: true})
	if a == nil {
		t.Fatal("no anomaly for a day at 8× the servers")
	}
	joined := strings.Join(a.Causes, "\n")
	for _, want := range []string{"hetzner_server ccx13: 8.0 on average (baseline 1.0)", "autoscaler at 2026-11-08 00:10: servers 1 → 8 (cpu 97% > 80%)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("causes lack %q:\n%s", want, joined)
		}
	}
	if !strings.Contains(a.Reason, "baseline") || a.DailyUSD <= 2*a.BaselineUSD {
		t.Errorf("anomaly %+v", a)
	}
	// The same usage every day is normal (against the baseline; the pro
	// tier at its defaults costs more than its list price today, which
	// AboveListPrice would flag: issue 12).
	if a := Detect("acme", hours(start, 8*24, 1, 50), 25, prices(), "fsn1", nil, until, AnomalyRule{}); a != nil {
		t.Errorf("steady usage flagged: %+v", a)
	}
	// An incomplete day says nothing.
	if a := Detect("acme", recs[:len(recs)-2], 25, prices(), "fsn1", nil, until, AnomalyRule{}); a != nil {
		t.Errorf("incomplete day flagged: %+v", a)
	}
	// Cost above the list price is flagged without a baseline.
	if a := Detect("acme", hours(until.Add(-24*time.Hour), 24, 30, 50), 25, prices(), "fsn1", nil, until, AnomalyRule{AboveListPrice: true}); a == nil || !strings.Contains(a.Reason, "above the list price") {
		t.Errorf("30 servers for a $25 tier: %+v", a)
	}
}
