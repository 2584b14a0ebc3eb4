package state

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStatusCRUD(t *testing.T) {
	c := newClock()
	s := openTest(t, Options{Now: c.Now})
	applied := c.Now().Add(-time.Hour)
	acme := CustomerStatus{
		Name: "acme", Status: StatusOutOfSync, LastAppliedCommit: "deadbeef", LastAppliedAt: applied,
		LastPlanSummary: "2 to add, 1 to change", LastError: "", Drift: 3,
		Conditions: []Condition{{Type: "Ready", Status: ConditionFalse, Reason: "Drift", Message: "3 resources differ", LastTransition: applied}},
	}
	if err := s.PutStatus(acme); err != nil {
		t.Fatal(err)
	}
	if err := s.PutStatus(CustomerStatus{Name: "beta", Status: StatusSuspended, UpdatedAt: applied}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetStatus("acme")
	if err != nil {
		t.Fatal(err)
	}
	acme.UpdatedAt = c.Now() // set from the clock
	if d := cmp.Diff(acme, got); d != "" {
		t.Errorf("GetStatus (-want +got):\n%s", d)
	}
	list, err := s.ListStatus()
	if err != nil || len(list) != 2 || list[0].Name != "acme" || list[1].Name != "beta" || !list[1].UpdatedAt.Equal(applied) {
		t.Errorf("ListStatus = %+v, %v", list, err)
	}
	if err := s.DeleteStatus("acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetStatus("acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetStatus after delete: %v", err)
	}
	if err := s.DeleteStatus("acme"); err != nil {
		t.Errorf("deleting a missing status: %v", err)
	}
}

func TestPutStatusRejectsBadInput(t *testing.T) {
	s := openTest(t, Options{})
	for _, tc := range []struct {
		name string
		cs   CustomerStatus
		want string
	}{
		{"no name", CustomerStatus{Status: StatusSynced}, "customer name is empty"},
		{"unknown status", CustomerStatus{Name: "a", Status: "Happy"}, `unknown status "Happy"`},
		{"empty status", CustomerStatus{Name: "a"}, `unknown status ""`},
		{"condition without type", CustomerStatus{Name: "a", Status: StatusSynced, Conditions: []Condition{{Status: ConditionTrue}}}, "empty type"},
		{"condition twice", CustomerStatus{Name: "a", Status: StatusSynced, Conditions: []Condition{{Type: "Ready", Status: ConditionTrue}, {Type: "Ready", Status: ConditionFalse}}}, `"Ready" appears twice`},
		{"bad condition status", CustomerStatus{Name: "a", Status: StatusSynced, Conditions: []Condition{{Type: "Ready", Status: "yes"}}}, `status "yes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.PutStatus(tc.cs)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v; want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
	if list, _ := s.ListStatus(); len(list) != 0 {
		t.Errorf("invalid statuses were stored: %+v", list)
	}
}

func TestSetConditionMovesTransitionOnlyOnChange(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var cs CustomerStatus
	steps := []struct {
		at         time.Time
		cond       Condition
		changed    bool
		transition time.Time
	}{
		{t0, Condition{Type: "Ready", Status: ConditionFalse, Reason: "Applying"}, true, t0},
		{t0.Add(time.Minute), Condition{Type: "Ready", Status: ConditionFalse, Reason: "StillApplying", Message: "3/5"}, false, t0},
		{t0.Add(2 * time.Minute), Condition{Type: "Ready", Status: ConditionTrue, Reason: "Applied"}, true, t0.Add(2 * time.Minute)},
		{t0.Add(3 * time.Minute), Condition{Type: "Ready", Status: ConditionTrue, Reason: "Applied"}, false, t0.Add(2 * time.Minute)},
	}
	for i, st := range steps {
		if got := cs.SetCondition(st.cond, st.at); got != st.changed {
			t.Errorf("step %d: changed = %v, want %v", i, got, st.changed)
		}
		c, ok := cs.Condition("Ready")
		if !ok || !c.LastTransition.Equal(st.transition) || c.Reason != st.cond.Reason || c.Message != st.cond.Message {
			t.Errorf("step %d: condition = %+v", i, c)
		}
	}
	cs.SetCondition(Condition{Type: "Drifted", Status: ConditionFalse}, t0)
	if len(cs.Conditions) != 2 {
		t.Errorf("conditions = %+v", cs.Conditions)
	}
	if _, ok := cs.Condition("Missing"); ok {
		t.Error("Condition found a type never set")
	}
}

func TestUpdateStatusIsAtomic(t *testing.T) {
	s := openTest(t, Options{})
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := s.UpdateStatus("acme", func(cs *CustomerStatus) error {
					cs.Status = StatusProgressing
					cs.Drift++
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.GetStatus("acme")
	if err != nil || got.Drift != workers*each {
		t.Errorf("Drift = %d, %v; want %d (lost updates)", got.Drift, err, workers*each)
	}
	// An error from fn writes nothing; renaming is refused.
	boom := errors.New("boom")
	if _, err := s.UpdateStatus("acme", func(cs *CustomerStatus) error { cs.Drift = -1; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateStatus error = %v", err)
	}
	if _, err := s.UpdateStatus("acme", func(cs *CustomerStatus) error { cs.Name = "other"; return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("rename: %v", err)
	}
	if got, _ := s.GetStatus("acme"); got.Drift != workers*each {
		t.Errorf("a failed update was written: Drift = %d", got.Drift)
	}
}
