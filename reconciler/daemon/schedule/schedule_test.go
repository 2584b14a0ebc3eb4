package schedule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestAlignedNext(t *testing.T) {
	s := time.Second
	tests := []struct {
		name     string
		interval time.Duration
		offset   time.Duration
		at       time.Time
		want     time.Time
	}{
		{"first boundary after", 10 * s, 3 * s, epoch, epoch.Add(3 * s)},
		{"strictly after a boundary", 10 * s, 3 * s, epoch.Add(3 * s), epoch.Add(13 * s)},
		{"just before a boundary", 10 * s, 3 * s, epoch.Add(13*s - 1), epoch.Add(13 * s)},
		{"offset beyond interval wraps", 10 * s, 23 * s, epoch, epoch.Add(3 * s)},
		{"negative offset wraps", 10 * s, -7 * s, epoch, epoch.Add(3 * s)},
		{"sub-second interval", 50 * time.Millisecond, 20 * time.Millisecond, epoch.Add(71 * time.Millisecond), epoch.Add(120 * time.Millisecond)},
		{"before the Unix epoch", 10 * s, 3 * s, time.Unix(-25, 0).UTC(), time.Unix(-17, 0).UTC()},
		{"zero interval never fires", 0, 0, epoch, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Aligned{Interval: tt.interval, Offset: tt.offset}.Next(tt.at)
			if !got.Equal(tt.want) {
				t.Fatalf("Next(%v) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

// TestSpread checks that 1,000 customers' first fires cover each job's
// interval without bunching: for the hourly jobs no second holds more than
// 1 % of them, for the 5 s job no 100 ms slot holds more than 4 %.
func TestSpread(t *testing.T) {
	const customers = 1000
	start := epoch.Add(123456789 * time.Nanosecond)
	tests := []struct {
		job      string
		interval time.Duration
		bucket   time.Duration
		maxShare float64
	}{
		{"ingest", 5 * time.Second, 100 * time.Millisecond, 0.04},
		{"relationship", time.Hour, time.Second, 0.01},
		{"learning", 2 * time.Hour, time.Second, 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.job, func(t *testing.T) {
			buckets := map[int64]int{}
			lo, hi := tt.interval, time.Duration(0)
			for i := range customers {
				name := fmt.Sprintf("customer-%04d", i)
				off := Offset(name, tt.job, tt.interval)
				if off != Offset(name, tt.job, tt.interval) {
					t.Fatal("Offset is not deterministic")
				}
				if off < 0 || off >= tt.interval {
					t.Fatalf("Offset(%s) = %v outside [0, %v)", name, off, tt.interval)
				}
				first := Aligned{Interval: tt.interval, Offset: off}.Next(start)
				wait := first.Sub(start)
				if wait <= 0 || wait > tt.interval {
					t.Fatalf("%s first fires after %v", name, wait)
				}
				lo, hi = min(lo, wait), max(hi, wait)
				buckets[int64(wait/tt.bucket)]++
			}
			most := 0
			for _, n := range buckets {
				most = max(most, n)
			}
			if share := float64(most) / customers; share > tt.maxShare {
				t.Errorf("%d of %d first fires in one %v slot (%.1f%%), want <= %.1f%%", most, customers, tt.bucket, 100*share, 100*tt.maxShare)
			}
			if lo > tt.interval/20 || hi < tt.interval-tt.interval/20 {
				t.Errorf("first fires span [%v, %v], want most of (0, %v]", lo, hi, tt.interval)
			}
		})
	}
	if Offset("acme", "ingest", time.Hour) == Offset("acme", "learning", time.Hour) {
		t.Error("a customer's jobs share an offset")
	}
}

// events collects runs and skips from the hooks.
type events struct {
	runs  chan event
	skips chan event
}

type event struct {
	customer string
	run      Run
}

func newScheduler(t *testing.T, runner Runner, historySize int) (*Scheduler, *events) {
	t.Helper()
	ev := &events{runs: make(chan event, 10000), skips: make(chan event, 10000)}
	s, err := New(Options{
		Runner:      runner,
		HistorySize: historySize,
		OnRun: func(c string, r Run) {
			select {
			case ev.runs <- event{c, r}:
			default:
				t.Errorf("run event buffer full")
			}
		},
		OnSkip: func(c, j string) {
			select {
			case ev.skips <- event{c, Run{Job: j}}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s, ev
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// next waits for the next run of (customer, job); other runs are passed to
// other, if not nil.
func (e *events) next(t *testing.T, ctx context.Context, customer, job string, other func(event)) Run {
	t.Helper()
	for {
		select {
		case ev := <-e.runs:
			if ev.customer == customer && ev.run.Job == job {
				return ev.run
			}
			if other != nil {
				other(ev)
			}
		case <-ctx.Done():
			t.Fatalf("timed out waiting for a run of %s/%s", customer, job)
			return Run{}
		}
	}
}

func nop(context.Context, string, string) error { return nil }

func TestCadence(t *testing.T) {
	ctx := testCtx(t)
	var active, overlaps sync.Map // job → *atomic.Int32
	runner := func(_ context.Context, c, j string) error {
		v, _ := active.LoadOrStore(c+"/"+j, new(atomic.Int32))
		if v.(*atomic.Int32).Add(1) > 1 {
			overlaps.Store(c+"/"+j, true)
		}
		v.(*atomic.Int32).Add(-1)
		return nil
	}
	s, ev := newScheduler(t, runner, 0)
	jobs := map[string]time.Duration{"ingest": 50 * time.Millisecond, "relationship": 120 * time.Millisecond}
	if err := s.Set("acme", jobs); err != nil {
		t.Fatal(err)
	}
	starts := map[string][]time.Time{}
	for len(starts["ingest"]) < 6 || len(starts["relationship"]) < 4 {
		select {
		case e := <-ev.runs:
			starts[e.run.Job] = append(starts[e.run.Job], e.run.Start)
		case <-ctx.Done():
			t.Fatalf("timed out; runs so far: %d ingest, %d relationship", len(starts["ingest"]), len(starts["relationship"]))
		}
	}
	for job, iv := range jobs {
		off := Offset("acme", job, iv)
		for i, st := range starts[job] {
			// Each run starts just after one of its aligned instants.
			late := time.Duration(st.UnixNano()-int64(off)) % iv
			if late > iv/2 {
				t.Errorf("%s run %d started %v after its boundary (interval %v)", job, i, late, iv)
			}
			if i > 0 {
				if gap := st.Sub(starts[job][i-1]); gap < iv/2 || gap > 2*iv {
					t.Errorf("%s runs %d and %d are %v apart, interval %v", job, i-1, i, gap, iv)
				}
			}
		}
	}
	overlaps.Range(func(k, _ any) bool { t.Errorf("%v overlapped", k); return true })
}

func TestNoOverlapSkips(t *testing.T) {
	ctx := testCtx(t)
	release := make(chan struct{})
	var inFlight, most atomic.Int32
	var first atomic.Bool
	runner := func(ctx context.Context, _, _ string) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if first.CompareAndSwap(false, true) {
			<-release // the first run outlasts several intervals
		}
		return nil
	}
	s, ev := newScheduler(t, runner, 0)
	if err := s.Set("acme", map[string]time.Duration{"ingest": 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case <-ev.skips:
		case <-ctx.Done():
			t.Fatal("timed out waiting for skipped fires")
		}
	}
	st, _ := s.Status("acme")
	if !st.Jobs[0].Running || st.Jobs[0].Counters.Skipped < 3 || st.Jobs[0].Counters.Runs != 0 {
		t.Fatalf("status during the long run: %+v", st.Jobs[0])
	}
	close(release)
	ev.next(t, ctx, "acme", "ingest", nil) // the long run
	ev.next(t, ctx, "acme", "ingest", nil) // runs resume
	if m := most.Load(); m != 1 {
		t.Fatalf("%d runs of one job at once", m)
	}
	if s.Stats().ByJob["ingest"].Skipped < 3 {
		t.Fatalf("Stats: %+v", s.Stats())
	}
}

func TestUpdateChangesCadence(t *testing.T) {
	ctx := testCtx(t)
	s, ev := newScheduler(t, nop, 0)
	if err := s.Set("acme", map[string]time.Duration{"ingest": 300 * time.Millisecond, "learning": time.Hour}); err != nil {
		t.Fatal(err)
	}
	learningEntry := s.customers["acme"].jobs["learning"].entry
	a := ev.next(t, ctx, "acme", "ingest", nil)
	b := ev.next(t, ctx, "acme", "ingest", nil)
	if gap := b.Start.Sub(a.Start); gap < 150*time.Millisecond {
		t.Fatalf("runs %v apart at a 300ms interval", gap)
	}
	if err := s.Set("acme", map[string]time.Duration{"ingest": 40 * time.Millisecond, "learning": time.Hour}); err != nil {
		t.Fatal(err)
	}
	prev := ev.next(t, ctx, "acme", "ingest", nil)
	for range 4 {
		r := ev.next(t, ctx, "acme", "ingest", nil)
		if gap := r.Start.Sub(prev.Start); gap > 150*time.Millisecond {
			t.Fatalf("runs %v apart after the change to 40ms", gap)
		}
		prev = r
	}
	st, _ := s.Status("acme")
	if st.Jobs[0].Job != "ingest" || st.Jobs[0].Interval != 40*time.Millisecond {
		t.Fatalf("status %+v", st.Jobs)
	}
	if got := s.customers["acme"].jobs["learning"].entry; got != learningEntry {
		t.Fatalf("unchanged job re-scheduled: entry %d → %d", learningEntry, got)
	}
	if n := len(s.cron.Entries()); n != 2 || s.Stats().Entries != 2 {
		t.Fatalf("%d cron entries (Stats %d), want 2", n, s.Stats().Entries)
	}
	// Dropping a job from the map removes its entry.
	if err := s.Set("acme", map[string]time.Duration{"ingest": 40 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.cron.Entries()); n != 1 {
		t.Fatalf("%d cron entries after dropping a job, want 1", n)
	}
}

// starts counts runner calls per customer.
type starts struct{ m sync.Map }

func (s *starts) runner(ctx context.Context, c, _ string) error {
	v, _ := s.m.LoadOrStore(c, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	return nil
}

func (s *starts) n(c string) int64 {
	v, ok := s.m.Load(c)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

func TestSuspendResume(t *testing.T) {
	ctx := testCtx(t)
	var st starts
	s, ev := newScheduler(t, st.runner, 0)
	for _, c := range []string{"a", "b"} {
		if err := s.Set(c, map[string]time.Duration{"ingest": 30 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	ev.next(t, ctx, "a", "ingest", nil)
	if err := s.Suspend("a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Suspend("a"); err != nil {
		t.Fatalf("second Suspend: %v", err)
	}
	after := st.n("a")
	// b's next runs are the observation window: a gets none (one that had
	// already passed its checks when Suspend ran may still finish).
	for range 6 {
		ev.next(t, ctx, "b", "ingest", nil)
	}
	if got := st.n("a"); got > after+1 {
		t.Fatalf("suspended customer ran %d more times", got-after)
	}
	status, _ := s.Status("a")
	if !status.Suspended || !status.Jobs[0].Next.IsZero() {
		t.Fatalf("status %+v", status)
	}
	if n := len(s.cron.Entries()); n != 1 {
		t.Fatalf("%d cron entries, want 1 (b only)", n)
	}
	// Set while suspended updates the configuration only.
	if err := s.Set("a", map[string]time.Duration{"ingest": 25 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.cron.Entries()); n != 1 {
		t.Fatalf("Set scheduled a suspended customer: %d entries", n)
	}
	if err := s.Resume("a"); err != nil {
		t.Fatal(err)
	}
	ev.next(t, ctx, "a", "ingest", nil)
	ev.next(t, ctx, "a", "ingest", nil)
	if status, _ := s.Status("a"); status.Suspended || status.Jobs[0].Interval != 25*time.Millisecond {
		t.Fatalf("status after Resume %+v", status)
	}
	if len(s.History("a")) < 3 {
		t.Fatalf("history lost across suspend: %d runs", len(s.History("a")))
	}
}

func TestRemove(t *testing.T) {
	ctx := testCtx(t)
	var st starts
	canceled := make(chan error, 1)
	runner := func(ctx context.Context, c, j string) error {
		if j == "slow" {
			<-ctx.Done() // runs until the customer is removed
			canceled <- ctx.Err()
			return ctx.Err()
		}
		return st.runner(ctx, c, j)
	}
	s, ev := newScheduler(t, runner, 0)
	if err := s.Set("a", map[string]time.Duration{"ingest": 30 * time.Millisecond, "slow": 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("b", map[string]time.Duration{"ingest": 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	ev.next(t, ctx, "a", "ingest", nil)
	for !func() bool { x, _ := s.Status("a"); return x.Jobs[1].Running }() {
		select { // wait for the slow job's first run, via skips of it
		case <-ev.skips:
		case <-ctx.Done():
			t.Fatal("slow job never ran")
		}
	}
	if !s.Remove("a") {
		t.Fatal("Remove(a) = false")
	}
	select {
	case err := <-canceled:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("running job's context: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the removed customer's running job was not cancelled")
	}
	after := st.n("a")
	for range 6 {
		ev.next(t, ctx, "b", "ingest", nil)
	}
	if got := st.n("a"); got > after+1 {
		t.Fatalf("removed customer ran %d more times", got-after)
	}
	if s.Remove("a") {
		t.Fatal("second Remove(a) = true")
	}
	if h := s.History("a"); h != nil {
		t.Fatalf("History of a removed customer: %v", h)
	}
	if _, ok := s.Status("a"); ok {
		t.Fatal("Status of a removed customer")
	}
	if err := s.Suspend("a"); !errors.Is(err, ErrUnknownCustomer) {
		t.Fatalf("Suspend(removed) = %v", err)
	}
	stats := s.Stats()
	if n := len(s.cron.Entries()); n != 1 || stats.Entries != 1 || stats.Customers != 1 {
		t.Fatalf("%d cron entries, stats %+v; want b's one entry", n, stats)
	}
	if got := s.Customers(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("Customers = %v", got)
	}
}

func TestHistoryAndCounters(t *testing.T) {
	ctx := testCtx(t)
	var n atomic.Int32
	runner := func(context.Context, string, string) error {
		switch n.Add(1) % 3 {
		case 1:
			return errors.New("store unreachable")
		case 2:
			panic("agent bug")
		}
		return nil
	}
	s, ev := newScheduler(t, runner, 4)
	if err := s.Set("acme", map[string]time.Duration{"ingest": 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for range 7 {
		ev.next(t, ctx, "acme", "ingest", nil)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("acme", nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("Set after Stop = %v", err)
	}
	// Stop waited for every run, so the events and the counters agree.
	all := []Run{}
	for i := 0; i < 7; i++ { // the runs already consumed above
		all = append(all, Run{})
	}
drain:
	for {
		select {
		case e := <-ev.runs:
			all = append(all, e.run)
		default:
			break drain
		}
	}
	stats := s.Stats()
	runs := uint64(n.Load())
	if stats.Total.Runs != runs || uint64(len(all)) != runs {
		t.Fatalf("Runs = %d, runner calls %d, events %d", stats.Total.Runs, runs, len(all))
	}
	wantFail := runs/3*2 + min(runs%3, 2)
	if stats.Total.Failures != wantFail || stats.ByJob["ingest"].Failures != wantFail {
		t.Fatalf("Failures = %d (by job %d), want %d", stats.Total.Failures, stats.ByJob["ingest"].Failures, wantFail)
	}
	h := s.History("acme")
	if len(h) != 4 {
		t.Fatalf("history holds %d runs, want the last 4", len(h))
	}
	for i, r := range h {
		k := int(runs) - 4 + i + 1 // runner call number of this run
		want := map[int]string{1: "store unreachable", 2: "schedule: panic in ingest job of acme: agent bug", 0: ""}[k%3]
		if r.Err != want {
			t.Errorf("history[%d] (call %d) Err = %q, want %q", i, k, r.Err, want)
		}
		if i > 0 && r.Start.Before(h[i-1].Start) {
			t.Errorf("history not in start order")
		}
	}
	st, _ := s.Status("acme")
	if st.Jobs[0].LastRun == nil || *st.Jobs[0].LastRun != h[3] {
		t.Fatalf("LastRun = %+v, want %+v", st.Jobs[0].LastRun, h[3])
	}
}

func TestStopWaitsForRunningJobs(t *testing.T) {
	tests := []struct {
		name    string
		expired bool
	}{{"waits until the run ends", false}, {"gives up when its context ends", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			started, release := make(chan struct{}, 1), make(chan struct{})
			abandoned := make(chan error, 1)
			runner := func(ctx context.Context, _, _ string) error {
				select {
				case started <- struct{}{}:
				default:
				}
				select {
				case <-release:
				case <-ctx.Done():
					abandoned <- ctx.Err()
				}
				return nil
			}
			s, err := New(Options{Runner: runner})
			if err != nil {
				t.Fatal(err)
			}
			s.Start()
			if err := s.Set("acme", map[string]time.Duration{"ingest": 10 * time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-started:
			case <-ctx.Done():
				t.Fatal("no run started")
			}
			if tt.expired {
				stopCtx, cancel := context.WithCancel(ctx)
				cancel()
				if err := s.Stop(stopCtx); !errors.Is(err, context.Canceled) {
					t.Fatalf("Stop = %v, want context.Canceled", err)
				}
				select { // the abandoned run is told to stop
				case err := <-abandoned:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("run context: %v", err)
					}
				case <-ctx.Done():
					t.Fatal("abandoned run's context was not cancelled")
				}
				return
			}
			stopped := make(chan error, 1)
			go func() { stopped <- s.Stop(ctx) }()
			select {
			case err := <-stopped:
				t.Fatalf("Stop returned %v while a run was going", err)
			default:
			}
			close(release)
			select {
			case err := <-stopped:
				if err != nil {
					t.Fatal(err)
				}
			case <-ctx.Done():
				t.Fatal("Stop did not return after the run ended")
			}
			if len(abandoned) != 0 {
				t.Fatal("a run was cancelled although Stop waited")
			}
		})
	}
}

func TestValidation(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("New without Runner = %v", err)
	}
	s, _ := newScheduler(t, nop, 0)
	tests := []struct {
		name     string
		customer string
		jobs     map[string]time.Duration
	}{
		{"empty customer", "", map[string]time.Duration{"ingest": time.Second}},
		{"empty job", "acme", map[string]time.Duration{"": time.Second}},
		{"zero interval", "acme", map[string]time.Duration{"ingest": 0}},
		{"negative interval", "acme", map[string]time.Duration{"ingest": -time.Second}},
		{"below minimum", "acme", map[string]time.Duration{"ingest": time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Set(tt.customer, tt.jobs); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Set = %v, want ErrInvalid", err)
			}
			if len(s.Customers()) != 0 {
				t.Fatal("a rejected Set left a customer behind")
			}
		})
	}
	if err := s.Resume("nobody"); !errors.Is(err, ErrUnknownCustomer) {
		t.Fatalf("Resume(unknown) = %v", err)
	}
}

// BenchmarkSet1000Customers sets three jobs for each of 1,000 customers on
// a fresh scheduler, before Start (how the daemon loads its customers at
// boot) and while running (each entry then goes through cron's run loop).
func BenchmarkSet1000Customers(b *testing.B) {
	jobs := map[string]time.Duration{"ingest": 5 * time.Second, "relationship": time.Hour, "learning": 2 * time.Hour}
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("customer-%04d", i)
	}
	for _, running := range []bool{false, true} {
		b.Run(map[bool]string{false: "before-start", true: "running"}[running], func(b *testing.B) {
			for b.Loop() {
				s, err := New(Options{Runner: nop})
				if err != nil {
					b.Fatal(err)
				}
				if running {
					s.Start()
				}
				for _, n := range names {
					if err := s.Set(n, jobs); err != nil {
						b.Fatal(err)
					}
				}
				s.Start()
				_ = s.Stop(context.Background())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/customer")
		})
	}
}

func BenchmarkUpdate1000Customers(b *testing.B) {
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("customer-%04d", i)
	}
	s, _ := New(Options{Runner: nop})
	s.Start()
	defer s.Stop(context.Background())
	ivs := []time.Duration{time.Hour, 90 * time.Minute}
	for i := 0; b.Loop(); i++ {
		for _, n := range names { // every customer's relationship interval changes
			if err := s.Set(n, map[string]time.Duration{"ingest": 5 * time.Second, "relationship": ivs[i%2], "learning": 2 * time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/customer")
}
