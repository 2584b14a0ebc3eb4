// Package hetznersim owns the Hetzner Cloud API simulator: an http.Handler
// that speaks the /v1 REST protocol exactly as hcloud-go v2 (and the hcloud
// CLI) expect it, with state that persists under a data directory, real
// error shapes, pagination, label selectors, asynchronous actions and the
// per-token rate limit. It is a product feature (vdc serve --sim, demos,
// PR previews) as much as a test fixture.
//
// # Wire protocol
//
// Authentication is "Authorization: Bearer <token>"; an unknown token gets
// 401 {"error":{"code":"unauthorized",...}}. Every authenticated response
// carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (unix
// seconds when the bucket is full again): each token has a bucket of
// Options.RateLimitPerHour requests (default 3600) refilled evenly over an
// hour (one per second at the default); when it is empty the answer is 429
// rate_limit_exceeded.
//
// Implemented endpoints (under /v1):
//
//	servers        GET/POST /servers, GET/PUT/DELETE /servers/{id},
//	               GET /servers/{id}/metrics?type=cpu|disk|network&start&end&step,
//	               POST /servers/{id}/actions/{poweron,poweroff,shutdown,reboot,reset,
//	                 change_type,attach_to_network,detach_from_network,change_protection}
//	networks       GET/POST /networks, GET/PUT/DELETE /networks/{id},
//	               POST /networks/{id}/actions/{add_subnet,delete_subnet,add_route,
//	                 delete_route,change_ip_range,change_protection}
//	firewalls      GET/POST /firewalls, GET/PUT/DELETE /firewalls/{id},
//	               POST /firewalls/{id}/actions/{set_rules,apply_to_resources,remove_from_resources}
//	ssh_keys       GET/POST /ssh_keys, GET/PUT/DELETE /ssh_keys/{id}
//	catalogue      GET /images, /server_types, /locations, /datacenters (and /{id})
//	actions        GET /actions?id=..., GET /actions/{id},
//	               GET /{servers,networks,firewalls}/actions[/{id}],
//	               GET /{servers,networks,firewalls}/{id}/actions[/{id}]
//
// Lists take page and per_page (default 25, at most 50) and answer
// meta.pagination {page, per_page, previous_page, next_page, last_page,
// total_entries}; most take name, sort (field or field:asc|desc) and
// label_selector: comma-separated (AND) terms k=v, k==v, k!=v, k, !k,
// k in (a,b), k notin (a,b). As in Kubernetes, k!=v and notin also match
// resources without k. A malformed selector is 400 invalid_input.
//
// Mutations that are asynchronous in the real API return actions. An
// action is "running" when returned and completes (success, or error when a
// failure was injected) Options.ActionDelay later, so hcloud-go's
// Action.WaitFor works; with the default delay of 0 it completes on the next
// request. While a server has a running action, further server actions get
// 423 locked. Servers go initializing → running (or off without
// start_after_create); change_type needs the server off
// (server_not_stopped); deleting a firewall that is still applied is
// 422 resource_in_use; deleting a network detaches its servers, as the real
// API does.
//
// Options.ServerLimit is the project's server quota (0: none): creating a
// server while the project holds that many answers 403
// resource_limit_exceeded (hcloud.ErrorCodeResourceLimitExceeded; Hetzner
// documents the code and status, the message text here is the simulator's).
//
// # Control API
//
// Besides simctl's /_sim/counters and /_sim/faults (fault keys look like
// "GET /v1/servers/{id}"; the injected errors use the Hetzner error shape,
// 429 with rate-limit headers), the handler serves:
//
//	POST   /_sim/cpu              {"selector":"agentvdc.io/customer=acme","cpu":90}
//	                              or {"server_id":42,"cpu":90}; answers {"servers":[ids],"cpu":90}
//	GET    /_sim/servers          snapshot of every server (id, name, status, type, cpu, ...)
//	POST   /_sim/action_failures  {"command":"create_server","times":1,"code":"...","message":"..."}:
//	                              the next matching actions end with status "error"
//	DELETE /_sim/action_failures  remove all action failure rules
//
// The Go API offers the same: SetServerCPU, SetCPUBySelector, Servers,
// FailActions, and Control for faults and counters.
//
// # Persistence
//
// With Options.DataDir set, the state (every resource, action history, id
// counters, generated token) is written to DataDir/state.json at most
// 200 ms after a change and on Close, atomically; New loads it.
package hetznersim
