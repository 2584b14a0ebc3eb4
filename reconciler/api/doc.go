// Package api owns the daemon's HTTP surface: the JSON API that on-call
// tools and CI use, the server-rendered status page, health and readiness
// probes, the Prometheus metrics the daemon updates (Metrics), and a Go
// client of the API (Client) that the vdc CLI uses. The daemon implements
// Service; this package never touches state, git or a cloud itself.
//
// # Endpoints
//
//	GET  /healthz                              200 while the process serves (no auth)
//	GET  /readyz                               200 once Service.Ready is nil, else 503 (no auth)
//	*    /webhook                              the git push webhook (no bearer auth: it verifies its own signatures)
//	GET  /metrics                              Prometheus exposition of Config.Registry
//	GET  /api/v1/customers                     {"customers": [daemon.CustomerView...]}
//	GET  /api/v1/customers/{name}              daemon.CustomerView
//	POST /api/v1/customers/{name}/reconcile    202 {"customer","status":"queued","request":N}
//	GET  /api/v1/customers/{name}/events       ?limit=N (1..1000, default 50) → {"customer","events":[…]} oldest first
//	POST /api/v1/customers/{name}/suspend      200 daemon.CustomerView (on-call hold on)
//	POST /api/v1/customers/{name}/resume       200 daemon.CustomerView (on-call hold off)
//	GET  /api/v1/customers/{name}/history?limit=N   {"customer","history":[state.ApplyRecord...]}
//	POST /api/v1/plan                          body {"ref"|"files","commit","format":"json|markdown|text","branch","customers","exclude"} → the rendered plan
//	POST /api/v1/sync                          202 {"status":"sync requested"}
//	GET  /                                     status page (HTML)
//	GET  /customers/{name}                     customer page (HTML)
//	POST /customers/{name}/{reconcile,suspend,resume}   page buttons; 303 back to the customer page
//	GET|POST /login, POST /logout              browser sign-in (token cookie)
//
// Errors are JSON objects {"error": "..."}: 400 bad JSON, bad parameter or
// unknown git ref (daemon.ErrBadRef), 401 no token, 403 wrong token, 404 unknown
// customer (daemon.ErrNotFound) or path, 405 wrong method (with Allow), 429
// too many wrong tokens from the address (with Retry-After), 431 headers over
// 64 KiB, 500 anything else the Service returns.
//
// # Authentication
//
// Everything but /healthz, /readyz, /webhook and /login needs the API token,
// sent as "Authorization: Bearer TOKEN" (CLI, CI, Prometheus'
// authorization.credentials_file) or, for browsers, as the vdc_token cookie
// that /login sets (HttpOnly, SameSite=Strict). Tokens are compared in
// constant time. A missing token gets 401 with WWW-Authenticate: Bearer, a
// wrong one 403. When Config.Token is empty the token is read from
// Config.TokenFile, or generated there (32 random bytes, base64url, mode
// 0600) when the file does not exist; a token file readable by group or
// others is refused, and so is a token shorter than MinTokenBytes (16).
// The token is never logged nor echoed.
//
// Wrong tokens (header, cookie or sign-in form) are logged with the
// client's address, method and path (never the token) and counted in
// agentvdc_api_auth_failures_total{result="denied"}. An address may fail
// DefaultAuthFailureBurst (10) times at once and once every 3 s after
// that; past its budget every request of it that carries a token is
// answered 429 with Retry-After, unchecked, until the budget refills
// (result="rate_limited"). Log lines of failures are throttled to the same
// burst and one a second, the next line carrying "suppressed": N.
//
// After sign-in the browser is redirected to the form's "next" only when it
// is a same-origin path: printable ASCII starting with a single "/", no
// scheme, host or backslash, no encoded slash, backslash or control
// character; anything else goes to "/".
//
// # Limits
//
// NewHTTPServer and Listen apply HTTPLimits: headers within 10 s and 64
// KiB, a whole request within 15 s (the webhook's within 60 s, its body
// being up to 1 MiB), an answer within 30 s (a plan's or sync's within 2 min),
// keep-alive connections closed after 60 s idle, and at most 512
// connections served at once (api.maxConnections in vdc.yaml; further
// connections wait in the listen queue until one closes), 128 of one
// client IP (api.maxConnectionsPerClient; further ones are closed at
// once, so one address cannot hold every slot).
//
// POST /login takes the token as the form field "token"; GET
// /login?token=... does the same for scripts and headless browsers (it
// puts the token in the browser history: prefer the form). Unsafe requests
// carrying browser cross-origin markers (Sec-Fetch-Site, Origin) from
// another origin are refused (http.CrossOriginProtection), so a page
// elsewhere cannot drive the buttons with the cookie.
package api
