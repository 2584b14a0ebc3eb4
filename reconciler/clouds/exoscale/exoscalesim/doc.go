// Package exoscalesim owns the Exoscale v2 API simulator: an http.Handler
// that the real egoscale v3 client (v3.1.40) talks to over HTTP, with the
// state the storage side of an Agent VDC needs — private networks,
// security groups, compute instances (with the instance-type and template
// catalogues) and block-storage volumes — plus async operations, zones,
// signed requests and persistence.
//
// # Wire protocol
//
// Every call except GET /zone must carry egoscale's
// "EXO2-HMAC-SHA256 credential=…,[signed-query-args=…,]expires=…,signature=…"
// header; the simulator recomputes the HMAC over the method, the escaped
// path exactly as the client sent it (mount prefix included), the body, the
// single-valued query parameters and the expiry. A missing or malformed
// header answers 401; a wrong key, a wrong signature or an expired
// signature answers 403. Errors use the body {"message": "…"}, which
// egoscale turns into a *v3.APIError wrapping the status sentinel
// (v3.ErrNotFound, v3.ErrConflict, v3.ErrForbidden, …).
//
// Mutations answer with an operation {id, state: "pending", reference}.
// GET /v2/operation/{id} reports "pending" until Options.OperationDelay has
// passed, then "success" or "failure". egoscale's Client.Wait polls every 3
// seconds at first, so each Wait on a pending operation takes about 3 s;
// Options.ImmediateOperations answers with the final state instead (Wait
// then returns at once, without turning a failure into an error).
// PUT /block-storage/{id}:resize-volume answers with the volume, as the real
// API does. Lists are not paginated (neither egoscale v3 nor the API has
// pagination); ListInstances accepts "labels=k=v,k2" (the simulator's
// reading of the free-form filter) and ListBlockStorageVolumes
// "instance-id". Security groups are global and have no labels.
//
// # Zones and URLs
//
// The default zone (Options.Zone, "de-fra-1") is served at <base>/v2, every
// other zone (ch-gva-2, ch-dk-2, de-muc-1, at-vie-1, at-vie-2, bg-sof-1,
// hr-zag-1) at <base>/<zone>/v2, with zonal instances, volumes and private
// networks. GET /zone advertises these URLs (base = Options.BaseURL, or the
// request's scheme, Host and mount prefix), so GetZoneAPIEndpoint +
// Client.WithEndpoint land back on the simulator.
//
// # Block Storage limits
//
// The simulator enforces the limits of Exoscale's "Block Storage Overview"
// page: a volume is 10 GiB to 10 TiB (MinVolumeGiB, MaxVolumeGiB; create
// and resize); an instance has at most 5 volumes attached
// (MaxAttachmentsPerInstance); only instances of size Small or larger take
// one (micro and tiny are refused, and an instance with volumes cannot be
// scaled down to them); volumes exist only in the zones of
// Options.BlockStorageZones (default at-vie-1, ch-gva-2, de-fra-1: create
// and attach elsewhere are refused, listing answers an empty list); and the
// organisation quotas (Options.MaxVolumes, default 1,000 volumes, and
// Options.MaxProvisionedGiB, default 20 TiB, over all zones) hold on create
// and resize. The documentation gives the limits but not the API's answers
// to them, so the status codes and messages here are the simulator's own,
// in the API's error body: 400 ("incorrect") for a size out of range, a
// zone without Block Storage, a too-small instance or a sixth attachment,
// and 403 for a quota ("quota exceeded: …"). egoscale surfaces each as a
// *v3.APIError wrapping v3.ErrBadRequest or v3.ErrForbidden.
//
// # Control API
//
// Under <base>/_sim/, unsigned:
//
//	GET    /_sim/counters              calls per endpoint key, e.g. {"GET /v2/instance": 3, "PUT /v2/block-storage/{id}:attach": 1}
//	DELETE /_sim/counters              reset counters
//	GET    /_sim/faults                active fault rules
//	POST   /_sim/faults                add a rule: {"pattern":"GET /v2/instance","latency":"200ms","error_rate":1,"status":503,"rate_limit":false,"timeout":false,"drop":0,"times":1}
//	DELETE /_sim/faults[/{id}]         remove all rules / one rule
//	POST   /_sim/fail-next-operation   {"pattern":"POST /v2/instance"}: the next matching mutation is not applied and its operation ends in "failure"
//
// Endpoint keys are "<METHOD> /v2/<collection>[/{id}[:action]][/rules[/{id}]]"
// whatever the zone; fault patterns are simctl globs over them ("*" spans "/").
//
// # Persistence
//
// With Options.DataDir the state (resources, operations, counters for VNIs,
// addresses and MACs, and generated credentials) is written to
// exoscale-state.json at most 200 ms after a mutation and on Close, and is
// loaded by New.
package exoscalesim
