package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	p := Policy{Attempts: 6, Base: 100 * time.Millisecond, Max: time.Second}
	for _, tc := range []struct {
		retry    int
		lo, high time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 200 * time.Millisecond, 400 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second},  // capped
		{64, 500 * time.Millisecond, time.Second}, // no overflow
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
	} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.Delay(tc.retry)
			if d < tc.lo || d > tc.high {
				t.Fatalf("Delay(%d) = %s, want within [%s, %s]", tc.retry, d, tc.lo, tc.high)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("Delay(%d) has no jitter: always %v", tc.retry, seen)
		}
	}
	if d := (Policy{}).Delay(3); d != 0 {
		t.Errorf("zero policy Delay = %s, want 0", d)
	}
}

func TestOr(t *testing.T) {
	def := Policy{Attempts: 6, Base: 200 * time.Millisecond, Max: 5 * time.Second}
	for _, tc := range []struct {
		name string
		in   Policy
		want Policy
	}{
		{"unset", Policy{}, def},
		{"negative", Policy{Attempts: -1, Base: -1, Max: -1}, def},
		{"set", Policy{Attempts: 2, Base: time.Millisecond, Max: time.Second}, Policy{Attempts: 2, Base: time.Millisecond, Max: time.Second}},
		{"max below base", Policy{Base: 10 * time.Second}, Policy{Attempts: 6, Base: 10 * time.Second, Max: 10 * time.Second}},
	} {
		if got := tc.in.Or(def); got != tc.want {
			t.Errorf("%s: Or = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestRetry(t *testing.T) {
	p := Policy{Attempts: 3}
	for attempt, want := range map[int]bool{1: true, 2: true, 3: false, 4: false} {
		if got := p.Retry(attempt); got != want {
			t.Errorf("Retry(%d) = %v, want %v", attempt, got, want)
		}
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep(0) on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), -time.Second); err != nil {
		t.Fatalf("Sleep(-1s) = %v, want nil", err)
	}
}
