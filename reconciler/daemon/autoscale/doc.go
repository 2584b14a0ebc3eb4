// Package autoscale owns the daemon's capacity autoscaler: it turns the
// OpenNebula monitoring of each customer's hosts and NFS datastore into
// scaling decisions and targets (plan.Scale) for the customer's Hetzner
// server count and Exoscale volume size. It does no cloud writes: the daemon
// puts Targets into plan.Input.Scale and applies them through the ordinary
// plan/apply path. The worker VMs above the hosts are scaled by OneFlow from
// the elasticity policies in the plan, not here.
//
// # Sampling
//
// Every Evaluate makes exactly two metric calls for all customers together:
// Metrics.HostCPU (one hostpool call) and Metrics.DatastoreUsage (one
// datastorepool call). Hetzner's per-server metrics endpoint is not used:
// it costs one call per server and tick, which at 1,000 customers would
// exceed Hetzner's hourly rate limit many times over.
//
// A customer's hosts are its observed opennebula_host resources named
// agentvdc-C-srv-N (one per Hetzner server, same name). Each Evaluate adds
// one sample per customer: the mean CPU % of those hosts that HostCPU
// reports. Samples older than the window (Options.Window, default 5m) are
// dropped. The window average is the mean of the samples in the window and
// is used only when the window has enough data: at least 2 samples whose
// times span at least half the window. The samples are discarded when the
// number of reporting hosts changes and after every compute decision, so a
// decision is judged on the current capacity only. Samples are not
// persisted: after a restart the window refills before the next compute
// decision.
//
// # Rules
//
// Compute (servers), for a customer that is not suspended, has no pending
// server target and whose last compute decision is at least
// compute.autoscale.cooldown old:
//
//   - window average > cpuPercent and servers < maxServers:
//     target = min(servers + step, maxServers);
//   - window average < lowWaterPercent and servers > minServers:
//     target = max(servers − step, minServers).
//
// "servers" is the customer's observed hetzner_server count, the number
// plan.ExpandScaled replaces with the target. On scale-in the plan deletes
// the highest-numbered servers and their hosts. The OpenNebula adapter
// drains a host before deleting it (disable, reschedule its VMs, wait until
// empty: oned refuses to delete a host with VMs), so a scale-in whose VMs
// fit on no remaining host fails and keeps the host.
//
// Storage (volume GB), for a customer that is not suspended and has no
// pending volume target: when the fuller of the datastores agentvdc-C-images and
// agentvdc-C-system (both on the customer's NFS volume) reports more
// than storage.autoscale.usedPercent used in the current sample and the
// observed volume is below maxGB, target = min(size + stepGB, maxGB). The
// volume never shrinks. Storage has its own cooldown, Options.StorageCooldown
// (default 10m), since the customer's last storage decision: a grown volume
// needs time before the datastore reports its new capacity. One sample
// suffices: used space is a level, not a noisy rate.
//
// # Targets
//
// A decision sets the customer's target; Targets returns every pending
// target for plan.Input.Scale. A target stays until the observed state
// matches it (servers == target, volume >= target), then it is cleared;
// while it is pending no new decision of that resource is made. On every
// Evaluate a target is clamped to the file's current bounds (a file edit
// lowering maxServers or maxGB wins) and a target no longer differing from
// the observed value is cleared. plan.ExpandScaled clamps again against the
// file it expands. A suspended customer (Suspended set in the customers
// given to Evaluate) is skipped: its samples and pending targets are
// dropped (cooldown times are kept). A customer left out of a call keeps
// its state and pending target unchanged; Forget drops a deleted customer
// entirely.
//
// # Decisions
//
// Each Decision carries a human reason ("avg host CPU 91% > 80% over 5m0s on
// 2 hosts: +2 servers") and its monthly cost impact in USD: the added or
// removed servers at Prices().HetznerServerMonthly[serverType][location], or
// the added GB at ExoscaleVolumeGBMonthly, times EURToUSD (defaults from
// plan.DefaultExoscalePrices where the prices leave them out). A server type
// without a price counts as zero and the decision is marked Unpriced. The
// last RecentPerCustomer decisions of every customer are kept (Recent).
//
// # Persistence
//
// Snapshot and Restore carry cooldown times, pending targets, bounds and
// recent decisions as JSON with a "version" field (SnapshotVersion); a
// newer version is refused.
package autoscale
