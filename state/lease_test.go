package state

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLeaseLifecycle(t *testing.T) {
	s := openTest(t, Options{})
	c := newClock()
	ttl := 30 * time.Second

	a, err := s.Acquire("acme", "worker-1", ttl, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a.Holder != "worker-1" || !a.Expires.Equal(c.Now().Add(ttl)) || a.Token == 0 {
		t.Errorf("lease = %+v", a)
	}

	// Another holder is refused, told who holds it and until when.
	c.Advance(10 * time.Second)
	_, err = s.Acquire("acme", "worker-2", ttl, c.Now())
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Holder != "worker-1" || !le.Expires.Equal(a.Expires) {
		t.Fatalf("second holder: %v", err)
	}
	if !strings.Contains(err.Error(), `locked by "worker-1" until 2025-03-01T12:00:30Z`) {
		t.Errorf("error text: %v", err)
	}
	// Other customers are independent.
	if _, err := s.Acquire("beta", "worker-2", ttl, c.Now()); err != nil {
		t.Errorf("lease on another customer: %v", err)
	}

	// Renewal extends; re-acquiring by the holder extends with the same token.
	r, err := s.Renew("acme", "worker-1", ttl, c.Now())
	if err != nil || !r.Expires.Equal(c.Now().Add(ttl)) || r.Token != a.Token {
		t.Fatalf("Renew = %+v, %v", r, err)
	}
	again, err := s.Acquire("acme", "worker-1", ttl, c.Now())
	if err != nil || again.Token != a.Token {
		t.Errorf("re-entrant Acquire = %+v, %v", again, err)
	}
	if _, err := s.Renew("acme", "worker-2", ttl, c.Now()); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Renew by a non-holder: %v", err)
	}

	// Still held just before expiry.
	c.Advance(ttl - time.Nanosecond)
	if _, err := s.Acquire("acme", "worker-2", ttl, c.Now()); !errors.Is(err, ErrLocked) {
		t.Errorf("taken before expiry: %v", err)
	}

	// The holder dies: at expiry the lease is taken over, with a new token.
	c.Advance(time.Nanosecond)
	b, err := s.Acquire("acme", "worker-2", ttl, c.Now())
	if err != nil {
		t.Fatalf("takeover of an expired lease: %v", err)
	}
	if b.Holder != "worker-2" || b.Token <= a.Token || !b.Acquired.Equal(c.Now()) {
		t.Errorf("taken-over lease = %+v (old token %d)", b, a.Token)
	}
	// The old holder comes back: it lost the lease and cannot release it.
	if _, err := s.Renew("acme", "worker-1", ttl, c.Now()); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("old holder renewing: %v", err)
	}
	if err := s.Release("acme", "worker-1"); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("old holder releasing: %v", err)
	}
	if cur, err := s.CurrentLease("acme"); err != nil || cur.Holder != "worker-2" {
		t.Errorf("lease after the old holder's release = %+v, %v", cur, err)
	}

	// Release frees it at once; a second release is a no-op.
	if err := s.Release("acme", "worker-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Release("acme", "worker-2"); err != nil {
		t.Errorf("second release: %v", err)
	}
	if _, err := s.CurrentLease("acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CurrentLease after release: %v", err)
	}
	if _, err := s.Renew("acme", "worker-2", ttl, c.Now()); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Renew after release: %v", err)
	}
	if _, err := s.Acquire("acme", "worker-3", ttl, c.Now()); err != nil {
		t.Errorf("Acquire after release: %v", err)
	}
}

func TestRenewAfterExpiryFails(t *testing.T) {
	s := openTest(t, Options{})
	c := newClock()
	if _, err := s.Acquire("acme", "w", time.Second, c.Now()); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if _, err := s.Renew("acme", "w", time.Second, c.Now()); !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Renew of an expired lease: %v", err)
	}
}

func TestLeaseRejectsBadInput(t *testing.T) {
	s := openTest(t, Options{})
	now := time.Now()
	for _, tc := range []struct {
		customer, holder string
		ttl              time.Duration
	}{
		{"", "w", time.Second},
		{"acme", "", time.Second},
		{"acme", "w", 0},
		{"acme", "w", -time.Second},
		{strings.Repeat("x", 300), "w", time.Second},
	} {
		if _, err := s.Acquire(tc.customer, tc.holder, tc.ttl, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("Acquire(%q, %q, %s) = %v; want ErrInvalid", tc.customer, tc.holder, tc.ttl, err)
		}
	}
}
