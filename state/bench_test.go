package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
)

// 1,000 customers, about 25 resources each (25,000 resources).
const benchCustomers = 1000

func fleetSize(f map[plan.Kind][]plan.Resource) int {
	n := 0
	for _, rs := range f {
		n += len(rs)
	}
	return n
}

// BenchmarkPutObservedAll replaces every kind of a 1,000-customer cache
// (a full refresh), one transaction per kind.
func BenchmarkPutObservedAll(b *testing.B) {
	s := openTest(b, Options{})
	f := fleet(benchCustomers)
	at := time.Now()
	b.ResetTimer()
	for b.Loop() {
		for _, k := range plan.Kinds {
			if err := s.PutObserved(k, f[k], at); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(fleetSize(f)), "resources")
}

// BenchmarkPutObservedKinds stores the same full refresh in one
// transaction.
func BenchmarkPutObservedKinds(b *testing.B) {
	s := openTest(b, Options{})
	f := fleet(benchCustomers)
	at := time.Now()
	b.ResetTimer()
	for b.Loop() {
		if err := s.PutObservedKinds(f, at); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(fleetSize(f)), "resources")
}

// BenchmarkPutObservedOneKind replaces the 4,000 servers of 1,000 customers.
func BenchmarkPutObservedOneKind(b *testing.B) {
	s := openTest(b, Options{})
	f := fleet(benchCustomers)
	putFleet(b, s, f, time.Now())
	b.ResetTimer()
	for b.Loop() {
		if err := s.PutObserved(plan.HetznerServer, f[plan.HetznerServer], time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObserved reads the whole 25,000-resource cache (a warm plan).
func BenchmarkObserved(b *testing.B) {
	s := openTest(b, Options{})
	f := fleet(benchCustomers)
	putFleet(b, s, f, time.Now())
	want := fleetSize(f)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rs, _, err := s.Observed()
		if err != nil || len(rs) != want {
			b.Fatalf("%d resources, %v", len(rs), err)
		}
	}
}

func BenchmarkObservedFingerprint(b *testing.B) {
	s := openTest(b, Options{})
	putFleet(b, s, fleet(benchCustomers), time.Now())
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.ObservedFingerprint(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJournalBeginFinish is one journaled call: two fsynced commits.
func BenchmarkJournalBeginFinish(b *testing.B) {
	s := openTest(b, Options{})
	ctx := b.Context()
	for b.Loop() {
		seq, err := s.Begin(ctx, crashIntent)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Finish(seq, Outcome{OK: true, ID: "1"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListStatus1000(b *testing.B) {
	s := openTest(b, Options{})
	now := time.Now()
	for _, r := range fleet(benchCustomers)[plan.ONEGroup] {
		cs := CustomerStatus{Name: r.Customer, Status: StatusSynced, LastAppliedCommit: "0123456789abcdef0123456789abcdef01234567", LastAppliedAt: now, LastPlanSummary: "no changes"}
		cs.SetCondition(Condition{Type: "Ready", Status: ConditionTrue, Reason: "Synced"}, now)
		if err := s.PutStatus(cs); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		list, err := s.ListStatus()
		if err != nil || len(list) != benchCustomers {
			b.Fatal(len(list), err)
		}
	}
}

// BenchmarkCheck1000 verifies a 1,000-customer state file (what vdc
// serve does once at start), secrets of every customer included.
func BenchmarkCheck1000(b *testing.B) {
	s := openTest(b, Options{})
	if err := s.PutObservedKinds(fleet(benchCustomers), time.Now()); err != nil {
		b.Fatal(err)
	}
	for i := range benchCustomers {
		if err := s.PutSecrets(fmt.Sprintf("customer-%04d", i), map[string]string{"wg_private_key": "k", "minio_secret": "s"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if p := s.Check(); p != nil {
			b.Fatal(p)
		}
	}
}
