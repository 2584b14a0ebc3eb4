package daemon

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentvdc/agentvdc/agents/extract"
	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/reconciler/daemon/webhook"
	"github.com/agentvdc/agentvdc/state"
)

// Label values. Labels never carry a customer name: their cardinality is
// fixed by the vocabularies they come from (values outside them are
// counted as "other" by the helper methods): clouds and jobs (plan),
// reconcile outcomes (reconciler.Outcome), apply results (state.Result),
// autoscaled resources (autoscale).
const (
	DirectionUp   = "up"
	DirectionDown = "down"

	labelOther = "other"
)

func clouds() []string { return strs(plan.Clouds()) }
func jobs() []string   { return plan.Jobs() }
func outcomes() []string {
	return strs([]reconciler.Outcome{reconciler.OutcomeSynced, reconciler.OutcomeApplied, reconciler.OutcomeDeleted,
		reconciler.OutcomeFailed, reconciler.OutcomeRefused, reconciler.OutcomeSuspended})
}
func results() []string    { return strs(state.Results()) }
func resources() []string  { return []string{autoscale.ResourceServers, autoscale.ResourceStorageGB} }
func directions() []string { return []string{DirectionUp, DirectionDown} }

func strs[S ~string](l []S) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = string(v)
	}
	return out
}

// Metrics are the daemon's Prometheus metrics (namespace agentvdc). The
// daemon updates them; the API serves the registry they are registered in
// at GET /metrics. Fields may be used directly with the label values above;
// the methods clamp unknown label values to "other".
type Metrics struct {
	// ReconcileDuration: agentvdc_reconcile_duration_seconds{result}, the
	// result being the converge outcome (reconciler.Outcome) or "error".
	ReconcileDuration *prometheus.HistogramVec
	// QueueDepth: agentvdc_queue_depth, customers waiting in the work queue.
	QueueDepth prometheus.Gauge
	// CloudAPICalls: agentvdc_cloud_api_calls_total{cloud}, every HTTP
	// request to a cloud API.
	CloudAPICalls *prometheus.CounterVec
	// CloudRateLimited: agentvdc_cloud_api_rate_limited_total{cloud},
	// responses with status 429.
	CloudRateLimited *prometheus.CounterVec
	// DriftResources: agentvdc_drift_resources, resources currently
	// differing from the desired state (all customers).
	DriftResources prometheus.Gauge
	// DriftDetected: agentvdc_drift_detected_total, drifted resources
	// found by drift checks.
	DriftDetected prometheus.Counter
	// AgentRuns: agentvdc_agent_runs_total{job}; AgentFailures:
	// agentvdc_agent_failures_total{job}; AgentRunDuration:
	// agentvdc_agent_run_duration_seconds{job}.
	AgentRuns        *prometheus.CounterVec
	AgentFailures    *prometheus.CounterVec
	AgentRunDuration *prometheus.HistogramVec
	// FilesQuarantined: agentvdc_agent_files_quarantined_total{reason},
	// dumped files the ingest agent could not read (a hostile file killed
	// in the extract sandbox counts as timeout or too-large).
	FilesQuarantined *prometheus.CounterVec
	// CostAnomalies: agentvdc_cost_anomalies_total, customers that became
	// anomalous; CostAnomalous: agentvdc_cost_anomalous_customers, those
	// anomalous now.
	CostAnomalies prometheus.Counter
	CostAnomalous prometheus.Gauge
	// AutoscaleEvents: agentvdc_autoscale_events_total{resource,direction}.
	AutoscaleEvents *prometheus.CounterVec
	// Applies: agentvdc_applies_total{result}.
	Applies *prometheus.CounterVec
	// Customers: agentvdc_customers{status}, customers per sync status
	// (set all statuses on each update; see state.Statuses).
	Customers *prometheus.GaugeVec
	// TimeToReady: agentvdc_customer_time_to_ready_seconds, from a new
	// customer's first apply until every provisioning phase is done.
	TimeToReady prometheus.Histogram
	// CustomersReady: agentvdc_customers_ready, customers whose Ready
	// condition is True.
	CustomersReady prometheus.Gauge
	// WebhookRejected: agentvdc_webhook_rejected_total{reason}, webhook
	// calls not acted upon, by reason (webhook.Reasons: unsigned, bad
	// signature, rate limited, duplicate delivery, …).
	WebhookRejected *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests). Registering twice in one registry is an error.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns = "agentvdc"
	m := &Metrics{
		ReconcileDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "reconcile_duration_seconds",
			Help:    "Duration of one customer reconcile (plan and apply), by result.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"result"}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "queue_depth",
			Help: "Customers waiting in the reconcile work queue.",
		}),
		CloudAPICalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "cloud_api_calls_total",
			Help: "HTTP requests made to a cloud API, by cloud.",
		}, []string{"cloud"}),
		CloudRateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "cloud_api_rate_limited_total",
			Help: "Cloud API responses with status 429 (rate limited), by cloud.",
		}, []string{"cloud"}),
		DriftResources: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "drift_resources",
			Help: "Resources that currently differ from the desired state.",
		}),
		DriftDetected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "drift_detected_total",
			Help: "Drifted resources found by drift checks.",
		}),
		AgentRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "agent_runs_total",
			Help: "Finished agent runs, by job.",
		}, []string{"job"}),
		AgentFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "agent_failures_total",
			Help: "Agent runs that failed, by job.",
		}, []string{"job"}),
		AgentRunDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "agent_run_duration_seconds",
			Help:    "Duration of one agent run, by job.",
			Buckets: []float64{0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600},
		}, []string{"job"}),
		CostAnomalies: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "cost_anomalies_total",
			Help: "Customers whose daily cost became anomalous (against their baseline or list price).",
		}),
		CostAnomalous: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "cost_anomalous_customers",
			Help: "Customers whose last day's cost is anomalous now.",
		}),
		FilesQuarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "agent_files_quarantined_total",
			Help: "Dumped files the ingest agent quarantined, by reason.",
		}, []string{"reason"}),
		AutoscaleEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "autoscale_events_total",
			Help: "Autoscaler decisions, by resource (servers, storage_gb) and direction (up, down).",
		}, []string{"resource", "direction"}),
		Applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "applies_total",
			Help: "Applies, by result.",
		}, []string{"result"}),
		Customers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "customers",
			Help: "Customers by sync status.",
		}, []string{"status"}),
		TimeToReady: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "customer_time_to_ready_seconds",
			Help:    "Time from a new customer's first apply until its VDC is Ready (every provisioning phase done).",
			Buckets: []float64{5, 15, 30, 60, 120, 180, 300, 450, 600, 900, 1800},
		}),
		CustomersReady: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "customers_ready",
			Help: "Customers whose VDC is Ready.",
		}),
		WebhookRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "webhook_rejected_total",
			Help: "Webhook calls not acted upon (unsigned, bad signature, rate limited, duplicate delivery, ...), by reason.",
		}, []string{"reason"}),
	}
	// Pre-create the known series so dashboards and rate() see zeros.
	for _, c := range clouds() {
		m.CloudAPICalls.WithLabelValues(c)
		m.CloudRateLimited.WithLabelValues(c)
	}
	for _, j := range jobs() {
		m.AgentRuns.WithLabelValues(j)
		m.AgentFailures.WithLabelValues(j)
	}
	for _, r := range results() {
		m.Applies.WithLabelValues(r)
	}
	for _, o := range outcomes() {
		m.ReconcileDuration.WithLabelValues(o)
	}
	for _, r := range webhook.Reasons() {
		m.WebhookRejected.WithLabelValues(r)
	}
	for _, r := range resources() {
		for _, d := range directions() {
			m.AutoscaleEvents.WithLabelValues(r, d)
		}
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.ReconcileDuration, m.QueueDepth, m.CloudAPICalls, m.CloudRateLimited,
		m.DriftResources, m.DriftDetected, m.AgentRuns, m.AgentFailures,
		m.AgentRunDuration, m.FilesQuarantined, m.AutoscaleEvents, m.Applies, m.Customers, m.TimeToReady, m.CustomersReady,
		m.WebhookRejected, m.CostAnomalies, m.CostAnomalous,
	}
}

func bound(v string, allowed []string) string {
	if slices.Contains(allowed, v) {
		return v
	}
	return labelOther
}

// ObserveWebhookRejected counts one webhook call not acted upon (a
// webhook.Config.Rejected).
func (m *Metrics) ObserveWebhookRejected(reason string) {
	m.WebhookRejected.WithLabelValues(bound(reason, webhook.Reasons())).Inc()
}

// ObserveReconcile records one reconcile by its outcome; "error" when the
// converge itself failed (state, lease, cancelled).
func (m *Metrics) ObserveReconcile(outcome reconciler.Outcome, d time.Duration) {
	m.ReconcileDuration.WithLabelValues(bound(string(outcome), append(outcomes(), reconcileError))).Observe(d.Seconds())
}

// reconcileError labels a reconcile that stopped before an outcome.
const reconcileError = "error"

// ObserveApply counts one apply.
func (m *Metrics) ObserveApply(result state.Result) {
	m.Applies.WithLabelValues(bound(string(result), results())).Inc()
}

// ObserveAgentRun records one finished agent run; a non-nil err counts as
// a failure.
func (m *Metrics) ObserveAgentRun(job string, d time.Duration, err error) {
	job = bound(job, jobs())
	m.AgentRuns.WithLabelValues(job).Inc()
	m.AgentRunDuration.WithLabelValues(job).Observe(d.Seconds())
	if err != nil {
		m.AgentFailures.WithLabelValues(job).Inc()
	}
}

// ObserveQuarantined counts the files an ingest run quarantined, by
// reason (extract's reasons, "error" for anything else).
func (m *Metrics) ObserveQuarantined(byReason map[string]int) {
	for r, n := range byReason {
		m.FilesQuarantined.WithLabelValues(bound(r, quarantineReasons)).Add(float64(n))
	}
}

// quarantineReasons bounds the reason label.
var quarantineReasons = []string{
	string(extract.ReasonTooLarge), string(extract.ReasonUnsupported), string(extract.ReasonEncrypted),
	string(extract.ReasonCorrupt), string(extract.ReasonZipBomb), string(extract.ReasonTimeout), string(extract.ReasonEmpty),
}

// ObserveAutoscale counts one autoscaler decision: resource is
// autoscale.ResourceServers or autoscale.ResourceStorageGB, the direction follows from from/to
// (no change: not counted).
func (m *Metrics) ObserveAutoscale(resource string, from, to int) {
	if from == to {
		return
	}
	dir := DirectionUp
	if to < from {
		dir = DirectionDown
	}
	m.AutoscaleEvents.WithLabelValues(bound(resource, resources()), dir).Inc()
}

// InstrumentTransport wraps rt (nil: http.DefaultTransport) so every
// request counts in CloudAPICalls and every 429 in CloudRateLimited under
// cloud. Give the result to the cloud's client library.
func (m *Metrics) InstrumentTransport(cloud plan.Cloud, rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	label := bound(string(cloud), clouds())
	return &countingTransport{
		next:    rt,
		calls:   m.CloudAPICalls.WithLabelValues(label),
		limited: m.CloudRateLimited.WithLabelValues(label),
	}
}

type countingTransport struct {
	next           http.RoundTripper
	calls, limited prometheus.Counter
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.calls.Inc()
	resp, err := t.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		t.limited.Inc()
	}
	return resp, err
}
