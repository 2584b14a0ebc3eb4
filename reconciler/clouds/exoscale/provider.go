package exoscale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	v3 "github.com/exoscale/egoscale/v3"
	"github.com/exoscale/egoscale/v3/credentials"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
)

// DefaultZones returns the zones customers use (every region of the schema
// maps to de-fra-1, a zone with Block Storage); Observe lists these unless
// Config.Zones says otherwise.
func DefaultZones() []string { return []string{"de-fra-1"} }

// Config configures a Provider.
type Config struct {
	// Endpoint is the API endpoint that serves GET /zone and the global
	// resources (security groups), e.g. "https://api-ch-gva-2.exoscale.com/v2"
	// (the default) or a simulator's "<base>/v2". Zonal calls go to the
	// endpoint GET /zone advertises for each zone.
	Endpoint string
	// APIKey and APISecret are the IAM key; both are required.
	APIKey    string
	APISecret string
	// Zones are the zones Observe lists (default DefaultZones()). A
	// resource whose zone attribute is not listed here is refused by Create.
	Zones []string
	// HTTPClient carries the requests (default: a plain http.Client). Do not
	// pass egoscale's retrying client: the adapter retries itself.
	HTTPClient *http.Client
	// Logger receives one record per retry and per mutation (default
	// slog.Default()).
	Logger *slog.Logger
	// Retry bounds the attempts at 5xx, 429 and timeouts, and the backoff
	// between them (defaults: 6 attempts, 100ms doubling up to 5s).
	Retry backoff.Policy
	// RequestTimeout bounds one HTTP attempt (default 30s).
	RequestTimeout time.Duration
	// OperationTimeout bounds the wait for one async operation (default 10m).
	OperationTimeout time.Duration
	// PollInterval is the first GetOperation interval (default 50ms); it
	// doubles up to PollMaxInterval (default 2s).
	PollInterval    time.Duration
	PollMaxInterval time.Duration
}

// Provider is the Exoscale cloud on egoscale v3. It is safe for concurrent
// use.
type Provider struct {
	cfg   Config
	log   *slog.Logger
	base  *v3.Client // Config.Endpoint: zones list, security groups
	zones []string

	mu        sync.Mutex
	endpoints map[string]v3.Endpoint // zone → API endpoint (from GET /zone)
	clients   map[string]*v3.Client  // zone → client on that endpoint
	typeName  map[v3.UUID]string     // instance type id → "family.size"
	typeID    map[string]v3.UUID     // "family.size" → id
	tplName   map[string]map[v3.UUID]string
	tplID     map[string]map[string]v3.UUID
}

var _ reconciler.Provider = (*Provider)(nil)

// New returns a Provider. It makes no API call: zone endpoints and the
// instance-type and template catalogues are fetched on first use and cached.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	_ = ctx // nothing to fetch yet; kept for the constructor convention
	if cfg.APIKey == "" || cfg.APISecret == "" {
		return nil, errors.New("exoscale: API key and secret are required")
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = string(v3.CHGva2)
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	if len(cfg.Zones) == 0 {
		cfg.Zones = DefaultZones()
	}
	zones := slices.Clone(cfg.Zones)
	slices.Sort(zones)
	zones = slices.Compact(zones)
	for _, z := range zones {
		if z == "" {
			return nil, errors.New("exoscale: empty zone name in Config.Zones")
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Retry = cfg.Retry.Or(backoff.Policy{Attempts: 6, Base: 100 * time.Millisecond, Max: 5 * time.Second})
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.OperationTimeout <= 0 {
		cfg.OperationTimeout = 10 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	if cfg.PollMaxInterval <= 0 {
		cfg.PollMaxInterval = 2 * time.Second
	}
	c, err := v3.NewClient(credentials.NewStaticCredentials(cfg.APIKey, cfg.APISecret),
		v3.ClientOptWithEndpoint(v3.Endpoint(cfg.Endpoint)),
		v3.ClientOptWithHTTPClient(cfg.HTTPClient),
		v3.ClientOptWithUserAgent("agentvdc"))
	if err != nil {
		// egoscale's message names neither key nor secret.
		return nil, fmt.Errorf("exoscale: new client: %w", err)
	}
	return &Provider{
		cfg:       cfg,
		log:       cfg.Logger.With("cloud", string(plan.Exoscale)),
		base:      c,
		zones:     zones,
		endpoints: map[string]v3.Endpoint{},
		clients:   map[string]*v3.Client{},
		typeName:  map[v3.UUID]string{},
		typeID:    map[string]v3.UUID{},
		tplName:   map[string]map[v3.UUID]string{},
		tplID:     map[string]map[string]v3.UUID{},
	}, nil
}

// Cloud names the provider.
func (p *Provider) Cloud() plan.Cloud { return plan.Exoscale }

// Zones returns the zones Observe lists, sorted.
func (p *Provider) Zones() []string { return slices.Clone(p.zones) }

// zoneClient returns the client for zone, resolving the zone endpoints
// once with GET /zone (egoscale's GetZoneAPIEndpoint reads the same list)
// and switching with WithEndpoint.
func (p *Provider) zoneClient(ctx context.Context, zone string) (*v3.Client, error) {
	if zone == "" {
		return nil, errors.New("zone is empty")
	}
	p.mu.Lock()
	c, ok := p.clients[zone]
	p.mu.Unlock()
	if ok {
		return c, nil
	}
	var ep v3.Endpoint
	err := p.retry(ctx, "get zone API endpoint", func(ctx context.Context) error {
		var err error
		ep, err = p.base.GetZoneAPIEndpoint(ctx, v3.ZoneName(zone))
		return err
	})
	if err != nil {
		if errors.Is(err, v3.ErrNotFound) {
			return nil, fmt.Errorf("zone %q: unknown to the API: %w", zone, err)
		}
		return nil, fmt.Errorf("zone %q: %w", zone, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[zone]; ok {
		return c, nil
	}
	c = p.base.WithEndpoint(ep)
	p.endpoints[zone] = ep
	p.clients[zone] = c
	return c, nil
}

// checkZone refuses a zone Observe would not list (the resource would be
// created and then never seen again).
func (p *Provider) checkZone(zone string) error {
	if zone == "" {
		return errors.New("attribute zone is required")
	}
	if !slices.Contains(p.zones, zone) {
		return fmt.Errorf("zone %q is not one of the configured zones (%s)", zone, strings.Join(p.zones, ", "))
	}
	return nil
}

// instanceTypes returns the id → name and name → id maps of the instance
// type catalogue, fetched once.
func (p *Provider) instanceTypes(ctx context.Context) (map[v3.UUID]string, map[string]v3.UUID, error) {
	p.mu.Lock()
	if len(p.typeName) > 0 {
		byID, byName := p.typeName, p.typeID
		p.mu.Unlock()
		return byID, byName, nil
	}
	p.mu.Unlock()
	var resp *v3.ListInstanceTypesResponse
	err := p.retry(ctx, "list instance types", func(ctx context.Context) error {
		var err error
		resp, err = p.base.ListInstanceTypes(ctx)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	byID := map[v3.UUID]string{}
	byName := map[string]v3.UUID{}
	for _, t := range resp.InstanceTypes {
		n := string(t.Family) + "." + string(t.Size)
		byID[t.ID] = n
		byName[n] = t.ID
	}
	if len(byID) == 0 {
		return nil, nil, errors.New("list instance types: the catalogue is empty")
	}
	p.mu.Lock()
	p.typeName, p.typeID = byID, byName
	p.mu.Unlock()
	return byID, byName, nil
}

// templates fetches the public template catalogue of zone once and
// returns its name → id map (read-only). When several templates share a
// name, the newest wins. The id → name map is read under p.mu only (see
// templateName).
func (p *Provider) templates(ctx context.Context, zone string) (map[string]v3.UUID, error) {
	p.mu.Lock()
	if byName, ok := p.tplID[zone]; ok {
		p.mu.Unlock()
		return byName, nil
	}
	p.mu.Unlock()
	c, err := p.zoneClient(ctx, zone)
	if err != nil {
		return nil, err
	}
	var resp *v3.ListTemplatesResponse
	err = p.retry(ctx, "list templates", func(ctx context.Context) error {
		var err error
		resp, err = c.ListTemplates(ctx, v3.ListTemplatesWithVisibility(v3.ListTemplatesVisibilityPublic))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", zone, err)
	}
	byID := map[v3.UUID]string{}
	byName := map[string]v3.UUID{}
	newest := map[string]time.Time{}
	for _, t := range resp.Templates {
		byID[t.ID] = t.Name
		if at, seen := newest[t.Name]; !seen || t.CreatedAT.After(at) {
			newest[t.Name] = t.CreatedAT
			byName[t.Name] = t.ID
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.tplID[zone]; ok { // a concurrent fetch won
		return prev, nil
	}
	p.tplName[zone], p.tplID[zone] = byID, byName
	return byName, nil
}

// templateName maps a template id to its name; a template missing from
// the public catalogue (a private or retired one) is fetched by id once
// and remembered.
func (p *Provider) templateName(ctx context.Context, c *v3.Client, zone string, id v3.UUID) (string, error) {
	if _, err := p.templates(ctx, zone); err != nil {
		return "", err
	}
	p.mu.Lock()
	name, ok := p.tplName[zone][id]
	p.mu.Unlock()
	if ok {
		return name, nil
	}
	var t *v3.Template
	err := p.retry(ctx, "get template", func(ctx context.Context) error {
		var err error
		t, err = c.GetTemplate(ctx, id)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("template %s: %w", id, err)
	}
	p.mu.Lock()
	p.tplName[zone][id] = t.Name
	p.mu.Unlock()
	return t.Name, nil
}
