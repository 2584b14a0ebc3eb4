package reconciler

import (
	"context"
	"errors"

	"github.com/agentvdc/agentvdc/plan"
)

// Provider is one cloud as the reconciler uses it. The adapters in
// reconciler/clouds/opennebula, reconciler/clouds/hetzner and reconciler/clouds/exoscale
// implement it on the real client libraries.
//
// Error contract: errors are wrapped with %w; a retryable condition
// (5xx, timeout, 429) has already been retried with backoff inside the
// adapter, so an error returned here is final for this attempt.
// Errors never contain credentials or Sensitive values.
type Provider interface {
	// Cloud names the provider.
	Cloud() plan.Cloud
	// Observe lists every managed resource of every customer: one
	// (paginated) list call per kind, filtered by the ownership labels
	// (name prefix for kinds without labels). Never one GET per resource.
	// Unowned resources are not returned.
	Observe(ctx context.Context) ([]plan.Resource, error)
	// Create makes r and returns it as observed (with its ID). It is
	// idempotent: if a resource with r's name and ownership labels exists
	// already (a crash between the call and its journal entry), it is
	// adopted and returned instead of creating a duplicate.
	Create(ctx context.Context, r plan.Resource, ids plan.Lookup) (plan.Resource, error)
	// Update changes the in-place attributes of before (observed, with
	// ID) to those of after (desired) and returns the result as observed.
	Update(ctx context.Context, before, after plan.Resource, ids plan.Lookup) (plan.Resource, error)
	// Delete removes r (observed, with ID). A resource already gone is not
	// an error. It refuses (ErrNotOwned) a resource without ownership labels.
	Delete(ctx context.Context, r plan.Resource) error
	//
	// The errors of Create, Update and Delete start with the cloud
	// ("hetzner: …") and carry what only the adapter knows (the API call,
	// the cloud's answer); the caller adds the operation and the
	// resource's address, so an adapter does not repeat them.
}

// ErrNotOwned is returned when asked to change a resource that does not
// carry the ownership labels.
var ErrNotOwned = errors.New("resource is not managed by agentvdc")

// RefreshCoster is implemented by a provider that knows how many API calls
// one Observe makes for a fleet observed as observed (list pages per
// kind). The daemon paces its drift refreshes on it within the cloud's
// request budget.
type RefreshCoster interface {
	RefreshCalls(observed []plan.Resource) int
}
