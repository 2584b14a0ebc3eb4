package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/api/apitest"
)

// FuzzPlanRequest sends arbitrary bodies to POST /api/v1/plan through the
// real handler: it never panics, answers 200 only for a well-formed request
// naming the one known ref, 400 with a JSON error otherwise, and never
// echoes the token.
func FuzzPlanRequest(f *testing.F) {
	for _, seed := range []string{
		`{"ref":"main"}`,
		`{"ref":"main","format":"json"}`,
		`{"ref":"main","format":"markdown"}`,
		`{"ref":"main","format":"text"}`,
		`{"ref":"nope"}`,
		`{"ref":""}`,
		`{}`,
		``,
		`{"ref":"main"}{"ref":"main"}`,
		`{"ref":"main","extra":1}`,
		`{"ref":"ma in"}`,
		`{"ref":"main\u0000"}`,
		`{"ref":"` + strings.Repeat("a", 300) + `"}`,
		`{"ref":"main","format":"yaml"}`,
		`{"ref":1}`,
		`[]`,
		`null`,
		`{"ref":"main"` + strings.Repeat(" ", 10),
		`{"ref":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	svc := apitest.New()
	p, err := plan.Build(plan.Input{Commit: strings.Repeat("ab", 20), Now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Prices: plan.DefaultExoscalePrices()})
	if err != nil {
		f.Fatal(err)
	}
	svc.SetPlan("main", p)
	s, err := api.New(api.Config{Service: svc, Token: testToken})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/plan", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if strings.Contains(rec.Body.String(), testToken) {
			t.Fatalf("the response echoes the token")
		}
		var pr api.PlanRequest
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		wellFormed := dec.Decode(&pr) == nil && !dec.More() && pr.Ref == "main" &&
			(pr.Format == "" || pr.Format == "json" || pr.Format == "markdown" || pr.Format == "text")
		switch rec.Code {
		case http.StatusOK:
			if !wellFormed {
				t.Fatalf("200 for %q", body)
			}
		case http.StatusBadRequest:
			if wellFormed {
				t.Fatalf("400 for the well-formed %q: %s", body, rec.Body)
			}
			var e api.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.HasPrefix(e.Error, "bad plan request") && !strings.Contains(e.Error, "unknown git ref") {
				t.Fatalf("400 without a JSON error naming the problem: %q", rec.Body)
			}
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
