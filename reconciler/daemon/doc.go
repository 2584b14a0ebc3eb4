// Package daemon owns `vdc serve`: the continuous GitOps loop. It follows a
// git branch (poll interval and webhook), keeps the last valid desired
// state, reconciles customers through a per-customer work queue (one worker
// per customer, merged duplicate triggers, per-customer backoff, a global
// concurrency limit), checks drift on an interval that adapts to the
// Hetzner API budget, heals it unless a customer is suspended or on hold,
// applies the autoscaler's targets through the same plan/apply path, runs
// each customer's data agents on their schedules, and serves the HTTP API
// (reconciler/api).
//
// # Observed state
//
// The daemon keeps the observed resources in memory and in state. A full
// refresh (one list call per resource type) runs at start and on every
// drift tick; between refreshes, an apply patches the cache with what the
// providers returned, so converging 1,000 customers does not cost 1,000
// refreshes. Create is idempotent (deterministic names, ownership labels),
// so a stale cache can never duplicate a resource.
//
// # Lifecycle
//
// Run returns when its context ends: intake stops, in-flight reconciles
// finish (each mutating call is journaled before it is made), agent runs
// are waited for, and state is flushed. A restart reads the journal,
// refreshes and converges again.
package daemon
