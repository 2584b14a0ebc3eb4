package webhook_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/webhook"
)

// countingWriter counts the bytes and lines written to the log.
type countingWriter struct {
	mu           sync.Mutex
	bytes, lines int
	longest      int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes += len(p)
	for _, l := range bytes.Split(bytes.TrimSuffix(p, []byte("\n")), []byte("\n")) {
		c.lines++
		c.longest = max(c.longest, len(l))
	}
	return len(p), nil
}

// floodCalls is the number of unsigned calls of the log-flooding test.
const floodCalls = 50

// flood sends floodCalls unsigned POSTs whose event and delivery headers
// are 450 KB each, over real TCP, and returns the responses' codes.
func flood(t *testing.T, h http.Handler) map[int]int {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = 2 << 20 // let the huge headers reach the handler
	srv.Start()
	t.Cleanup(srv.Close)
	huge := strings.Repeat("A\t\xff\xfe", 450<<10/4) // 450 KB, with a tab and bytes that are not UTF-8
	codes := map[int]int{}
	for i := 0; i < floodCalls; i++ {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"ref":"refs/heads/main"}`))
		req.Header.Set("X-GitHub-Event", "push"+huge)
		req.Header.Set("X-GitHub-Delivery", huge)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	return codes
}

// TestIssue11Item7LogFlooding: issue 11, item 7 (unauthenticated log
// flooding). 50 unsigned POSTs whose event and delivery headers are 450 KB
// each, over real TCP, add a bounded number of bounded log lines; every one
// of them is counted as rejected, the client is answered 429 past its
// budget, and a correctly signed push from the same address still works.
func TestIssue11Item7LogFlooding(t *testing.T) {
	logs := &countingWriter{}
	var mu sync.Mutex
	rejected := map[string]int{}
	triggered := 0
	h, err := webhook.New(webhook.Config{
		GitHubSecret: ghSecret, Branch: "main",
		Trigger:  func(webhook.PushEvent) { mu.Lock(); triggered++; mu.Unlock() },
		Logger:   slog.New(slog.NewJSONHandler(logs, nil)),
		Rejected: func(reason string) { mu.Lock(); rejected[reason]++; mu.Unlock() },
		// The default burst, refilled slowly enough that a slow (-race)
		// run does not earn a token back.
		RejectRate: 0.001,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	codes := flood(t, h)
	// The log gate lets a line a second through after its burst.
	maxLines := webhook.DefaultRejectBurst + int(time.Since(start).Seconds()) + 1
	t.Logf("%d calls with 2 × 450 KB headers: responses %v, log %d bytes in %d lines (longest %d bytes)",
		floodCalls, codes, logs.bytes, logs.lines, logs.longest)
	if codes[http.StatusUnauthorized] != webhook.DefaultRejectBurst || codes[http.StatusTooManyRequests] != floodCalls-webhook.DefaultRejectBurst {
		t.Errorf("responses %v, want %d × 401 then 429", codes, webhook.DefaultRejectBurst)
	}
	if logs.lines > maxLines || logs.longest > 1024 || logs.bytes > maxLines<<10 {
		t.Errorf("log grew by %d bytes in %d lines (longest %d): want at most %d lines of at most 1 KB", logs.bytes, logs.lines, logs.longest, maxLines)
	}
	mu.Lock()
	if n := rejected[webhook.ReasonNoCredentials] + rejected[webhook.ReasonRateLimited]; n != floodCalls {
		t.Errorf("counted %v, want all %d calls", rejected, floodCalls)
	}
	mu.Unlock()

	// The address is past its budget, yet a signed push goes through.
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	body := fixture(t, "github-push.json")
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	req.Header = github("push", ghSecret)(body)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != http.StatusAccepted || triggered != 1 {
		t.Errorf("signed push after the flood: %d, triggered %d", resp.StatusCode, triggered)
	}
}

// TestIssue11Item7DeliveriesDeduplicated: a verified delivery id seen
// before is answered "duplicate" and does not trigger; the memory of ids is
// bounded (the oldest are forgotten).
func TestIssue11Item7DeliveriesDeduplicated(t *testing.T) {
	srv, rec, _ := newServer(t, webhook.Config{GitHubSecret: ghSecret, Branch: "main", DedupeSize: 3})
	body := fixture(t, "github-push.json")
	post := func(id string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header = github("push", ghSecret)(body)
		req.Header.Set("X-GitHub-Delivery", id)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := post("d-1"); !strings.Contains(got, `"triggered"`) {
		t.Fatalf("first delivery: %s", got)
	}
	if got := post("d-1"); !strings.Contains(got, `"duplicate"`) {
		t.Fatalf("same delivery again: %s", got)
	}
	if n := len(rec.take()); n != 1 {
		t.Fatalf("triggered %d times, want 1", n)
	}
	for _, id := range []string{"d-2", "d-3", "d-4"} {
		post(id)
	}
	if got := post("d-1"); !strings.Contains(got, `"triggered"`) {
		t.Fatalf("d-1 after 3 other deliveries (remembered: 3): %s", got)
	}
	// An unsigned call cannot poison the memory with an id.
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	req.Header = github("push", "wrong-secret-0123456789")(body)
	req.Header.Set("X-GitHub-Delivery", "d-9")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := post("d-9"); !strings.Contains(got, `"triggered"`) {
		t.Fatalf("d-9 signed after a forged d-9: %s", got)
	}
}

// TestIssue11Item9ShortWebhookSecretsRefused: issue 11, item 9 (no minimum
// length for the webhook secrets): a secret under 16 bytes is refused with
// an error that says so and does not contain it.
func TestIssue11Item9ShortWebhookSecretsRefused(t *testing.T) {
	trigger := func(webhook.PushEvent) {}
	for _, cfg := range []webhook.Config{
		{GitHubSecret: "Q", Branch: "main", Trigger: trigger},
		{GitHubSecret: "fifteen-bytes!!", Branch: "main", Trigger: trigger},
		{GitLabToken: "tok3n", Branch: "main", Trigger: trigger},
		{GitHubSecret: ghSecret, GitLabToken: "tok3n", Branch: "main", Trigger: trigger},
	} {
		_, err := webhook.New(cfg)
		if !errors.Is(err, webhook.ErrConfig) || !strings.Contains(err.Error(), "shorter than the minimum 16") {
			t.Errorf("New(%q, %q) = %v, want a too-short error", cfg.GitHubSecret, cfg.GitLabToken, err)
			continue
		}
		for _, s := range []string{cfg.GitHubSecret, cfg.GitLabToken} {
			if s != "" && len(s) < 16 && strings.Contains(err.Error(), s) {
				t.Errorf("error %q contains the secret", err)
			}
		}
	}
	if _, err := webhook.New(webhook.Config{GitHubSecret: strings.Repeat("x", 16), Branch: "main", Trigger: trigger}); err != nil {
		t.Errorf("16-byte secret refused: %v", err)
	}
}

// TestIssue11Item7PayloadFieldsBounded: a signed payload's fields quoted
// in a reason (object_kind, branch) reach the log and the response cut and
// sanitised.
func TestIssue11Item7PayloadFieldsBounded(t *testing.T) {
	srv, _, logs := newServer(t, webhook.Config{GitLabToken: glToken, Branch: "main"})
	long := strings.Repeat("k\u202e", 100<<10)
	for _, body := range []string{
		`{"object_kind":"` + long + `","ref":"refs/heads/main","after":"` + strings.Repeat("a", 40) + `"}`,
		`{"object_kind":"push","ref":"refs/heads/` + long + `","after":"` + strings.Repeat("a", 40) + `"}`,
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header = gitlab("Push Hook", glToken)(nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) > 2048 || strings.Contains(string(b), "\u202e") {
			t.Errorf("response of %d bytes (or with a bidi override): %.200s", len(b), b)
		}
	}
	if l := logs.String(); len(l) > 8<<10 || strings.Contains(l, "\u202e") {
		t.Errorf("log of %d bytes for two deliveries (or with a bidi override):\n%s", len(l), l)
	}
}
