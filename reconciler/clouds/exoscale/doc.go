// Package exoscale owns the Exoscale adapter: the reconciler.Provider for
// the storage side of an Agent VDC (private network, security group,
// storage instance, block volume) on egoscale v3.
//
// # Observation
//
// Observe makes one list call per kind and zone and no GET per resource:
// security groups once (they are global), then for each configured zone
// (Config.Zones, default de-fra-1) instances, private
// networks and block-storage volumes. Exoscale lists are not paginated.
// Ownership is the labels agentvdc.io/managed-by and agentvdc.io/customer;
// security groups have no labels, so a group is ours when its name is
// "agentvdc-C" and C is its customer. The first Observe also reads the
// zone list (one GET /zone per zone, through GetZoneAPIEndpoint, then
// Client.WithEndpoint), the instance-type catalogue and each zone's public
// templates; these are cached for the Provider's life.
//
// ListInstances answers a reduced instance: no private IPs and no disk
// size. The private IP comes from the leases of the private networks
// (listed anyway); the disk size from the label agentvdc.io/disk-gb that
// Create sets (disk_gb is never changed in place, so the label stays
// true; it is internal and not returned in Resource.Labels). An owned
// instance without that label (not created by this adapter) is read with
// one GET so that it does not plan a replacement.
//
// # Mutations
//
// Every mutation answers with an async operation; the adapter polls
// GET /operation/{id} itself, from Config.PollInterval (50 ms) doubling to
// PollMaxInterval (2 s), within OperationTimeout. egoscale's Client.Wait
// is not used: its first poll comes after 3 s. A "failure" or "timeout"
// state is an error wrapping ErrOperationFailed with the reason.
//
// Creates are idempotent: they look for the name first and adopt an owned
// resource; an unowned one of the same name is refused (ErrNotOwned). A
// POST that failed retryably is repeated only after looking again. The
// instance is created with its type, template, disk, labels, security
// group and base64 user data (Resource.Sensitive["user_data"]), then
// attached to its private network with the static private_ip; the volume
// is created, then attached. Updates: security-group rules (diffed rule by
// rule), instance_type (stop, scale, start), size_gb (grow only; a shrink
// is ErrShrink, never a replacement), labels. Delete and Update check the
// ownership on the live resource; a resource already gone is deleted.
//
// # Retries
//
// egoscale's default HTTP client is go-retryablehttp (4 retries, 1 to 30 s
// waits, POSTs included). The adapter does not use it: it passes a plain
// http.Client (or Config.HTTPClient) and retries 5xx, 429, 408, transport
// errors and per-attempt timeouts itself (Config.Retry, bounded,
// exponential with jitter, ctx-aware), so that a create is never blindly
// repeated and waits stay short.
package exoscale
