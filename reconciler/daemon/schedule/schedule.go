package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultHistorySize is the number of runs kept per (customer, job).
const DefaultHistorySize = 20

// MinInterval is the shortest accepted interval.
const MinInterval = time.Millisecond

// Log attribute keys.
const (
	logCustomer = "customer"
	logJob      = "job"
	logErr      = "error"
	logDuration = "duration"
)

// Errors.
var (
	ErrInvalid         = errors.New("schedule: invalid argument")
	ErrUnknownCustomer = errors.New("schedule: unknown customer")
	ErrStopped         = errors.New("schedule: scheduler stopped")
)

// Runner runs one job of one customer. Its context ends when the customer is
// removed or when Stop stops waiting.
type Runner func(ctx context.Context, customer, job string) error

// Run is one finished run of a job.
type Run struct {
	Job      string
	Start    time.Time
	Duration time.Duration
	Err      string // empty on success
}

// Counters count runs of a job; Runs includes failed runs.
type Counters struct {
	Runs, Failures, Skipped uint64
}

func (c *Counters) add(o Counters) {
	c.Runs += o.Runs
	c.Failures += o.Failures
	c.Skipped += o.Skipped
}

// Stats are the scheduler-wide counters, for metrics.
type Stats struct {
	Total Counters
	ByJob map[string]Counters
	// Customers and Entries are the number of customers and of scheduled
	// (not suspended) cron entries.
	Customers, Entries int
}

// JobStatus describes one (customer, job).
type JobStatus struct {
	Job      string
	Interval time.Duration
	Offset   time.Duration
	Next     time.Time // zero while suspended
	Running  bool
	Counters Counters
	LastRun  *Run
}

// CustomerStatus describes one customer's schedule.
type CustomerStatus struct {
	Customer  string
	Suspended bool
	Jobs      []JobStatus // by job name
}

// Options configures a Scheduler.
type Options struct {
	// Runner is called for every run. Required.
	Runner Runner
	// HistorySize defaults to DefaultHistorySize.
	HistorySize int
	// OnRun, if set, is called after each run with its record; OnSkip when a
	// fire is skipped because the previous run is still going. Both are called
	// on the job's goroutine and must not block.
	OnRun  func(customer string, r Run)
	OnSkip func(customer, job string)
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Scheduler runs each customer's jobs on their schedules. Create it with New,
// then Start; all methods are safe for concurrent use.
type Scheduler struct {
	opts   Options
	log    *slog.Logger
	cron   *cron.Cron
	ctx    context.Context // parent of every run's context
	cancel context.CancelFunc

	mu        sync.Mutex
	customers map[string]*customer
	byJob     map[string]*Counters
	entries   int
	stopped   bool
}

type customer struct {
	name      string
	suspended bool
	removed   bool
	jobs      map[string]*job
	ctx       context.Context
	cancel    context.CancelFunc
}

type job struct {
	name     string
	interval time.Duration
	offset   time.Duration
	entry    cron.EntryID // 0 while not scheduled
	gone     bool         // dropped by Set
	running  atomic.Bool  // shared by every entry the job ever had
	counters Counters     // guarded by Scheduler.mu
	history  []Run        // ring, guarded by Scheduler.mu
	next     int          // next ring slot
}

// New returns a stopped Scheduler; call Start to begin firing.
func New(opts Options) (*Scheduler, error) {
	if opts.Runner == nil {
		return nil, fmt.Errorf("%w: Runner is nil", ErrInvalid)
	}
	if opts.HistorySize <= 0 {
		opts.HistorySize = DefaultHistorySize
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{
		opts:      opts,
		log:       log,
		cron:      cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cronLogger{log})),
		ctx:       ctx,
		cancel:    cancel,
		customers: map[string]*customer{},
		byJob:     map[string]*Counters{},
	}
	return s, nil
}

// Start begins firing entries. It does nothing if already started.
func (s *Scheduler) Start() { s.cron.Start() }

// Set creates or updates customer's jobs to exactly jobs (job name →
// interval): new jobs are added, dropped jobs removed, a changed interval
// re-schedules its job, an unchanged one keeps its entry. A suspended
// customer's configuration is updated without scheduling anything.
func (s *Scheduler) Set(customerName string, jobs map[string]time.Duration) error {
	if customerName == "" {
		return fmt.Errorf("%w: empty customer name", ErrInvalid)
	}
	for name, iv := range jobs {
		if name == "" {
			return fmt.Errorf("%w: customer %s: empty job name", ErrInvalid, customerName)
		}
		if iv < MinInterval {
			return fmt.Errorf("%w: customer %s job %s: interval %v is below %v", ErrInvalid, customerName, name, iv, MinInterval)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	c := s.customers[customerName]
	if c == nil {
		ctx, cancel := context.WithCancel(s.ctx)
		c = &customer{name: customerName, jobs: map[string]*job{}, ctx: ctx, cancel: cancel}
		s.customers[customerName] = c
	}
	for name, j := range c.jobs {
		if _, keep := jobs[name]; !keep {
			s.unscheduleLocked(j)
			j.gone = true
			delete(c.jobs, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(jobs)) {
		iv := jobs[name]
		j := c.jobs[name]
		switch {
		case j == nil:
			j = &job{name: name}
			c.jobs[name] = j
		case j.interval == iv:
			continue
		default:
			s.unscheduleLocked(j)
		}
		j.interval, j.offset = iv, Offset(customerName, name, iv)
		if !c.suspended {
			s.scheduleLocked(c, j)
		}
	}
	return nil
}

// Remove drops customer: its entries, its history, and the contexts of its
// running jobs. It reports whether the customer existed.
func (s *Scheduler) Remove(customerName string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[customerName]
	if c == nil {
		return false
	}
	for _, j := range c.jobs {
		s.unscheduleLocked(j)
	}
	c.removed = true
	c.cancel()
	delete(s.customers, customerName)
	return true
}

// Suspend removes customer's entries and keeps its configuration and history;
// runs in progress finish. Suspending a suspended customer does nothing.
func (s *Scheduler) Suspend(customerName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[customerName]
	if c == nil {
		return fmt.Errorf("%w: %s", ErrUnknownCustomer, customerName)
	}
	if c.suspended {
		return nil
	}
	c.suspended = true
	for _, j := range c.jobs {
		s.unscheduleLocked(j)
	}
	return nil
}

// Resume schedules a suspended customer's jobs again.
func (s *Scheduler) Resume(customerName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	c := s.customers[customerName]
	if c == nil {
		return fmt.Errorf("%w: %s", ErrUnknownCustomer, customerName)
	}
	if !c.suspended {
		return nil
	}
	c.suspended = false
	for _, name := range slices.Sorted(maps.Keys(c.jobs)) {
		s.scheduleLocked(c, c.jobs[name])
	}
	return nil
}

func (s *Scheduler) scheduleLocked(c *customer, j *job) {
	sched := Aligned{Interval: j.interval, Offset: j.offset}
	j.entry = s.cron.Schedule(sched, cron.FuncJob(func() { s.fire(c, j) }))
	s.entries++
}

func (s *Scheduler) unscheduleLocked(j *job) {
	if j.entry == 0 {
		return
	}
	s.cron.Remove(j.entry)
	j.entry = 0
	s.entries--
}

// fire is one cron activation of (c, j).
func (s *Scheduler) fire(c *customer, j *job) {
	s.mu.Lock()
	active := !s.stopped && !c.removed && !c.suspended && !j.gone
	s.mu.Unlock()
	if !active {
		return // removed or suspended after cron started this activation
	}
	if !j.running.CompareAndSwap(false, true) {
		s.mu.Lock()
		j.counters.Skipped++
		s.jobCountersLocked(j.name).Skipped++
		s.mu.Unlock()
		s.log.LogAttrs(c.ctx, slog.LevelDebug, "agent run skipped: previous run still going",
			slog.String(logCustomer, c.name), slog.String(logJob, j.name))
		if s.opts.OnSkip != nil {
			s.opts.OnSkip(c.name, j.name)
		}
		return
	}
	defer j.running.Store(false)

	start := time.Now()
	err := s.call(c.ctx, c.name, j.name)
	run := Run{Job: j.name, Start: start, Duration: time.Since(start)}
	if err != nil {
		run.Err = err.Error()
	}

	s.mu.Lock()
	j.counters.Runs++
	jc := s.jobCountersLocked(j.name)
	jc.Runs++
	if err != nil {
		j.counters.Failures++
		jc.Failures++
	}
	if len(j.history) < s.opts.HistorySize {
		j.history = append(j.history, run)
	} else {
		j.history[j.next] = run
	}
	j.next = (j.next + 1) % s.opts.HistorySize
	s.mu.Unlock()

	if err != nil {
		s.log.LogAttrs(c.ctx, slog.LevelWarn, "agent run failed",
			slog.String(logCustomer, c.name), slog.String(logJob, j.name),
			slog.Duration(logDuration, run.Duration), slog.String(logErr, run.Err))
	}
	if s.opts.OnRun != nil {
		s.opts.OnRun(c.name, run)
	}
}

func (s *Scheduler) call(ctx context.Context, customerName, jobName string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("schedule: panic in %s job of %s: %v", jobName, customerName, r)
		}
	}()
	return s.opts.Runner(ctx, customerName, jobName)
}

func (s *Scheduler) jobCountersLocked(name string) *Counters {
	c := s.byJob[name]
	if c == nil {
		c = &Counters{}
		s.byJob[name] = c
	}
	return c
}

// History returns customer's recorded runs of all jobs, oldest first; nil for
// an unknown customer.
func (s *Scheduler) History(customerName string) []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[customerName]
	if c == nil {
		return nil
	}
	runs := []Run{}
	for _, j := range c.jobs {
		runs = append(runs, j.history...)
	}
	sort.SliceStable(runs, func(a, b int) bool {
		if !runs[a].Start.Equal(runs[b].Start) {
			return runs[a].Start.Before(runs[b].Start)
		}
		return runs[a].Job < runs[b].Job
	})
	return runs
}

// Status describes customer's schedule; ok is false for an unknown customer.
func (s *Scheduler) Status(customerName string) (st CustomerStatus, ok bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[customerName]
	if c == nil {
		return CustomerStatus{}, false
	}
	st = CustomerStatus{Customer: c.name, Suspended: c.suspended}
	for _, name := range slices.Sorted(maps.Keys(c.jobs)) {
		j := c.jobs[name]
		js := JobStatus{Job: name, Interval: j.interval, Offset: j.offset,
			Running: j.running.Load(), Counters: j.counters}
		if j.entry != 0 && !s.stopped {
			js.Next = Aligned{Interval: j.interval, Offset: j.offset}.Next(now)
		}
		if n := len(j.history); n > 0 {
			last := j.history[(j.next-1+n)%n]
			js.LastRun = &last
		}
		st.Jobs = append(st.Jobs, js)
	}
	return st, true
}

// Customers returns the names of all customers, sorted.
func (s *Scheduler) Customers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.customers))
}

// Stats returns the counters for metrics.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{ByJob: make(map[string]Counters, len(s.byJob)), Customers: len(s.customers), Entries: s.entries}
	for name, c := range s.byJob {
		st.ByJob[name] = *c
		st.Total.add(*c)
	}
	return st
}

// Stop stops firing and waits for running jobs. If ctx ends first, it cancels
// the running jobs' contexts and returns ctx.Err(). Set and Resume fail with
// ErrStopped afterwards.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	done := s.cron.Stop()
	select {
	case <-done.Done():
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		return fmt.Errorf("schedule: stop: waiting for running jobs: %w", ctx.Err())
	}
}

// cronLogger sends cron's errors to slog and drops its per-fire chatter.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(string, ...any) {}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append([]any{logErr, err}, kv...)...)
}
