// Package hetzner owns the Hetzner Cloud adapter: the reconciler.Provider
// for the hetzner_network, hetzner_firewall and hetzner_server kinds of the
// plan catalogue, built on hcloud-go v2, plus the project-wide request
// limiter and the price and CPU queries the cost model and the autoscaler
// use. Its simulator is the sibling package hetznersim.
//
// # Observation
//
// Observe makes one paginated list call per kind (per_page 50) with
// label_selector agentvdc.io/managed-by=agentvdc and keeps only resources
// that also carry agentvdc.io/customer. Attributes are rendered in the
// catalogue's canonical form: a server's network and firewall are resolved
// to names from the same Observe (an unmanaged one reads "id:N"), its
// bootstrap attribute is the agentvdc.io/bootstrap label (which is left
// out of the observed Labels), firewall rules use FormatRules.
//
// # Mutations
//
// Create is idempotent by name: a uniqueness_error makes it adopt the
// existing resource when that carries the same customer's ownership labels
// (and, for a server, finish the network attach and firewall apply an
// interrupted create left undone); otherwise it fails with ErrNotOwned.
// A server is created with its labels, user data (Resource.Sensitive, never
// logged), firewall and start_after_create, then attached to its network
// with the catalogue's fixed private IP; every action (create, next
// actions, attach) is waited for. Update changes only the in-place
// attributes ("U" in the catalogue) and the labels and refuses the rest:
// server_type by shutdown (poweroff after ShutdownTimeout) → change_type
// keeping the disk → poweron; the server firewall by remove/apply; firewall
// rules by set_rules. Delete re-reads the resource, refuses it without the
// ownership labels, treats "already gone" as success, detaches a network's
// servers and removes a firewall from its resources before deleting it.
//
// # Rate limiting and retries
//
// Every request passes an http.RoundTripper (given to hcloud-go with
// WithHTTPClient) that holds the Limiter of the token and retries: see
// Limiter and retryTransport. hcloud-go's own retries are disabled.
package hetzner
