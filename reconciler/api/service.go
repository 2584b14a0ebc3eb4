package api

import (
	"context"
	"errors"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/state"
)

// Service is what the HTTP API needs from the daemon (reconciler/daemon
// implements it). Methods are safe for concurrent use.
type Service interface {
	// Customers lists every customer known from git or from state, sorted by name.
	Customers(ctx context.Context) ([]CustomerView, error)
	// Customer returns one customer; ErrNotFound if unknown.
	Customer(ctx context.Context, name string) (CustomerView, error)
	// Reconcile queues an immediate reconcile of a customer (ErrNotFound if
	// unknown); it returns once queued, not when done.
	Reconcile(ctx context.Context, name string) error
	// Hold suspends (true) or resumes (false) reconciling and agents of a
	// customer as an on-call override of the file (ErrNotFound if unknown).
	Hold(ctx context.Context, name string, hold bool) error
	// History returns the customer's apply history, newest first.
	History(ctx context.Context, name string, limit int) ([]state.ApplyRecord, error)
	// Plan plans the customer files at a git ref (branch, tag or commit of
	// the daemon's repository) against the daemon's cached observed state,
	// without calling any cloud API.
	Plan(ctx context.Context, ref string) (*plan.Plan, error)
	// Sync fetches git now (the webhook and POST /api/v1/sync call it).
	Sync(ctx context.Context) error
	// Ready is nil once the daemon has loaded git and observed the clouds.
	Ready() error
}

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
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	Err      string        `json:"error,omitempty"`
}

// ScaleDecision is one autoscaler decision.
type ScaleDecision struct {
	Customer string    `json:"customer"`
	At       time.Time `json:"at"`
	Resource string    `json:"resource"` // "servers" or "storage_gb"
	From     int       `json:"from"`
	To       int       `json:"to"`
	Reason   string    `json:"reason"`
	// MonthlyCostDeltaUSD is the cost impact of the change.
	MonthlyCostDeltaUSD float64 `json:"monthly_cost_delta_usd"`
	Applied             bool    `json:"applied"`
}
