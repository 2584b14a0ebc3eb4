package state

import (
	"errors"
	"testing"
	"time"
)

func TestCursors(t *testing.T) {
	s := openTest(t, Options{})
	if _, err := s.Cursor("agent/ingest", "acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cursor before any: %v", err)
	}
	v := []byte("object-000123")
	must(t, s.PutCursor("agent/ingest", "acme", v))
	v[0] = 'X' // the store copied it
	must(t, s.PutCursor("agent/ingest", "beta", []byte("b")))
	must(t, s.PutCursor("autoscaler/compute", "acme", []byte(`{"last":"2025-03-01T12:00:00Z"}`)))
	must(t, s.PutCursor("agent/learning", "acme", nil))
	for _, tc := range []struct{ ns, customer, want string }{
		{"agent/ingest", "acme", "object-000123"},
		{"agent/ingest", "beta", "b"},
		{"autoscaler/compute", "acme", `{"last":"2025-03-01T12:00:00Z"}`},
		{"agent/learning", "acme", ""},
	} {
		got, err := s.Cursor(tc.ns, tc.customer)
		if err != nil || string(got) != tc.want {
			t.Errorf("Cursor(%s, %s) = %q, %v; want %q", tc.ns, tc.customer, got, err, tc.want)
		}
	}
	if _, err := s.Cursor("autoscaler/compute", "beta"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cursor of another customer: %v", err)
	}
	for _, args := range [][2]string{{"", "acme"}, {"ns", ""}, {"ns", "a\x00b"}} {
		if err := s.PutCursor(args[0], args[1], []byte("x")); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutCursor(%q, %q) = %v; want ErrInvalid", args[0], args[1], err)
		}
	}
}

func TestDeleteCustomer(t *testing.T) {
	s := openTest(t, Options{})
	now := time.Now()
	for _, c := range []string{"acme", "beta"} {
		must(t, s.PutStatus(CustomerStatus{Name: c, Status: StatusSynced}))
		must(t, s.PutSecrets(c, map[string]string{"k": "v"}))
		must(t, s.PutCursor("agent/ingest", c, []byte("1")))
		must(t, s.PutCursor("autoscaler/storage", c, []byte("2")))
		if _, err := s.Acquire(c, "w", time.Minute, now); err != nil {
			t.Fatal(err)
		}
		must(t, s.AppendHistory(ApplyRecord{ID: "r-" + c, Customers: []string{c}, Result: "succeeded"}))
	}
	must(t, s.DeleteCustomer("acme"))
	if _, err := s.GetStatus("acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("status kept: %v", err)
	}
	if _, err := s.Secrets("acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("secrets kept: %v", err)
	}
	if _, err := s.CurrentLease("acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("lease kept: %v", err)
	}
	for _, ns := range []string{"agent/ingest", "autoscaler/storage"} {
		if _, err := s.Cursor(ns, "acme"); !errors.Is(err, ErrNotFound) {
			t.Errorf("cursor %s kept: %v", ns, err)
		}
		if _, err := s.Cursor(ns, "beta"); err != nil {
			t.Errorf("other customer's cursor %s lost: %v", ns, err)
		}
	}
	if h, _ := s.History("acme", 0); len(h) != 1 {
		t.Errorf("history of a deleted customer: %d records, want 1 (history is kept)", len(h))
	}
	if _, err := s.Secrets("beta"); err != nil {
		t.Errorf("other customer's secrets: %v", err)
	}
}
