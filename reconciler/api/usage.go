package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/state"
)

// UsageReader is implemented by a Service that meters usage (the daemon).
type UsageReader interface {
	Usage(ctx context.Context, name string, from, to time.Time) ([]state.UsageRecord, error)
}

// UsageBody is the answer of GET /api/v1/customers/{name}/usage.
type UsageBody struct {
	Customer string              `json:"customer"`
	Month    string              `json:"month"` // YYYY-MM, UTC
	Hours    []state.UsageRecord `json:"hours"`
}

// ParseMonth reads YYYY-MM ("" is the current month, UTC) into its
// first instant and the next month's.
func ParseMonth(s string, now time.Time) (from, to time.Time, err error) {
	if s == "" {
		s = now.UTC().Format("2006-01")
	}
	from, err = time.Parse("2006-01", s)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("month %q is not YYYY-MM", s)
	}
	return from, from.AddDate(0, 1, 0), nil
}

func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	u, ok := s.svc.(UsageReader)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this server does not meter usage")
		return
	}
	name := r.PathValue("name")
	from, to, err := ParseMonth(r.URL.Query().Get("month"), s.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	hours, err := u.Usage(r.Context(), name, from, to)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if len(hours) == 0 {
		// A deleted customer's usage stays readable: only names the
		// daemon never knew and that have no usage are refused.
		if _, err := s.svc.Customer(r.Context(), name); errors.Is(err, daemon.ErrNotFound) {
			s.serviceError(w, r, err)
			return
		}
	}
	if hours == nil {
		hours = []state.UsageRecord{}
	}
	writeJSON(w, http.StatusOK, UsageBody{Customer: name, Month: from.Format("2006-01"), Hours: hours})
}

// Usage returns a customer's hourly usage in month (YYYY-MM, "" = now).
func (c *Client) Usage(ctx context.Context, name, month string) (UsageBody, error) {
	var b UsageBody
	q := url.Values{}
	if month != "" {
		q.Set("month", month)
	}
	err := c.getJSON(ctx, http.MethodGet, customerPath(name, "/usage"), q, nil, &b)
	return b, err
}
