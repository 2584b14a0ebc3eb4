// Package backoff owns the retry schedule the cloud adapters share:
// bounded attempts, exponential backoff with a cap and equal jitter, and a
// sleep that ends with its context. What is worth retrying stays with each
// adapter (it depends on the cloud's answers); only the schedule and its
// configuration vocabulary are common.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy bounds the retries of one call.
type Policy struct {
	// Attempts bounds the attempts of one call, the first included; 1
	// means no retry.
	Attempts int
	// Base is the wait before the first retry; it doubles with every
	// further retry, up to Max.
	Base time.Duration
	Max  time.Duration
}

// Or returns p with its unset (zero or negative) fields taken from def. A
// Max below Base is raised to Base.
func (p Policy) Or(def Policy) Policy {
	if p.Attempts <= 0 {
		p.Attempts = def.Attempts
	}
	if p.Base <= 0 {
		p.Base = def.Base
	}
	if p.Max <= 0 {
		p.Max = def.Max
	}
	p.Max = max(p.Max, p.Base)
	return p
}

// Retry reports whether attempt (1 for the first) may be followed by
// another one.
func (p Policy) Retry(attempt int) bool { return attempt < p.Attempts }

// Delay is the wait before retry n (1 for the first retry):
// Base·2^(n-1), capped at Max, with equal jitter: uniform over the upper
// half, so that the retries of many callers do not line up while the wait
// still grows.
func (p Policy) Delay(n int) time.Duration {
	d := p.Base << min(max(n-1, 0), 20)
	if d <= 0 || d > p.Max {
		d = p.Max
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d, or until ctx ends, when it returns ctx's error. A d of
// zero or less does not wait but still reports an ended ctx.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
