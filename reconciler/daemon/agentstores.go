package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/embedded"
	"github.com/agentvdc/agentvdc/agents/minio"
	"github.com/agentvdc/agentvdc/agents/neo4j"
	"github.com/agentvdc/agentvdc/agents/qdrant"
	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// Ports the data services listen on in the customer's data VM
// (documented with opennebula_vm in plan/doc.go).
const (
	PortMinIO      = 9000 // S3 API, plain HTTP on the customer's private network
	PortQdrantGRPC = 6334 // Qdrant gRPC
	PortNeo4jBolt  = 7687 // Neo4j Bolt
)

// ErrNoDataEndpoint: the customer's data VM has no observed address yet
// (not created, or created since the last refresh), so its agents cannot
// reach their stores. The run fails; nothing falls back to other data.
var ErrNoDataEndpoint = errors.New("the customer's data services have no observed endpoint yet")

// AgentTarget is everything AgentStores may use to build one customer's
// stores: that customer's file, its observed resources and its secrets,
// nothing of any other customer.
type AgentTarget struct {
	Customer string
	Services schema.Services
	Observed []plan.Resource
	Secrets  map[string]string
	// Addresses is the customer's address block (zero when none is held).
	Addresses plan.Addresses
}

// AgentStores gives each agent run the stores of its customer.
// EmbeddedStores (vdc serve --sim) and ServiceStores (the data services
// in each customer's data VM) implement it.
type AgentStores interface {
	// For returns the customer's stores for one run; the caller closes
	// the returned io.Closer when the run ends (it releases the run's hold
	// on the clients, which are closed only once retired and released). An
	// error fails the run (ErrNoDataEndpoint when the data VM has no
	// observed address); errors never carry credentials.
	For(ctx context.Context, t AgentTarget) (*agents.Deps, io.Closer, error)
	// GapReportPath is where the learning agent writes the customer's gap
	// report ("" for none).
	GapReportPath(customer string) string
	// Forget closes the clients kept for a removed customer (once the runs
	// using them have released them).
	Forget(customer string) error
}

// RunAgent runs one agent job (plan.Jobs) of a
// customer with the stores AgentStores gives for it; the scheduler calls
// it (a returned error is a failed run).
func (d *Daemon) RunAgent(ctx context.Context, customer, job string) error {
	deps, release, err := d.AgentDeps(ctx, customer)
	if err != nil {
		return fmt.Errorf("agent %s: %w", job, err)
	}
	defer release.Close()
	switch job {
	case plan.JobIngest:
		withX := *deps
		if d.cfg.Extractor != nil {
			withX.Extractor = d.cfg.Extractor
		}
		var rep agents.Report
		rep, err = (&agents.Ingest{Deps: &withX}).Run(ctx, customer)
		if m := d.cfg.Metrics; m != nil {
			m.ObserveQuarantined(rep.Quarantined)
		}
	case plan.JobRelationship:
		_, err = (&agents.Relationship{Deps: deps}).Run(ctx, customer)
	case plan.JobLearning:
		_, err = (&agents.Learning{Deps: deps, GapReportPath: d.cfg.AgentStores.GapReportPath}).Run(ctx, customer)
	default:
		err = fmt.Errorf("unknown agent job %q", job)
	}
	return err
}

// AgentDeps returns the stores of customer from AgentStores, given the
// customer's file, only its own observed resources and its own secrets.
// The caller closes the io.Closer when done with the Deps.
func (d *Daemon) AgentDeps(ctx context.Context, customer string) (*agents.Deps, io.Closer, error) {
	if d.cfg.AgentStores == nil {
		return nil, nil, errors.New("no agent stores configured")
	}
	d.mu.Lock()
	c, ok := d.desired[customer]
	obs := append([]plan.Resource(nil), d.observed[customer]...)
	d.mu.Unlock()
	if !ok {
		return nil, nil, fmt.Errorf("customer %s is not in the desired state", customer)
	}
	secrets, err := d.cfg.Store.Secrets(customer)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, nil, fmt.Errorf("customer %s: read secrets: %w", customer, err)
	}
	return d.cfg.AgentStores.For(ctx, AgentTarget{Customer: customer, Services: c.Services, Observed: obs, Secrets: secrets,
		Addresses: d.addressesOf(customer)})
}

// addressesOf is the customer's held address block (zero when none).
func (d *Daemon) addressesOf(customer string) plan.Addresses {
	block, err := d.cfg.Store.AddressBlock(customer)
	if err != nil || block == "" {
		return plan.Addresses{}
	}
	pool := d.cfg.AddressPool
	if !pool.IsValid() {
		pool = netip.MustParsePrefix(plan.DefaultAddressPool)
	}
	a, err := plan.ParseBlock(pool, block)
	if err != nil {
		d.log.Warn("held address block", "customer", customer, "err", err)
		return plan.Addresses{}
	}
	return a
}

// ---------------------------------------------------------------- embedded

// EmbeddedStores serves every customer from the embedded stores under
// DATA/agents (vdc serve --sim).
type EmbeddedStores struct {
	stores *embedded.Stores
	deps   *agents.Deps
}

var _ AgentStores = (*EmbeddedStores)(nil)

// NewEmbeddedStores opens the embedded stores under dataDir/agents.
func NewEmbeddedStores(dataDir string, log *slog.Logger) *EmbeddedStores {
	s := embedded.Open(dataDir)
	return &EmbeddedStores{stores: s, deps: s.Deps(log)}
}

// For returns the embedded stores (scoped by customer name in every call).
func (e *EmbeddedStores) For(_ context.Context, t AgentTarget) (*agents.Deps, io.Closer, error) {
	if err := agents.ValidateCustomer(t.Customer); err != nil {
		return nil, nil, err
	}
	return e.deps, nopCloser{}, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// GapReportPath is DATA/agents/CUSTOMER/gap-report.md.
func (e *EmbeddedStores) GapReportPath(customer string) string {
	return e.stores.GapReportPath(customer)
}

// Forget keeps the customer's files (they are opened lazily again).
func (e *EmbeddedStores) Forget(string) error { return nil }

// Close closes the embedded files.
func (e *EmbeddedStores) Close() error { return e.stores.Close() }

// ---------------------------------------------------------------- services

// ServiceStoresConfig configures ServiceStores.
type ServiceStoresConfig struct {
	// DataDir holds the agents' local state (DATA/agents/CUSTOMER/state.db,
	// the gap reports) and the embedded stores that stand in for services
	// a customer's file disables.
	DataDir string
	// Endpoint maps a service's address on a customer's data VM (the
	// observed IP and the service's port) to the address dialled. nil
	// dials it as is (the daemon must then have a route into every
	// customer's private network); tests map it to loopback servers.
	Endpoint func(customer, service, ip string, port int) (host string, hostPort int)
	// Dial, when set, reaches each customer's data VM through that
	// customer's WireGuard tunnel at its mesh address
	// (plan.Addresses.DataVMWG); Endpoint is then not used. The MinIO and
	// Qdrant clients dial through it; the Neo4j driver, which takes no
	// dialer, connects to a loopback relay that does.
	Dial DialFunc
	// ConnectTimeout bounds connecting to Neo4j (default 30s).
	ConnectTimeout time.Duration
	Logger         *slog.Logger
}

// ServiceStores reaches each customer's data services in its data VM
// (opennebula_vm agentvdc-C-data) at the address the reconciler observed:
// MinIO at http://IP:9000, Qdrant at IP:6334 (gRPC), Neo4j at
// bolt://IP:7687, with the customer's generated credentials
// (reconciler.Secret*), and only for the services the customer's file
// enables. A disabled service is replaced by the customer's embedded store
// under DataDir (a disabled MinIO is an empty dump folder, so ingest finds
// nothing). The agents' state (cursors, statistics, query log) always
// stays local (embedded State under DataDir/agents).
//
// Clients are cached per customer and rebuilt when the address, the
// enabled services or the credentials change; replaced clients and those
// of a forgotten customer are closed as soon as no run holds them (the
// Qdrant client panics when used after Close, so a client is never closed
// under a running agent).
type ServiceStores struct {
	cfg   ServiceStoresConfig
	log   *slog.Logger
	local *embedded.Stores

	mu    sync.Mutex
	conns map[string]*serviceConn
}

var _ AgentStores = (*ServiceStores)(nil)

type serviceConn struct {
	fingerprint string
	deps        *agents.Deps
	qdrant      *qdrant.Store
	neo4j       *neo4j.Store
	relay       *forwarder
	// refs counts the runs holding the clients; retired ones are closed
	// when refs drops to 0 (under ServiceStores.mu).
	refs    int
	retired bool
}

// lease is one run's hold on a serviceConn.
type lease struct {
	s    *ServiceStores
	c    *serviceConn
	once sync.Once
}

func (l *lease) Close() error {
	var err error
	l.once.Do(func() {
		l.s.mu.Lock()
		l.c.refs--
		closeNow := l.c.retired && l.c.refs == 0
		l.s.mu.Unlock()
		if closeNow {
			err = l.c.close()
		}
	})
	return err
}

// retireLocked marks c replaced or forgotten; it reports whether c must
// be closed now (no run holds it).
func (c *serviceConn) retireLocked() bool {
	c.retired = true
	return c.refs == 0
}

func (c *serviceConn) close() error {
	var errs []error
	if c.qdrant != nil {
		errs = append(errs, c.qdrant.Close())
	}
	if c.neo4j != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errs = append(errs, c.neo4j.Close(ctx))
	}
	if c.relay != nil {
		errs = append(errs, c.relay.Close())
	}
	return errors.Join(errs...)
}

// NewServiceStores validates cfg; it makes no connection.
func NewServiceStores(cfg ServiceStoresConfig) (*ServiceStores, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("service stores: DataDir is required")
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ServiceStores{cfg: cfg, log: log, local: embedded.Open(cfg.DataDir), conns: map[string]*serviceConn{}}, nil
}

// dataEndpoint is where one customer's services are reached.
type dataEndpoint struct {
	ip       string
	services []string // enabled, sorted
	creds    map[string]string
}

// resolve finds the data VM's address (of t.Customer only: its mesh
// address when tunnelled, else its observed IP) and the credentials of the
// enabled services.
func resolve(t AgentTarget, tunnelled bool) (dataEndpoint, error) {
	var ep dataEndpoint
	if t.Services.MinIO {
		ep.services = append(ep.services, plan.ServiceMinIO)
	}
	if t.Services.Neo4j {
		ep.services = append(ep.services, plan.ServiceNeo4j)
	}
	if t.Services.Qdrant {
		ep.services = append(ep.services, plan.ServiceQdrant)
	}
	if len(ep.services) == 0 {
		return ep, nil
	}
	vm := plan.Address{Kind: plan.ONEVM, Name: plan.DataVMName(t.Customer)}
	for _, r := range t.Observed {
		if r.Address() == vm && r.Customer == t.Customer {
			ep.ip = r.Outputs[plan.OutputIP]
		}
	}
	if tunnelled {
		if t.Addresses.IsZero() {
			return ep, fmt.Errorf("customer %s: %w: it holds no address block yet", t.Customer, ErrNoDataEndpoint)
		}
		ep.ip = t.Addresses.DataVMWG().String()
	}
	if ep.ip == "" {
		return ep, fmt.Errorf("customer %s: %w: %s has no observed IP (not created yet, or not refreshed since)", t.Customer, ErrNoDataEndpoint, vm)
	}
	if net.ParseIP(ep.ip) == nil {
		return ep, fmt.Errorf("customer %s: %w: %s has the address %q, not an IP", t.Customer, ErrNoDataEndpoint, vm, ep.ip)
	}
	need := map[string][]string{
		plan.ServiceMinIO:  {reconciler.SecretMinIOAccessKey, reconciler.SecretMinIOSecretKey},
		plan.ServiceNeo4j:  {reconciler.SecretNeo4jPassword},
		plan.ServiceQdrant: {reconciler.SecretQdrantAPIKey},
	}
	ep.creds = map[string]string{}
	for _, s := range ep.services {
		for _, k := range need[s] {
			if t.Secrets[k] == "" {
				return ep, fmt.Errorf("customer %s: no credential %s for %s yet (the data template was not applied)", t.Customer, k, s)
			}
			ep.creds[k] = t.Secrets[k]
		}
	}
	return ep, nil
}

func (ep dataEndpoint) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%v\n", ep.ip, ep.services)
	for _, k := range slices.Sorted(maps.Keys(ep.creds)) {
		fmt.Fprintf(h, "%s=%s\n", k, ep.creds[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (s *ServiceStores) addr(customer, service, ip string, port int) (string, int) {
	if s.cfg.Endpoint != nil && s.cfg.Dial == nil {
		return s.cfg.Endpoint(customer, service, ip, port)
	}
	return ip, port
}

// For returns the customer's stores, connecting on first use and again
// when the address, services or credentials changed.
func (s *ServiceStores) For(ctx context.Context, t AgentTarget) (*agents.Deps, io.Closer, error) {
	if err := agents.ValidateCustomer(t.Customer); err != nil {
		return nil, nil, err
	}
	ep, err := resolve(t, s.cfg.Dial != nil)
	if err != nil {
		return nil, nil, err
	}
	fp := ep.fingerprint()
	s.mu.Lock()
	if c, ok := s.conns[t.Customer]; ok && c.fingerprint == fp {
		c.refs++
		s.mu.Unlock()
		return c.deps, &lease{s: s, c: c}, nil
	}
	s.mu.Unlock()

	c, err := s.connect(ctx, t.Customer, ep)
	if err != nil {
		return nil, nil, err
	}
	c.fingerprint = fp
	s.mu.Lock()
	old, had := s.conns[t.Customer]
	if had && old.fingerprint == fp {
		// Another run connected meanwhile: keep its clients.
		old.refs++
		s.mu.Unlock()
		_ = c.close()
		return old.deps, &lease{s: s, c: old}, nil
	}
	s.conns[t.Customer] = c
	c.refs++
	closeOld := had && old.retireLocked()
	s.mu.Unlock()
	if had {
		s.log.Info("data services changed: reconnected", "customer", t.Customer, "ip", ep.ip)
	}
	if closeOld {
		if err := old.close(); err != nil {
			s.log.Warn("close previous data service clients", "customer", t.Customer, "err", err)
		}
	}
	return c.deps, &lease{s: s, c: c}, nil
}

func (s *ServiceStores) connect(ctx context.Context, customer string, ep dataEndpoint) (*serviceConn, error) {
	log := s.log.With("customer", customer)
	deps := &agents.Deps{Objects: s.local.Objects, Vectors: s.local.Vectors, Graph: s.local.Graph, State: s.local.State, Log: log}
	c := &serviceConn{deps: deps}
	for _, svc := range ep.services {
		switch svc {
		case plan.ServiceMinIO:
			h, p := s.addr(customer, svc, ep.ip, PortMinIO)
			mc := minio.Config{Endpoint: net.JoinHostPort(h, strconv.Itoa(p)),
				AccessKey: ep.creds[reconciler.SecretMinIOAccessKey], SecretKey: ep.creds[reconciler.SecretMinIOSecretKey], Logger: log}
			if dial := s.cfg.Dial; dial != nil {
				mc.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					return dial(ctx, customer, network, addr)
				}
			}
			st, err := minio.New(mc)
			if err != nil {
				_ = c.close()
				return nil, fmt.Errorf("customer %s: minio: %w", customer, err)
			}
			deps.Objects = st
		case plan.ServiceQdrant:
			h, p := s.addr(customer, svc, ep.ip, PortQdrantGRPC)
			qcfg := qdrant.Config{Host: h, Port: p, APIKey: ep.creds[reconciler.SecretQdrantAPIKey], Logger: log}
			if dial := s.cfg.Dial; dial != nil {
				qcfg.Dialer = func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, customer, "tcp", addr) }
			}
			st, err := qdrant.New(qcfg)
			if err != nil {
				_ = c.close()
				return nil, fmt.Errorf("customer %s: %w", customer, err)
			}
			c.qdrant, deps.Vectors = st, st
		case plan.ServiceNeo4j:
			h, p := s.addr(customer, svc, ep.ip, PortNeo4jBolt)
			if s.cfg.Dial != nil {
				f, err := forward(s.cfg.Dial, customer, net.JoinHostPort(h, strconv.Itoa(p)), log)
				if err != nil {
					_ = c.close()
					return nil, fmt.Errorf("customer %s: neo4j relay: %w", customer, err)
				}
				c.relay = f
				host, port, _ := net.SplitHostPort(f.Addr())
				h, p = host, atoiOr(port, 0)
			}
			cctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
			st, err := neo4j.New(cctx, neo4j.Config{URI: "bolt://" + net.JoinHostPort(h, strconv.Itoa(p)),
				User: reconciler.Neo4jUser, Password: ep.creds[reconciler.SecretNeo4jPassword], Logger: log})
			cancel()
			if err != nil {
				_ = c.close()
				return nil, fmt.Errorf("customer %s: %w", customer, redactErr(err, ep.creds[reconciler.SecretNeo4jPassword]))
			}
			c.neo4j, deps.Graph = st, st
		}
	}
	log.Info("connected to the data services", "ip", ep.ip, "services", fmt.Sprint(ep.services))
	return c, nil
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// redactErr drops a secret from an error's text (drivers may echo what
// they were given).
func redactErr(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(msg, secret, "[redacted]"))
}

// GapReportPath is DATA/agents/CUSTOMER/gap-report.md.
func (s *ServiceStores) GapReportPath(customer string) string {
	return s.local.GapReportPath(customer)
}

// Forget closes and drops the customer's clients.
func (s *ServiceStores) Forget(customer string) error {
	s.mu.Lock()
	c, ok := s.conns[customer]
	delete(s.conns, customer)
	closeNow := ok && c.retireLocked()
	s.mu.Unlock()
	if !closeNow {
		return nil
	}
	return c.close()
}

// Close closes every customer's clients and the local stores; call it
// after the agent runs have ended (the daemon's Run has returned).
func (s *ServiceStores) Close() error {
	s.mu.Lock()
	conns := s.conns
	s.conns = map[string]*serviceConn{}
	s.mu.Unlock()
	var errs []error
	for _, c := range conns {
		errs = append(errs, c.close())
	}
	errs = append(errs, s.local.Close())
	return errors.Join(errs...)
}
