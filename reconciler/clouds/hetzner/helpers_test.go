package hetzner

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
	"github.com/agentvdc/agentvdc/reconciler/clouds/hetzner/hetznersim"
)

// harness is a simulator on 127.0.0.1, the Provider under test and a raw
// hcloud-go client (no limiter, no retries) that plays "someone else".
type harness struct {
	sim  *hetznersim.Server
	ts   *httptest.Server
	p    *Provider
	raw  *hcloud.Client
	logs *syncBuffer
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fastConfig is a Config tuned for tests: short polls and backoffs.
func fastConfig(ts *httptest.Server, token string) Config {
	return Config{
		Endpoint: ts.URL + "/v1", Token: token,
		Retry:        backoff.Policy{Base: time.Millisecond, Max: 5 * time.Millisecond},
		PollInterval: time.Millisecond, AttemptTimeout: 2 * time.Second,
		ActionTimeout: 10 * time.Second, ShutdownTimeout: time.Second,
	}
}

func newHarness(t testing.TB, opts hetznersim.Options, mod func(*Config)) *harness {
	t.Helper()
	if opts.RateLimitPerHour == 0 {
		opts.RateLimitPerHour = -1
	}
	sim, err := hetznersim.New(opts)
	if err != nil {
		t.Fatalf("hetznersim.New: %v", err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(func() {
		ts.Close()
		if err := sim.Close(); err != nil {
			t.Errorf("sim.Close: %v", err)
		}
	})
	logs := &syncBuffer{}
	cfg := fastConfig(ts, sim.Token())
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	raw := hcloud.NewClient(hcloud.WithEndpoint(ts.URL+"/v1"), hcloud.WithToken(sim.Token()),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(time.Millisecond)}),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(0), MaxRetries: 0}))
	return &harness{sim: sim, ts: ts, p: p, raw: raw, logs: logs}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const testRules = "in icmp - 0.0.0.0/0,::/0;in tcp 22 0.0.0.0/0,::/0;in udp 51820 0.0.0.0/0,::/0"

func ownership(c string) map[string]string {
	return map[string]string{plan.LabelManagedBy: plan.ManagedByValue, plan.LabelCustomer: c, "team": "data"}
}

func desiredNetwork(c string) plan.Resource {
	return plan.Resource{Kind: plan.HetznerNetwork, Name: plan.NamePrefix + c, Customer: c, Labels: ownership(c),
		Attrs: map[string]string{"ip_range": "10.0.0.0/16", "subnet": "10.0.1.0/24", "network_zone": "eu-central"}}
}

func desiredFirewall(c string) plan.Resource {
	return plan.Resource{Kind: plan.HetznerFirewall, Name: plan.NamePrefix + c, Customer: c, Labels: ownership(c),
		Attrs: map[string]string{"rules": testRules}}
}

func desiredServer(c string, n int) plan.Resource {
	return plan.Resource{Kind: plan.HetznerServer, Name: fmt.Sprintf("%s%s-srv-%d", plan.NamePrefix, c, n), Customer: c,
		Labels: ownership(c),
		Attrs: map[string]string{
			"server_type": "cx22", "image": "ubuntu-24.04", "location": "fsn1",
			"network": plan.NamePrefix + c, "firewall": plan.NamePrefix + c,
			"private_ip": fmt.Sprintf("10.0.1.%d", n+10), "bootstrap": "3f2a9c1b7e4d",
		},
		Sensitive: map[string]string{plan.SensitiveUserData: "#cloud-config\n# wg-private-key: SECRETKEY" + c},
	}
}

// ids is a plan.Lookup over resources created so far.
type ids map[plan.Address]string

func (m ids) lookup(a plan.Address) (string, bool) {
	v, ok := m[a]
	return v, ok
}

// createAll creates a customer's network, firewall and n servers.
func (h *harness) createAll(t testing.TB, c string, n int, known ids) []plan.Resource {
	t.Helper()
	ctx := ctxT(t)
	want := []plan.Resource{desiredNetwork(c), desiredFirewall(c)}
	for i := 1; i <= n; i++ {
		want = append(want, desiredServer(c, i))
	}
	var out []plan.Resource
	for _, r := range want {
		got, err := h.p.Create(ctx, r, known.lookup)
		if err != nil {
			t.Fatalf("Create %s: %v", r.Address(), err)
		}
		known[r.Address()] = got.ID
		out = append(out, got)
	}
	return out
}

func byAddress(rs []plan.Resource) map[plan.Address]plan.Resource {
	m := map[plan.Address]plan.Resource{}
	for _, r := range rs {
		m[r.Address()] = r
	}
	return m
}

// fakeClock is a clock whose Sleep advances time at once.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.t = c.t.Add(d)
		c.slept += d
	}
	return nil
}

func (c *fakeClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}
