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
// with IP leases for VM NICs), datastores (TOTAL_MB/FREE_MB/USED_MB from a
// simulated used percentage; LIMIT_MB in the template sets TOTAL_MB), VM
// templates (allocate, info, clone, instantiate), VMs (allocate, actions,
// update of USER_TEMPLATE, deploy, monitoring), and for each type info,
// pool info, update (replace/merge), delete, rename, and where oned has
// them chown, chmod, lock and unlock. Responses are [ok, body, code, extra]
// with oned's error codes (AUTHENTICATION 0x100, AUTHORIZATION 0x200,
// NO_EXISTS 0x400, ACTION 0x800, API 0x1000, INTERNAL 0x2000, ALLOCATE
// 0x4000, LOCKED 0x8000). Unknown methods get an XML-RPC fault.
//
// Semantics kept from oned: ids start at 100 for groups, clusters, VDCs
// and datastores (0..99 reserved; the seed objects oneadmin/users groups,
// default cluster, system/default/files datastores and default VDC exist),
// at 2 for users; ids are never reused. Names are unique per type (per
// owner for vnets and templates); a duplicate allocate fails with ALLOCATE.
// Pools are ordered by id descending (API_LIST_ORDER=DESC) and filtered by
// who (-4 primary group, -3 mine, -2 all, -1 mine and my groups, >= 0 a
// user id) and start/end id; end < -1 pages (offset start, page size -end).
// one.vmpool.info also takes state (-2 any, -1 any but DONE) and a
// "KEY=VALUE" filter over TEMPLATE and USER_TEMPLATE attributes. Pools
// return full templates, so one pool call per type observes all ownership
// attributes (AGENTVDC_MANAGED_BY, AGENTVDC_CUSTOMER, LABELS). Instantiate
// splits the template as oned does: core attributes (CPU, MEMORY, DISK, NIC,
// CONTEXT, ...) stay in TEMPLATE, the rest goes to USER_TEMPLATE. VMs are
// PENDING until a host exists; the built-in scheduler then deploys them
// (ACTIVE/RUNNING) on the enabled host with the fewest VMs. Terminated VMs
// stay in the pool as DONE. Authorization is not modelled: every
// authenticated user may do everything (like oneadmin).
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
