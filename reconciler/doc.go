// Package reconciler owns everything with side effects on the clouds. This
// package is the converge path itself: Converger.Converge (lease, the
// journaled apply of a plan's steps by the executor, the observation after
// it, statuses with their conditions, the apply history), Refresh, leases,
// the journal settling after a crash, generated secrets, and the Provider
// contract the cloud adapters implement. The daemon, vdc apply and vdc
// reconcile all converge through Converge.
//
// Sub-folders say what each part is:
//   - clouds/: per cloud an adapter on the real client library with its
//     simulator beside it (opennebula/onesim, hetzner/hetznersim,
//     exoscale/exoscalesim); simctl holds what the simulators share (faults,
//     counters, persistence), simstack runs the three on one port.
//   - daemon/: vdc serve's loop and its parts (autoscale, schedule,
//     workqueue, webhook).
//   - gitsource/: the git repository the daemon and the CLI read.
//   - api/: the HTTP API and status page over the daemon.
package reconciler
