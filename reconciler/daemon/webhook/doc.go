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
// configured is refused, and so is a secret or token shorter than
// MinSecretBytes (16). The secret, the signature and the token are never
// logged nor echoed in a response.
//
// # Abuse
//
// Every call not acted upon is counted by reason (Config.Rejected; the
// daemon's agentvdc_webhook_rejected_total{reason}). Each client IP may
// have DefaultRejectBurst calls rejected at once and DefaultRejectRate per
// second after that; past its budget it is answered 429 with Retry-After
// and not logged, unless it presents a signature or token, which is still
// checked (GitHub's and GitLab's senders are shared). Rejections are
// logged at most DefaultRejectBurst at once and one a second over all
// clients, the next line carrying "suppressed": N. Header values are
// logged sanitised (control and non-printing characters as '?') and cut to
// 64 bytes; payload fields to 256.
//
// A verified delivery whose id (X-GitHub-Delivery, X-Gitlab-Event-UUID)
// is among the last DefaultDedupeSize (1,024) seen is answered 202
// "duplicate" and does not trigger: redeliveries and replays of a
// captured request do nothing.
//
// # Responses
//
//	405  method other than POST
//	400  neither X-GitHub-Event nor X-Gitlab-Event, unknown event, malformed
//	     payload (bad JSON, no ref or commit)
//	401  no signature / token
//	403  wrong signature / token, or the provider is not enabled
//	413  body over the limit (1 MiB by default)
//	429  too many rejected calls from this address (Retry-After)
//	200  GitHub ping (never triggers)
//	202  push accepted: "triggered" for the configured branch, "ignored"
//	     for other branches, tags and branch deletions, "duplicate" for
//	     a delivery id seen before
//
// Responses are small JSON objects {"status": ..., "reason": ...}.
// Only a 202 "triggered" calls Trigger; Trigger runs on the request's
// goroutine and must not block (enqueue the sync and return).
package webhook
