package workqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// ErrInvalidRun is returned by Run for a bad worker count or a nil function.
var ErrInvalidRun = errors.New("workqueue: invalid Run arguments")

// terminalError marks an error that retrying cannot fix.
type terminalError struct{ err error }

func (e *terminalError) Error() string { return "terminal: " + e.err.Error() }
func (e *terminalError) Unwrap() error { return e.err }

// Terminal wraps err so that Run does not retry the key (as
// controller-runtime's reconcile.TerminalError): the key is forgotten and
// only a new Add brings it back. Terminal(nil) is nil.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err: err}
}

// IsTerminal reports whether err or an error it wraps came from Terminal.
func IsTerminal(err error) bool {
	var t *terminalError
	return errors.As(err, &t)
}

// Run processes keys with workers goroutines until ctx ends or the queue is
// shut down, then shuts the queue down and waits for the workers to return.
// For each key it calls fn(ctx, key): nil forgets the key's backoff; an error
// re-adds it with AddRateLimited (a Terminal error forgets it instead); a
// panic in fn is recovered and handled as an error. A key is never passed to
// two calls of fn at once.
//
// To drain on shutdown, call ShutDownWithDrain while ctx is still alive, then
// cancel ctx: in-flight calls finish with a live context.
func (q *Queue[K]) Run(ctx context.Context, workers int, fn func(context.Context, K) error) error {
	if workers < 1 {
		return fmt.Errorf("%w: workers = %d, want >= 1", ErrInvalidRun, workers)
	}
	if fn == nil {
		return fmt.Errorf("%w: nil function", ErrInvalidRun)
	}
	stopWatch := context.AfterFunc(ctx, q.ShutDown)
	defer stopWatch()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for q.processNext(ctx, fn) {
			}
		})
	}
	wg.Wait()
	return nil
}

func (q *Queue[K]) processNext(ctx context.Context, fn func(context.Context, K) error) bool {
	key, shutdown := q.Get()
	if shutdown {
		return false
	}
	defer q.Done(key)
	err := q.call(ctx, key, fn)
	switch {
	case err == nil:
		q.Forget(key)
	case IsTerminal(err):
		q.Forget(key)
		q.log.LogAttrs(ctx, slog.LevelError, "reconcile failed, not retrying",
			slog.Any(logKey, key), slog.String(logErr, err.Error()))
	default:
		d := q.When(key)
		q.addAfter(key, d)
		q.log.LogAttrs(ctx, slog.LevelWarn, "reconcile failed, retrying",
			slog.Any(logKey, key), slog.String(logErr, err.Error()),
			slog.Int(logRequeues, q.NumRequeues(key)), slog.Duration(logRetryIn, d))
	}
	return true
}

func (q *Queue[K]) call(ctx context.Context, key K, fn func(context.Context, K) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("workqueue: panic processing key %v: %v", key, r)
		}
	}()
	return fn(ctx, key)
}
