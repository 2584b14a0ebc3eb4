package metering

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/state"
)

// AnomalyRule says when a customer's daily cost is anomalous.
type AnomalyRule struct {
	// BaselineFactor: the last day's cost above this many times the mean
	// daily cost of the BaselineDays before it (default 1.5).
	BaselineFactor float64
	// BaselineDays of history form the baseline (default 7; at least one
	// full day is needed).
	BaselineDays int
	// AboveListPrice also flags a day that costs more than the tier's list
	// price per day (list price × 12 / 365).
	AboveListPrice bool
}

func (r AnomalyRule) withDefaults() AnomalyRule {
	if r.BaselineFactor <= 0 {
		r.BaselineFactor = 1.5
	}
	if r.BaselineDays <= 0 {
		r.BaselineDays = 7
	}
	return r
}

// Anomaly is a customer's cost anomaly on the day ending at Until.
type Anomaly struct {
	Customer     string    `json:"customer"`
	Until        time.Time `json:"until"`
	DailyUSD     float64   `json:"daily_usd"`
	BaselineUSD  float64   `json:"baseline_usd"`
	ListDailyUSD float64   `json:"list_daily_usd"`
	Reason       string    `json:"reason"`
	// Causes name what changed against the baseline: the resources whose
	// average count or size grew, and the autoscaler decisions of the day.
	Causes []string `json:"causes"`
}

// HourlyCostUSD prices one usage record: Hetzner monthly prices spread
// over 730 hours (in location, else the dearest location), Exoscale
// hourly prices and GB-month volume prices.
func HourlyCostUSD(r state.UsageRecord, p plan.Prices, location string) float64 {
	rate := p.EURToUSD
	if rate == 0 {
		rate = plan.DefaultEURToUSD
	}
	eur := 0.0
	for t, h := range r.ServerHours {
		byLoc := p.HetznerServerMonthly[t]
		m, ok := byLoc[location]
		if !ok {
			for _, v := range byLoc {
				m = max(m, v)
			}
		}
		eur += h * m / 730
	}
	for t, h := range r.StorageNodeHours {
		eur += h * p.ExoscaleInstanceHourly[t]
	}
	eur += r.VolumeGBHours * p.ExoscaleVolumeGBMonthly / 730
	return eur * rate
}

// averages of one window: server count by type, node count by type, GB.
type window struct {
	cost           float64
	servers, nodes map[string]float64
	gb             float64
	hours          float64
}

func summarise(recs []state.UsageRecord, p plan.Prices, location string) window {
	w := window{servers: map[string]float64{}, nodes: map[string]float64{}}
	for _, r := range recs {
		w.cost += HourlyCostUSD(r, p, location)
		for t, h := range r.ServerHours {
			w.servers[t] += h
		}
		for t, h := range r.StorageNodeHours {
			w.nodes[t] += h
		}
		w.gb += r.VolumeGBHours
		w.hours++
	}
	if w.hours > 0 {
		for t := range w.servers {
			w.servers[t] /= w.hours
		}
		for t := range w.nodes {
			w.nodes[t] /= w.hours
		}
		w.gb /= w.hours
	}
	return w
}

// Detect checks the 24 hours before until against the baseline days
// before them; recs are the customer's hourly records (any range).
// decisions are the customer's autoscaler decisions, named as causes when
// they fall within the day. It returns nil when the day is normal or the
// history is too short to tell.
func Detect(customer string, recs []state.UsageRecord, listPriceUSD float64, p plan.Prices, location string,
	decisions []autoscale.Decision, until time.Time, rule AnomalyRule) *Anomaly {
	rule = rule.withDefaults()
	dayStart := until.Add(-24 * time.Hour)
	baseStart := dayStart.Add(-time.Duration(rule.BaselineDays) * 24 * time.Hour)
	var day, base []state.UsageRecord
	for _, r := range recs {
		switch {
		case !r.Hour.Before(dayStart) && r.Hour.Before(until):
			day = append(day, r)
		case !r.Hour.Before(baseStart) && r.Hour.Before(dayStart):
			base = append(base, r)
		}
	}
	if len(day) < 24 {
		return nil // the day is not complete
	}
	d := summarise(day, p, location)
	a := &Anomaly{Customer: customer, Until: until, DailyUSD: round2(d.cost), ListDailyUSD: round2(listPriceUSD * 12 / 365)}
	var reasons []string
	if len(base) >= 24 {
		b := summarise(base, p, location)
		a.BaselineUSD = round2(b.cost / b.hours * 24)
		if a.BaselineUSD > 0 && d.cost > rule.BaselineFactor*b.cost/b.hours*24 {
			reasons = append(reasons, fmt.Sprintf("%.2f× the %d-day baseline of $%.2f/day", d.cost/(b.cost/b.hours*24), int(b.hours/24), a.BaselineUSD))
		}
		a.Causes = append(a.Causes, grew("hetzner_server", d.servers, b.servers)...)
		a.Causes = append(a.Causes, grew("exoscale_instance", d.nodes, b.nodes)...)
		if d.gb > b.gb*1.05 {
			a.Causes = append(a.Causes, fmt.Sprintf("exoscale_block_volume: %.0f GB on average (baseline %.0f GB)", d.gb, b.gb))
		}
	}
	if rule.AboveListPrice && a.ListDailyUSD > 0 && d.cost > a.ListDailyUSD {
		reasons = append(reasons, fmt.Sprintf("cost above the list price ($%.2f/day)", a.ListDailyUSD))
	}
	if len(reasons) == 0 {
		return nil
	}
	for _, dec := range decisions {
		if !dec.At.Before(dayStart.Add(-time.Hour)) && dec.At.Before(until) && dec.To != dec.From {
			a.Causes = append(a.Causes, fmt.Sprintf("autoscaler at %s: %s %d → %d (%s)", dec.At.UTC().Format("2006-01-02 15:04"), dec.Resource, dec.From, dec.To, dec.Reason))
		}
	}
	a.Reason = fmt.Sprintf("$%.2f in the 24 h to %s: %s", a.DailyUSD, until.UTC().Format("2006-01-02 15:04"), strings.Join(reasons, "; "))
	return a
}

func grew(kind string, day, base map[string]float64) []string {
	var out []string
	types := make([]string, 0, len(day))
	for t := range day {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if day[t] > base[t]*1.05+0.01 {
			out = append(out, fmt.Sprintf("%s %s: %.1f on average (baseline %.1f)", kind, t, day[t], base[t]))
		}
	}
	return out
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
