package simstack

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
	"github.com/agentvdc/agentvdc/reconciler/clouds/exoscale"
	"github.com/agentvdc/agentvdc/reconciler/clouds/hetzner"
	"github.com/agentvdc/agentvdc/reconciler/clouds/opennebula"
)

// Providers are the real adapters pointed at a stack.
type Providers struct {
	All        map[plan.Cloud]reconciler.Provider
	Hetzner    *hetzner.Provider
	Exoscale   *exoscale.Provider
	OpenNebula *opennebula.Provider
}

// NewProviders builds the three adapters on the stack's endpoints with
// short retry delays and poll intervals (the simulators answer at once),
// for tests, benchmarks and demos.
func (s *Stack) NewProviders(ctx context.Context, log *slog.Logger) (*Providers, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env := s.Env()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	hz, err := hetzner.New(ctx, hetzner.Config{Endpoint: env["HCLOUD_ENDPOINT"], Token: env["HCLOUD_TOKEN"], HTTPClient: client, Logger: log,
		Retry: backoff.Policy{Attempts: 9, Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}, PollInterval: 10 * time.Millisecond, MaxRateLimited: 20})
	if err != nil {
		return nil, err
	}
	exo, err := exoscale.New(ctx, exoscale.Config{Endpoint: env["EXOSCALE_API_ENDPOINT"], APIKey: env["EXOSCALE_API_KEY"], APISecret: env["EXOSCALE_API_SECRET"],
		HTTPClient: client, Logger: log, Retry: backoff.Policy{Attempts: 8, Base: 10 * time.Millisecond, Max: 200 * time.Millisecond}, PollInterval: 5 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	one, err := opennebula.New(ctx, opennebula.Config{XMLRPCURL: env["ONE_XMLRPC"], FlowURL: env["ONEFLOW_URL"], User: env["ONE_USER"], Password: env["ONE_PASSWORD"],
		HTTPClient: client, Logger: log, Retry: backoff.Policy{Attempts: 8, Base: 10 * time.Millisecond, Max: 200 * time.Millisecond}, PollInterval: 10 * time.Millisecond,
		WaitTimeout: 2 * time.Minute})
	if err != nil {
		return nil, err
	}
	return &Providers{Hetzner: hz, Exoscale: exo, OpenNebula: one,
		All: map[plan.Cloud]reconciler.Provider{plan.Hetzner: hz, plan.Exoscale: exo, plan.OpenNebula: one}}, nil
}
