package api

import (
	"context"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// Service is what the HTTP API needs from the daemon (*daemon.Daemon
// implements it; the API speaks the daemon's types). Methods are safe for
// concurrent use.
type Service interface {
	// Customers lists every customer known from git or from state, sorted by name.
	Customers(ctx context.Context) ([]daemon.CustomerView, error)
	// Customer returns one customer; daemon.ErrNotFound if unknown.
	Customer(ctx context.Context, name string) (daemon.CustomerView, error)
	// Reconcile queues an immediate reconcile of a customer (daemon.ErrNotFound if
	// unknown); it returns once queued, not when done.
	Reconcile(ctx context.Context, name string) error
	// Hold suspends (true) or resumes (false) reconciling and agents of a
	// customer as an on-call override of the file (daemon.ErrNotFound if unknown).
	Hold(ctx context.Context, name string, hold bool) error
	// History returns the customer's apply history, newest first.
	History(ctx context.Context, name string, limit int) ([]state.ApplyRecord, error)
	// Plan plans the customer files at a git ref (branch, tag or commit of
	// the daemon's repository) against the daemon's cached observed state,
	// without calling any cloud API.
	Plan(ctx context.Context, ref string) (*plan.Plan, error)
	// PlanFiles plans customer files the caller read, as Plan plans a
	// ref's, for targets (all when empty) but excludes; commit labels it.
	PlanFiles(ctx context.Context, commit string, files []schema.File, targets, excludes []string) (*plan.Plan, error)
	// Events is the customer's timeline, oldest first, the newest limit
	// events (daemon.Timeline).
	Events(ctx context.Context, name string, limit int) ([]daemon.Event, error)
	// Sync fetches git now (the webhook and POST /api/v1/sync call it).
	Sync(ctx context.Context) error
	// Ready is nil once the daemon has loaded git and observed the clouds.
	Ready() error
}

var _ Service = (*daemon.Daemon)(nil)
