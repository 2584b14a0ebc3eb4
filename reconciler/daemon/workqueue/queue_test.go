package workqueue_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/workqueue"
	"github.com/agentvdc/agentvdc/reconciler/daemon/workqueue/workqueuetest"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fastBucket keeps the global token bucket out of the way.
func opts(clock workqueue.Clock) workqueue.Options {
	return workqueue.Options{
		BaseDelay: time.Second, MaxDelay: 10 * time.Second,
		Jitter: workqueue.NoJitter, ResyncJitter: workqueue.NoJitter,
		QPS: 1e9, Burst: 1 << 30, Clock: clock,
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recv returns the next value of ch or fails the test when ctx ends.
func recv[T any](t *testing.T, ctx context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func TestAddGetDone(t *testing.T) {
	type step struct {
		op      string // add, get, done
		key     string
		wantLen int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"duplicate adds merge", []step{
			{"add", "a", 1}, {"add", "a", 1}, {"add", "b", 2}, {"add", "a", 2},
			{"get", "a", 1}, {"get", "b", 0},
		}},
		{"FIFO order", []step{
			{"add", "c", 1}, {"add", "a", 2}, {"add", "b", 3},
			{"get", "c", 2}, {"get", "a", 1}, {"get", "b", 0},
		}},
		{"re-queued once after processing", []step{
			{"add", "a", 1}, {"get", "a", 0},
			{"add", "a", 0}, {"add", "a", 0}, // processing: not handed out, not counted
			{"done", "a", 1}, {"get", "a", 0}, {"done", "a", 0},
		}},
		{"not re-queued without a new add", []step{
			{"add", "a", 1}, {"get", "a", 0}, {"done", "a", 0},
		}},
		{"other keys flow while one is processing", []step{
			{"add", "a", 1}, {"get", "a", 0}, {"add", "a", 0}, {"add", "b", 1},
			{"get", "b", 0}, {"done", "b", 0}, {"done", "a", 1}, {"get", "a", 0},
		}},
		{"done of an unknown key is ignored", []step{
			{"done", "x", 0}, {"add", "x", 1}, {"done", "x", 1}, {"get", "x", 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := workqueue.New[string](opts(nil))
			defer q.ShutDown()
			for i, s := range tt.steps {
				switch s.op {
				case "add":
					q.Add(s.key)
				case "get":
					k, shutdown := q.Get()
					if shutdown || k != s.key {
						t.Fatalf("step %d: Get = %q, %v; want %q", i, k, shutdown, s.key)
					}
				case "done":
					q.Done(s.key)
				}
				if got := q.Len(); got != s.wantLen {
					t.Fatalf("step %d (%s %s): Len = %d, want %d", i, s.op, s.key, got, s.wantLen)
				}
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name   string
		jitter float64
		keys   []string // one When per entry; "-k" forgets k
		want   []time.Duration
	}{
		{"grows and caps", workqueue.NoJitter,
			[]string{"a", "a", "a", "a", "a", "a", "a"},
			[]time.Duration{1, 2, 4, 8, 10, 10, 10}},
		{"per key", workqueue.NoJitter,
			[]string{"a", "a", "b", "a", "b"},
			[]time.Duration{1, 2, 1, 4, 2}},
		{"forget resets", workqueue.NoJitter,
			[]string{"a", "a", "a", "-a", "a", "a"},
			[]time.Duration{1, 2, 4, 0, 1, 2}},
		{"jitter stays within [exp·(1−j), exp]", 0.5,
			[]string{"a", "a", "a", "a", "a", "a"},
			[]time.Duration{1, 2, 4, 8, 10, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts(workqueuetest.NewClock(epoch))
			o.Jitter = tt.jitter
			q := workqueue.New[string](o)
			defer q.ShutDown()
			for i, k := range tt.keys {
				if k[0] == '-' {
					q.Forget(k[1:])
					if n := q.NumRequeues(k[1:]); n != 0 {
						t.Fatalf("NumRequeues after Forget = %d", n)
					}
					continue
				}
				got := q.When(k)
				want := tt.want[i] * time.Second
				low := want
				if tt.jitter > 0 {
					low = time.Duration(float64(want) * (1 - tt.jitter))
				}
				if got < low || got > want {
					t.Errorf("When #%d(%s) = %v, want in [%v, %v]", i, k, got, low, want)
				}
			}
		})
	}
}

func TestJitterSpreads(t *testing.T) {
	o := opts(workqueuetest.NewClock(epoch))
	o.Jitter = 0.5
	q := workqueue.New[int](o)
	defer q.ShutDown()
	seen := map[time.Duration]bool{}
	for k := range 50 {
		seen[q.When(k)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 first retries took only %d distinct delays; jitter is not applied", len(seen))
	}
}

func TestTokenBucketBoundsRetryBursts(t *testing.T) {
	o := opts(workqueuetest.NewClock(epoch))
	o.BaseDelay, o.QPS, o.Burst = time.Millisecond, 1, 2
	q := workqueue.New[string](o)
	defer q.ShutDown()
	// Five different keys fail at the same instant: the burst of two goes
	// with the per-key delay, the rest are spaced one second apart.
	want := []time.Duration{time.Millisecond, time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second}
	for i, w := range want {
		if got := q.When(fmt.Sprint("k", i)); got != w {
			t.Errorf("When(k%d) = %v, want %v", i, got, w)
		}
	}
}

func TestAddAfter(t *testing.T) {
	tests := []struct {
		name         string
		resyncJitter float64
		delays       []time.Duration // AddAfter calls for the same key
		notBefore    time.Duration
		by           time.Duration
	}{
		{"exact delay", workqueue.NoJitter, []time.Duration{10 * time.Second}, 10 * time.Second, 10 * time.Second},
		{"earlier wins", workqueue.NoJitter, []time.Duration{10 * time.Second, 4 * time.Second, 7 * time.Second}, 4 * time.Second, 4 * time.Second},
		{"jitter only lengthens", 0.5, []time.Duration{10 * time.Second}, 10 * time.Second, 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			clock := workqueuetest.NewClock(epoch)
			o := opts(clock)
			o.ResyncJitter = tt.resyncJitter
			q := workqueue.New[string](o)
			defer q.ShutDown()
			for _, d := range tt.delays {
				q.AddAfter("a", d)
			}
			if q.Waiting() != 1 || q.Len() != 0 {
				t.Fatalf("after AddAfter: Waiting=%d Len=%d, want 1, 0", q.Waiting(), q.Len())
			}
			clock.Advance(tt.notBefore - time.Millisecond)
			if q.Len() != 0 {
				t.Fatalf("key ready %v early", time.Millisecond)
			}
			clock.Advance(tt.by - tt.notBefore + time.Millisecond)
			got := make(chan string, 1)
			go func() { k, _ := q.Get(); got <- k }()
			if k := recv(t, ctx, got, "delayed key"); k != "a" {
				t.Fatalf("Get = %q", k)
			}
			if q.Waiting() != 0 {
				t.Fatalf("Waiting = %d after the key was ready", q.Waiting())
			}
		})
	}
}

func TestAddAfterNonPositiveAddsNow(t *testing.T) {
	q := workqueue.New[string](opts(workqueuetest.NewClock(epoch)))
	defer q.ShutDown()
	q.AddAfter("a", 0)
	q.AddAfter("b", -time.Second)
	if q.Len() != 2 || q.Waiting() != 0 {
		t.Fatalf("Len=%d Waiting=%d, want 2, 0", q.Len(), q.Waiting())
	}
}

// TestRunRetriesWithBackoff drives Run with a manual clock: a key failing
// three times is retried after 1 s, 2 s and 4 s, then succeeds and is
// forgotten.
func TestRunRetriesWithBackoff(t *testing.T) {
	ctx := testCtx(t)
	clock := workqueuetest.NewClock(epoch)
	q := workqueue.New[string](opts(clock))
	calls := make(chan time.Time, 10)
	var n atomic.Int32
	runDone := make(chan error, 1)
	go func() {
		runDone <- q.Run(ctx, 2, func(ctx context.Context, key string) error {
			calls <- clock.Now()
			if n.Add(1) <= 3 {
				return errors.New("boom")
			}
			return nil
		})
	}()
	q.Add("a")
	at := recv(t, ctx, calls, "first call")
	if !at.Equal(epoch) {
		t.Fatalf("first call at %v", at)
	}
	elapsed := time.Duration(0)
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if err := clock.WaitForTimers(ctx, 1); err != nil {
			t.Fatalf("retry %d never scheduled: %v", i, err)
		}
		if r := q.NumRequeues("a"); r != i+1 {
			t.Fatalf("NumRequeues = %d, want %d", r, i+1)
		}
		clock.Advance(d - time.Millisecond)
		if got := n.Load(); got != int32(i+1) {
			t.Fatalf("retry %d ran before its backoff: %d calls", i, got)
		}
		clock.Advance(time.Millisecond)
		elapsed += d
		if at := recv(t, ctx, calls, "retry"); at.Sub(epoch) != elapsed {
			t.Fatalf("retry %d at +%v, want +%v", i, at.Sub(epoch), elapsed)
		}
	}
	if err := q.ShutDownWithDrain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, ctx, runDone, "Run to return"); err != nil {
		t.Fatal(err)
	}
	if r := q.NumRequeues("a"); r != 0 {
		t.Fatalf("NumRequeues after success = %d, want 0 (forgotten)", r)
	}
}

func TestRunTerminalAndPanic(t *testing.T) {
	tests := []struct {
		name      string
		fail      func() error
		wantRetry bool
	}{
		{"error is retried", func() error { return errors.New("transient") }, true},
		{"terminal error is not", func() error { return workqueue.Terminal(errors.New("bad file")) }, false},
		{"panic is recovered and retried", func() error { panic("bug") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			clock := workqueuetest.NewClock(epoch)
			q := workqueue.New[string](opts(clock))
			called := make(chan struct{}, 1)
			runDone := make(chan error, 1)
			go func() {
				runDone <- q.Run(ctx, 1, func(context.Context, string) error {
					called <- struct{}{}
					return tt.fail()
				})
			}()
			q.Add("a")
			recv(t, ctx, called, "call")
			if err := q.ShutDownWithDrain(ctx); err != nil {
				t.Fatal(err)
			}
			recv(t, ctx, runDone, "Run to return")
			if got := q.NumRequeues("a") == 1; got != tt.wantRetry {
				t.Fatalf("retried = %v, want %v", got, tt.wantRetry)
			}
		})
	}
}

func TestTerminal(t *testing.T) {
	base := errors.New("x")
	err := fmt.Errorf("wrapped: %w", workqueue.Terminal(base))
	if !workqueue.IsTerminal(err) || !errors.Is(err, base) {
		t.Fatalf("IsTerminal/Is lost through wrapping: %v", err)
	}
	if workqueue.Terminal(nil) != nil || workqueue.IsTerminal(base) {
		t.Fatal("Terminal(nil) != nil or plain error is terminal")
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	q := workqueue.New[string](opts(nil))
	defer q.ShutDown()
	for _, tt := range []struct {
		workers int
		fn      func(context.Context, string) error
	}{
		{0, func(context.Context, string) error { return nil }},
		{-3, func(context.Context, string) error { return nil }},
		{1, nil},
	} {
		if err := q.Run(t.Context(), tt.workers, tt.fn); !errors.Is(err, workqueue.ErrInvalidRun) {
			t.Errorf("Run(%d, fn=%v) = %v, want ErrInvalidRun", tt.workers, tt.fn != nil, err)
		}
	}
}

// TestOneWorkerPerKey hammers a small key set from many goroutines through
// Run with many workers: a key is never processed twice at once, at most
// `workers` keys are processed at once, and every key is processed after its
// last Add (level-triggered).
func TestOneWorkerPerKey(t *testing.T) {
	const (
		workers   = 8
		producers = 16
		addsEach  = 300
		keys      = 5
	)
	ctx := testCtx(t)
	q := workqueue.New[int](opts(nil))
	var (
		active    [keys]atomic.Int32
		gen       [keys]atomic.Int64
		inFlight  atomic.Int32
		maxFlight atomic.Int32
		overlap   atomic.Int32
		once      [keys]sync.Once
		caughtUp  sync.WaitGroup
	)
	caughtUp.Add(keys)
	runDone := make(chan error, 1)
	go func() {
		runDone <- q.Run(ctx, workers, func(ctx context.Context, k int) error {
			if active[k].Add(1) != 1 {
				overlap.Add(1)
			}
			f := inFlight.Add(1)
			for {
				m := maxFlight.Load()
				if f <= m || maxFlight.CompareAndSwap(m, f) {
					break
				}
			}
			for range 20 { // widen the window in which an overlap would show
				runtime.Gosched()
			}
			// Level-triggered: the reconcile reads the current state.
			if gen[k].Load() == producers*addsEach/keys {
				once[k].Do(caughtUp.Done)
			}
			inFlight.Add(-1)
			active[k].Add(-1)
			return nil
		})
	}()
	var prod sync.WaitGroup
	for p := range producers {
		prod.Go(func() {
			for i := range addsEach {
				k := (p + i) % keys
				gen[k].Add(1)
				q.Add(k)
			}
		})
	}
	prod.Wait()
	all := make(chan struct{})
	go func() { caughtUp.Wait(); close(all) }()
	recv(t, ctx, all, "every key to be processed after its last Add")
	if err := q.ShutDownWithDrain(ctx); err != nil {
		t.Fatal(err)
	}
	recv(t, ctx, runDone, "Run to return")
	if n := overlap.Load(); n != 0 {
		t.Fatalf("a key was processed concurrently %d times", n)
	}
	if m := maxFlight.Load(); m > workers {
		t.Fatalf("%d keys in flight, limit %d", m, workers)
	}
}

func TestShutDown(t *testing.T) {
	t.Run("drops queued keys and stops intake", func(t *testing.T) {
		clock := workqueuetest.NewClock(epoch)
		q := workqueue.New[string](opts(clock))
		q.Add("a")
		q.Add("b")
		q.AddAfter("c", time.Second)
		q.ShutDown()
		q.Add("d")
		q.AddAfter("e", time.Second)
		q.AddRateLimited("f")
		if q.Len() != 0 || q.Waiting() != 0 || !q.ShuttingDown() {
			t.Fatalf("Len=%d Waiting=%d ShuttingDown=%v", q.Len(), q.Waiting(), q.ShuttingDown())
		}
		if _, shutdown := q.Get(); !shutdown {
			t.Fatal("Get after ShutDown did not report shutdown")
		}
		q.ShutDown() // idempotent
	})
	t.Run("drain waits for in-flight keys", func(t *testing.T) {
		ctx := testCtx(t)
		q := workqueue.New[string](opts(nil))
		started, release := make(chan string, 2), make(chan struct{})
		runDone := make(chan error, 1)
		go func() {
			runDone <- q.Run(ctx, 2, func(_ context.Context, k string) error {
				started <- k
				<-release
				return nil
			})
		}()
		q.Add("a")
		q.Add("b")
		recv(t, ctx, started, "a key to start")
		recv(t, ctx, started, "the other key to start")
		drained := make(chan error, 1)
		go func() { drained <- q.ShutDownWithDrain(ctx) }()
		for !q.ShuttingDown() { // ShutDown itself does not block on workers
			select {
			case err := <-drained:
				t.Fatalf("drain returned %v with keys in flight", err)
			default:
			}
		}
		q.Add("c") // intake stopped: never started
		if q.Processing() != 2 {
			t.Fatalf("Processing = %d, want 2", q.Processing())
		}
		select {
		case err := <-drained:
			t.Fatalf("drain returned %v with keys in flight", err)
		default:
		}
		close(release)
		if err := recv(t, ctx, drained, "drain"); err != nil {
			t.Fatal(err)
		}
		recv(t, ctx, runDone, "Run to return")
		select {
		case k := <-started:
			t.Fatalf("%q started after shutdown", k)
		default:
		}
	})
	t.Run("drain gives up when its context ends", func(t *testing.T) {
		q := workqueue.New[string](opts(nil))
		q.Add("a")
		k, _ := q.Get()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := q.ShutDownWithDrain(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("ShutDownWithDrain = %v, want context.Canceled", err)
		}
		q.Done(k)
		if err := q.ShutDownWithDrain(t.Context()); err != nil {
			t.Fatalf("second drain after Done = %v", err)
		}
	})
	t.Run("cancelling Run's context stops it", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t))
		q := workqueue.New[string](opts(nil))
		runDone := make(chan error, 1)
		go func() { runDone <- q.Run(ctx, 3, func(context.Context, string) error { return nil }) }()
		cancel()
		recv(t, testCtx(t), runDone, "Run to return")
		if !q.ShuttingDown() {
			t.Fatal("queue not shut down after Run's context ended")
		}
	})
}

func BenchmarkAddGetDone(b *testing.B) {
	q := workqueue.New[int](workqueue.Options{})
	defer q.ShutDown()
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		q.Add(i & 1023)
		k, _ := q.Get()
		q.Done(k)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

func BenchmarkRunParallelAdd(b *testing.B) {
	q := workqueue.New[int](workqueue.Options{})
	var processed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() {
		runDone <- q.Run(ctx, 4, func(context.Context, int) error { processed.Add(1); return nil })
	}()
	var next atomic.Int64
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			q.Add(int(next.Add(1))) // distinct keys: no merging
		}
	})
	for q.Len() > 0 || q.Processing() > 0 { // let the workers catch up
		runtime.Gosched()
	}
	b.ReportMetric(float64(processed.Load())/time.Since(start).Seconds(), "ops/s")
	_ = q.ShutDownWithDrain(ctx)
	<-runDone
}
