// Package webhook owns the git push webhook endpoint of the daemon: an
// http.Handler that authenticates GitHub and GitLab push deliveries, parses
// the pushed ref, commit and repository, and calls a Trigger for pushes to
// the configured branch (the daemon then syncs at once instead of waiting
// for its next poll).
//
// # Authentication
//
// GitHub: X-Hub-Signature-256 must be "sha256=" and the hex HMAC-SHA256 of
// the raw request body keyed with the shared secret; it is compared in
// constant time. GitLab: X-Gitlab-Token must equal the shared token (compared
// in constant time, length included). A provider whose secret is not
// configured is refused. The secret, the signature and the token are never
// logged nor echoed in a response.
//
// # Responses
//
//	405  method other than POST
//	400  neither X-GitHub-Event nor X-Gitlab-Event, unknown event, malformed
//	     payload (bad JSON, no ref or commit)
//	401  no signature / token
//	403  wrong signature / token, or the provider is not enabled
//	413  body over the limit (1 MiB by default)
//	200  GitHub ping (never triggers)
//	202  push accepted: "triggered" for the configured branch, "ignored"
//	     for other branches, tags and branch deletions
//
// Responses are small JSON objects {"status": ..., "reason": ...}.
// Only a 202 "triggered" calls Trigger; Trigger runs on the request's
// goroutine and must not block (enqueue the sync and return).
package webhook
