package daemon_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/state"
)

func TestMetricsTransport(t *testing.T) {
	m, err := daemon.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	cloud := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer cloud.Close()
	hc := &http.Client{Transport: m.InstrumentTransport(plan.Hetzner, cloud.Client().Transport)}
	for range 6 {
		resp, err := hc.Get(cloud.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, tc := range []struct {
		c     prometheus.Collector
		label string
		want  float64
	}{
		{m.CloudAPICalls.WithLabelValues(string(plan.Hetzner)), "hetzner calls", 6},
		{m.CloudRateLimited.WithLabelValues(string(plan.Hetzner)), "hetzner 429s", 2},
		{m.CloudAPICalls.WithLabelValues(string(plan.Exoscale)), "exoscale calls", 0},
	} {
		if got := value(t, tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.label, got, tc.want)
		}
	}
}

func TestMetricsHelpersBoundLabels(t *testing.T) {
	m, err := daemon.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveAgentRun(plan.JobIngest, time.Millisecond, nil)
	m.ObserveAgentRun(plan.JobIngest, time.Millisecond, errors.New("boom"))
	m.ObserveAgentRun("customer-acme-ingest", time.Millisecond, nil) // not a job: "other"
	m.ObserveAutoscale(autoscale.ResourceServers, 2, 4)
	m.ObserveAutoscale(autoscale.ResourceServers, 4, 2)
	m.ObserveAutoscale(autoscale.ResourceStorageGB, 100, 150)
	m.ObserveAutoscale(autoscale.ResourceStorageGB, 150, 150) // no change: not counted
	m.ObserveApply(state.ResultSucceeded)
	m.ObserveReconcile("weird", time.Second)
	m.ObserveReconcile(reconciler.OutcomeApplied, time.Second)
	for _, tc := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"ingest runs", m.AgentRuns.WithLabelValues(plan.JobIngest), 2},
		{"ingest failures", m.AgentFailures.WithLabelValues(plan.JobIngest), 1},
		{"other runs", m.AgentRuns.WithLabelValues("other"), 1},
		{"servers up", m.AutoscaleEvents.WithLabelValues(autoscale.ResourceServers, daemon.DirectionUp), 1},
		{"servers down", m.AutoscaleEvents.WithLabelValues(autoscale.ResourceServers, daemon.DirectionDown), 1},
		{"storage up", m.AutoscaleEvents.WithLabelValues(autoscale.ResourceStorageGB, daemon.DirectionUp), 1},
		{"applies", m.Applies.WithLabelValues(string(state.ResultSucceeded)), 1},
	} {
		if got := value(t, tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Six outcomes pre-created at zero, plus "other" for the unknown one.
	if got := count(m.ReconcileDuration); got != 7 {
		t.Errorf("reconcile series %d, want 7 (the unknown result clamped to other)", got)
	}
}

// value reads a counter or gauge.
func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	m, ok := c.(prometheus.Metric)
	if !ok {
		t.Fatalf("%T is not a single metric", c)
	}
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("%T is neither counter nor gauge", c)
	return 0
}

// count counts the series a collector has.
func count(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}
