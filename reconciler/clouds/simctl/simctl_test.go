package simctl

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestInjectedCountsOnlyAnsweredFaults(t *testing.T) {
	c := NewController(1)
	if _, err := c.AddFault(Fault{Pattern: "POST /v1/*", RateLimit: true, Times: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddFault(Fault{Pattern: "GET /v1/servers", ErrorRate: 1, Status: 503}); err != nil {
		t.Fatal(err)
	}
	respond := func(w http.ResponseWriter, _ *http.Request, status int) { w.WriteHeader(status) }
	cases := []struct {
		key      string
		answered bool
	}{
		{"POST /v1/servers", true},
		{"POST /v1/servers", true},
		{"POST /v1/servers", false}, // the 429 rule is used up
		{"GET /v1/servers", true},
		{"GET /v1/networks", false},
	}
	for i, tc := range cases {
		rec := httptest.NewRecorder()
		got := c.Apply(rec, httptest.NewRequest(http.MethodGet, "/", nil), tc.key, respond)
		if got != tc.answered {
			t.Errorf("call %d %s: answered by a fault = %v, want %v", i, tc.key, got, tc.answered)
		}
	}
	if got := c.Injected(); got != 3 {
		t.Errorf("Injected() = %d, want 3", got)
	}
	if got := c.Total("*"); got != 5 {
		t.Errorf("Total(*) = %d, want 5", got)
	}
	c.ResetCounters()
	if c.Injected() != 0 || c.Total("*") != 0 {
		t.Errorf("after reset: injected %d, total %d", c.Injected(), c.Total("*"))
	}
}
