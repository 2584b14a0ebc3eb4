package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/schema"
)

// EventsBody is the body of GET /api/v1/customers/{name}/events.
type EventsBody struct {
	Customer string         `json:"customer"`
	Events   []daemon.Event `json:"events"`
}

// DefaultEventsLimit is the number of events without ?limit.
const DefaultEventsLimit = 50

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	limit := DefaultEventsLimit
	if r.URL.Query().Has("limit") {
		var err error
		if limit, err = parseLimit(r); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	name := r.PathValue("name")
	ev, err := s.svc.Events(r.Context(), name, limit)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if ev == nil {
		ev = []daemon.Event{}
	}
	if len(ev) > limit {
		ev = ev[len(ev)-limit:]
	}
	writeJSON(w, http.StatusOK, EventsBody{Customer: name, Events: ev})
}

// Events returns the customer's timeline, oldest first (at most limit
// events, the newest; the daemon's default when limit is 0).
func (c *Client) Events(ctx context.Context, name string, limit int) ([]daemon.Event, error) {
	q := urlLimit(limit)
	var b EventsBody
	err := c.getJSON(ctx, http.MethodGet, customerPath(name, "/events"), q, nil, &b)
	return b.Events, err
}

// RequestReconcile queues a reconcile and returns its request number
// (daemon.ReconcileState).
func (c *Client) RequestReconcile(ctx context.Context, name string) (uint64, error) {
	var b StatusBody
	err := c.getJSON(ctx, http.MethodPost, customerPath(name, "/reconcile"), nil, nil, &b)
	return b.Request, err
}

// PlanFiles has the daemon plan files (PlanRequest.Files) against its
// cached observation and returns the plan rendered in format.
func (c *Client) PlanFiles(ctx context.Context, commit string, files []schema.File, targets, excludes []string, format, branch string) ([]byte, error) {
	req := PlanRequest{Commit: commit, Format: format, Branch: branch, Customers: targets, Exclude: excludes}
	for _, f := range files {
		req.Files = append(req.Files, PlanFile{Path: f.Path, Data: string(f.Data)})
	}
	return c.postPlan(ctx, req)
}

func urlLimit(limit int) url.Values {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}
