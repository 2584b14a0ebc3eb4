package api_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/api/apitest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestIssue11Item9ShortAPITokenRefused: issue 11, item 9 (no minimum
// length for VDC_TOKEN): a token under 16 bytes, given or in the token
// file, is refused with an error that says so without the token.
func TestIssue11Item9ShortAPITokenRefused(t *testing.T) {
	svc := apitest.New()
	for _, tok := range []string{"a", "Zq9", "fifteen-bytes!!"} {
		_, err := api.New(api.Config{Service: svc, Token: tok})
		if err == nil || !strings.Contains(err.Error(), "shorter than the minimum 16") {
			t.Errorf("token of %d bytes: %v, want refused", len(tok), err)
			continue
		}
		if len(tok) > 2 && strings.Contains(err.Error(), tok) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	if _, err := api.New(api.Config{Service: svc, Token: strings.Repeat("k", 16)}); err != nil {
		t.Errorf("16-byte token: %v", err)
	}
	file := filepath.Join(t.TempDir(), "api-token")
	if err := os.WriteFile(file, []byte("Zq9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := api.New(api.Config{Service: svc, TokenFile: file}); err == nil || !strings.Contains(err.Error(), "shorter than the minimum 16") || strings.Contains(err.Error(), "Zq9") {
		t.Errorf("short token file: %v", err)
	}
}

// TestIssue11Item9FailedAuthLoggedAndRateLimited: issue 11, item 9
// (failed authentications are not logged or rate-limited). Wrong tokens
// are logged without the token and counted; past the budget of one
// address, its requests with a token are answered 429 with Retry-After,
// the right token included, until the budget refills.
func TestIssue11Item9FailedAuthLoggedAndRateLimited(t *testing.T) {
	logs := &lockedBuffer{}
	reg := prometheus.NewRegistry()
	const burst = 3
	newSrv := func(r rate.Limit) *httptest.Server {
		s, err := api.New(api.Config{Service: apitest.New(apitest.Sample(time.Now())...), Token: testToken, Registry: reg,
			Logger: slog.New(slog.NewJSONHandler(logs, nil)), AuthFailureRate: r, AuthFailureBurst: burst})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		return srv
	}
	srv := newSrv(0.001)
	call := func(srv *httptest.Server, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/customers", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	const wrong = "wrong-token-presented-by-attacker"
	var codes []int
	for i := 0; i < burst; i++ {
		codes = append(codes, call(srv, wrong).StatusCode)
	}
	// A wrong token through the sign-in form counts too.
	resp, err := http.PostForm(srv.URL+"/login", map[string][]string{"token": {wrong}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	codes = append(codes, resp.StatusCode)
	limited := call(srv, wrong)
	codes = append(codes, limited.StatusCode)
	right := call(srv, testToken)
	codes = append(codes, right.StatusCode)
	want := []int{403, 403, 403, 429, 429, 429}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("statuses %v, want %v", codes, want)
		}
	}
	if limited.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	l := logs.String()
	if n := strings.Count(l, `"msg":"authentication failed"`); n < burst {
		t.Errorf("%d failed authentications logged, want at least %d:\n%s", n, burst, l)
	}
	if !strings.Contains(l, `"remote":"127.0.0.1"`) || !strings.Contains(l, `"path":"/api/v1/customers"`) {
		t.Errorf("the log does not say who and what:\n%s", l)
	}
	if strings.Contains(l, wrong) || strings.Contains(l, testToken) {
		t.Errorf("a token reached the log:\n%s", l)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "agentvdc_api_auth_failures_total" {
			for _, m := range mf.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if got["denied"] != 3 || got["rate_limited"] != 3 {
		t.Errorf("agentvdc_api_auth_failures_total = %v, want denied 3, rate_limited 3", got)
	}

	// With a budget that refills, the right token works again.
	fast := newSrv(20)
	for i := 0; i < burst+1; i++ {
		call(fast, wrong)
	}
	if c := call(fast, testToken).StatusCode; c != 429 {
		t.Fatalf("right token while limited: %d, want 429", c)
	}
	time.Sleep(150 * time.Millisecond)
	if c := call(fast, testToken).StatusCode; c != 200 {
		t.Fatalf("right token after the budget refilled: %d, want 200", c)
	}
}
