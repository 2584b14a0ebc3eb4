package hetznersim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

func TestActionDelayLockAndFailure(t *testing.T) {
	h := newHarness(t, Options{ActionDelay: 150 * time.Millisecond})
	ctx := ctxT(t)
	c := h.client
	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "s", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}})
	if err != nil {
		t.Fatal(err)
	}
	// While create_server runs the server is locked.
	_, _, err = c.Server.Poweroff(ctx, res.Server)
	mustAPIError(t, err, hcloud.ErrorCodeLocked)
	a, _, err := c.Action.GetByID(ctx, res.Action.ID)
	if err != nil || a.Status != hcloud.ActionStatusRunning {
		t.Fatalf("action before delay: %+v %v", a, err)
	}
	startWait := time.Now()
	if err := c.Action.WaitFor(ctx, append(res.NextActions, res.Action)...); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(startWait); el < 100*time.Millisecond {
		t.Errorf("WaitFor returned after %v, before the action delay", el)
	}
	a, _, _ = c.Action.GetByID(ctx, res.Action.ID)
	if a.Status != hcloud.ActionStatusSuccess || a.Progress != 100 || a.Finished.IsZero() {
		t.Errorf("action after delay: %+v", a)
	}

	// An injected failure surfaces as hcloud.ActionError from WaitFor.
	if err := h.sim.FailActions(ActionFailure{Command: "stop_server", Times: 1, Code: "action_failed", Message: "hypervisor said no"}); err != nil {
		t.Fatal(err)
	}
	act, _, err := c.Server.Poweroff(ctx, res.Server)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Action.WaitFor(ctx, act)
	var ae hcloud.ActionError
	if !errors.As(err, &ae) || ae.Code != "action_failed" || ae.Message != "hypervisor said no" {
		t.Fatalf("WaitFor failed action: %v", err)
	}
	srv, _, _ := c.Server.GetByID(ctx, res.Server.ID)
	if srv.Status != hcloud.ServerStatusRunning {
		t.Errorf("failed poweroff left status %s, want running", srv.Status)
	}
	// The rule was used up: the next poweroff works.
	act, _, err = c.Server.Poweroff(ctx, res.Server)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Action.WaitFor(ctx, act); err != nil {
		t.Fatal(err)
	}

	// A failed create removes the server; over the control endpoint.
	resp, err := http.Post(h.ts.URL+"/_sim/action_failures", "application/json", strings.NewReader(`{"command":"create_server","times":1}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("control: %v %v", resp, err)
	}
	resp.Body.Close()
	res, _, err = c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "doomed", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Action.WaitFor(ctx, res.Action); err == nil {
		t.Fatal("want failed create_server")
	}
	if s, _, _ := c.Server.GetByID(ctx, res.Server.ID); s != nil {
		t.Errorf("server of failed create still exists: %s", s.Status)
	}
	// GET /actions requires ids, as the real API since 2025-01-30.
	if code, _ := rawGet(h, "/v1/actions"); code != http.StatusBadRequest {
		t.Errorf("GET /actions without id: %d", code)
	}
}

func TestBadCredentials(t *testing.T) {
	h := newHarness(t, Options{Tokens: []string{"good-token"}})
	ctx := ctxT(t)
	bad := hcloud.NewClient(fastClientOpts(h.ts, "wrong-token")...)
	_, _, err := bad.Server.List(ctx, hcloud.ServerListOpts{})
	mustAPIError(t, err, hcloud.ErrorCodeUnauthorized)
	if _, _, err := h.client.Server.List(ctx, hcloud.ServerListOpts{}); err != nil {
		t.Fatalf("good token: %v", err)
	}
	env := h.sim.Env("http://127.0.0.1:8080/hetzner/")
	if env["HCLOUD_TOKEN"] != "good-token" || env["HCLOUD_ENDPOINT"] != "http://127.0.0.1:8080/hetzner/v1" {
		t.Errorf("Env: %v", env)
	}
}

// fakeClock is a settable clock for rate-limit refill tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRateLimit(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := newHarness(t, Options{RateLimitPerHour: 5, Now: clock.now})
	ctx := ctxT(t)
	for i := 4; i >= 0; i-- {
		_, resp, err := h.client.Location.List(ctx, hcloud.LocationListOpts{})
		if err != nil {
			t.Fatalf("request %d: %v", 5-i, err)
		}
		if resp.Meta.Ratelimit.Limit != 5 || resp.Meta.Ratelimit.Remaining != i {
			t.Errorf("ratelimit meta %+v, want remaining %d", resp.Meta.Ratelimit, i)
		}
	}
	_, resp, err := h.client.Location.List(ctx, hcloud.LocationListOpts{})
	mustAPIError(t, err, hcloud.ErrorCodeRateLimitExceeded)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Meta.Ratelimit.Remaining != 0 {
		t.Errorf("429: status %d meta %+v", resp.StatusCode, resp.Meta.Ratelimit)
	}
	// Five requests spent of five per hour: full again in one hour.
	if want := clock.now().Add(time.Hour); !resp.Meta.Ratelimit.Reset.Equal(want) {
		t.Errorf("reset %v, want %v", resp.Meta.Ratelimit.Reset, want)
	}
	// hcloud-go retries rate_limit_exceeded itself: with 2 retries it sends 3 requests.
	h.sim.Control().ResetCounters()
	retrying := hcloud.NewClient(append(fastClientOpts(h.ts, h.sim.Token()),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(0), MaxRetries: 2}))...)
	_, _, err = retrying.Location.List(ctx, hcloud.LocationListOpts{})
	mustAPIError(t, err, hcloud.ErrorCodeRateLimitExceeded)
	if n := h.sim.Control().Total("GET /v1/locations"); n != 3 {
		t.Errorf("retrying client made %d calls, want 3", n)
	}
	// The bucket refills at 5 per hour: one request after 12 minutes.
	clock.add(12 * time.Minute)
	if _, _, err := h.client.Location.List(ctx, hcloud.LocationListOpts{}); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	_, _, err = h.client.Location.List(ctx, hcloud.LocationListOpts{})
	mustAPIError(t, err, hcloud.ErrorCodeRateLimitExceeded)
	// Tokens have separate buckets.
	h2 := newHarness(t, Options{RateLimitPerHour: 1, Tokens: []string{"a", "b"}, Now: clock.now})
	for _, tok := range []string{"a", "b"} {
		c := hcloud.NewClient(fastClientOpts(h2.ts, tok)...)
		if _, _, err := c.Location.List(ctx, hcloud.LocationListOpts{}); err != nil {
			t.Errorf("token %s: %v", tok, err)
		}
	}
}

func TestFaultInjection(t *testing.T) {
	h := newHarness(t, Options{Seed: 1})
	ctx := ctxT(t)
	ctl := h.sim.Control()

	// 5xx in the Hetzner error shape.
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "GET /v1/servers", ErrorRate: 1, Status: 503, Times: 1}); err != nil {
		t.Fatal(err)
	}
	_, resp, err := h.client.Server.List(ctx, hcloud.ServerListOpts{})
	mustAPIError(t, err, hcloud.ErrorCodeServiceError)
	if resp.StatusCode != 503 {
		t.Errorf("status %d", resp.StatusCode)
	}
	if _, _, err := h.client.Server.List(ctx, hcloud.ServerListOpts{}); err != nil {
		t.Fatalf("rule used up, still failing: %v", err)
	}

	// 502 is retried by hcloud-go: two injected failures, then success.
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "GET /v1/locations", ErrorRate: 1, Status: 502, Times: 2}); err != nil {
		t.Fatal(err)
	}
	ctl.ResetCounters()
	retrying := hcloud.NewClient(append(fastClientOpts(h.ts, h.sim.Token()),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(time.Millisecond), MaxRetries: 3}))...)
	if _, err := retrying.Location.All(ctx); err != nil {
		t.Fatalf("retries did not recover: %v", err)
	}
	if n := ctl.Total("GET /v1/locations"); n != 3 {
		t.Errorf("calls %d, want 3", n)
	}

	// Injected 429 carries the rate-limit headers.
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "GET /v1/server_types", RateLimit: true, Times: 1}); err != nil {
		t.Fatal(err)
	}
	_, resp, err = h.client.ServerType.List(ctx, hcloud.ServerTypeListOpts{})
	mustAPIError(t, err, hcloud.ErrorCodeRateLimitExceeded)
	if resp.Meta.Ratelimit.Limit != 3600 || resp.Meta.Ratelimit.Remaining != 0 || resp.Meta.Ratelimit.Reset.Before(time.Now()) {
		t.Errorf("injected 429 meta: %+v", resp.Meta.Ratelimit)
	}

	// Latency, selected by the per-endpoint key with an id placeholder.
	srv := h.createServer(t, "s", nil)
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "GET /v1/servers/{id}", Latency: simctl.Duration(120 * time.Millisecond), Times: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, err := h.client.Server.GetByID(ctx, srv.ID); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 120*time.Millisecond {
		t.Errorf("latency not applied: %v", el)
	}

	// Counters over the control API.
	resp2, err := http.Get(h.ts.URL + "/_sim/counters")
	if err != nil {
		t.Fatal(err)
	}
	var counts map[string]int64
	if err := json.NewDecoder(resp2.Body).Decode(&counts); err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if counts["POST /v1/servers"] != 1 || counts["GET /v1/servers/{id}"] < 1 {
		t.Errorf("counters: %v", counts)
	}
}

func TestErrorShapesOnTheWire(t *testing.T) {
	h := newHarness(t, Options{})
	do := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, h.ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.sim.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: content type %q", method, path, ct)
		}
		if resp.Header.Get("RateLimit-Remaining") == "" {
			t.Errorf("%s %s: no RateLimit-Remaining", method, path)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
		return resp.StatusCode, m
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1/servers/12345", "", 404, "not_found"},
		{"GET", "/v1/servers/abc", "", 400, "invalid_input"},
		{"GET", "/v1/nothing", "", 404, "not_found"},
		{"POST", "/v1/servers", "{not json", 400, "json_error"},
		{"POST", "/v1/servers", `{"name":"x","server_type":"cx22"}`, 400, "invalid_input"},
		{"GET", "/v1/servers?label_selector=a+in+(", "", 400, "invalid_input"},
	} {
		status, m := do(tc.method, tc.path, tc.body)
		e, _ := m["error"].(map[string]any)
		if status != tc.status || e == nil || e["code"] != tc.code || e["message"] == "" || e["details"] == nil {
			t.Errorf("%s %s: %d %v", tc.method, tc.path, status, m)
		}
	}
	status, m := do("GET", "/v1/servers?per_page=2", "")
	meta := m["meta"].(map[string]any)["pagination"].(map[string]any)
	if status != 200 || meta["previous_page"] != nil || meta["next_page"] != nil || meta["total_entries"] != float64(0) {
		t.Errorf("empty list meta: %v", meta)
	}
}

func TestRestartKeepsStateAndCounters(t *testing.T) {
	dir := t.TempDir()
	sim, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{sim: sim}
	h.ts = newLoopback(t, sim)
	h.client = hcloud.NewClient(fastClientOpts(h.ts, sim.Token())...)
	ctx := ctxT(t)
	s1 := h.createServer(t, "keep", map[string]string{"agentvdc.io/customer": "acme"})
	s2 := h.createServer(t, "gone", nil)
	if err := sim.SetServerCPU(s1.ID, 77); err != nil {
		t.Fatal(err)
	}
	del, _, err := h.client.Server.DeleteWithResult(ctx, s2)
	if err != nil {
		t.Fatal(err)
	}
	_ = h.client.Action.WaitFor(ctx, del.Action)
	nw, fw, key := h.createNetworkFirewallKey(t)
	token := sim.Token()
	h.ts.Close()
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}

	sim2, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if sim2.Token() != token {
		t.Error("generated token changed across restart")
	}
	h2 := &harness{sim: sim2}
	h2.ts = newLoopback(t, sim2)
	h2.client = hcloud.NewClient(fastClientOpts(h2.ts, sim2.Token())...)
	t.Cleanup(func() { _ = sim2.Close() })
	got, _, err := h2.client.Server.GetByID(ctx, s1.ID)
	if err != nil || got == nil || got.Name != "keep" || got.Labels["agentvdc.io/customer"] != "acme" || got.Status != hcloud.ServerStatusRunning {
		t.Fatalf("server after restart: %+v %v", got, err)
	}
	if infos := sim2.Servers(); len(infos) != 1 || infos[0].CPU != 77 {
		t.Errorf("snapshot after restart: %+v", infos)
	}
	for name, ok := range map[string]bool{
		"network": func() bool { n, _, _ := h2.client.Network.GetByID(ctx, nw.ID); return n != nil }(),
		"firewall": func() bool {
			f, _, _ := h2.client.Firewall.GetByID(ctx, fw.Firewall.ID)
			return f != nil
		}(),
		"ssh key": func() bool { k, _, _ := h2.client.SSHKey.GetByID(ctx, key.ID); return k != nil }(),
		"action":  func() bool { a, _, _ := h2.client.Action.GetByID(ctx, del.Action.ID); return a != nil }(),
	} {
		if !ok {
			t.Errorf("%s lost across restart", name)
		}
	}
	s3 := h2.createServer(t, "new", nil)
	if s3.ID <= s2.ID {
		t.Errorf("id counter went back: new id %d, old max %d", s3.ID, s2.ID)
	}
	_, _, err = h2.client.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "keep", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}})
	mustAPIError(t, err, hcloud.ErrorCodeUniquenessError)

	// Write-behind: a change is on disk within 250 ms, without Close.
	if err := sim2.SetServerCPU(s1.ID, 33); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	var st state
	if _, err := simctl.LoadJSON(dir+"/state.json", &st); err != nil || st.Servers[s1.ID].CPU != 33 {
		t.Errorf("debounced write: cpu %v %v", st.Servers[s1.ID], err)
	}
}

func TestConcurrentCreates(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two goroutines per name: exactly one must win.
			_, _, err := h.client.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "c-" + strconv.Itoa(i/2),
				ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok, dup := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case hcloud.IsError(err, hcloud.ErrorCodeUniquenessError):
			dup++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	all, err := h.client.Server.All(ctx)
	if ok != 20 || dup != 20 || err != nil || len(all) != 20 {
		t.Errorf("ok %d dup %d listed %d %v", ok, dup, len(all), err)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{{ActionDelay: -time.Second}, {Tokens: []string{""}}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v): want error", o)
		}
	}
	if err := (&Server{}).FailActions(ActionFailure{}); err == nil {
		t.Error("FailActions without command: want error")
	}
}

// BenchmarkListServers10k lists 10,000 servers through hcloud-go's All,
// 200 pages of 50 per iteration.
func BenchmarkListServers10k(b *testing.B) {
	h := newHarness(b, Options{RateLimitPerHour: -1})
	ctx := ctxT(b)
	const n = 10000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, _, err := h.client.Server.Create(ctx, hcloud.ServerCreateOpts{Name: fmt.Sprintf("bench-%05d", i),
				ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
				Labels: map[string]string{"agentvdc.io/managed-by": "agentvdc", "agentvdc.io/customer": "c" + strconv.Itoa(i%100)}})
			if err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	h.sim.Control().ResetCounters()
	b.ResetTimer()
	for b.Loop() {
		all, err := h.client.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "agentvdc.io/managed-by=agentvdc"}})
		if err != nil || len(all) != n {
			b.Fatalf("listed %d: %v", len(all), err)
		}
	}
	calls := h.sim.Control().Total("GET /v1/servers")
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(calls)/sec, "req/s")
	b.ReportMetric(float64(calls)*50/sec, "servers/s")
}

// vdc sim mounts the handler under /hetzner/ with http.StripPrefix; Env
// then points the real client at it.
func TestMountedUnderPrefix(t *testing.T) {
	sim, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	mux := http.NewServeMux()
	mux.Handle("/hetzner/", http.StripPrefix("/hetzner", sim))
	ts := newLoopback(t, mux)
	env := sim.Env(ts.URL + "/hetzner")
	c := hcloud.NewClient(hcloud.WithEndpoint(env["HCLOUD_ENDPOINT"]), hcloud.WithToken(env["HCLOUD_TOKEN"]))
	locs, err := c.Location.All(ctxT(t))
	if err != nil || len(locs) != 6 {
		t.Fatalf("through prefix: %d %v", len(locs), err)
	}
	resp, err := http.Get(ts.URL + "/hetzner/_sim/servers")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("control through prefix: %v %v", resp, err)
	}
	resp.Body.Close()
}
