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
// # Agents
//
// Each customer's agent jobs run on robfig/cron schedules (reconciler/
// schedule). With Config.AgentStores the daemon runs them itself
// (RunAgent): every run asks AgentStores for that customer's stores,
// passing only the customer's file, its own observed resources and its own
// secrets. EmbeddedStores (vdc serve --sim) serve the embedded stores
// under DATA/agents. ServiceStores reach the data services of the
// customer's data VM at the address the reconciler observed
// (opennebula_vm agentvdc-C-data, Outputs["ip"]): MinIO at IP:9000, Qdrant
// at IP:6334, Neo4j at bolt://IP:7687, with the credentials generated for
// the customer (reconciler.EnsureSecrets, passed to the VM through its
// template's CONTEXT), for the services its file enables; the agents'
// state stays local. Without an observed address the run fails with
// ErrNoDataEndpoint (an agent failure in status and metrics). Clients are
// cached per customer, rebuilt when the address or credentials change,
// and closed when the customer is removed, once no run holds them.
//
// # Lifecycle
//
// Run returns when its context ends: intake stops, in-flight reconciles
// finish (each mutating call is journaled before it is made), agent runs
// are waited for, and state is flushed. A restart reads the journal,
// refreshes and converges again.
package daemon
