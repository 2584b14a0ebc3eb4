package webhook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentvdc/agentvdc/reconciler/daemon/webhook"
)

const (
	ghSecret = "gh-s3cret-5f1d9a0c7e"
	glToken  = "gl-t0ken-8b2e4c6d1a"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// github returns the headers GitHub sends for event, signed with secret
// (no signature header if secret is empty).
func github(event, secret string) func([]byte) http.Header {
	return func(body []byte) http.Header {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("User-Agent", "GitHub-Hookshot/3c2b1a0")
		h.Set("X-GitHub-Event", event)
		h.Set("X-GitHub-Delivery", nextID("72d3162e-cc78-11e3-81ab-4c9367dc0958"))
		h.Set("X-GitHub-Hook-ID", "498765432")
		if secret != "" {
			h.Set("X-Hub-Signature-256", sign(secret, body))
		}
		return h
	}
}

// deliveries numbers the delivery ids after the first, as each real
// delivery has its own (the handler drops repeated ids).
var deliveries atomic.Int64

func nextID(first string) string {
	if n := deliveries.Add(1); n > 1 {
		return fmt.Sprintf("%s-%d", first, n)
	}
	return first
}

func gitlab(event, token string) func([]byte) http.Header {
	return func([]byte) http.Header {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("User-Agent", "GitLab/17.9.0")
		h.Set("X-Gitlab-Event", event)
		h.Set("X-Gitlab-Event-UUID", nextID("13792a34-cac6-4fda-95a8-c58e00a3954e"))
		h.Set("X-Gitlab-Instance", "https://gitlab.example.com")
		if token != "" {
			h.Set("X-Gitlab-Token", token)
		}
		return h
	}
}

func with(f func([]byte) http.Header, key, value string) func([]byte) http.Header {
	return func(b []byte) http.Header {
		h := f(b)
		h.Set(key, value)
		return h
	}
}

// sameEvent compares events, the delivery id by its first delivery's.
func sameEvent(got, want webhook.PushEvent) bool {
	if !strings.HasPrefix(got.Delivery, want.Delivery) {
		return false
	}
	got.Delivery = want.Delivery
	return got == want
}

type recorder struct {
	mu     sync.Mutex
	events []webhook.PushEvent
}

func (r *recorder) trigger(ev webhook.PushEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) take() []webhook.PushEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

func newServer(t *testing.T, cfg webhook.Config) (*httptest.Server, *recorder, *syncBuffer) {
	t.Helper()
	rec := &recorder{}
	logs := &syncBuffer{}
	cfg.Trigger = rec.trigger
	if cfg.RejectBurst == 0 {
		cfg.RejectBurst = 1000 // these tests reject on purpose; TestIssue11Item7… tests the limit
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, rec, logs
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestHandler(t *testing.T) {
	mainGH := webhook.PushEvent{
		Provider: webhook.GitHub, Delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		Ref: "refs/heads/main", Branch: "main",
		Before:  "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
		After:   "59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5",
		RepoURL: "https://github.com/agentvdc/customers.git", SSHURL: "git@github.com:agentvdc/customers.git",
		RepoName: "agentvdc/customers",
	}
	mainGL := webhook.PushEvent{
		Provider: webhook.GitLab, Delivery: "13792a34-cac6-4fda-95a8-c58e00a3954e",
		Ref: "refs/heads/main", Branch: "main",
		Before:  "95790bf891e76fee5e1747ab589903a6a1f80f22",
		After:   "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
		RepoURL: "https://gitlab.example.com/platform/customers.git", SSHURL: "git@gitlab.example.com:platform/customers.git",
		RepoName: "platform/customers",
	}
	tests := []struct {
		name       string
		method     string // POST if empty
		body       []byte
		headers    func([]byte) http.Header
		wantCode   int
		wantStatus string
		want       *webhook.PushEvent
	}{
		{"github push to main triggers", "", fixture(t, "github-push.json"), github("push", ghSecret), 202, "triggered", &mainGH},
		{"github ping answers without trigger", "", fixture(t, "github-ping.json"), github("ping", ghSecret), 200, "pong", nil},
		{"github other branch ignored", "", fixture(t, "github-push-feature.json"), github("push", ghSecret), 202, "ignored", nil},
		{"github tag ignored", "", fixture(t, "github-push-tag.json"), github("push", ghSecret), 202, "ignored", nil},
		{"github branch deletion ignored", "", fixture(t, "github-push-delete.json"), github("push", ghSecret), 202, "ignored", nil},
		{"github no signature", "", fixture(t, "github-push.json"), github("push", ""), 401, "rejected", nil},
		{"github wrong secret", "", fixture(t, "github-push.json"), github("push", "not-the-secret"), 403, "rejected", nil},
		{"github ping with wrong secret", "", fixture(t, "github-ping.json"), github("ping", "not-the-secret"), 403, "rejected", nil},
		{"github sha1 signature only", "", fixture(t, "github-push.json"),
			with(github("push", ""), "X-Hub-Signature-256", "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6"), 403, "rejected", nil},
		{"github signature not hex", "", fixture(t, "github-push.json"),
			with(github("push", ""), "X-Hub-Signature-256", "sha256=zz"), 403, "rejected", nil},
		{"github body changed after signing", "",
			bytes.Replace(fixture(t, "github-push-feature.json"), []byte("feature/new-tier"), []byte("main"), 1),
			func([]byte) http.Header { return github("push", ghSecret)(fixture(t, "github-push-feature.json")) }, 403, "rejected", nil},
		{"github unknown event", "", fixture(t, "github-push.json"), github("issues", ghSecret), 400, "rejected", nil},
		{"github malformed json", "", []byte(`{"ref": "refs/heads/main", "after": `), github("push", ghSecret), 400, "rejected", nil},
		{"github json without after", "", []byte(`{"ref": "refs/heads/main"}`), github("push", ghSecret), 400, "rejected", nil},
		{"github json with trailing data", "", append(fixture(t, "github-push.json"), []byte(`{}`)...), github("push", ghSecret), 400, "rejected", nil},
		{"github form-encoded push triggers", "",
			[]byte("payload=" + url.QueryEscape(string(fixture(t, "github-push.json")))),
			with(github("push", ghSecret), "Content-Type", "application/x-www-form-urlencoded"), 202, "triggered", &mainGH},
		{"gitlab push to main triggers", "", fixture(t, "gitlab-push.json"), gitlab("Push Hook", glToken), 202, "triggered", &mainGL},
		{"gitlab other branch ignored", "", fixture(t, "gitlab-push-feature.json"), gitlab("Push Hook", glToken), 202, "ignored", nil},
		{"gitlab tag push ignored", "", fixture(t, "gitlab-tag-push.json"), gitlab("Tag Push Hook", glToken), 202, "ignored", nil},
		{"gitlab no token", "", fixture(t, "gitlab-push.json"), gitlab("Push Hook", ""), 401, "rejected", nil},
		{"gitlab wrong token", "", fixture(t, "gitlab-push.json"), gitlab("Push Hook", "gl-t0ken-8b2e4c6d1b"), 403, "rejected", nil},
		{"gitlab token prefix", "", fixture(t, "gitlab-push.json"), gitlab("Push Hook", glToken[:5]), 403, "rejected", nil},
		{"gitlab unknown event", "", fixture(t, "gitlab-push.json"), gitlab("Merge Request Hook", glToken), 400, "rejected", nil},
		{"gitlab push hook with a non-push body", "", fixture(t, "gitlab-tag-push.json"), gitlab("Push Hook", glToken), 400, "rejected", nil},
		{"gitlab malformed json", "", []byte(`not json`), gitlab("Push Hook", glToken), 400, "rejected", nil},
		{"no provider headers", "", fixture(t, "github-push.json"), func([]byte) http.Header { return http.Header{} }, 400, "rejected", nil},
		{"GET rejected", http.MethodGet, nil, github("push", ghSecret), 405, "rejected", nil},
		{"PUT rejected", http.MethodPut, fixture(t, "github-push.json"), github("push", ghSecret), 405, "rejected", nil},
	}
	srv, rec, logs := newServer(t, webhook.Config{GitHubSecret: ghSecret, GitLabToken: glToken, Branch: "main"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/webhook", bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.headers(tt.body)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			events := rec.take() // before any Fatal, so no event leaks into the next case
			var got struct{ Status, Reason string }
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("response is not JSON: %v", err)
			}
			if resp.StatusCode != tt.wantCode || got.Status != tt.wantStatus {
				t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, got.Status, got.Reason, tt.wantCode, tt.wantStatus)
			}
			if tt.wantCode == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			switch {
			case tt.want == nil && len(events) != 0:
				t.Fatalf("triggered %+v", events)
			case tt.want != nil && (len(events) != 1 || !sameEvent(events[0], *tt.want)):
				t.Fatalf("triggered %+v\nwant %+v", events, *tt.want)
			}
		})
	}
	// Nothing secret reached the log: not the secret, not the token, not a
	// signature of any request.
	l := logs.String()
	for _, secret := range []string{ghSecret, glToken, "not-the-secret", "gl-t0ken-8b2e4c6d1b", "sha256=",
		strings.TrimPrefix(sign(ghSecret, fixture(t, "github-push.json")), "sha256=")} {
		if strings.Contains(l, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
	if !strings.Contains(l, `"status":403`) || !strings.Contains(l, `"commit":"59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5"`) {
		t.Errorf("log lacks the expected outcome records:\n%s", l)
	}
}

func TestBodyLimit(t *testing.T) {
	srv, rec, _ := newServer(t, webhook.Config{GitHubSecret: ghSecret, Branch: "main"})
	// A valid push padded past 1 MiB with whitespace, correctly signed.
	big := append(bytes.Repeat([]byte(" "), webhook.DefaultMaxBodyBytes), fixture(t, "github-push.json")...)
	tests := []struct {
		name    string
		chunked bool // no Content-Length: the limit must hold while reading
	}{{"content-length", false}, {"chunked", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(big)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length from net/http
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = github("push", ghSecret)(big)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413", resp.StatusCode)
			}
			if ev := rec.take(); len(ev) != 0 {
				t.Fatalf("triggered %+v", ev)
			}
		})
	}
}

func TestProviderNotEnabled(t *testing.T) {
	tests := []struct {
		name    string
		cfg     webhook.Config
		body    []byte
		headers func([]byte) http.Header
	}{
		{"github delivery, only gitlab configured", webhook.Config{GitLabToken: glToken, Branch: "main"},
			fixture(t, "github-push.json"), github("push", ghSecret)},
		{"gitlab delivery, only github configured", webhook.Config{GitHubSecret: ghSecret, Branch: "main"},
			fixture(t, "gitlab-push.json"), gitlab("Push Hook", glToken)},
		// A GitLab delivery must not pass with a GitLab token equal to an
		// empty configured secret or by presenting the GitHub secret.
		{"gitlab delivery carrying the github secret", webhook.Config{GitHubSecret: ghSecret, GitLabToken: glToken, Branch: "main"},
			fixture(t, "gitlab-push.json"), gitlab("Push Hook", ghSecret)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec, _ := newServer(t, tt.cfg)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, bytes.NewReader(tt.body))
			req.Header = tt.headers(tt.body)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
			if ev := rec.take(); len(ev) != 0 {
				t.Fatalf("triggered %+v", ev)
			}
		})
	}
}

func TestBranchConfig(t *testing.T) {
	tests := []struct {
		branch  string
		fixture string
		trigger bool
	}{
		{"refs/heads/main", "github-push.json", true},
		{"feature/new-tier", "github-push-feature.json", true},
		{"feature/new-tier", "github-push.json", false},
		{"mai", "github-push.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.branch+"/"+tt.fixture, func(t *testing.T) {
			srv, rec, _ := newServer(t, webhook.Config{GitHubSecret: ghSecret, Branch: tt.branch})
			body := fixture(t, tt.fixture)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, bytes.NewReader(body))
			req.Header = github("push", ghSecret)(body)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := len(rec.take()) == 1; got != tt.trigger {
				t.Fatalf("triggered = %v, want %v", got, tt.trigger)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	trig := func(webhook.PushEvent) {}
	const s = "zz-secret-zz"
	tests := []struct {
		name string
		cfg  webhook.Config
	}{
		{"no secret", webhook.Config{Branch: "main", Trigger: trig}},
		{"no trigger", webhook.Config{GitHubSecret: s, Branch: "main"}},
		{"no branch", webhook.Config{GitHubSecret: s, Trigger: trig}},
		{"tag ref", webhook.Config{GitHubSecret: s, Branch: "refs/tags/v1", Trigger: trig}},
		{"bad branch", webhook.Config{GitHubSecret: s, Branch: "ma in", Trigger: trig}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhook.New(tt.cfg)
			if !errors.Is(err, webhook.ErrConfig) {
				t.Fatalf("New = %v, want ErrConfig", err)
			}
			if err != nil && strings.Contains(err.Error(), s) {
				t.Fatalf("error mentions the secret: %v", err)
			}
		})
	}
}
