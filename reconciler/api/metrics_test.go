package api_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/agentvdc/agentvdc/reconciler/api"
)

func TestMetricsTransport(t *testing.T) {
	m, err := api.NewMetrics(nil)
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
	hc := &http.Client{Transport: m.InstrumentTransport(api.CloudHetzner, cloud.Client().Transport)}
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
		{m.CloudAPICalls.WithLabelValues(api.CloudHetzner), "hetzner calls", 6},
		{m.CloudRateLimited.WithLabelValues(api.CloudHetzner), "hetzner 429s", 2},
		{m.CloudAPICalls.WithLabelValues(api.CloudExoscale), "exoscale calls", 0},
	} {
		if got := value(t, tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.label, got, tc.want)
		}
	}
}

func TestMetricsHelpersBoundLabels(t *testing.T) {
	m, err := api.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveAgentRun(api.JobIngest, time.Millisecond, nil)
	m.ObserveAgentRun(api.JobIngest, time.Millisecond, errors.New("boom"))
	m.ObserveAgentRun("customer-acme-ingest", time.Millisecond, nil) // not a job: "other"
	m.ObserveAutoscale(api.ResourceServers, 2, 4)
	m.ObserveAutoscale(api.ResourceServers, 4, 2)
	m.ObserveAutoscale(api.ResourceStorageGB, 100, 150)
	m.ObserveAutoscale(api.ResourceStorageGB, 150, 150) // no change: not counted
	m.ObserveApply(api.ResultSuccess)
	m.ObserveReconcile("weird", time.Second)
	for _, tc := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"ingest runs", m.AgentRuns.WithLabelValues(api.JobIngest), 2},
		{"ingest failures", m.AgentFailures.WithLabelValues(api.JobIngest), 1},
		{"other runs", m.AgentRuns.WithLabelValues("other"), 1},
		{"servers up", m.AutoscaleEvents.WithLabelValues(api.ResourceServers, api.DirectionUp), 1},
		{"servers down", m.AutoscaleEvents.WithLabelValues(api.ResourceServers, api.DirectionDown), 1},
		{"storage up", m.AutoscaleEvents.WithLabelValues(api.ResourceStorageGB, api.DirectionUp), 1},
		{"applies", m.Applies.WithLabelValues(api.ResultSuccess), 1},
	} {
		if got := value(t, tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := count(m.ReconcileDuration); got != 1 {
		t.Errorf("reconcile series %d, want 1 (the unknown result clamped to other)", got)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t)
	f.metrics.QueueDepth.Set(4)
	f.metrics.DriftResources.Set(2)
	f.metrics.ObserveReconcile(api.ResultSuccess, 1500*time.Millisecond)
	resp, b := f.do(t, "GET", "/metrics", testToken, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	body := string(b)
	for _, want := range []string{
		"agentvdc_queue_depth 4",
		"agentvdc_drift_resources 2",
		`agentvdc_reconcile_duration_seconds_count{result="success"} 1`,
		`agentvdc_cloud_api_calls_total{cloud="opennebula"} 0`,
		`agentvdc_cloud_api_rate_limited_total{cloud="exoscale"} 0`,
		`agentvdc_agent_runs_total{job="learning"} 0`,
		`agentvdc_agent_failures_total{job="ingest"} 0`,
		`agentvdc_autoscale_events_total{direction="up",resource="storage_gb"} 0`,
		`agentvdc_applies_total{result="failure"} 0`,
		"agentvdc_drift_detected_total 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "customer=") {
		t.Errorf("a metric carries a customer label")
	}
	// Registering twice in one registry is an error, not a panic.
	if _, err := api.NewMetrics(f.reg); err == nil {
		t.Errorf("second registration: no error")
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
