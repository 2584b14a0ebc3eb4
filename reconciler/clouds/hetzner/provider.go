package hetzner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
)

// Config configures a Provider. Only Token is required.
type Config struct {
	// Endpoint is the API base URL including /v1 (HCLOUD_ENDPOINT);
	// default https://api.hetzner.cloud/v1.
	Endpoint string
	// Token is the project's API token (HCLOUD_TOKEN). Never logged.
	Token string
	// HTTPClient is used for the requests; its Transport (default
	// http.DefaultTransport) is wrapped with the limiter and retries. The
	// client itself is not modified.
	HTTPClient *http.Client
	// Logger receives debug lines about retries and waits; nil discards.
	Logger *slog.Logger
	// Limiter paces every request of Token. Share one Limiter between
	// every client of the same token (see Limiters); nil gives this
	// Provider its own.
	Limiter *Limiter

	// Retry bounds the attempts at 5xx, conflict/locked answers, dropped
	// connections and attempt timeouts per request, and the backoff
	// between them (defaults: 6 attempts, 500 ms doubling up to 30 s;
	// Attempts 1: no retry).
	Retry backoff.Policy
	// MaxRateLimited bounds how often one request waits out a 429
	// (default 5).
	MaxRateLimited int
	// AttemptTimeout bounds one HTTP attempt (default 30 s).
	AttemptTimeout time.Duration
	// PollInterval is the action polling interval (default 500 ms).
	PollInterval time.Duration
	// ActionTimeout bounds the wait for one group of actions (default 10 min).
	ActionTimeout time.Duration
	// ShutdownTimeout is how long a graceful shutdown may take before the
	// server is powered off (default 2 min).
	ShutdownTimeout time.Duration
	// Now is the clock for metrics windows (default time.Now).
	Now func() time.Time
}

// Provider is the Hetzner Cloud adapter. It is safe for concurrent use.
type Provider struct {
	c        *hcloud.Client
	lim      *Limiter
	log      *slog.Logger
	now      func() time.Time
	actionTO time.Duration
	shutTO   time.Duration
	poll     time.Duration
}

var _ reconciler.Provider = (*Provider)(nil)

// perPage is the page size of every list call (the API's maximum).
const perPage = 50

// ownedSelector is the label selector of every Observe list call.
var ownedSelector = plan.LabelManagedBy + "=" + plan.ManagedByValue

// New returns a Provider. It makes no API call.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Token == "" {
		return nil, errors.New("hetzner: Config.Token is required")
	}
	if strings.ContainsAny(cfg.Token, " \t\r\n") {
		return nil, errors.New("hetzner: Config.Token contains whitespace")
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = hcloud.Endpoint
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hetzner: endpoint %q is not an http(s) URL", endpoint)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim := cfg.Limiter
	if lim == nil {
		lim = NewLimiter(LimiterOptions{})
	}
	if err := lim.bind(cfg.Token); err != nil {
		return nil, err
	}
	def := func(v, d time.Duration) time.Duration {
		if v <= 0 {
			return d
		}
		return v
	}
	maxLimited := cfg.MaxRateLimited
	if maxLimited <= 0 {
		maxLimited = 5
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		*hc = *cfg.HTTPClient
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &retryTransport{
		base: base, lim: lim, log: log,
		retry:          cfg.Retry.Or(backoff.Policy{Attempts: 6, Base: 500 * time.Millisecond, Max: 30 * time.Second}),
		maxRateLimited: maxLimited,
		attemptTimeout: def(cfg.AttemptTimeout, 30*time.Second), sleep: lim.sleep,
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	p := &Provider{
		lim: lim, log: log, now: now,
		actionTO: def(cfg.ActionTimeout, 10*time.Minute),
		shutTO:   def(cfg.ShutdownTimeout, 2*time.Minute),
		poll:     def(cfg.PollInterval, 500*time.Millisecond),
	}
	p.c = hcloud.NewClient(
		hcloud.WithEndpoint(endpoint),
		hcloud.WithToken(cfg.Token),
		hcloud.WithHTTPClient(hc),
		hcloud.WithApplication("agentvdc", ""),
		// Retries live in retryTransport (see there); hcloud-go's are off.
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(0), MaxRetries: 0}),
		// Most actions finish within a second: poll early, then back off
		// to the configured interval.
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ExponentialBackoffWithOpts(hcloud.ExponentialBackoffOpts{
			Base: min(50*time.Millisecond, p.poll), Multiplier: 2, Cap: p.poll})}),
	)
	_ = ctx // New makes no call; ctx is kept for the constructor contract.
	return p, nil
}

// Cloud names the provider.
func (p *Provider) Cloud() plan.Cloud { return plan.Hetzner }

// Limiter returns the limiter the Provider's requests pass.
func (p *Provider) Limiter() *Limiter { return p.lim }

// RefreshCalls is how many list calls Observe makes for a fleet observed
// as observed: one per page of perPage, at least one per kind.
func (p *Provider) RefreshCalls(observed []plan.Resource) int {
	perKind := map[plan.Kind]int{}
	for _, r := range observed {
		if r.Kind.Cloud() == plan.Hetzner {
			perKind[r.Kind]++
		}
	}
	calls := 0
	for _, k := range plan.Kinds {
		if k.Cloud() == plan.Hetzner {
			calls += max(1, (perKind[k]+perPage-1)/perPage)
		}
	}
	return calls
}

var _ reconciler.RefreshCoster = (*Provider)(nil)

// Observe lists every managed network, firewall and server: one paginated
// list call per kind, filtered by the managed-by label.
func (p *Provider) Observe(ctx context.Context) ([]plan.Resource, error) {
	nets, err := p.c.Network.AllWithOpts(ctx, hcloud.NetworkListOpts{ListOpts: listOpts()})
	if err != nil {
		return nil, fmt.Errorf("hetzner: list networks: %w", err)
	}
	fws, err := p.c.Firewall.AllWithOpts(ctx, hcloud.FirewallListOpts{ListOpts: listOpts()})
	if err != nil {
		return nil, fmt.Errorf("hetzner: list firewalls: %w", err)
	}
	srvs, err := p.c.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: listOpts()})
	if err != nil {
		return nil, fmt.Errorf("hetzner: list servers: %w", err)
	}
	names := refNames{networks: map[int64]string{}, firewalls: map[int64]string{}}
	out := make([]plan.Resource, 0, len(nets)+len(fws)+len(srvs))
	for _, n := range nets {
		if plan.Owned(n.Labels) {
			names.networks[n.ID] = n.Name
			out = append(out, networkResource(n))
		}
	}
	for _, f := range fws {
		if plan.Owned(f.Labels) {
			names.firewalls[f.ID] = f.Name
			out = append(out, firewallResource(f))
		}
	}
	for _, s := range srvs {
		if plan.Owned(s.Labels) {
			out = append(out, serverResource(s, names))
		}
	}
	plan.SortResources(out)
	return out, nil
}

func listOpts() hcloud.ListOpts {
	return hcloud.ListOpts{LabelSelector: ownedSelector, PerPage: perPage}
}

// refNames resolves the ids a server refers to into resource names.
type refNames struct {
	networks  map[int64]string
	firewalls map[int64]string
}

// unknownRef names a referenced resource that is not managed.
func unknownRef(id int64) string { return "id:" + strconv.FormatInt(id, 10) }

// Create makes r (see reconciler.Provider). Its errors, like Update's and
// Delete's, say "hetzner: " and what went wrong; the caller names the
// operation and the resource.
func (p *Provider) Create(ctx context.Context, r plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	out, err := p.create(ctx, r, ids)
	if err != nil {
		return plan.Resource{}, fmt.Errorf("hetzner: %w", err)
	}
	return out, nil
}

func (p *Provider) create(ctx context.Context, r plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	labels, err := ownLabels(r)
	if err != nil {
		return plan.Resource{}, err
	}
	switch r.Kind {
	case plan.HetznerNetwork:
		return p.createNetwork(ctx, r, labels)
	case plan.HetznerFirewall:
		return p.createFirewall(ctx, r, labels)
	case plan.HetznerServer:
		return p.createServer(ctx, r, labels, ids)
	}
	return plan.Resource{}, fmt.Errorf("unknown kind %s", r.Kind)
}

// Update changes before's in-place attributes to after's.
func (p *Provider) Update(ctx context.Context, before, after plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	out, err := p.update(ctx, before, after, ids)
	if err != nil {
		return plan.Resource{}, fmt.Errorf("hetzner: %w", err)
	}
	return out, nil
}

func (p *Provider) update(ctx context.Context, before, after plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	if before.Kind != after.Kind || before.Name != after.Name {
		return plan.Resource{}, fmt.Errorf("kind and name must not change (to %s)", after.Address())
	}
	id, err := parseID(before)
	if err != nil {
		return plan.Resource{}, err
	}
	if !plan.Owned(before.Labels) {
		return plan.Resource{}, reconciler.ErrNotOwned
	}
	labels, err := ownLabels(after)
	if err != nil {
		return plan.Resource{}, err
	}
	switch before.Kind {
	case plan.HetznerNetwork:
		if err := onlyInPlace(before, after); err != nil {
			return plan.Resource{}, err
		}
		return p.updateNetwork(ctx, id, after, labels)
	case plan.HetznerFirewall:
		if err := onlyInPlace(before, after, "rules"); err != nil {
			return plan.Resource{}, err
		}
		return p.updateFirewall(ctx, id, after, labels)
	case plan.HetznerServer:
		if err := onlyInPlace(before, after, "server_type", "firewall"); err != nil {
			return plan.Resource{}, err
		}
		return p.updateServer(ctx, id, before, after, labels, ids)
	}
	return plan.Resource{}, fmt.Errorf("unknown kind %s", before.Kind)
}

// Delete removes r; a resource already gone is not an error.
func (p *Provider) Delete(ctx context.Context, r plan.Resource) error {
	if err := p.delete(ctx, r); err != nil {
		return fmt.Errorf("hetzner: %w", err)
	}
	return nil
}

func (p *Provider) delete(ctx context.Context, r plan.Resource) error {
	id, err := parseID(r)
	if err != nil {
		return err
	}
	switch r.Kind {
	case plan.HetznerNetwork:
		return p.deleteNetwork(ctx, id, r)
	case plan.HetznerFirewall:
		return p.deleteFirewall(ctx, id, r)
	case plan.HetznerServer:
		return p.deleteServer(ctx, id, r)
	}
	return fmt.Errorf("unknown kind %s", r.Kind)
}

func parseID(r plan.Resource) (int64, error) {
	id, err := strconv.ParseInt(r.ID, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("id %q is not a Hetzner id", r.ID)
	}
	return id, nil
}

// ownLabels returns the labels a resource is created or updated with: the
// customer's own labels plus the ownership labels (and, for a server, the
// bootstrap label).
func ownLabels(r plan.Resource) (map[string]string, error) {
	if r.Customer == "" {
		return nil, errors.New("resource has no customer")
	}
	if !strings.HasPrefix(r.Name, plan.NamePrefix) {
		return nil, fmt.Errorf("name must start with %q", plan.NamePrefix)
	}
	out := make(map[string]string, len(r.Labels)+3)
	for k, v := range r.Labels {
		out[k] = v
	}
	if v, ok := out[plan.LabelManagedBy]; ok && v != plan.ManagedByValue {
		return nil, fmt.Errorf("label %s=%q conflicts with ownership", plan.LabelManagedBy, v)
	}
	if v, ok := out[plan.LabelCustomer]; ok && v != r.Customer {
		return nil, fmt.Errorf("label %s=%q does not match customer %q", plan.LabelCustomer, v, r.Customer)
	}
	out[plan.LabelManagedBy] = plan.ManagedByValue
	out[plan.LabelCustomer] = r.Customer
	delete(out, plan.LabelBootstrap)
	if r.Kind == plan.HetznerServer {
		if b := r.Attrs["bootstrap"]; b != "" {
			out[plan.LabelBootstrap] = b
		}
	}
	for k, v := range out {
		if ok, err := hcloud.ValidateResourceLabels(map[string]any{k: v}); !ok {
			return nil, err
		}
	}
	return out, nil
}

// observedLabels is what an observed resource carries in Labels: every
// label except the bootstrap label (observed as the bootstrap attribute).
func observedLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		if k != plan.LabelBootstrap {
			out[k] = v
		}
	}
	return out
}

// onlyInPlace refuses an update that changes attributes which need a
// replacement.
func onlyInPlace(before, after plan.Resource, inPlace ...string) error {
	ok := map[string]bool{}
	for _, k := range inPlace {
		ok[k] = true
	}
	for _, m := range []map[string]string{before.Attrs, after.Attrs} {
		for k := range m {
			if !ok[k] && before.Attrs[k] != after.Attrs[k] {
				return fmt.Errorf("attribute %s cannot change in place (%q → %q); replace the resource",
					k, before.Attrs[k], after.Attrs[k])
			}
		}
	}
	return nil
}

func labelsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// wait waits for actions with the action timeout.
func (p *Provider) wait(ctx context.Context, what string, actions ...*hcloud.Action) error {
	ctx, cancel := context.WithTimeout(ctx, p.actionTO)
	defer cancel()
	if err := p.c.Action.WaitFor(ctx, actions...); err != nil {
		if what == "" {
			return fmt.Errorf("wait for actions: %w", err)
		}
		return fmt.Errorf("%s: wait for actions: %w", what, err)
	}
	return nil
}

// checkOwned refuses a live resource without the ownership labels.
func checkOwned(r plan.Resource, labels map[string]string) error {
	if !plan.Owned(labels) {
		return fmt.Errorf("id %s: %w", r.ID, reconciler.ErrNotOwned)
	}
	return nil
}
