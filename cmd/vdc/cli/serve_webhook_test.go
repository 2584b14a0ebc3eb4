package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/gitsource/gittest"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

const testWebhookSecret = "webhook-secret-for-the-serve-test"

// serveRepo makes a git checkout on branch main with one customer.
func serveRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "-q", "-b", "main", ".")
	writeCustomerFile(t, dir, "acme")
	gittest.Git(t, dir, "add", ".")
	gittest.Git(t, dir, "commit", "-q", "-m", "acme")
	return dir
}

func writeCustomerFile(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "customers"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("name: %s\ndisplayName: %s\nowner: ops@%s.example\ntier: casual\n", name, name, name)
	if err := os.WriteFile(filepath.Join(dir, "customers", name+".yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// serveConfigFor is the defaults (ref HEAD) on repo with the simulators,
// a one-hour poll and no agents or autoscaler.
func serveConfigFor(t *testing.T, repo string) serveConfig {
	cfg := defaultServeConfig()
	off := false
	cfg.Sim, cfg.Data, cfg.Listen = true, filepath.Join(t.TempDir(), "d"), "127.0.0.1:0"
	cfg.Repo.URL, cfg.Repo.Poll.Duration = repo, time.Hour
	cfg.Agents.Enabled, cfg.Autoscale.Enabled = &off, &off
	return cfg
}

func testEnv(vars map[string]string) (*env, *syncBuf) {
	out := &syncBuf{}
	return &env{stdin: strings.NewReader(""), stdout: out, stderr: out, getenv: func(k string) string { return vars[k] }}, out
}

// TestIssue11Item6WebhookWithDefaultRefHEAD: issue 11, item 6 (the webhook
// was silently disabled with the default --ref HEAD). With the defaults and
// a GitHub secret set, the webhook follows the branch HEAD names (main):
// a correctly signed push to it makes the daemon sync at once (the poll is
// an hour).
func TestIssue11Item6WebhookWithDefaultRefHEAD(t *testing.T) {
	repo := serveRepo(t)
	cfg := serveConfigFor(t, repo)
	if cfg.Repo.Ref != "HEAD" {
		t.Fatalf("the default ref is %q, this test is about HEAD", cfg.Repo.Ref)
	}
	e, out := testEnv(map[string]string{"VDC_WEBHOOK_GITHUB_SECRET": testWebhookSecret})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, e, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop")
		}
	})
	c := waitDaemon(t, cfg.Data, done, out)
	waitCustomer(t, c, "acme", 30*time.Second)

	writeCustomerFile(t, repo, "beta")
	gittest.Git(t, repo, "add", ".")
	gittest.Git(t, repo, "commit", "-q", "-m", "beta")
	head := gittest.Git(t, repo, "rev-parse", "HEAD")
	payload := fmt.Sprintf(`{"ref":"refs/heads/main","before":"%s","after":"%s","repository":{"full_name":"o/customers"}}`, strings.Repeat("0", 40), head)
	mac := hmac.New(sha256.New, []byte(testWebhookSecret))
	mac.Write([]byte(payload))
	req, _ := http.NewRequest(http.MethodPost, c.URL()+"/webhook", strings.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "8d5c2a3e-0000-4000-8000-000000000001")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(b), `"triggered"`) {
		t.Fatalf("signed push to main: %d %s\nlog:\n%s", resp.StatusCode, b, out)
	}
	took := waitCustomer(t, c, "beta", 20*time.Second)
	t.Logf("beta known %s after the webhook (poll interval 1h)", took.Round(time.Millisecond))
	if !strings.Contains(out.String(), `"msg":"webhook on","branch":"main"`) {
		t.Errorf("the log does not say the webhook follows main:\n%s", out)
	}
}

// TestIssue11Item6WebhookConfigErrorsStopStart: a webhook that cannot work
// stops vdc serve from starting, saying why, instead of being dropped.
func TestIssue11Item6WebhookConfigErrorsStopStart(t *testing.T) {
	repo := serveRepo(t)
	gittest.Git(t, repo, "checkout", "-q", "--detach")
	for _, tc := range []struct {
		name string
		vars map[string]string
		ref  string
		want string
	}{
		{"detached HEAD", map[string]string{"VDC_WEBHOOK_GITHUB_SECRET": testWebhookSecret}, "HEAD", "HEAD names no branch"},
		{"short secret", map[string]string{"VDC_WEBHOOK_GITLAB_TOKEN": "short"}, "main", "shorter than the minimum 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := serveConfigFor(t, repo)
			cfg.Repo.Ref = tc.ref
			e, out := testEnv(tc.vars)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := serve(ctx, e, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("serve = %v, want an error saying %q\n%s", err, tc.want, out)
			}
			if strings.Contains(err.Error(), `"short"`) {
				t.Errorf("the error shows the secret: %v", err)
			}
			if _, statErr := os.Stat(filepath.Join(cfg.Data, daemonURLFile)); statErr == nil {
				t.Errorf("the daemon started listening")
			}
		})
	}
}

func waitDaemon(t *testing.T, data string, done <-chan error, out *syncBuf) *api.Client {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, out)
		default:
		}
		u := readDaemonURL(data)
		tok, _ := os.ReadFile(filepath.Join(data, "api-token"))
		if u != "" && len(tok) > 0 {
			c, err := api.NewClient(u, strings.TrimSpace(string(tok)), nil)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not start in 30s\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitCustomer(t *testing.T, c *api.Client, name string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if _, err := c.Customer(context.Background(), name); err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s unknown to the daemon after %s", name, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
