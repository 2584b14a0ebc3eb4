package daemon

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/reconciler/daemon/metering"
	"github.com/agentvdc/agentvdc/state"
)

// ErrNotFound is returned for an unknown customer.
var ErrNotFound = errors.New("customer not found")

// ErrBadRef is returned by Plan for a ref that does not resolve.
var ErrBadRef = errors.New("unknown git ref")

// CustomerView is one customer as the API and the status page show it.
type CustomerView struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	Tier        string `json:"tier,omitempty"`
	Region      string `json:"region,omitempty"`
	// InGit is false for a customer only known from state (file removed).
	InGit bool `json:"in_git"`
	// Hold is the on-call suspension (vdc suspend); Suspended the file's flag.
	Hold      bool `json:"hold"`
	Suspended bool `json:"suspended"`

	Status state.CustomerStatus `json:"status"`

	Servers        int     `json:"servers"`
	MinServers     int     `json:"min_servers"`
	MaxServers     int     `json:"max_servers"`
	StorageGB      int     `json:"storage_gb"`
	MaxStorageGB   int     `json:"max_storage_gb"`
	MonthlyCostUSD float64 `json:"monthly_cost_usd"`
	ListPriceUSD   float64 `json:"list_price_usd"`

	// Resources are the observed resources (never secrets).
	Resources []plan.Resource `json:"resources,omitempty"`
	// Agents are the agent jobs with their last runs.
	Agents []AgentJob `json:"agents,omitempty"`
	// Autoscale are the latest autoscaler decisions, newest first.
	Autoscale []ScaleDecision `json:"autoscale,omitempty"`
	// CostAnomaly is set while the customer's last day cost more than its
	// baseline (or its list price) allows, with what caused it.
	CostAnomaly *metering.Anomaly `json:"cost_anomaly,omitempty"`
	// Reconcile tells API-requested reconciles from the ones done.
	Reconcile ReconcileState `json:"reconcile"`
}

// ReconcileState is how far the daemon got with the reconciles asked
// through the API: Requested counts the requests (POST …/reconcile
// answers with the new count); Last.Request >= n means a reconcile that
// started after request n finished (vdc reconcile --wait waits for it).
type ReconcileState struct {
	Requested uint64        `json:"requested"`
	Last      *ReconcileRun `json:"last,omitempty"`
}

// ReconcileRun is one finished reconcile of a customer.
type ReconcileRun struct {
	// Request is the number of API requests made before it started.
	Request uint64    `json:"request"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Outcome is synced, applied, deleted, failed, refused, suspended or
	// error (it stopped before planning); Err says why when not done.
	Outcome string `json:"outcome"`
	Err     string `json:"error,omitempty"`
}

// Done reports whether the run converged the customer (synced, applied or
// deleted as asked).
func (r ReconcileRun) Done() bool {
	return r.Err == "" && (r.Outcome == "synced" || r.Outcome == "applied" || r.Outcome == "deleted")
}

// AgentJob is one scheduled agent of a customer.
type AgentJob struct {
	Job      string        `json:"job"`
	Interval time.Duration `json:"interval_ns"`
	Next     time.Time     `json:"next,omitzero"`
	Running  bool          `json:"running"`
	Runs     uint64        `json:"runs"`
	Failures uint64        `json:"failures"`
	LastRun  *AgentRun     `json:"last_run,omitempty"`
}

// AgentRun is one finished agent run.
type AgentRun struct {
	Job      string        `json:"job,omitempty"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	Err      string        `json:"error,omitempty"`
}

// ScaleDecision is one autoscaler decision as the daemon keeps it.
type ScaleDecision struct {
	autoscale.Decision
	// Applied is set once a converge of the customer made the clouds match
	// the decision.
	Applied bool `json:"applied"`
}

// BackupState writes a consistent copy of the daemon's state file to w
// (GET /api/v1/state/backup, vdc state backup while the daemon runs).
func (d *Daemon) BackupState(_ context.Context, w io.Writer) (int64, error) {
	return d.cfg.Store.Backup(w)
}
