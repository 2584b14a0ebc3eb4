package exoscale

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	v3 "github.com/exoscale/egoscale/v3"
	"github.com/exoscale/egoscale/v3/credentials"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
	"github.com/agentvdc/agentvdc/reconciler/clouds/exoscale/exoscalesim"
)

// mount is where the tests mount the simulator, as `vdc sim` does.
const mount = "/exoscale"

const secretUserData = "#cloud-config\nwireguard_private_key: c2VjcmV0LWtleS1kby1ub3QtbGVhaw==\n"

type harness struct {
	sim  *exoscalesim.Server
	srv  *httptest.Server
	p    *Provider
	raw  *v3.Client // direct client on the default zone, for setup and checks
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newHarness serves a simulator on 127.0.0.1 and returns a Provider on it
// with fast retries. tune may adjust the Config.
func newHarness(t testing.TB, opts exoscalesim.Options, tune func(*Config)) *harness {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sim, err := exoscalesim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(mount+"/", http.StripPrefix(mount, sim))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		if err := sim.Close(); err != nil {
			t.Errorf("close sim: %v", err)
		}
	})
	logs := &syncBuffer{}
	cfg := Config{
		Endpoint:       srv.URL + mount + "/v2",
		APIKey:         sim.APIKey(),
		APISecret:      sim.APISecret(),
		HTTPClient:     &http.Client{},
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Retry:          backoff.Policy{Attempts: 10, Base: time.Millisecond, Max: 20 * time.Millisecond},
		RequestTimeout: 5 * time.Second,
		PollInterval:   5 * time.Millisecond,
		Zones:          []string{"de-fra-1", "at-vie-1"}, // two zones with Block Storage
	}
	if tune != nil {
		tune(&cfg)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := v3.NewClient(credentials.NewStaticCredentials(sim.APIKey(), sim.APISecret()),
		v3.ClientOptWithEndpoint(v3.Endpoint(cfg.Endpoint)),
		v3.ClientOptWithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{sim: sim, srv: srv, p: p, raw: raw, logs: logs}
}

// zone returns a raw client on zone.
func (h *harness) zone(t testing.TB, zone string) *v3.Client {
	t.Helper()
	ep, err := h.raw.GetZoneAPIEndpoint(context.Background(), v3.ZoneName(zone))
	if err != nil {
		t.Fatal(err)
	}
	return h.raw.WithEndpoint(ep)
}

func owned(c string) map[string]string {
	return map[string]string{plan.LabelManagedBy: plan.ManagedByValue, plan.LabelCustomer: c}
}

// desired returns a customer's four Exoscale resources as the expansion
// would, in creation order.
func desired(customer, zone string) []plan.Resource {
	name := plan.NamePrefix + customer
	netLabels := owned(customer)
	netLabels["team"] = "storage"
	instLabels := owned(customer)
	instLabels[plan.LabelBootstrap] = "3f9a1c0d"
	return []plan.Resource{
		{Kind: plan.ExoPrivateNetwork, Name: name, Customer: customer, Labels: netLabels,
			Attrs: map[string]string{attrZone: zone, attrStartIP: "172.16.0.10", attrEndIP: "172.16.0.250", attrNetmask: "255.255.255.0"}},
		{Kind: plan.ExoSecurityGroup, Name: name, Customer: customer, Labels: owned(customer),
			Attrs: map[string]string{attrRules: "in tcp 22 0.0.0.0/0;in udp 51820 0.0.0.0/0"}},
		{Kind: plan.ExoInstance, Name: name + "-storage", Customer: customer, Labels: instLabels,
			Attrs: map[string]string{
				attrZone: zone, attrInstanceType: "standard.medium", attrTemplate: "Linux Ubuntu 24.04 LTS 64-bit",
				attrDiskGB: "50", attrPrivateNetwork: name, attrPrivateIP: "172.16.0.10", attrSecurityGroup: name,
				attrBootstrap: "3f9a1c0d",
			},
			Sensitive: map[string]string{plan.SensitiveUserData: secretUserData}},
		{Kind: plan.ExoBlockVolume, Name: name + "-data", Customer: customer, Labels: owned(customer),
			Attrs: map[string]string{attrZone: zone, attrSizeGB: "100", attrInstance: name + "-storage"}},
	}
}

// ids is a plan.Lookup fed by Create results.
type ids struct {
	mu sync.Mutex
	m  map[plan.Address]string
}

func newIDs() *ids { return &ids{m: map[plan.Address]string{}} }

func (l *ids) put(r plan.Resource) {
	l.mu.Lock()
	l.m[r.Address()] = r.ID
	l.mu.Unlock()
}

func (l *ids) lookup(a plan.Address) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.m[a]
	return id, ok
}

// apply creates rs in order and returns the created resources.
func (h *harness) apply(t testing.TB, rs []plan.Resource, l *ids) []plan.Resource {
	t.Helper()
	var out []plan.Resource
	for _, r := range rs {
		got, err := h.p.Create(context.Background(), r, l.lookup)
		if err != nil {
			t.Fatalf("create %s: %v", r.Address(), err)
		}
		l.put(got)
		out = append(out, got)
	}
	return out
}

func (h *harness) observe(t testing.TB) map[plan.Address]plan.Resource {
	t.Helper()
	rs, err := h.p.Observe(context.Background())
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	m := map[plan.Address]plan.Resource{}
	for _, r := range rs {
		if _, dup := m[r.Address()]; dup {
			t.Fatalf("observe returned %s twice", r.Address())
		}
		m[r.Address()] = r
	}
	return m
}

func labelsEqual(a, b map[string]string) bool { return len(a) == len(b) && maps.Equal(a, b) }
