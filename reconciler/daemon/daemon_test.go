package daemon_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/daemon/webhook"
	"github.com/agentvdc/agentvdc/reconciler/gitsource"
	"github.com/agentvdc/agentvdc/reconciler/gitsource/gittest"
	"github.com/agentvdc/agentvdc/state"
)

// fixture: the simulators with the real adapters, a repository served by
// a real git daemon with a work clone to push from, and a state store.
type fixture struct {
	stack *simstack.Stack
	ps    *simstack.Providers
	store *state.Store
	url   string
	work  string
	data  string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := simstack.Start(simstack.Options{HetznerRateLimitPerHour: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ps, err := st.NewProviders(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	gittest.Git(t, root, "init", "-q", "--bare", "-b", "main", "customers.git")
	url := gittest.Daemon(t, root) + "/customers.git"
	work := filepath.Join(t.TempDir(), "work")
	gittest.Git(t, filepath.Dir(work), "init", "-q", "-b", "main", work)
	gittest.Git(t, work, "remote", "add", "origin", url)
	data := t.TempDir()
	store, err := state.Open(filepath.Join(data, "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &fixture{stack: st, ps: ps, store: store, url: url, work: work, data: data}
}

func (f *fixture) push(t testing.TB, msg string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(f.work, "customers", name)
		if data == "" {
			os.Remove(p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gittest.Git(t, f.work, "add", "-A")
	gittest.Git(t, f.work, "commit", "-q", "--allow-empty", "-m", msg)
	gittest.Git(t, f.work, "push", "-q", "origin", "main")
}

// start runs a daemon until the test ends (or stop is called).
func (f *fixture) start(t testing.TB, poll time.Duration) (*daemon.Daemon, func()) {
	t.Helper()
	return f.startMod(t, poll, nil)
}

// startMod is start with the configuration changed by mod.
func (f *fixture) startMod(t testing.TB, poll time.Duration, mod func(*daemon.Config)) (*daemon.Daemon, func()) {
	t.Helper()
	src, _, err := gitsource.Open(context.Background(), gitsource.Options{URL: f.url, CacheDir: filepath.Join(f.data, "git")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := daemon.Config{
		Source: src, Ref: "main", Path: "customers", PollInterval: poll,
		Providers: f.ps.All, Store: f.store, FrontendSSHKey: f.stack.FrontendSSHKey(),
		Prices: func(ctx context.Context) (plan.Prices, error) {
			p := plan.DefaultExoscalePrices()
			hp, err := f.ps.Hetzner.ServerTypePrices(ctx)
			p.HetznerServerMonthly = hp
			return p, err
		},
		DriftMin: 300 * time.Millisecond, HetznerLimitPerHour: 10_000_000,
		BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := daemon.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}
	t.Cleanup(stop)
	return d, stop
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
	return 0
}

func (f *fixture) synced(name, commit string) func() bool {
	return func() bool {
		st, err := f.store.GetStatus(name)
		return err == nil && st.Status == state.StatusSynced && strings.HasPrefix(st.LastAppliedCommit, commit)
	}
}

func (f *fixture) servers(prefix string) []string {
	var out []string
	for _, s := range f.stack.Hetzner.Servers() {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s.Name+":"+s.ServerType)
		}
	}
	return out
}

func head(t testing.TB, work string) string { return gittest.Git(t, work, "rev-parse", "HEAD") }

const (
	alpha = "name: alpha\ndisplayName: Alpha\nowner: ops@alpha.example\ntier: casual\n"
	beta  = "name: beta\ndisplayName: Beta\nowner: ops@beta.example\ntier: pro\n"
)

// TestGitOpsLoop pushes to a real git daemon and watches the daemon
// converge: a new customer within one poll interval, an invalid commit
// changes nothing and is reported, an edit is applied, drift made in the
// simulator is healed.
func TestGitOpsLoop(t *testing.T) {
	f := newFixture(t)
	f.push(t, "alpha", map[string]string{"alpha.yaml": alpha})
	const poll = 500 * time.Millisecond
	d, _ := f.start(t, poll)
	waitFor(t, 30*time.Second, "alpha synced", f.synced("alpha", head(t, f.work)))
	if err := d.Ready(); err != nil {
		t.Fatalf("not ready after converging: %v", err)
	}

	// A new customer is converged within about one poll interval (plus the apply).
	f.push(t, "beta", map[string]string{"beta.yaml": beta})
	took := waitFor(t, 30*time.Second, "beta synced", f.synced("beta", head(t, f.work)))
	t.Logf("new customer converged %s after the push (poll interval %s)", took.Round(time.Millisecond), poll)
	if got := f.servers("agentvdc-beta-srv-"); len(got) != 1 {
		t.Fatalf("beta servers: %v", got)
	}

	// An invalid commit changes nothing and is reported on the customer.
	before := f.servers("agentvdc-")
	f.push(t, "broken beta", map[string]string{"beta.yaml": beta + "compute:\n  serverTyp: ccx23\n"})
	waitFor(t, 10*time.Second, "the invalid file reported", func() bool {
		st, err := f.store.GetStatus("beta")
		if err != nil {
			return false
		}
		c, ok := st.Condition("GitValid")
		return ok && c.Status == state.ConditionFalse && strings.Contains(c.Message, `unknown field "serverTyp"`)
	})
	time.Sleep(2 * poll)
	if after := f.servers("agentvdc-"); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("an invalid commit changed servers: %v -> %v", before, after)
	}

	// A valid edit is applied.
	f.push(t, "beta bigger", map[string]string{"beta.yaml": beta + "compute:\n  serverType: ccx23\n"})
	waitFor(t, 30*time.Second, "beta on ccx23", func() bool {
		got := f.servers("agentvdc-beta-srv-")
		return len(got) == 1 && strings.HasSuffix(got[0], ":ccx23")
	})
	waitFor(t, 10*time.Second, "GitValid again", func() bool {
		st, _ := f.store.GetStatus("beta")
		c, ok := st.Condition("GitValid")
		return !ok || c.Status == state.ConditionTrue
	})

	// Drift: a server deleted behind the daemon's back is recreated.
	env := f.stack.Env()
	hc := hcloud.NewClient(hcloud.WithEndpoint(env["HCLOUD_ENDPOINT"]), hcloud.WithToken(env["HCLOUD_TOKEN"]))
	srv, _, err := hc.Server.GetByName(context.Background(), "agentvdc-alpha-srv-1")
	if err != nil || srv == nil {
		t.Fatalf("alpha server: %v", err)
	}
	if _, _, err := hc.Server.DeleteWithResult(context.Background(), srv); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the deleted server recreated", func() bool {
		s, _, err := hc.Server.GetByName(context.Background(), "agentvdc-alpha-srv-1")
		return err == nil && s != nil && s.ID != srv.ID
	})
}

// TestWebhookTriggersImmediateSync: with a one-hour poll, a signed GitHub
// push webhook makes the daemon converge at once.
func TestWebhookTriggersImmediateSync(t *testing.T) {
	f := newFixture(t)
	f.push(t, "alpha", map[string]string{"alpha.yaml": alpha})
	d, _ := f.start(t, time.Hour)
	waitFor(t, 30*time.Second, "alpha synced", f.synced("alpha", head(t, f.work)))

	const secret = "s3cret-for-the-daemon-test"
	hook, err := webhook.New(webhook.Config{GitHubSecret: secret, Branch: "main", Trigger: func(webhook.PushEvent) { d.TriggerSync() }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hook)
	defer srv.Close()

	f.push(t, "beta", map[string]string{"beta.yaml": beta})
	commit := head(t, f.work)
	body := fmt.Sprintf(`{"ref":"refs/heads/main","before":"%s","after":"%s","repository":{"clone_url":%q,"full_name":"acme/customers"}}`, strings.Repeat("0", 40), commit, f.url)
	send := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewBufferString(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("sha256=" + strings.Repeat("ab", 32)); code != http.StatusForbidden {
		t.Fatalf("bad signature: status %d, want 403", code)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	if code := send("sha256=" + hex.EncodeToString(mac.Sum(nil))); code != http.StatusAccepted {
		t.Fatalf("signed push: status %d, want 202", code)
	}
	took := waitFor(t, 20*time.Second, "beta synced after the webhook", f.synced("beta", commit))
	t.Logf("converged %s after the webhook (poll interval 1h)", took.Round(time.Millisecond))
}
