package hetzner

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/agentvdc/agentvdc/reconciler/clouds/hetzner/hetznersim"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

func rateHeaders(limit, remaining int, reset time.Time) http.Header {
	h := http.Header{}
	h.Set("RateLimit-Limit", strconv.Itoa(limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	return h
}

// TestLimiterPacing drives the limiter alone with a fake clock.
func TestLimiterPacing(t *testing.T) {
	cases := []struct {
		name     string
		header   func(now time.Time) http.Header
		status   int
		requests int
		minWait  time.Duration
		maxWait  time.Duration
	}{
		{"no budget known yet: no wait", func(time.Time) http.Header { return http.Header{} }, 200, 5, 0, 0},
		{"plenty left: no wait", func(now time.Time) http.Header { return rateHeaders(3600, 3000, now.Add(600*time.Second)) }, 200, 5, 0, 0},
		// 100 left of 3600, full again in 3500 s: one request per second.
		{"low: spread at the refill rate", func(now time.Time) http.Header { return rateHeaders(3600, 100, now.Add(3500*time.Second)) }, 200, 3, 1900 * time.Millisecond, 2100 * time.Millisecond},
		// 30 an hour, empty, full in an hour: the next request in 2 min, not at the reset.
		{"429: wait one refill, not until the reset", func(now time.Time) http.Header { return rateHeaders(30, 0, now.Add(time.Hour)) }, 429, 1, 2 * time.Minute, 2 * time.Minute},
		{"429 then more: spaced at the refill rate", func(now time.Time) http.Header { return rateHeaders(30, 0, now.Add(time.Hour)) }, 429, 3, 5*time.Minute + 50*time.Second, 6 * time.Minute},
		{"429 without headers: one refill (1 s)", func(time.Time) http.Header { return http.Header{} }, 429, 1, time.Second, time.Second},
		{"429 with reset in the past: one refill", func(now time.Time) http.Header { return rateHeaders(3600, 0, now.Add(-time.Minute)) }, 429, 1, time.Second, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			l := NewLimiter(LimiterOptions{Now: clk.Now, Sleep: clk.Sleep})
			l.Observe(tc.header(clk.Now()), tc.status)
			for range tc.requests {
				if err := l.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := clk.Slept(); got < tc.minWait || got > tc.maxWait {
				t.Errorf("waited %v, want %v..%v", got, tc.minWait, tc.maxWait)
			}
			if got := l.Stats().Waited; got != clk.Slept() {
				t.Errorf("Stats().Waited = %v, slept %v", got, clk.Slept())
			}
		})
	}
}

func TestLimiterFailsFastPastDeadline(t *testing.T) {
	l := NewLimiter(LimiterOptions{})
	// 60 an hour: the next request is a minute away, past the deadline.
	l.Observe(rateHeaders(60, 0, time.Now().Add(time.Hour)), http.StatusTooManyRequests)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := l.Wait(ctx)
	if !errors.Is(err, ErrRateLimitWait) {
		t.Fatalf("Wait = %v, want ErrRateLimitWait", err)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Error("Wait slept although the wait could never fit the deadline")
	}
}

func TestLimiterPerToken(t *testing.T) {
	reg := NewLimiters(LimiterOptions{})
	a, b := reg.For("token-a"), reg.For("token-b")
	if a == b || reg.For("token-a") != a {
		t.Fatal("Limiters.For must give one limiter per token")
	}
	ctx := context.Background()
	if _, err := New(ctx, Config{Token: "token-a", Limiter: a}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, Config{Token: "token-b", Limiter: a}); err == nil {
		t.Error("a limiter was accepted for a second token")
	}
	own := NewLimiter(LimiterOptions{})
	if _, err := New(ctx, Config{Token: "t1", Limiter: own}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, Config{Token: "t1", Limiter: own}); err != nil {
		t.Errorf("the same token twice: %v", err)
	}
}

// TestRateLimitAgainstSim: with a budget of 30 requests per hour already
// spent by someone else on the same token, 60 list calls still all
// succeed: the first 429 makes the limiter wait for RateLimit-Reset, and
// afterwards it spreads the calls so that no further 429 happens. The
// simulator and the limiter share a fake clock, so the hour passes at once.
func TestRateLimitAgainstSim(t *testing.T) {
	clk := newFakeClock()
	h := newHarness(t, hetznersim.Options{RateLimitPerHour: 30, Now: clk.Now}, func(c *Config) {
		c.Limiter = NewLimiter(LimiterOptions{Now: clk.Now, Sleep: clk.Sleep})
		c.Now = clk.Now
	})
	// No deadline: the fake hours are not real time.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Someone else (no limiter) drains the bucket.
	var reset time.Time
	for i := 0; ; i++ {
		_, resp, err := h.raw.Network.List(ctx, hcloud.NetworkListOpts{})
		if hcloud.IsError(err, hcloud.ErrorCodeRateLimitExceeded) {
			reset = resp.Meta.Ratelimit.Reset
			break
		}
		if err != nil || i > 40 {
			t.Fatalf("draining: call %d: %v", i, err)
		}
	}
	start := clk.Now()
	if !reset.After(start) {
		t.Fatalf("reset %v is not after now %v", reset, start)
	}
	h.sim.Control().ResetCounters()
	for i := range 60 {
		if _, _, err := h.p.c.Network.List(ctx, hcloud.NetworkListOpts{ListOpts: listOpts()}); err != nil {
			t.Fatalf("list call %d: %v", i, err)
		}
	}
	st := h.p.Limiter().Stats()
	calls := h.sim.Control().Total("GET /v1/networks")
	t.Logf("60 list calls: %d requests sent, %d answered 429, limiter waited %v (fake time), %d delayed", calls, st.Throttled, st.Waited, st.Delayed)
	if st.Throttled < 1 {
		t.Error("no 429 was counted")
	}
	if st.Throttled != 1 {
		t.Errorf("%d 429s: after the first reset the limiter should have spread the calls", st.Throttled)
	}
	if calls != 60+st.Throttled {
		t.Errorf("sent %d requests, want 60 + %d retried", calls, st.Throttled)
	}
	if waited := reset.Sub(start); clk.Slept() < waited {
		t.Errorf("slept %v, but the reset was %v away", clk.Slept(), waited)
	}
	// After the first ~30 the calls go at the refill rate: 30/h = one per 2 min.
	if clk.Slept() < reset.Sub(start)+25*2*time.Minute {
		t.Errorf("slept only %v: the calls past the bucket were not spread", clk.Slept())
	}
}

// TestInjected429 uses the simulator's fault injection (a 429 with reset
// one second later) and a shared limiter between two providers.
func TestInjected429SharedLimiter(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	lim := NewLimiter(LimiterOptions{Now: clk.Now, Sleep: clk.Sleep})
	h := newHarness(t, hetznersim.Options{}, func(c *Config) { c.Limiter = lim })
	second, err := New(context.Background(), Config{Endpoint: h.ts.URL + "/v1", Token: h.sim.Token(), Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.Control().AddFault(simctl.Fault{Pattern: "GET /v1/firewalls", RateLimit: true, Times: 2}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if _, err := h.p.Observe(ctx); err != nil {
		t.Fatalf("Observe through two 429s: %v", err)
	}
	if _, err := second.Observe(ctx); err != nil {
		t.Fatal(err)
	}
	st := lim.Stats()
	if st.Throttled != 2 || st.Requests != 8 || clk.Slept() <= 0 {
		t.Errorf("shared limiter stats %+v slept %v: want 2 throttled, 8 requests (3+2 retries, 3)", st, clk.Slept())
	}
	// A limit of rate-limit retries: with a permanent 429 the call fails.
	if _, err := h.sim.Control().AddFault(simctl.Fault{Pattern: "GET /v1/networks", RateLimit: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.Observe(ctx); !hcloud.IsError(err, hcloud.ErrorCodeRateLimitExceeded) {
		t.Errorf("Observe under a permanent 429: %v, want rate_limit_exceeded", err)
	}
}
