// Package onesim owns the OpenNebula simulator: oned's XML-RPC API and the
// OneFlow REST API, as goca (github.com/OpenNebula/one/src/oca/go/src/goca)
// speaks them, served by one http.Handler with state persisted under a data
// dir. It is a product feature (vdc sim, demos, PR previews), not a mock.
//
// # Endpoints
//
//	POST /RPC2     XML-RPC (oned): first param "user:password"
//	     /flow/... OneFlow REST (service_template, service), HTTP basic auth
//	     /_sim/... control API (below)
//
// Point goca at it with goca.NewConfig(user, pass, base+"/RPC2") and
// goca.NewFlowConfig(user, pass, base+"/flow"); Env returns ONE_XMLRPC,
// ONEFLOW_URL, ONE_USER, ONE_PASSWORD and, with a DataDir, ONE_AUTH (the path
// of a one_auth file: goca and the CLI read ONE_AUTH as a file).
//
// # XML-RPC coverage
//
// Groups, VDCs (add/del group, cluster, host, vnet, datastore), clusters
// (add/del host, datastore, vnet), users (allocate with password; info
// shows the SHA-256 hash, never the password; chgrp, addgroup, passwd),
// hosts (allocate, status, monitoring), virtual networks (address ranges
// with IP leases for VM NICs, fixed leases for a NIC's IP), datastores
// (IMAGE_DS, SYSTEM_DS, FILE_DS; TOTAL_MB/FREE_MB/USED_MB from what they
// hold or a simulated used percentage; LIMIT_MB sets TOTAL_MB), images
// (allocate, info, pool, update, delete), the marketplace (marketpool,
// market, marketapppool, marketapp: read-only), VM templates (allocate,
// info, clone, instantiate), VMs (allocate, actions, update of
// USER_TEMPLATE, deploy, monitoring), and for each type info, pool info,
// update (replace/merge), delete, rename, and where oned has them chown,
// chmod, lock and unlock. Responses are [ok, body, code, extra] with
// oned's error codes (AUTHENTICATION 0x100, AUTHORIZATION 0x200, NO_EXISTS
// 0x400, ACTION 0x800, API 0x1000, INTERNAL 0x2000, ALLOCATE 0x4000,
// LOCKED 0x8000). Unknown methods get an XML-RPC fault.
//
// Semantics kept from oned: ids start at 100 for groups, clusters, VDCs
// and datastores (0..99 reserved; the seed objects oneadmin/users groups,
// default cluster, system/default/files datastores and default VDC exist),
// at 2 for users; ids are never reused. Names are unique per type (per
// owner for vnets, images and templates); a duplicate allocate fails with
// ALLOCATE. Pools are ordered by id descending (API_LIST_ORDER=DESC) and
// filtered by who (-4 primary group, -3 mine, -2 all, -1 mine and my
// groups, >= 0 a user id) and start/end id; end < -1 pages (offset start,
// page size -end). one.vmpool.info also takes state (-2 any, -1 any but
// DONE) and a "KEY=VALUE" filter over TEMPLATE and USER_TEMPLATE
// attributes. Pools return full templates, so one pool call per type
// observes all ownership attributes. Instantiate splits the template as
// oned does: core attributes (CPU, MEMORY, DISK, NIC, CONTEXT, ...) stay in
// TEMPLATE, the rest goes to USER_TEMPLATE. Terminated VMs stay in the
// pool as DONE. Authorization is not modelled: every authenticated user
// may do everything (like oneadmin).
//
// # What a VM needs to run (no leniency)
//
// The rules follow OpenNebula 6.10's oned and scheduler (sources in the
// OpenNebula/one repository, tag release-6.10.5):
//
//   - Instantiate resolves each DISK's IMAGE_ID (NO_EXISTS "Error getting
//     image [N]." when it is missing) and bounds the VM to the clusters of
//     its images' datastores and its networks, written as
//     AUTOMATIC_REQUIREMENTS ("CLUSTER_ID = 100"); disjoint clusters fail
//     with "Incompatible cluster IDs." (scheduler overview, "Virtual
//     Machine Automatic Requirements").
//   - A PENDING VM is dispatched only onto a MONITORED host of an allowed
//     cluster whose monitored capacity (TOTAL_CPU, TOTAL_MEM from the
//     host's probe) holds its CPU and MEMORY besides the VMs already
//     there, and onto a SYSTEM datastore of that host's cluster meeting
//     SCHED_DS_REQUIREMENTS ("ID=n") with room for its disks
//     (src/scheduler/src/sched/Scheduler.cc, match_schedule). Otherwise it
//     stays PENDING with USER_TEMPLATE/SCHED_MESSAGE as the scheduler
//     writes it (VirtualMachineXML::log: one_util::log_time(), i.e.
//     ctime(3), then the reason): "Cannot dispatch VM: No hosts enabled
//     to run VMs", "... No host meets capacity and SCHED_REQUIREMENTS:
//     <req>", "... No host with enough capacity to deploy the VM", "... No
//     system datastores found to run VMs", "... No system datastore meets
//     capacity and SCHED_DS_REQUIREMENTS: <req>", "... No system datastore
//     with enough capacity for the VM".
//   - Two rules are the simulator's own, stricter than oned's scheduler
//     (which would dispatch and fail later, at prolog or boot): a VM
//     without any DISK stays PENDING ("Cannot dispatch VM: the VM has no
//     DISK (no image to boot)"), and so does one whose image is not READY
//     or USED ("Cannot dispatch VM: image N is in state LOCKED").
//   - A dispatched VM is ACTIVE/PROLOG for Latency.VMBoot, then
//     ACTIVE/RUNNING; its images are USED while it exists (READY again
//     after the last VM: ImageManager acquire/release). one.vm.action
//     resched migrates a running VM to another host the scheduler finds
//     (keeping its system datastore); a disabled host gets no VMs.
//
// # Images and the marketplace
//
// The marketplace "OpenNebula Public" (id 0, MARKET_MAD one) lists a few
// of its apps, among them the pinned plan.ONEImageApp in
// plan.ONEImageAppVersion, with SOURCE, FORMAT, SIZE, MD5 and
// APPTEMPLATE64. one.image.allocate(template, datastore) refuses a
// system datastore ("New images can only be allocated in a files or image
// datastore."), takes FROM_APP=<app id> as oned does (MarketPlaceApp::
// to_template: PATH=SOURCE, FORMAT, FROM_APP_NAME, FROM_APP_MD5, the app's
// size; an unknown app is INTERNAL "Cannot determine image SIZE.") and
// refuses an image larger than the datastore's free space ("Not enough
// space in datastore"). A new image is LOCKED for Latency.ImageImport,
// then READY; or ERROR when its datastore has a BRIDGE_LIST and none of
// those hosts is MONITORED (the datastore driver copies on a bridge host
// over ssh).
//
// # Hosts and the front-end
//
// A new host is INIT until its first monitoring, Latency.HostMonitor
// later. Options.Probe stands for what the front-end finds over ssh: the
// host becomes MONITORED with the probed cores and memory as its capacity,
// or ERROR with oned's Host::error message in TEMPLATE/ERROR ("<ctime>:
// Error monitoring Host NAME (ID): <reason>"; an unreachable host's reason
// is "Could not update remotes", as im_exec reports a failed remotes
// sync). A host in ERROR is monitored again every 2 s at the earliest
// (monitord restarts its probes). Without a probe the front-end reaches no
// host. simstack's probe models the front-end from what the Hetzner
// simulator received (see that package). Datastores report BASE_PATH
// /var/lib/one/datastores/<ID> (DATASTORE_LOCATION + "/" + ID): a
// shared-TM datastore must be mounted there on every host.
//
// # Latency
//
// Options.Latency sets how long the asynchronous steps take; the zero
// value completes each one by the next request. FastLatency (tests, `make
// run`: 50 ms image import, 20 ms host monitoring, 20 ms VM boot) and
// RealisticLatency:
//
//   - image import 90 s: the pinned Ubuntu 24.04 app is a ~3.5 GB qcow2
//     downloaded from marketplace.opennebula.io and copied into the
//     datastore (the 6.10 documentation's onemarketapp list shows OS apps
//     of 256 MB to 37 GB; at the ~40-50 MB/s a front-end typically gets,
//     about 90 s). An estimate, not a measurement.
//   - host monitoring 45 s: after onehost create, oned syncs the remotes
//     to the host over ssh and starts monitord's client, whose first
//     beacon and system probes make it MONITORED (monitord.conf
//     MONITORING_INTERVAL_HOST = 180 s bounds the retries, PROBES_PERIOD
//     the reports). Estimated from that sequence.
//   - VM boot 20 s: the scheduler's pass (sched.conf SCHED_INTERVAL = 15 s
//     in 6.10, on average half of it), the shared-TM clone of the image in
//     the system datastore and the container start. An estimate.
//
// Time advances lazily: a request at or after the next due step takes the
// write lock and completes what is due before it is served (also OneFlow
// requests and EvaluateElasticity).
//
// # OneFlow
//
// GET/POST /service_template, GET/DELETE /service_template/{id}, POST
// /service_template/{id}/action (instantiate, update, rename, clone, chown,
// chgrp, chmod); GET /service, GET/DELETE /service/{id}, POST
// /service/{id}/action (rename, chown, chgrp, chmod, recover, shutdown),
// POST /service/{id}/scale, POST /service/{id}/role/{role}/action. Documents
// are {"DOCUMENT":{"ID":"5",...,"TEMPLATE":{"BODY":{...}}}} with string ids.
// Role VMs are named "<role>_<n>_(service_<id>)" and carry SERVICE_ID and
// ROLE_NAME in USER_TEMPLATE. Errors are {"error":{"message":"..."}}.
//
// Elasticity runs as in OneFlow when EvaluateElasticity(now) is called (or
// every Options.ElasticityInterval): each policy of a RUNNING role whose
// period has elapsed evaluates its expression over the average attribute of
// the role's running VMs (USER_TEMPLATE, MONITORING, TEMPLATE); after
// period_number consecutive true evaluations the cardinality changes by
// type (CHANGE, CARDINALITY, PERCENTAGE_CHANGE with min_adjust_step),
// clamped to min_vms..max_vms, and the role cools down (policy, role or
// service cooldown, default 300 s). Roles below min_vms scale up.
//
// # Control API
//
// From simctl (keys are XML-RPC method names such as "one.vmpool.info", and
// "GET /flow/service/{id}" style for OneFlow):
//
//	GET    /_sim/counters          calls per endpoint key
//	DELETE /_sim/counters          reset
//	GET    /_sim/faults            active fault rules
//	POST   /_sim/faults            {"pattern":"one.vm.*","error_rate":1,"status":503,"latency":"50ms","rate_limit":true,"timeout":true,"drop":0.1,"times":2}
//	DELETE /_sim/faults[/{id}]     remove rules
//
// Injected HTTP errors reach goca as a ClientError carrying the status
// (XML-RPC) or as the error body (OneFlow). Simulated metrics:
//
//	POST /_sim/host-cpu        {"id":3,"cpu":90} or {"name":"kvm1","cpu":90}
//	POST /_sim/vm-cpu          {"id":7,"cpu":90} or {"service":5,"role":"workers","cpu":90}
//	POST /_sim/datastore-used  {"id":100,"used":80,"total_mb":51200} (or "name")
//	POST /_sim/elasticity      {"now":"2025-01-01T00:00:00Z"} runs one evaluation
//
// The same from Go: SetHostCPU, SetVMCPU, SetRoleCPU, SetDatastoreUsed,
// SetDatastoreSize, EvaluateElasticity.
package onesim
