// Package workqueue owns the daemon's keyed work queue: the controller-runtime
// / client-go work-queue semantics, generic over the key type (the daemon
// keys it by customer name).
//
// # Semantics
//
//   - Add merges: a key that is already queued is queued once.
//   - One worker per key: a key handed out by Get is "processing" until Done;
//     while processing it is never handed out again. Adding it meanwhile marks
//     it dirty, and Done re-queues it exactly once (level-triggered: the
//     reconcile reads the current state, not the event that caused it).
//   - A global concurrency limit: Run starts N workers, so at most N keys are
//     processed at a time.
//   - Retries: AddRateLimited re-adds a key after a per-key exponential
//     backoff with jitter (BaseDelay·2^failures, capped at MaxDelay), and a
//     global token bucket (golang.org/x/time/rate) bounds how fast retries
//     of all keys together come back; Forget resets the key's backoff after a
//     success.
//   - Resync: AddAfter adds a key after a delay (with ResyncJitter), so
//     periodic drift checks of many keys do not line up.
//   - Metrics: Len is the queue depth (keys waiting for a worker).
//
// # Shutdown
//
// ShutDown stops intake (Add, AddAfter and AddRateLimited are ignored
// afterwards) and makes Get return shutdown at once; keys queued or waiting
// but not yet handed out are dropped (a restart resyncs every key).
// ShutDownWithDrain does the same and then waits until every key handed out
// has been marked Done, or until its context ends. A daemon drains first and
// cancels the workers' context afterwards, so in-flight reconciles finish or
// journal their work.
//
// # Time
//
// All delays go through a Clock (Now, After, NewTimer). RealClock uses the
// time package; workqueuetest.Clock is a manual clock for tests.
package workqueue
