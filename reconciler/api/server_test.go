package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/api/apitest"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

const testToken = "s3cr3t-token-for-tests-0123456789"

// fixture is a running API server over an apitest.Service.
type fixture struct {
	svc      *apitest.Service
	srv      *httptest.Server
	reg      *prometheus.Registry
	metrics  *daemon.Metrics
	webhooks atomic.Int32
	logs     *bytes.Buffer
}

// realPlan builds a plan of this repository's customers/ (no observed
// state: everything is created).
func realPlan(t testing.TB) *plan.Plan {
	t.Helper()
	loader, err := schema.NewLoader()
	if err != nil {
		t.Fatal(err)
	}
	files, err := schema.ReadDir(filepath.Join("..", "..", "customers"), "customers")
	if err != nil {
		t.Fatal(err)
	}
	res := loader.Load(files)
	if len(res.Customers) == 0 {
		t.Fatalf("no customers loaded: %v", res.Diagnostics)
	}
	p, err := plan.Build(plan.Input{
		Commit: "0123456789abcdef0123456789abcdef01234567", Customers: res.Customers,
		Invalid: res.Diagnostics, Now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Prices: plan.DefaultExoscalePrices(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Now()
	f := &fixture{svc: apitest.New(apitest.Sample(now)...), reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}}
	f.svc.SetHistory("acme-analytics", []state.ApplyRecord{
		{ID: "a2", When: now.Add(-3 * time.Minute), Commit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904", Who: "daemon", Customers: []string{"acme-analytics"}, Result: "succeeded", Actions: 2, Duration: 1500 * time.Millisecond},
		{ID: "a1", When: now.Add(-time.Hour), Commit: "1111111111111111111111111111111111111111", Who: "daemon", Customers: []string{"acme-analytics"}, Result: "failed", Actions: 5, Errors: []string{"hetzner: 429"}},
	})
	f.svc.SetPlan("main", realPlan(t))
	var err error
	if f.metrics, err = daemon.NewMetrics(f.reg); err != nil {
		t.Fatal(err)
	}
	s, err := api.New(api.Config{
		Service: f.svc, Token: testToken, Registry: f.reg,
		Webhook: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.webhooks.Add(1)
			w.WriteHeader(http.StatusAccepted)
		}),
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// These tests send wrong tokens on purpose; the limit has its own test.
		AuthFailureBurst: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

// do sends a request; token "" sends none.
func (f *fixture) do(t *testing.T, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func errorOf(t *testing.T, b []byte) string {
	t.Helper()
	var e api.ErrorBody
	if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
		t.Fatalf("not a JSON error body: %q (%v)", b, err)
	}
	return e.Error
}

func TestAuth(t *testing.T) {
	f := newFixture(t)
	// authed lists every endpoint that needs the token, with a request that
	// succeeds with it.
	authed := []struct {
		method, path, body string
		ok                 int
	}{
		{"GET", "/metrics", "", 200},
		{"GET", "/api/v1/customers", "", 200},
		{"GET", "/api/v1/customers/acme-analytics", "", 200},
		{"POST", "/api/v1/customers/acme-analytics/reconcile", "", 202},
		{"POST", "/api/v1/customers/acme-analytics/suspend", "", 200},
		{"POST", "/api/v1/customers/acme-analytics/resume", "", 200},
		{"GET", "/api/v1/customers/acme-analytics/history", "", 200},
		{"POST", "/api/v1/plan", `{"ref":"main"}`, 200},
		{"POST", "/api/v1/sync", "", 202},
		{"GET", "/api/v1/nope", "", 404},
		{"GET", "/", "", 200},
		{"GET", "/customers/acme-analytics", "", 200},
	}

	for _, tc := range authed {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, b := f.do(t, tc.method, tc.path, "", tc.body)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("no token: status %d, want 401: %s", resp.StatusCode, b)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("no token: WWW-Authenticate %q", got)
			}
			resp, b = f.do(t, tc.method, tc.path, "wrong-"+testToken, tc.body)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("wrong token: status %d, want 403: %s", resp.StatusCode, b)
			}
			if bytes.Contains(b, []byte(testToken)) {
				t.Fatalf("response echoes the token: %s", b)
			}
			// A prefix of the right token is wrong too.
			resp, _ = f.do(t, tc.method, tc.path, testToken[:len(testToken)-1], tc.body)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("token prefix: status %d, want 403", resp.StatusCode)
			}
			resp, b = f.do(t, tc.method, tc.path, testToken, tc.body)
			if resp.StatusCode != tc.ok {
				t.Fatalf("right token: status %d, want %d: %s", resp.StatusCode, tc.ok, b)
			}
		})
	}
	// Basic auth with the token as password is not a bearer token.
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/customers", nil)
	req.SetBasicAuth("x", testToken)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("basic auth: status %d, want 403", resp.StatusCode)
	}
	if strings.Contains(f.logs.String(), testToken) {
		t.Errorf("the token is in the logs")
	}
}

func TestPublicEndpoints(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/healthz", 200},
		{"/readyz", 200},
		{"/webhook", 202},
	} {
		resp, b := f.do(t, "POST", tc.path, "", "")
		if tc.path != "/webhook" {
			resp, b = f.do(t, "GET", tc.path, "", "")
		}
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d: %s", tc.path, resp.StatusCode, tc.want, b)
		}
	}
	if f.webhooks.Load() != 1 {
		t.Errorf("webhook handler called %d times, want 1", f.webhooks.Load())
	}
	f.svc.SetReady(errors.New("git not loaded yet"))
	resp, b := f.do(t, "GET", "/readyz", "", "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, b), "git not loaded yet") {
		t.Errorf("readyz when not ready: %d %s", resp.StatusCode, b)
	}
	resp, _ = f.do(t, "GET", "/healthz", "", "")
	if resp.StatusCode != 200 {
		t.Errorf("healthz when not ready: %d, want 200", resp.StatusCode)
	}
}

func TestEndpoints(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		check                    func(t *testing.T, b []byte)
	}{
		{"list", "GET", "/api/v1/customers", "", 200, func(t *testing.T, b []byte) {
			var got api.CustomersBody
			mustJSON(t, b, &got)
			var names []string
			for _, c := range got.Customers {
				names = append(names, c.Name+"="+string(c.Status.Status))
			}
			if strings.Join(names, ",") != "acme-analytics=Synced,bluebird-books=Error,casa-verde=Suspended" {
				t.Errorf("customers: %v", names)
			}
		}},
		{"one", "GET", "/api/v1/customers/bluebird-books", "", 200, func(t *testing.T, b []byte) {
			var got daemon.CustomerView
			mustJSON(t, b, &got)
			if got.Name != "bluebird-books" || got.Status.Drift != 2 || len(got.Agents) != 3 || got.Agents[0].Failures != 7 {
				t.Errorf("customer: %+v", got)
			}
		}},
		{"unknown customer", "GET", "/api/v1/customers/nobody", "", 404, wantError("not found")},
		{"reconcile unknown", "POST", "/api/v1/customers/nobody/reconcile", "", 404, wantError("not found")},
		{"history limit", "GET", "/api/v1/customers/acme-analytics/history?limit=1", "", 200, func(t *testing.T, b []byte) {
			var got api.HistoryBody
			mustJSON(t, b, &got)
			if len(got.History) != 1 || got.History[0].ID != "a2" {
				t.Errorf("history: %+v", got)
			}
		}},
		{"history default", "GET", "/api/v1/customers/acme-analytics/history", "", 200, func(t *testing.T, b []byte) {
			var got api.HistoryBody
			mustJSON(t, b, &got)
			if len(got.History) != 2 || got.History[1].Result != "failed" {
				t.Errorf("history: %+v", got)
			}
		}},
		{"history empty is []", "GET", "/api/v1/customers/casa-verde/history", "", 200, func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), `"history": []`) {
				t.Errorf("history: %s", b)
			}
		}},
		{"history bad limit", "GET", "/api/v1/customers/acme-analytics/history?limit=x", "", 400, wantError("limit")},
		{"history zero limit", "GET", "/api/v1/customers/acme-analytics/history?limit=0", "", 400, wantError("limit")},
		{"history huge limit", "GET", "/api/v1/customers/acme-analytics/history?limit=1000000", "", 400, wantError("limit")},
		{"history unknown", "GET", "/api/v1/customers/nobody/history", "", 404, wantError("not found")},
		{"plan bad json", "POST", "/api/v1/plan", `{"ref":`, 400, wantError("bad plan request")},
		{"plan empty body", "POST", "/api/v1/plan", ``, 400, wantError("empty body")},
		{"plan unknown field", "POST", "/api/v1/plan", `{"ref":"main","fromat":"json"}`, 400, wantError("fromat")},
		{"plan two values", "POST", "/api/v1/plan", `{"ref":"main"}{}`, 400, wantError("more than one")},
		{"plan no ref", "POST", "/api/v1/plan", `{"format":"json"}`, 400, wantError(`"ref" is required`)},
		{"plan ref with space", "POST", "/api/v1/plan", `{"ref":"a b"}`, 400, wantError("white space")},
		{"plan bad format", "POST", "/api/v1/plan", `{"ref":"main","format":"yaml"}`, 400, wantError("json, markdown or text")},
		{"plan unknown ref", "POST", "/api/v1/plan", `{"ref":"nope"}`, 400, wantError("unknown git ref")},
		{"plan huge body", "POST", "/api/v1/plan", `{"ref":"` + strings.Repeat("a", 17<<20) + `"}`, 400, wantError("larger than")},
		{"unknown api path", "GET", "/api/v1/customers/a/b/c", "", 404, wantError("no such endpoint")},
		{"wrong method list", "DELETE", "/api/v1/customers", "", 405, wantError("not allowed")},
		{"wrong method reconcile", "GET", "/api/v1/customers/acme-analytics/reconcile", "", 405, wantError("not allowed")},
		{"wrong method plan", "GET", "/api/v1/plan", "", 405, wantError("not allowed")},
		{"sync", "POST", "/api/v1/sync", "", 202, func(t *testing.T, b []byte) {
			if f.svc.Syncs() != 1 {
				t.Errorf("syncs %d, want 1", f.svc.Syncs())
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := f.do(t, tc.method, tc.path, testToken, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if resp.StatusCode == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
			tc.check(t, b)
		})
	}
}

func TestReconcileAndHold(t *testing.T) {
	f := newFixture(t)
	resp, b := f.do(t, "POST", "/api/v1/customers/acme-analytics/reconcile", testToken, "")
	if resp.StatusCode != 202 || !strings.Contains(string(b), `"queued"`) {
		t.Fatalf("reconcile: %d %s", resp.StatusCode, b)
	}
	if got := f.svc.Reconciled(); len(got) != 1 || got[0] != "acme-analytics" {
		t.Fatalf("reconciled %v", got)
	}
	for _, tc := range []struct {
		action string
		hold   bool
		status state.Status
	}{
		{"suspend", true, state.StatusSuspended},
		{"resume", false, state.StatusOutOfSync},
	} {
		resp, b := f.do(t, "POST", "/api/v1/customers/acme-analytics/"+tc.action, testToken, "")
		var v daemon.CustomerView
		mustJSON(t, b, &v)
		if resp.StatusCode != 200 || v.Hold != tc.hold || v.Status.Status != tc.status {
			t.Errorf("%s: %d hold=%v status=%s", tc.action, resp.StatusCode, v.Hold, v.Status.Status)
		}
	}
}

func TestPlanFormats(t *testing.T) {
	f := newFixture(t)
	p := realPlan(t)
	for _, tc := range []struct {
		format, ctype string
		render        func(io.Writer) error
	}{
		{"", "application/json", func(w io.Writer) error { return plan.RenderJSON(w, p) }},
		{"json", "application/json", func(w io.Writer) error { return plan.RenderJSON(w, p) }},
		{"markdown", "text/markdown; charset=utf-8", func(w io.Writer) error {
			return plan.RenderMarkdown(w, p, plan.MarkdownOptions{Branch: "main"})
		}},
		{"text", "text/plain; charset=utf-8", func(w io.Writer) error { return plan.RenderText(w, p, plan.TextOptions{}) }},
	} {
		t.Run("format="+tc.format, func(t *testing.T) {
			body, _ := json.Marshal(api.PlanRequest{Ref: "main", Format: tc.format})
			resp, b := f.do(t, "POST", "/api/v1/plan", testToken, string(body))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("content type %q, want %q", got, tc.ctype)
			}
			var want bytes.Buffer
			if err := tc.render(&want); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want.Bytes()) {
				t.Errorf("body differs from the renderer's output:\n got %.300s\nwant %.300s", b, want.Bytes())
			}
		})
	}
}

func TestCrossOriginRefused(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		site string
		want int
	}{
		{"cross-site", http.StatusForbidden},
		{"same-origin", http.StatusAccepted},
	} {
		req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/customers/acme-analytics/reconcile", nil)
		req.AddCookie(&http.Cookie{Name: "vdc_token", Value: testToken})
		req.Header.Set("Sec-Fetch-Site", tc.site)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Sec-Fetch-Site %s: status %d, want %d", tc.site, resp.StatusCode, tc.want)
		}
	}
	if got := f.svc.Reconciled(); len(got) != 1 {
		t.Errorf("reconciled %v, want exactly the same-origin one", got)
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name, method, path, form string
		status                   int
		location                 string
		cookie                   bool
	}{
		{"form", "GET", "/login", "", 200, "", false},
		{"wrong token", "POST", "/login", "token=nope", 403, "", false},
		{"right token", "POST", "/login", "token=" + testToken + "&next=/customers/acme-analytics", 303, "/customers/acme-analytics", true},
		{"query token", "GET", "/login?token=" + testToken, "", 303, "/", true},
		{"open redirect", "POST", "/login", "token=" + testToken + "&next=//evil.example/", 303, "/", true},
		{"absolute redirect", "POST", "/login", "token=" + testToken + "&next=https://evil.example/", 303, "/", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader
			if tc.form != "" {
				rd = strings.NewReader(tc.form)
			}
			req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, rd)
			if tc.form != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			var cookie *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "vdc_token" {
					cookie = c
				}
			}
			if (cookie != nil) != tc.cookie {
				t.Fatalf("cookie set: %v, want %v", cookie != nil, tc.cookie)
			}
			if cookie != nil && (!cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode) {
				t.Errorf("cookie not HttpOnly+SameSite=Strict: %+v", cookie)
			}
			if bytes.Contains(b, []byte(testToken)) {
				t.Errorf("page echoes the token")
			}
			if cookie == nil {
				return
			}
			// The cookie opens the status page.
			req, _ = http.NewRequest("GET", f.srv.URL+"/", nil)
			req.AddCookie(cookie)
			resp, err = f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`data-customer="acme-analytics"`)) {
				t.Errorf("status page with cookie: %d", resp.StatusCode)
			}
		})
	}
}

func TestPageActions(t *testing.T) {
	f := newFixture(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path     string
		status   int
		location string
	}{
		{"/customers/acme-analytics/reconcile", 303, "/customers/acme-analytics"},
		{"/customers/acme-analytics/suspend", 303, "/customers/acme-analytics"},
		{"/customers/nobody/reconcile", 404, ""},
		{"/customers/acme-analytics/explode", 404, ""},
	} {
		req, _ := http.NewRequest("POST", f.srv.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s: %d %q, want %d %q", tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
		}
	}
	c, _ := f.svc.Customer(context.Background(), "acme-analytics")
	if !c.Hold || len(f.svc.Reconciled()) != 1 {
		t.Errorf("after the buttons: hold=%v reconciled=%v", c.Hold, f.svc.Reconciled())
	}
	resp, b := f.do(t, "GET", "/customers/nobody", testToken, "")
	if resp.StatusCode != 404 || !strings.Contains(string(b), "not found") {
		t.Errorf("unknown customer page: %d", resp.StatusCode)
	}
}

func TestPagesContent(t *testing.T) {
	f := newFixture(t)
	resp, b := f.do(t, "GET", "/", testToken, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	page := string(b)
	for _, want := range []string{
		`data-customer="acme-analytics"`, `data-status="Synced"`, `data-status="Error"`, `data-status="Suspended"`,
		"4b825dc642cb", "$18.42", "$25.00", "3 <span class=\"muted\">/ 1..5</span>", "qdrant: connection refused",
		"7 failed", "servers 2→3", "on hold", "<script", // the last is negated below
	} {
		if want == "<script" {
			if strings.Contains(page, want) {
				t.Errorf("the page has a script")
			}
			continue
		}
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	resp, b = f.do(t, "GET", "/customers/acme-analytics", testToken, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{"acme-analytics-data", "hetzner_server", "server_type=cx22", "hosts CPU 91%", "hetzner: 429", "Resources (3)", "Reconcile now"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("customer page lacks %q", want)
		}
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "data", "api-token")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s1, err := api.New(api.Config{Service: apitest.New(), TokenFile: file, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(file)
	tok := strings.TrimSpace(string(raw))
	if len(tok) < 40 {
		t.Errorf("generated token %d chars, want >= 40", len(tok))
	}
	if strings.Contains(logs.String(), tok) {
		t.Errorf("the generated token is in the log")
	}
	if !strings.Contains(logs.String(), file) {
		t.Errorf("the log does not name the token file: %s", logs.String())
	}
	// A second server reuses the file; the token works on both.
	s2, err := api.New(api.Config{Service: apitest.New(), TokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []http.Handler{s1, s2} {
		srv := httptest.NewServer(s)
		c, err := api.NewClient(srv.URL, tok, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Customers(context.Background()); err != nil {
			t.Errorf("generated token refused: %v", err)
		}
		srv.Close()
	}
	// Two generations differ.
	other := filepath.Join(dir, "other-token")
	tok2, created, err := api.LoadOrCreateToken(other)
	if err != nil || !created || tok2 == tok {
		t.Errorf("second token: created=%v same=%v err=%v", created, tok2 == tok, err)
	}

	bad := []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"world readable", "abc\n", 0o644, "chmod 600"},
		{"empty", "\n", 0o600, "empty"},
		{"two words", "abc def\n", 0o600, "more than one"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, tc.mode)
			_, err := api.New(api.Config{Service: apitest.New(), TokenFile: p})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "abc") {
				t.Errorf("error shows the file content: %v", err)
			}
		})
	}
	if _, err := api.New(api.Config{Service: apitest.New()}); err == nil {
		t.Errorf("no token and no token file: no error")
	}
	if _, err := api.New(api.Config{Token: "x"}); err == nil {
		t.Errorf("no service: no error")
	}
}

func TestClient(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := api.NewClient(f.srv.URL+"/", testToken, f.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := c.Customers(ctx)
	if err != nil || len(cs) != 3 {
		t.Fatalf("customers: %d %v", len(cs), err)
	}
	if _, err := c.Customer(ctx, "nobody"); !errors.Is(err, daemon.ErrNotFound) {
		t.Errorf("unknown customer: %v, want ErrNotFound", err)
	}
	if err := c.Reconcile(ctx, "casa-verde"); err != nil {
		t.Errorf("reconcile: %v", err)
	}
	v, err := c.Hold(ctx, "casa-verde", false)
	if err != nil || v.Hold {
		t.Errorf("resume: %+v %v", v.Hold, err)
	}
	h, err := c.History(ctx, "acme-analytics", 1)
	if err != nil || len(h) != 1 {
		t.Errorf("history: %d %v", len(h), err)
	}
	md, err := c.Plan(ctx, "main", api.FormatMarkdown)
	if err != nil || !strings.HasPrefix(string(md), "### agentvdc plan") {
		t.Errorf("plan: %.80s %v", md, err)
	}
	if _, err := c.Plan(ctx, "nope", api.FormatJSON); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("plan of an unknown ref: %v", err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Errorf("sync: %v", err)
	}
	wrong, _ := api.NewClient(f.srv.URL, "wrong", f.srv.Client())
	var se *api.StatusError
	if _, err := wrong.Customers(ctx); !errors.As(err, &se) || se.Code != 403 {
		t.Errorf("wrong token: %v", err)
	}
	// A closed port is unreachable.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	dc, _ := api.NewClient(deadURL, testToken, nil)
	if _, err := dc.Customers(ctx); !errors.Is(err, api.ErrUnreachable) || strings.Contains(err.Error(), testToken) {
		t.Errorf("dead daemon: %v", err)
	}
	for _, bad := range []string{"", "127.0.0.1:8787", "ftp://x", "http://user:pw@127.0.0.1:1/"} {
		if _, err := api.NewClient(bad, "", nil); err == nil {
			t.Errorf("NewClient(%q): no error", bad)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("NewClient error shows the password: %v", err)
		}
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func wantError(sub string) func(t *testing.T, b []byte) {
	return func(t *testing.T, b []byte) {
		t.Helper()
		if msg := errorOf(t, b); !strings.Contains(msg, sub) {
			t.Errorf("error %q lacks %q", msg, sub)
		}
	}
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t)
	f.metrics.QueueDepth.Set(4)
	f.metrics.DriftResources.Set(2)
	f.metrics.ObserveReconcile(reconciler.OutcomeApplied, 1500*time.Millisecond)
	f.metrics.ObserveWebhookRejected("bad_signature")
	f.metrics.ObserveWebhookRejected("not-a-reason")
	resp, b := f.do(t, "GET", "/metrics", testToken, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	body := string(b)
	for _, want := range []string{
		"agentvdc_queue_depth 4",
		"agentvdc_drift_resources 2",
		`agentvdc_reconcile_duration_seconds_count{result="applied"} 1`,
		`agentvdc_reconcile_duration_seconds_count{result="failed"} 0`,
		`agentvdc_cloud_api_calls_total{cloud="opennebula"} 0`,
		`agentvdc_cloud_api_rate_limited_total{cloud="exoscale"} 0`,
		`agentvdc_agent_runs_total{job="learning"} 0`,
		`agentvdc_agent_failures_total{job="ingest"} 0`,
		`agentvdc_autoscale_events_total{direction="up",resource="storage_gb"} 0`,
		`agentvdc_applies_total{result="failed"} 0`,
		"agentvdc_drift_detected_total 0",
		`agentvdc_webhook_rejected_total{reason="bad_signature"} 1`,
		`agentvdc_webhook_rejected_total{reason="rate_limited"} 0`,
		`agentvdc_webhook_rejected_total{reason="other"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "customer=") {
		t.Errorf("a metric carries a customer label")
	}
	// Registering twice in one registry is an error, not a panic.
	if _, err := daemon.NewMetrics(f.reg); err == nil {
		t.Errorf("second registration: no error")
	}
}

// TestIssue11Item3LoginRedirect: issue 11, item 3, through the real login
// handler: a signed-in browser is only ever sent to a path of this server.
func TestIssue11Item3LoginRedirect(t *testing.T) {
	f := newFixture(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	hostile := []string{
		"/%09/127.0.0.1:28999/",    // the reproduced attack: "/\t/host" after query decoding
		"/%0d%0a/127.0.0.1:28999/", // CR LF
		"/%5c127.0.0.1:28999/",     // backslash
		"/%5c%5c127.0.0.1:28999/",  //
		"/%252f127.0.0.1:28999/",   // an encoded slash after decoding
		"/%255c127.0.0.1:28999/",   // an encoded backslash after decoding
		"//127.0.0.1:28999/",       //
		"/%2f127.0.0.1:28999/",     // "//" after decoding
		"https://127.0.0.1:28999/", //
		"javascript:alert(document.domain)",
	}
	for _, next := range hostile {
		for _, method := range []string{"GET", "POST"} {
			var req *http.Request
			if method == "GET" {
				req, _ = http.NewRequest("GET", f.srv.URL+"/login?token="+testToken+"&next="+next, nil)
			} else {
				req, _ = http.NewRequest("POST", f.srv.URL+"/login", strings.NewReader("token="+testToken+"&next="+next))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("%s next=%s: status %d, want 303", method, next, resp.StatusCode)
				continue
			}
			if loc := resp.Header.Get("Location"); loc != "/" {
				t.Errorf("%s next=%s: redirected to %q, want /", method, next, loc)
			}
		}
	}
	// A same-origin path still works, and the sign-in form keeps it.
	resp, _ := noRedirectGet(t, noRedirect, f.srv.URL+"/login?token="+testToken+"&next=/customers/acme-analytics")
	if loc := resp.Header.Get("Location"); loc != "/customers/acme-analytics" {
		t.Errorf("same-origin next: redirected to %q", loc)
	}
	_, body := noRedirectGet(t, noRedirect, f.srv.URL+"/login?next=/%09/127.0.0.1:28999/")
	if bytes.Contains(body, []byte("127.0.0.1:28999")) {
		t.Errorf("the sign-in form carries the hostile next: %s", body)
	}
}

func noRedirectGet(t *testing.T, c *http.Client, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// A markdown plan names the branch the request gives (a pull request's
// head commit is planned by its hash, so the branch comes separately).
func TestPlanBranchHeader(t *testing.T) {
	f := newFixture(t)
	resp, b := f.do(t, "POST", "/api/v1/plan", testToken, `{"ref":"main","format":"markdown","branch":"feature/x"}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "### agentvdc plan: `") || !strings.Contains(strings.SplitN(string(b), "\n", 2)[0], " on `feature/x`") {
		t.Fatalf("status %d: %.200s", resp.StatusCode, b)
	}
	resp, b = f.do(t, "POST", "/api/v1/plan", testToken, `{"ref":"main","format":"markdown","branch":"a b"}`)
	if resp.StatusCode != 400 || !strings.Contains(string(b), `\"branch\"`) {
		t.Fatalf("bad branch: status %d: %s", resp.StatusCode, b)
	}
}

// POST /api/v1/plan with files plans them (vdc plan while the daemon holds
// the state file); reconcile answers with its request number; events are
// one timeline, oldest first.
func TestPlanFilesReconcileRequestEvents(t *testing.T) {
	f := newFixture(t)
	f.svc.SetPlan("worktree-abc", realPlan(t))
	resp, b := f.do(t, "POST", "/api/v1/plan", testToken, `{"files":[{"path":"customers/a.yaml","data":"name: a"}],"commit":"worktree-abc"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"format_version"`) {
		t.Fatalf("plan files: %d %.200s", resp.StatusCode, b)
	}
	resp, b = f.do(t, "POST", "/api/v1/plan", testToken, `{"ref":"main","files":[{"path":"customers/a.yaml","data":""}]}`)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "not both") {
		t.Fatalf("ref and files: %d %s", resp.StatusCode, b)
	}
	for want := uint64(1); want <= 2; want++ {
		resp, b = f.do(t, "POST", "/api/v1/customers/acme-analytics/reconcile", testToken, "")
		var sb api.StatusBody
		mustJSON(t, b, &sb)
		if resp.StatusCode != 202 || sb.Request != want {
			t.Fatalf("reconcile %d: %d %s", want, resp.StatusCode, b)
		}
	}
	resp, b = f.do(t, "GET", "/api/v1/customers/acme-analytics/events", testToken, "")
	var eb api.EventsBody
	mustJSON(t, b, &eb)
	if resp.StatusCode != 200 || len(eb.Events) < 2 {
		t.Fatalf("events: %d %s", resp.StatusCode, b)
	}
	for i := 1; i < len(eb.Events); i++ {
		if eb.Events[i].At.Before(eb.Events[i-1].At) {
			t.Errorf("events out of order: %v before %v", eb.Events[i-1].At, eb.Events[i].At)
		}
	}
	resp, b = f.do(t, "GET", "/api/v1/customers/acme-analytics/events?limit=1", testToken, "")
	mustJSON(t, b, &eb)
	if len(eb.Events) != 1 || eb.Events[0].Reason != "apply succeeded" {
		t.Errorf("events?limit=1: %s", b)
	}
	if resp, _ = f.do(t, "GET", "/api/v1/customers/nobody/events", testToken, ""); resp.StatusCode != 404 {
		t.Errorf("unknown customer: %d", resp.StatusCode)
	}
}

// On-call actions are logged once each, with the actor the client names.
func TestOnCallActionsLoggedWithActor(t *testing.T) {
	f := newFixture(t)
	post := func(path, actor string) int {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		if actor != "" {
			req.Header.Set(api.ActorHeader, actor)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/api/v1/customers/acme-analytics/reconcile", "alice@laptop"); code != 202 {
		t.Fatalf("reconcile: %d", code)
	}
	if code := post("/api/v1/customers/acme-analytics/suspend", `bob"evil`+strings.Repeat("x", 100)); code != 200 {
		t.Fatalf("suspend: %d", code)
	}
	if code := post("/api/v1/customers/nobody/resume", ""); code != 404 {
		t.Fatalf("resume nobody: %d", code)
	}
	logs := f.logs.String()
	for _, want := range []string{
		`msg="on-call action" action=reconcile customer=acme-analytics actor=alice@laptop via=api`,
		`msg="on-call action" action=suspend customer=acme-analytics actor=bobevil` + strings.Repeat("x", 57) + ` via=api`,
		`msg="on-call action refused" action=resume customer=nobody actor=unknown via=api`,
	} {
		if strings.Count(logs, want) != 1 {
			t.Errorf("the log has %d× %q:\n%s", strings.Count(logs, want), want, logs)
		}
	}
}
