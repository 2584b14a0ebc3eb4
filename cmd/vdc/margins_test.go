package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

type marginPlan struct {
	Customers []struct {
		Name string `json:"name"`
		Tier string `json:"tier"`
		Cost struct {
			AfterUSD     float64 `json:"after_usd"`
			MaxUSD       float64 `json:"max_usd"`
			ListPriceUSD float64 `json:"list_price_usd"`
		} `json:"cost"`
	} `json:"customers"`
}

// BenchmarkMargins (issue 12) reports, from `vdc plan --sim --format
// json`, each tier's margin at its defaults and the fleet margin of 1,000
// customers in a 50 % casual / 40 % pro / 10 % enterprise mix. It has no
// floors: the tiers lose money until the pooled placement lands, and the
// figures say by how much.
func BenchmarkMargins(b *testing.B) {
	dir := b.TempDir()
	mix := map[string]int{"casual": 500, "pro": 400, "enterprise": 100}
	for tier, n := range mix {
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("%s-%04d", tier[:3], i)
			writeFile(b, filepath.Join(dir, "customers", name+".yaml"), fmt.Sprintf("name: %s\ndisplayName: %s\nowner: ops@%s.example\ntier: %s\n", name, name, name, tier))
		}
	}
	for b.Loop() {
		cmd := exec.Command(vdcBin, "plan", "--sim", "--data", filepath.Join(dir, ".vdc"), "--format", "json")
		cmd.Dir = dir
		cmd.Env = os.Environ()
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			b.Fatalf("vdc plan: %v\n%s", err, stderr)
		}
		var p marginPlan
		if err := json.Unmarshal(out, &p); err != nil {
			b.Fatal(err)
		}
		cost, price := map[string]float64{}, map[string]float64{}
		maxCost := map[string]float64{}
		var fleetCost, fleetPrice float64
		for _, c := range p.Customers {
			cost[c.Tier] += c.Cost.AfterUSD
			maxCost[c.Tier] += c.Cost.MaxUSD
			price[c.Tier] += c.Cost.ListPriceUSD
			fleetCost += c.Cost.AfterUSD
			fleetPrice += c.Cost.ListPriceUSD
		}
		for tier, n := range mix {
			b.ReportMetric(100*(price[tier]-cost[tier])/price[tier], tier+"-margin-%")
			b.ReportMetric(cost[tier]/float64(n), tier+"-cost-$/mo")
			b.ReportMetric(100*(price[tier]-maxCost[tier])/price[tier], tier+"-margin-at-max-%")
		}
		b.ReportMetric(100*(fleetPrice-fleetCost)/fleetPrice, "fleet-margin-%")
		b.ReportMetric(fleetPrice-fleetCost, "fleet-$/mo")
	}
}
