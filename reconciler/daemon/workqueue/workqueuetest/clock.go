// Package workqueuetest provides a manual workqueue.Clock for tests: time
// moves only when the test calls Advance, so delays and backoff are tested
// without sleeping.
package workqueuetest

import (
	"context"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/workqueue"
)

// Clock is a manual clock. The zero value is not usable; call NewClock.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	changed chan struct{} // closed and replaced whenever the set of timers grows
}

var _ workqueue.Clock = (*Clock)(nil)

// NewClock returns a Clock set to start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once d has passed.
func (c *Clock) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// NewTimer returns a timer that fires once the clock has advanced by d
// (at once if d <= 0).
func (c *Clock) NewTimer(d time.Duration) workqueue.Timer {
	t := &timer{c: c, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armLocked(t, d)
	return t
}

// Advance moves the clock forward by d and fires every timer that is due.
// Advance by at least a millisecond at a time: the queue re-arms a timer if
// it sees the clock move by a millisecond or more while arming it.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.deadline.After(c.now) {
			t.active = false
			select {
			case t.ch <- c.now:
			default:
			}
			continue
		}
		kept = append(kept, t)
	}
	clear(c.timers[len(kept):])
	c.timers = kept
}

// Timers is the number of timers waiting to fire.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitForTimers blocks until at least n timers are waiting or ctx ends.
func (c *Clock) WaitForTimers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		got, changed := len(c.timers), c.changed
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Clock) armLocked(t *timer, d time.Duration) {
	t.deadline = c.now.Add(d)
	if d <= 0 {
		select {
		case t.ch <- c.now:
		default:
		}
		return
	}
	t.active = true
	c.timers = append(c.timers, t)
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Clock) removeLocked(t *timer) bool {
	if !t.active {
		return false
	}
	t.active = false
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			break
		}
	}
	return true
}

type timer struct {
	c        *Clock
	ch       chan time.Time
	deadline time.Time
	active   bool
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.removeLocked(t)
}

func (t *timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.c.removeLocked(t)
	select { // drop a stale firing, as time.Timer does since Go 1.23
	case <-t.ch:
	default:
	}
	t.c.armLocked(t, d)
	return was
}
