package hetzner

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
)

// LimiterOptions tunes a Limiter. Zero values take the defaults.
type LimiterOptions struct {
	// LowWater is the share of the limit (0..1) below which requests are
	// spread at the bucket's refill rate instead of sent at once.
	// Default 0.1.
	LowWater float64
	// Now is the clock (default time.Now); Sleep waits for d or until ctx
	// ends (default: a timer). Tests pass a fake clock for both.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// LimiterStats counts what a Limiter did.
type LimiterStats struct {
	Requests   int64         // requests admitted
	Throttled  int64         // 429 answers seen
	Delayed    int64         // requests that had to wait
	Waited     time.Duration // total time spent waiting
	Limit      int           // last RateLimit-Limit seen
	Remaining  int           // last RateLimit-Remaining seen (minus requests in flight)
	Reset      time.Time     // last RateLimit-Reset seen
	BlockedTil time.Time     // after a 429: no request before this
}

// Limiter paces the requests of ONE Hetzner API token. Hetzner counts
// requests per project token (a bucket of RateLimit-Limit requests refilled
// at Limit per hour); every client using the same token must share one
// Limiter, whichever Provider or process part it belongs to. Pass it in
// Config.Limiter, or get it from a Limiters registry.
//
// It follows the RateLimit-* response headers: while RateLimit-Remaining is
// above LowWater×Limit requests go out at once; below, they are spaced at
// the refill interval ((Reset−now)/(Limit−Remaining)), so the bucket is not
// drained. After a 429 no request leaves before RateLimit-Reset.
type Limiter struct {
	lowWater float64
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu        sync.Mutex
	tokenHash [32]byte
	bound     bool
	known     bool
	limit     int
	remaining int
	reset     time.Time
	next      time.Time // earliest start of the next spaced request
	blocked   time.Time // after a 429
	stats     LimiterStats
}

// NewLimiter returns a Limiter with no knowledge of the budget yet: the
// first request goes out at once and its answer's headers set the pace.
func NewLimiter(opts LimiterOptions) *Limiter {
	l := &Limiter{lowWater: opts.LowWater, now: opts.Now, sleep: opts.Sleep}
	if l.lowWater <= 0 || l.lowWater >= 1 {
		l.lowWater = 0.1
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.sleep == nil {
		l.sleep = backoff.Sleep
	}
	return l
}

// bind ties the limiter to a token (by hash); a second, different token is
// refused, because sharing a bucket between projects would pace wrongly.
func (l *Limiter) bind(token string) error {
	h := sha256.Sum256([]byte(token))
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.bound {
		l.tokenHash, l.bound = h, true
		return nil
	}
	if l.tokenHash != h {
		return errors.New("hetzner: Config.Limiter is already used for another API token; use one Limiter per token")
	}
	return nil
}

// ErrRateLimitWait is returned (wrapped) when the caller's context would
// expire before the rate limit lets the next request go.
var ErrRateLimitWait = errors.New("hetzner: rate limit wait exceeds the context deadline")

// refillLocked is the time the bucket needs to regain one request.
func (l *Limiter) refillLocked(now time.Time) time.Duration {
	if l.limit <= 0 {
		return time.Second
	}
	if missing := l.limit - l.remaining; missing > 0 && l.reset.After(now) {
		if d := l.reset.Sub(now) / time.Duration(missing); d > 0 {
			return d
		}
	}
	return time.Hour / time.Duration(l.limit)
}

// Wait blocks until the next request may leave and accounts for it.
func (l *Limiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := l.now()
	start := now
	if l.blocked.After(start) {
		start = l.blocked
	}
	if l.known && float64(l.remaining) <= l.lowWater*float64(l.limit) {
		if l.next.After(start) {
			start = l.next
		}
		l.next = start.Add(l.refillLocked(now))
	}
	if l.known && l.remaining > 0 {
		l.remaining-- // in flight; the answer's headers correct it
	}
	wait := start.Sub(now)
	l.stats.Requests++
	if wait > 0 {
		l.stats.Delayed++
		l.stats.Waited += wait
	}
	l.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return fmt.Errorf("%w: next request allowed at %s", ErrRateLimitWait, start.UTC().Format(time.RFC3339))
	}
	return l.sleep(ctx, wait)
}

// Observe reads the RateLimit-* headers of an answer; a 429 blocks every
// request for one refill interval (the time the bucket needs to regain one
// request), after which requests leave at the refill rate.
func (l *Limiter) Observe(h http.Header, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if v, err := strconv.Atoi(h.Get("RateLimit-Limit")); err == nil && v > 0 {
		l.limit, l.known = v, true
		if r, err := strconv.Atoi(h.Get("RateLimit-Remaining")); err == nil && r >= 0 {
			l.remaining = r
		}
		if ts, err := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64); err == nil {
			l.reset = time.Unix(ts, 0)
		}
	}
	if status != http.StatusTooManyRequests {
		return
	}
	l.stats.Throttled++
	// The bucket refills continuously (RateLimit-Reset is when it is full
	// again): after a 429 the next request is possible one refill interval
	// later, not at the reset, which can be an hour away. Requests then
	// leave at the refill rate (below the low-water mark Wait spaces them).
	if l.known {
		l.remaining = 0
	}
	until := now.Add(l.refillLocked(now))
	if until.After(l.blocked) {
		l.blocked = until
	}
}

// Stats returns the counters and the last budget seen.
func (l *Limiter) Stats() LimiterStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Limit, s.Remaining, s.Reset, s.BlockedTil = l.limit, l.remaining, l.reset, l.blocked
	return s
}

// Limiters hands out one Limiter per token. The daemon keeps one registry
// and builds every Hetzner Provider's Config.Limiter from it, so all
// clients of a project share its budget. Tokens are kept only as hashes.
type Limiters struct {
	opts LimiterOptions
	mu   sync.Mutex
	m    map[[32]byte]*Limiter
}

// NewLimiters returns an empty registry whose limiters use opts.
func NewLimiters(opts LimiterOptions) *Limiters {
	return &Limiters{opts: opts, m: map[[32]byte]*Limiter{}}
}

// For returns the token's Limiter, creating it on first use.
func (r *Limiters) For(token string) *Limiter {
	h := sha256.Sum256([]byte(token))
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.m[h]
	if l == nil {
		l = NewLimiter(r.opts)
		l.tokenHash, l.bound = h, true
		r.m[h] = l
	}
	return l
}
