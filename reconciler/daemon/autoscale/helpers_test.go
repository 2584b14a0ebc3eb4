package autoscale

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/schema"
)

// fakeMetrics is a Metrics for the rule tests; the integration test uses
// the OpenNebula adapter on the simulator.
type fakeMetrics struct {
	mu                  sync.Mutex
	cpu, used           map[string]float64
	cpuErr, usedErr     error
	cpuCalls, usedCalls int
}

func (f *fakeMetrics) HostCPU(ctx context.Context) (map[string]float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cpuCalls++
	if f.cpuErr != nil {
		return nil, f.cpuErr
	}
	out := make(map[string]float64, len(f.cpu))
	for k, v := range f.cpu {
		out[k] = v
	}
	return out, nil
}

func (f *fakeMetrics) DatastoreUsage(ctx context.Context) (map[string]float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usedCalls++
	if f.usedErr != nil {
		return nil, f.usedErr
	}
	out := make(map[string]float64, len(f.used))
	for k, v := range f.used {
		out[k] = v
	}
	return out, nil
}

// clock is an injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// loadCustomers validates YAML files through the real loader, so the
// customers carry the tier defaults. files maps name → extra YAML lines.
func loadCustomers(tb testing.TB, tier string, files map[string]string) []schema.Customer {
	tb.Helper()
	l, err := schema.NewLoader()
	if err != nil {
		tb.Fatal(err)
	}
	var fs []schema.File
	for name, extra := range files {
		fs = append(fs, schema.File{Path: "customers/" + name + ".yaml", Data: fmt.Appendf(nil,
			"name: %s\ndisplayName: %s\nowner: ops@%s.example\ntier: %s\nregion: fsn1\n%s", name, name, name, tier, extra)})
	}
	res := l.Load(fs)
	if !res.OK() {
		tb.Fatal(res.Error())
	}
	return res.Customers
}

// observedFor is a customer's observed servers, hosts (same slots) and volume.
func observedFor(c string, servers []int, hosts []int, volumeGB int) []plan.Resource {
	labels := map[string]string{plan.LabelManagedBy: plan.ManagedByValue, plan.LabelCustomer: c}
	var out []plan.Resource
	for _, n := range servers {
		out = append(out, plan.Resource{Kind: plan.HetznerServer, Name: plan.ServerName(c, n), Customer: c, ID: strconv.Itoa(1000 + n), Labels: labels,
			Attrs: map[string]string{"server_type": "ccx13", "location": "fsn1"}})
	}
	for _, n := range hosts {
		out = append(out, plan.Resource{Kind: plan.ONEHost, Name: plan.ServerName(c, n), ID: strconv.Itoa(n), Labels: labels, Attrs: map[string]string{}})
	}
	if volumeGB > 0 {
		out = append(out, plan.Resource{Kind: plan.ExoBlockVolume, Name: plan.BaseName(c) + "-data", Customer: c, Labels: labels,
			Attrs: map[string]string{"size_gb": strconv.Itoa(volumeGB)}})
	}
	return out
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}
