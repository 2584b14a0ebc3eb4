// Package reconciler owns everything with side effects on the clouds: the
// git source (gitsource), refresh of observed state, the apply executor,
// and, per cloud, an adapter on the real client library with its simulator
// beside it (opennebula/onesim, hetzner/hetznersim, exoscale/exoscalesim).
// simctl holds what the simulators share (faults, counters, persistence).
package reconciler
