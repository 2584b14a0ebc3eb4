package state

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
)

// Every part of the store used at once from many goroutines, as the
// daemon's workers do; run with -race.
func TestConcurrentUse(t *testing.T) {
	s := openTest(t, Options{})
	f := fleet(20)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	putFleet(t, s, f, now)
	want := 0
	for _, rs := range f {
		want += len(rs)
	}
	var held atomic.Int32 // customers "c0".."c3" must never have two holders
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 20 {
				customer := fmt.Sprintf("c%d", (w+i)%4)
				holder := fmt.Sprintf("worker-%d", w)
				switch i % 5 {
				case 0:
					k := plan.Kinds[(w+i)%len(plan.Kinds)]
					if err := s.PutObserved(k, f[k], now.Add(time.Duration(i)*time.Second)); err != nil {
						t.Error(err)
					}
				case 1:
					rs, _, err := s.Observed()
					if err != nil || len(rs) != want {
						t.Errorf("Observed: %d resources, %v; want %d", len(rs), err, want)
					}
					if _, err := s.ObservedFingerprint(); err != nil {
						t.Error(err)
					}
				case 2:
					seq, err := s.Begin(t.Context(), Intent{Customer: customer, ApplyID: holder, Action: "update", Address: plan.Address{Kind: plan.HetznerFirewall, Name: "agentvdc-" + customer}})
					if err == nil {
						err = s.Finish(seq, Outcome{OK: true})
					}
					if err != nil {
						t.Error(err)
					}
				case 3:
					if err := s.PutSecrets(customer, map[string]string{"w": holder}); err != nil {
						t.Error(err)
					}
					if _, err := s.Secrets(customer); err != nil {
						t.Error(err)
					}
					if _, err := s.UpdateStatus(customer, func(cs *CustomerStatus) error {
						cs.Status = StatusSynced
						cs.SetCondition(Condition{Type: "Ready", Status: ConditionTrue}, now)
						return nil
					}); err != nil {
						t.Error(err)
					}
				case 4:
					_, err := s.Acquire("shared", holder, time.Hour, now)
					if errors.Is(err, ErrLocked) {
						continue
					}
					if err != nil {
						t.Error(err)
						continue
					}
					if held.Add(1) != 1 {
						t.Error("two holders of one lease")
					}
					must2(t, s.PutCursor("agent/ingest", customer, []byte(holder)))
					must2(t, s.AppendHistory(ApplyRecord{ID: holder, Customers: []string{customer}, Result: "succeeded"}))
					held.Add(-1)
					must2(t, s.Release("shared", holder))
				}
			}
		})
	}
	wg.Wait()
	if p, err := s.Pending(); err != nil || len(p) != 0 {
		t.Errorf("pending after concurrent begin/finish: %d, %v", len(p), err)
	}
}

// must2 reports without stopping (safe from other goroutines).
func must2(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Error(err)
	}
}
