package workqueue

import (
	"container/heap"
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults applied to zero fields of Options.
const (
	DefaultBaseDelay    = time.Second
	DefaultMaxDelay     = 5 * time.Minute
	DefaultJitter       = 0.2
	DefaultQPS          = 10
	DefaultBurst        = 100
	DefaultResyncJitter = 0.1
)

// NoJitter disables a jitter option (Options.Jitter, Options.ResyncJitter).
const NoJitter = -1

// Log attribute keys.
const (
	logKey      = "key"
	logErr      = "error"
	logRequeues = "requeues"
	logRetryIn  = "retry_in"
)

// Options configures a Queue. Zero fields take the defaults above.
type Options struct {
	// BaseDelay is the first retry delay of a failing key; MaxDelay caps
	// BaseDelay·2^failures.
	BaseDelay, MaxDelay time.Duration
	// Jitter is the share by which a retry delay is shortened at random
	// (delay·(1−Jitter·r), r in [0,1)), so keys failing together do not retry
	// together, also at the cap. NoJitter disables it.
	Jitter float64
	// QPS and Burst size the global token bucket shared by all retries.
	QPS   float64
	Burst int
	// ResyncJitter is the share by which AddAfter lengthens a delay at random
	// (d·(1+ResyncJitter·r)). NoJitter disables it.
	ResyncJitter float64
	// Clock defaults to RealClock.
	Clock Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.MaxDelay < o.BaseDelay {
		o.MaxDelay = o.BaseDelay
	}
	switch {
	case o.Jitter == 0:
		o.Jitter = DefaultJitter
	case o.Jitter < 0:
		o.Jitter = 0
	case o.Jitter > 1:
		o.Jitter = 1
	}
	switch {
	case o.ResyncJitter == 0:
		o.ResyncJitter = DefaultResyncJitter
	case o.ResyncJitter < 0:
		o.ResyncJitter = 0
	}
	if o.QPS <= 0 {
		o.QPS = DefaultQPS
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.Clock == nil {
		o.Clock = RealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Queue is a keyed work queue; see the package documentation for its
// semantics. All methods are safe for concurrent use. Create it with New.
type Queue[K comparable] struct {
	opts   Options
	clock  Clock
	log    *slog.Logger
	bucket *rate.Limiter

	mu           sync.Mutex
	cond         *sync.Cond
	queue        []K
	dirty        map[K]struct{}
	processing   map[K]struct{}
	failures     map[K]int
	waiting      waitHeap[K]
	waitingIdx   map[K]*waitItem[K]
	shuttingDown bool
	drained      chan struct{} // closed when shutting down and processing is empty

	wake     chan struct{} // pokes the delay loop
	stop     chan struct{} // closed by ShutDown
	loopDone chan struct{}
}

// New returns a running Queue. Call ShutDown (or ShutDownWithDrain) to stop
// its delay goroutine.
func New[K comparable](opts Options) *Queue[K] {
	opts = opts.withDefaults()
	q := &Queue[K]{
		opts:       opts,
		clock:      opts.Clock,
		log:        opts.Logger,
		bucket:     rate.NewLimiter(rate.Limit(opts.QPS), opts.Burst),
		dirty:      map[K]struct{}{},
		processing: map[K]struct{}{},
		failures:   map[K]int{},
		waitingIdx: map[K]*waitItem[K]{},
		drained:    make(chan struct{}),
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		loopDone:   make(chan struct{}),
	}
	q.cond = sync.NewCond(&q.mu)
	go q.delayLoop()
	return q
}

// Add queues key. A key already queued is not queued twice; a key being
// processed is queued again once it is Done.
func (q *Queue[K]) Add(key K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *Queue[K]) addLocked(key K) {
	if q.shuttingDown {
		return
	}
	if _, ok := q.dirty[key]; ok {
		return
	}
	q.dirty[key] = struct{}{}
	if _, ok := q.processing[key]; ok {
		return
	}
	q.queue = append(q.queue, key)
	q.cond.Signal()
}

// Get blocks until a key is available and hands it out; the caller must call
// Done(key) when finished. shutdown is true once the queue is shutting down,
// and then key is the zero value.
func (q *Queue[K]) Get() (key K, shutdown bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && !q.shuttingDown {
		q.cond.Wait()
	}
	if q.shuttingDown {
		var zero K
		return zero, true
	}
	key = q.queue[0]
	var zero K
	q.queue[0] = zero // drop the reference for the garbage collector
	q.queue = q.queue[1:]
	q.processing[key] = struct{}{}
	delete(q.dirty, key)
	return key, false
}

// Done marks key as no longer processed. If it was added meanwhile it is
// queued again.
func (q *Queue[K]) Done(key K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.processing[key]; !ok {
		return
	}
	delete(q.processing, key)
	if q.shuttingDown {
		if len(q.processing) == 0 {
			q.closeDrainedLocked()
		}
		return
	}
	if _, ok := q.dirty[key]; ok {
		q.queue = append(q.queue, key)
		q.cond.Signal()
	}
}

// Len is the number of keys queued and waiting for a worker (the queue
// depth); keys being processed or waiting for a delay are not counted.
func (q *Queue[K]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// Processing is the number of keys handed out and not yet Done.
func (q *Queue[K]) Processing() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.processing)
}

// Waiting is the number of keys waiting for a delay (AddAfter,
// AddRateLimited) to pass.
func (q *Queue[K]) Waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// AddAfter adds key once d (lengthened by ResyncJitter) has passed. If key is
// already waiting, the earlier of the two times wins.
func (q *Queue[K]) AddAfter(key K, d time.Duration) {
	if d > 0 && q.opts.ResyncJitter > 0 {
		d += time.Duration(float64(d) * q.opts.ResyncJitter * rand.Float64())
	}
	q.addAfter(key, d)
}

func (q *Queue[K]) addAfter(key K, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shuttingDown {
		return
	}
	if d <= 0 {
		q.addLocked(key)
		return
	}
	ready := q.clock.Now().Add(d)
	if it, ok := q.waitingIdx[key]; ok {
		if ready.Before(it.ready) {
			it.ready = ready
			heap.Fix(&q.waiting, it.index)
		}
	} else {
		it := &waitItem[K]{key: key, ready: ready}
		heap.Push(&q.waiting, it)
		q.waitingIdx[key] = it
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// AddRateLimited adds key after its backoff: the longer of the per-key
// exponential delay and the global token bucket's delay. Each call counts as
// one more failure of key until Forget.
func (q *Queue[K]) AddRateLimited(key K) {
	q.addAfter(key, q.When(key))
}

// When returns the delay before key's next retry and counts one more failure.
// AddRateLimited uses it; it is exported for callers that schedule retries
// themselves.
func (q *Queue[K]) When(key K) time.Duration {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()

	d := q.backoff(n)
	now := q.clock.Now()
	if b := q.bucket.ReserveN(now, 1).DelayFrom(now); b > d {
		d = b
	}
	return d
}

// backoff is BaseDelay·2^n, capped at MaxDelay, shortened by Jitter.
func (q *Queue[K]) backoff(n int) time.Duration {
	exp := float64(q.opts.BaseDelay) * math.Pow(2, float64(n))
	if exp > float64(q.opts.MaxDelay) || math.IsInf(exp, 0) {
		exp = float64(q.opts.MaxDelay)
	}
	if q.opts.Jitter > 0 {
		exp -= exp * q.opts.Jitter * rand.Float64()
	}
	return time.Duration(exp)
}

// Forget resets key's failure count, so its next retry starts at BaseDelay.
// It does not remove key from the queue.
func (q *Queue[K]) Forget(key K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, key)
}

// NumRequeues is the number of failures of key since its last Forget.
func (q *Queue[K]) NumRequeues(key K) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[key]
}

// ShutDown stops intake and makes Get return shutdown; keys not yet handed
// out are dropped. It does not wait for keys being processed.
func (q *Queue[K]) ShutDown() {
	q.mu.Lock()
	if !q.shuttingDown {
		q.shuttingDown = true
		q.queue = nil
		q.dirty = map[K]struct{}{}
		q.waiting = nil
		q.waitingIdx = map[K]*waitItem[K]{}
		close(q.stop)
		if len(q.processing) == 0 {
			q.closeDrainedLocked()
		}
		q.cond.Broadcast()
	}
	q.mu.Unlock()
	<-q.loopDone
}

// ShutDownWithDrain shuts the queue down like ShutDown and then waits until
// every key handed out is Done. It returns ctx.Err() if ctx ends first.
func (q *Queue[K]) ShutDownWithDrain(ctx context.Context) error {
	q.ShutDown()
	select {
	case <-q.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ShuttingDown reports whether ShutDown was called.
func (q *Queue[K]) ShuttingDown() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shuttingDown
}

func (q *Queue[K]) closeDrainedLocked() {
	select {
	case <-q.drained:
	default:
		close(q.drained)
	}
}

// delayLoop moves keys whose delay has passed into the queue.
func (q *Queue[K]) delayLoop() {
	defer close(q.loopDone)
	for {
		q.mu.Lock()
		if q.shuttingDown {
			q.mu.Unlock()
			return
		}
		now := q.clock.Now()
		for len(q.waiting) > 0 && !q.waiting[0].ready.After(now) {
			it := heap.Pop(&q.waiting).(*waitItem[K])
			delete(q.waitingIdx, it.key)
			q.addLocked(it.key)
		}
		var next time.Time
		if len(q.waiting) > 0 {
			next = q.waiting[0].ready
		}
		q.mu.Unlock()

		if next.IsZero() {
			select {
			case <-q.wake:
			case <-q.stop:
				return
			}
			continue
		}
		t := q.timerUntil(next)
		select {
		case <-t.C():
		case <-q.wake:
			t.Stop()
		case <-q.stop:
			t.Stop()
			return
		}
	}
}

// timerUntil returns a timer that fires at deadline. A timer is relative to
// the moment it is made, so if the clock moved between reading it and making
// the timer (a manual clock in tests can jump by any amount), the timer is
// made again.
func (q *Queue[K]) timerUntil(deadline time.Time) Timer {
	t0 := q.clock.Now()
	t := q.clock.NewTimer(deadline.Sub(t0))
	for {
		t1 := q.clock.Now()
		if t1.Sub(t0) < time.Millisecond {
			return t
		}
		t.Stop()
		t0 = t1
		t = q.clock.NewTimer(deadline.Sub(t0))
	}
}

type waitItem[K comparable] struct {
	key   K
	ready time.Time
	index int
}

type waitHeap[K comparable] []*waitItem[K]

func (h waitHeap[K]) Len() int           { return len(h) }
func (h waitHeap[K]) Less(i, j int) bool { return h[i].ready.Before(h[j].ready) }
func (h waitHeap[K]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *waitHeap[K]) Push(x any) {
	it := x.(*waitItem[K])
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *waitHeap[K]) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return it
}
