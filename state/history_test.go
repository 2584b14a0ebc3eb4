package state

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestHistoryNewestFirstPerCustomer(t *testing.T) {
	c := newClock()
	s := openTest(t, Options{Now: c.Now})
	t0 := c.Now()
	recs := []ApplyRecord{
		{ID: "r1", When: t0, Commit: "c1", Who: "daemon", Customers: []string{"acme", "beta"}, Result: "succeeded", Actions: 12, Duration: 3 * time.Second},
		{ID: "r2", When: t0.Add(2 * time.Minute), Commit: "c2", Who: "alice", Customers: []string{"beta"}, Result: "failed", Actions: 1, Errors: []string{"hetzner: 503"}},
		{ID: "r3", When: t0.Add(time.Minute), Commit: "c2", Who: "daemon", Customers: []string{"acme"}, Result: "succeeded", Actions: 2}, // appended late, older
		{ID: "r4", Commit: "c3", Who: "daemon", Customers: []string{"acmeX"}, Result: "succeeded"},                                       // When from the clock; prefix of no one
		{ID: "r5", When: t0.Add(-time.Hour), Commit: "c0", Who: "daemon", Customers: []string{"ac"}, Result: "succeeded"},
	}
	c.Advance(10 * time.Minute)
	for _, r := range recs {
		if err := s.AppendHistory(r); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(rs []ApplyRecord) string {
		out := ""
		for _, r := range rs {
			out += r.ID + " "
		}
		return out
	}
	for _, tc := range []struct {
		customer string
		limit    int
		want     string
	}{
		{"acme", 0, "r3 r1 "},
		{"acme", 1, "r3 "},
		{"beta", 0, "r2 r1 "},
		{"acmeX", 0, "r4 "},
		{"ac", 0, "r5 "},
		{"zed", 0, ""},
		{"", 0, "r4 r2 r3 r1 r5 "},
		{"", 2, "r4 r2 "},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.customer, tc.limit), func(t *testing.T) {
			got, err := s.History(tc.customer, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != tc.want {
				t.Errorf("History = %q, want %q", ids(got), tc.want)
			}
		})
	}
	got, _ := s.History("beta", 1)
	if len(got) != 1 || got[0].Errors[0] != "hetzner: 503" || got[0].Who != "alice" || !got[0].When.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("record fields: %+v", got)
	}
	r4, _ := s.History("acmeX", 1)
	if !r4[0].When.Equal(c.Now()) {
		t.Errorf("zero When not set from the clock: %s", r4[0].When)
	}

	n, err := s.PruneHistory(t0.Add(90 * time.Second))
	if err != nil || n != 3 {
		t.Fatalf("PruneHistory = %d, %v; want 3 (r5, r1, r3)", n, err)
	}
	for customer, want := range map[string]string{"acme": "", "beta": "r2 ", "ac": "", "": "r4 r2 "} {
		got, err := s.History(customer, 0)
		if err != nil || ids(got) != want {
			t.Errorf("after prune History(%q) = %q, %v; want %q", customer, ids(got), err, want)
		}
	}
}

func TestAppendHistoryRejects(t *testing.T) {
	s := openTest(t, Options{})
	for _, r := range []ApplyRecord{{}, {ID: "x", Customers: []string{""}}} {
		if err := s.AppendHistory(r); !errors.Is(err, ErrInvalid) {
			t.Errorf("AppendHistory(%+v) = %v; want ErrInvalid", r, err)
		}
	}
}
