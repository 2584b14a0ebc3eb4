// Package opennebula owns the OpenNebula adapter: the reconciler.Provider
// for the kinds opennebula_* of the catalogue (plan/doc.go), built on goca
// (oned's XML-RPC API) and goca's OneFlow client, plus the metrics the
// autoscaler reads (HostCPU, DatastoreUsage). Its simulator is onesim.
//
// # Observe
//
// One pool call per kind, the twelve calls running concurrently:
// grouppool, clusterpool, userpool, vdcpool, hostpool, vnpool,
// datastorepool, imagepool, templatepool, vmpool (filtered server-side by
// AGENTVDC_MANAGED_BY=agentvdc, DONE excluded), OneFlow GET
// /service_template and GET /service. With Config.PageSize > 0 the pools
// oned paginates (vnpool, templatepool, vmpool) are read in pages (start =
// offset, end = -PageSize). Only objects whose template carries
// AGENTVDC_MANAGED_BY="agentvdc" and an AGENTVDC_CUSTOMER are returned.
// References (group, cluster, vnet, datastore, VM template, flow template)
// are ids in the pool data, turned into names with id→name maps built from
// the same pass; an id that maps to nothing reads "#ID". VMs of OneFlow
// roles (SERVICE_ID in their template) belong to the flow service and are
// not opennebula_vm resources.
//
// # Where the marks live
//
// oned objects: template attributes AGENTVDC_MANAGED_BY, AGENTVDC_CUSTOMER,
// AGENTVDC_BOOTSTRAP and AGENTVDC_LABELS ("k=v,k2=v2", sorted). Allocate
// calls that take a template (VDC, vnet, datastore, image, VM template, VM
// instantiate) carry them; groups, clusters, users and hosts are allocated
// by name and get them by a merge update right after.
//
// OneFlow documents have no attributes: the marks are the JSON object
// {"AGENTVDC_MANAGED_BY":"agentvdc","AGENTVDC_CUSTOMER":"C",...} stored as
// the body's "description", a string of OneFlow's schema that goca models,
// that OneFlow copies into services instantiated from the template (the
// adapter also passes it in merge_template) and that updates keep.
//
// # Attributes in OpenNebula
//
//	user       GID (group), AUTH_DRIVER; password from Sensitive["password"]
//	vdc        GROUPS, CLUSTERS of zone 0 (names sorted and ","-joined)
//	host       NAME = the public IPv4 of the hetzner_server of the same
//	           catalogue name (plan.OutputRef through the Lookup), the
//	           catalogue name in AGENTVDC_NAME; CLUSTER_ID, IM_MAD, VM_MAD;
//	           Outputs["state"] = oned's host state (INIT, MONITORED, ERROR)
//	vnet       CLUSTERS, VN_MAD, BRIDGE, first AR (IP, SIZE)
//	datastore  CLUSTERS, TYPE (IMAGE_DS/SYSTEM_DS), DS_MAD, TM_MAD,
//	           BRIDGE_LIST (the named hosts' public IPv4s, read back as
//	           their names), LIMIT_MB
//	image      DATASTORE_ID; FROM_APP_NAME (app), AGENTVDC_MARKETPLACE,
//	           AGENTVDC_APP_VERSION; Outputs["state"] = READY, USED,
//	           LOCKED, ERROR
//	template   CPU, MEMORY, DISK=[IMAGE_ID], NIC=[NETWORK_ID, IP],
//	           SCHED_DS_REQUIREMENTS="ID=n" (the system datastore),
//	           CONTEXT=[NETWORK="YES", SERVICES="...", credentials,
//	           START_SCRIPT_BASE64]
//	vm         TEMPLATE_ID; Outputs["ip"] = IP of the first NIC (lowest
//	           NIC_ID), Outputs["state"] = the LCM state of an ACTIVE VM
//	           (RUNNING, PROLOG, ...), else its state (PENDING, ...), from
//	           the same vmpool answer
//	flow tmpl  role "workers": vm_template, cardinality=min_vms, min_vms,
//	           max_vms, cooldown, elasticity_policies
//	flow svc   template_id, role "workers" min_vms, max_vms, policies,
//	           cardinality (observed as "cardinality", autoscaler-owned)
//
// The OS image is exported from the marketplace as `onemarketapp export`
// does it (the Ruby OCA's MarketPlaceApp#export): the app of
// plan.ONEMarketplace named plan.ONEImageApp in plan.ONEImageAppVersion
// is looked up (marketapppool, marketpool), and an image is allocated in
// the image datastore from the app's APPTEMPLATE64 plus NAME and
// FROM_APP=<app id>, from which oned fills PATH, FORMAT and FROM_APP_NAME
// (goca has no export call). Create waits (PollInterval, WaitTimeout)
// until the image leaves LOCKED; an image that ends in ERROR is deleted
// and the error returned, so the next apply imports it again.
//
// Hosts are deleted drained: oned refuses to delete a host with VMs, so
// the host is disabled, its VMs are flagged resched (the scheduler
// migrates them), and the delete waits until it is empty.
//
// The data template's credentials come from Sensitive (keys
// reconciler.SensitiveMinIOAccessKey, ...SecretKey, ...Neo4jPassword,
// ...QdrantAPIKey) and are written as the CONTEXT variables
// MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, NEO4J_PASSWORD and QDRANT_API_KEY,
// on create and with every in-place update (a merge replaces the whole
// CONTEXT vector), and the data VM's start script (plan.SensitiveStartScript)
// base64-encoded as START_SCRIPT_BASE64. They are never read back: Observe reads SERVICES only,
// so they cause no drift and never reach Attrs, plans, errors or logs. An
// unknown Sensitive key, or a value with quotes, backslashes, ']' or
// newlines, is refused with an error naming the key only.
//
// The canonical "policies" value is encoding/json's Marshal of the array of
// {"type","adjust","expression","period","period_number","cooldown"} in
// that order (so "<" and ">" appear as \u003c and \u003e); any JSON
// spelling is accepted on input.
//
// # Create, update, delete
//
// Create is idempotent. Kinds with unique names are allocated directly; an
// ALLOCATE answer (name taken) leads to a look-up by name in the pool: an
// object with the same customer's marks is adopted; an object with no mark
// at all, under the reserved prefix "agentvdc-", of a kind allocated
// before its marks are written (group, cluster, user, host) is our own
// half-created object and is finished (marks, and for a user its password
// and group; a host is looked up by its address, since oned's NAME is
// that, and finished with AGENTVDC_NAME); anything else is ErrNotOwned.
// VMs, flow templates and flow
// services may share names, so their pool is searched before the create
// and again before each retry of it. A VDC's group and cluster are added
// after the allocate if missing (also on adoption).
//
// Update changes datastore LIMIT_MB and BRIDGE_LIST, template
// CPU/MEMORY/CONTEXT (merge
// updates) and a flow template's body (OneFlow "update" action). OneFlow
// cannot change a running service's role bounds or policies through goca,
// so a flow service is replaced: deleted (waiting until OneFlow removed
// it), then instantiated again with the old cardinality clamped into the
// new bounds. Update and Delete read the object once to check its live
// marks; Delete of a gone object succeeds, VM deletion waits for DONE.
//
// Creates return once oned or OneFlow has accepted the object: a VM may
// still be PENDING and a service DEPLOYING (scheduling depends on host
// capacity, not on the API).
//
// # Errors and retries
//
// Every call runs under the caller's ctx (goca builds requests without
// one: a per-call http.Client binds it) with a per-attempt timeout, and
// is retried with exponential backoff and jitter on transport errors,
// timeouts, HTTP 5xx and 429 (Retry-After honoured within Retry.Max).
// oned's own answers (AUTHENTICATION, ALLOCATE, NO_EXISTS, ...) and
// OneFlow 4xx are final. Response bodies are read completely before goca
// sees them (goca's OneFlow client exits the process on a body read error)
// and goca panics are turned into errors. Errors and logs never carry the
// password or Sensitive values.
//
// # Files
//
// Each kind's create, pool read, conversion to plan.Resource and in-place
// update live in the kind's file (group.go, cluster.go, user.go, vdc.go,
// host.go, vnet.go, datastore.go, image.go, template.go, vm.go, flowtemplate.go,
// flowservice.go); create.go, observe.go and update.go hold the steps all
// kinds share (allocate or look up, adopt, pool reads, Update's checks)
// and dispatch to them, provider.go the configuration and the retried
// call, flow.go the OneFlow client.
package opennebula
