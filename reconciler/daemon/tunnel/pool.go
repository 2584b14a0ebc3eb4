package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel/internal/wgnet"
)

// Log attribute keys.
const (
	logKeyCustomer    = "customer"
	logKeyAddr        = "addr"
	logKeyErr         = "err"
	logKeyEndpoint    = "endpoint"
	logKeyLocal       = "local"
	logKeyDuration    = "duration"
	logKeyReason      = "reason"
	logKeyIdleTimeout = "idle_timeout"
	logKeyMaxTunnels  = "max_tunnels"
	logKeyTarget      = "target"
)

// Resolver gives a customer's tunnel configuration. The pool calls it on
// every dial (keep it cheap: state and secrets already in memory) so a
// changed configuration (new storage node address, rotated key) takes
// effect on the next dial: the old tunnel is closed and a new one opened.
// Its errors are returned to the dialler wrapped; they must not carry
// keys.
type Resolver func(ctx context.Context, customer string) (Config, error)

// Options tune a Pool; zero fields take the defaults.
type Options struct {
	// MaxTunnels bounds the open tunnels (default 64).
	MaxTunnels int
	// IdleTimeout closes a tunnel that had no open connection for this
	// long (default 5 minutes).
	IdleTimeout time.Duration
	// DialTimeout bounds a dial whose context has no deadline (default
	// 30 seconds): a dial into a mesh whose hub does not answer would
	// otherwise wait for TCP's own retries.
	DialTimeout time.Duration
	// Listen is the local UDP address of every tunnel's socket; the
	// port should be 0 (each tunnel has its own socket). The zero value
	// listens on all addresses, which a WireGuard client needs to hear its
	// hub's replies; tests set 127.0.0.1:0.
	Listen netip.AddrPort
	// Endpoint, when set, rewrites the hub endpoint a Resolver gave
	// before the tunnel uses it. The simulators' public addresses lead
	// nowhere, so `vdc serve --sim` and tests map them to the loopback
	// address of a userspace hub (wgtest).
	Endpoint func(customer string, configured netip.AddrPort) netip.AddrPort
	// LoopbackOnly refuses (ErrBadConfig) a hub endpoint that is not a
	// loopback address, after Endpoint: a simulated or test setup then
	// never sends a datagram off the machine, whatever the resolver says.
	LoopbackOnly bool
	// Log receives the pool's events (nil: discarded); wireguard-go's
	// own messages are logged at debug level.
	Log *slog.Logger
	// Now is the clock for idle accounting (default time.Now).
	Now func() time.Time
}

// Stats are the pool's counters, for metrics.
type Stats struct {
	Tunnels      int    // open tunnels
	Conns        int    // open connections through them
	Opens        uint64 // tunnels opened
	OpenFailures uint64 // tunnels that failed to open (bad configuration, socket error)
	Dials        uint64 // DialContext calls
	DialFailures uint64 // DialContext calls that returned an error (all causes)
	Refused      uint64 // dials refused: outside AllowedIPs or over MaxTunnels
	IdleClosed   uint64 // tunnels closed for idleness
	Evicted      uint64 // idle tunnels closed to make room for another
}

// Pool holds the control plane's tunnels, one per customer.
type Pool struct {
	resolve Resolver
	opts    Options
	log     *slog.Logger

	mu       sync.Mutex
	tunnels  map[string]*tunnel
	forwards map[*Forward]struct{}
	closed   bool

	opens, openFailures, dials, dialFailures, refused, idleClosed, evicted atomic.Uint64

	stop chan struct{}
	done chan struct{}
}

type tunnel struct {
	customer string
	cfg      Config
	ready    chan struct{} // closed once dev or err is set
	dev      *wgnet.Device
	err      error
	conns    map[*conn]struct{}
	pending  int // dials holding the tunnel before their conn exists
	lastUsed time.Time
	opened   time.Time
	hub      wgnet.Key
}

func (t *tunnel) busy() bool { return t.pending > 0 || len(t.conns) > 0 }

func (t *tunnel) isReady() bool {
	select {
	case <-t.ready:
		return true
	default:
		return false
	}
}

// NewPool returns a pool; Close releases its tunnels.
func NewPool(resolve Resolver, opts Options) *Pool {
	if opts.MaxTunnels <= 0 {
		opts.MaxTunnels = 64
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pool{resolve: resolve, opts: opts, log: log, tunnels: map[string]*tunnel{},
		forwards: map[*Forward]struct{}{},
		stop:     make(chan struct{}), done: make(chan struct{})}
	go p.janitor()
	return p
}

// DialContext connects to addr (IP:port, in the customer's AllowedIPs)
// through the customer's tunnel, opening it if needed; network is tcp,
// tcp4, udp or udp4. Errors wrap ErrOutsideAllowedIPs, ErrTooManyTunnels,
// ErrBadConfig, ErrBadAddress, ErrClosed, the resolver's error, or the
// dial's (with ctx.Err() when the context ended it).
func (p *Pool) DialContext(ctx context.Context, customer, network, addr string) (net.Conn, error) {
	p.dials.Add(1)
	c, err := p.dial(ctx, customer, network, addr)
	if err != nil {
		p.dialFailures.Add(1)
		p.log.Debug("tunnel dial failed", logKeyCustomer, customer, logKeyAddr, addr, logKeyErr, err)
		return nil, fmt.Errorf("customer %s: dial %s %s through its tunnel: %w", customer, network, addr, err)
	}
	return c, nil
}

// Dialer is DialContext bound to a customer, in the shape of
// http.Transport.DialContext (MinIO's client); for gRPC (Qdrant) use
// grpc.WithContextDialer with network "tcp".
func (p *Pool) Dialer(customer string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return p.DialContext(ctx, customer, network, addr)
	}
}

func (p *Pool) dial(ctx context.Context, customer, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "udp", "udp4", "tcp6", "udp6":
	default:
		return nil, fmt.Errorf("%w: network %q (want tcp or udp)", ErrBadAddress, network)
	}
	dst, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: want IP:port (host names are not resolved in a customer's mesh)", ErrBadAddress)
	}
	cfg, err := p.config(ctx, customer)
	if err != nil {
		return nil, err
	}
	if !cfg.allows(dst.Addr()) {
		p.refused.Add(1)
		return nil, fmt.Errorf("%w: %s is not in %v", ErrOutsideAllowedIPs, dst.Addr(), cfg.Peer.AllowedIPs)
	}
	t, err := p.acquire(ctx, customer, cfg)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opts.DialTimeout)
		defer cancel()
	}
	var nc net.Conn
	if network[:3] == "tcp" {
		nc, err = t.dev.Net().DialContextTCPAddrPort(ctx, dst)
	} else {
		nc, err = t.dev.Net().DialUDPAddrPort(netip.AddrPort{}, dst)
	}
	if err != nil {
		p.release(t, nil)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return nil, err
	}
	c := &conn{Conn: nc, pool: p, t: t}
	p.mu.Lock()
	t.pending--
	if p.tunnels[t.customer] != t { // closed while dialling
		p.mu.Unlock()
		nc.Close()
		return nil, ErrClosed
	}
	t.conns[c] = struct{}{}
	p.mu.Unlock()
	return c, nil
}

// config resolves and checks the customer's configuration.
func (p *Pool) config(ctx context.Context, customer string) (Config, error) {
	cfg, err := p.resolve(ctx, customer)
	if err != nil {
		return Config{}, fmt.Errorf("tunnel configuration: %w", err)
	}
	if p.opts.Endpoint != nil {
		cfg.Peer.Endpoint = p.opts.Endpoint(customer, cfg.Peer.Endpoint)
	}
	err = cfg.Validate()
	if err == nil && p.opts.LoopbackOnly && !cfg.Peer.Endpoint.Addr().IsLoopback() {
		err = badConfig("Peer.Endpoint", fmt.Sprintf("%s is not a loopback address and the pool is loopback-only (simulators, tests): map it with Options.Endpoint", cfg.Peer.Endpoint))
	}
	if err != nil {
		p.openFailures.Add(1)
		return Config{}, err
	}
	return cfg, nil
}

// acquire returns the customer's open tunnel for cfg, opening it if
// needed, with a pending hold the caller releases.
func (p *Pool) acquire(ctx context.Context, customer string, cfg Config) (*tunnel, error) {
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		t := p.tunnels[customer]
		if t != nil && !t.isReady() {
			p.mu.Unlock()
			select {
			case <-t.ready:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			p.mu.Lock()
			if t.err != nil && t.cfg.equal(cfg) {
				p.mu.Unlock()
				return nil, t.err
			}
			continue
		}
		if t != nil && !t.cfg.equal(cfg) {
			// The configuration changed: its connections go to a peer
			// that is no longer the customer's.
			p.removeLocked(t)
			p.mu.Unlock()
			p.log.Info("tunnel configuration changed; reopening", logKeyCustomer, customer)
			p.shut(t)
			p.mu.Lock()
			continue
		}
		if t != nil {
			t.pending++
			t.lastUsed = p.opts.Now()
			p.mu.Unlock()
			return t, nil
		}
		var victim *tunnel
		if len(p.tunnels) >= p.opts.MaxTunnels {
			victim = p.lruIdleLocked()
			if victim == nil {
				p.refused.Add(1)
				n := len(p.tunnels)
				p.mu.Unlock()
				return nil, fmt.Errorf("%w: %d of at most %d, each with open connections or opening (raise MaxTunnels or retry)", ErrTooManyTunnels, n, p.opts.MaxTunnels)
			}
			p.removeLocked(victim)
			p.evicted.Add(1)
		}
		t = &tunnel{customer: customer, cfg: cfg, ready: make(chan struct{}), conns: map[*conn]struct{}{}, pending: 1}
		p.tunnels[customer] = t
		p.mu.Unlock()
		if victim != nil {
			p.log.Info("tunnel closed to make room", logKeyCustomer, victim.customer, logKeyMaxTunnels, p.opts.MaxTunnels)
			p.shut(victim)
		}
		return p.open(t)
	}
}

// open starts t's device outside the lock; waiting dials wait on t.ready.
func (p *Pool) open(t *tunnel) (*tunnel, error) {
	start := time.Now()
	ifc, err := t.cfg.iface(p.opts.Listen)
	var dev *wgnet.Device
	if err == nil {
		ifc.Log = p.log.With(logKeyCustomer, t.customer)
		dev, err = wgnet.Open(ifc)
	}
	p.mu.Lock()
	if err != nil {
		t.err = err
		if p.tunnels[t.customer] == t {
			delete(p.tunnels, t.customer)
		}
		close(t.ready)
		p.mu.Unlock()
		p.openFailures.Add(1)
		return nil, err
	}
	if p.tunnels[t.customer] != t { // pool closed or tunnel forgotten meanwhile
		t.err = ErrClosed
		close(t.ready)
		p.mu.Unlock()
		dev.Close()
		return nil, ErrClosed
	}
	t.dev, t.hub = dev, ifc.Peers[0].PublicKey
	t.lastUsed = p.opts.Now()
	t.opened = t.lastUsed
	close(t.ready)
	p.mu.Unlock()
	p.opens.Add(1)
	p.log.Info("tunnel opened", logKeyCustomer, t.customer, logKeyEndpoint, t.cfg.Peer.Endpoint.String(),
		logKeyLocal, dev.LocalAddr().String(), logKeyDuration, time.Since(start))
	return t, nil
}

// lruIdleLocked is the least recently used open tunnel with no
// connection and no dial in progress, or nil.
func (p *Pool) lruIdleLocked() *tunnel {
	var lru *tunnel
	for _, t := range p.tunnels {
		if !t.isReady() || t.busy() {
			continue
		}
		if lru == nil || t.lastUsed.Before(lru.lastUsed) {
			lru = t
		}
	}
	return lru
}

func (p *Pool) removeLocked(t *tunnel) {
	if p.tunnels[t.customer] == t {
		delete(p.tunnels, t.customer)
	}
}

// shut closes a removed tunnel's connections and device; called without
// the lock.
func (p *Pool) shut(t *tunnel) {
	<-t.ready
	p.mu.Lock()
	conns := slices.Collect(maps.Keys(t.conns))
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	if t.dev != nil {
		t.dev.Close()
	}
}

// release ends a dial's hold (c == nil) or an open connection's.
func (p *Pool) release(t *tunnel, c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c == nil {
		t.pending--
	} else {
		delete(t.conns, c)
	}
	t.lastUsed = p.opts.Now()
}

// Forget closes the customer's tunnel now (a removed customer), with
// its connections and its forwards.
func (p *Pool) Forget(customer string) {
	p.mu.Lock()
	var fs []*Forward
	for f := range p.forwards {
		if f.customer == customer {
			fs = append(fs, f)
		}
	}
	p.mu.Unlock()
	for _, f := range fs {
		f.Close()
	}
	p.mu.Lock()
	t := p.tunnels[customer]
	if t != nil {
		p.removeLocked(t)
	}
	p.mu.Unlock()
	if t != nil {
		p.shut(t)
		p.log.Info("tunnel closed", logKeyCustomer, customer, logKeyReason, "forgotten")
	}
}

// Info describes a customer's open tunnel, for status views.
type Info struct {
	Opened time.Time // when it was opened (Options.Now)
	// LastHandshake is the last completed WireGuard handshake with the
	// hub (zero: none yet, e.g. the hub does not answer).
	LastHandshake time.Time
	Conns         int            // open connections
	Local         netip.AddrPort // the tunnel's UDP socket
	Endpoint      netip.AddrPort // the hub
}

// Info reports on the customer's tunnel; false when none is open.
func (p *Pool) Info(customer string) (Info, bool) {
	p.mu.Lock()
	t := p.tunnels[customer]
	if t == nil || !t.isReady() || t.dev == nil {
		p.mu.Unlock()
		return Info{}, false
	}
	in := Info{Opened: t.opened, Conns: len(t.conns), Endpoint: t.cfg.Peer.Endpoint}
	dev, hub := t.dev, t.hub
	p.mu.Unlock()
	in.Local, in.LastHandshake = dev.LocalAddr(), dev.LastHandshake(hub)
	return in, true
}

// Stats returns the current counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	s := Stats{Tunnels: len(p.tunnels)}
	for _, t := range p.tunnels {
		s.Conns += len(t.conns)
	}
	p.mu.Unlock()
	s.Opens, s.OpenFailures = p.opens.Load(), p.openFailures.Load()
	s.Dials, s.DialFailures, s.Refused = p.dials.Load(), p.dialFailures.Load(), p.refused.Load()
	s.IdleClosed, s.Evicted = p.idleClosed.Load(), p.evicted.Load()
	return s
}

// Close closes every forward, tunnel and connection; later dials fail
// with ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	all := slices.Collect(maps.Values(p.tunnels))
	clear(p.tunnels)
	fs := slices.Collect(maps.Keys(p.forwards))
	p.mu.Unlock()
	for _, f := range fs {
		f.Close()
	}
	close(p.stop)
	<-p.done
	for _, t := range all {
		p.shut(t)
	}
	return nil
}

// janitor closes idle tunnels.
func (p *Pool) janitor() {
	defer close(p.done)
	every := min(max(p.opts.IdleTimeout/4, time.Second), time.Minute)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			p.sweep()
		}
	}
}

// sweep closes the tunnels idle for IdleTimeout.
func (p *Pool) sweep() {
	now := p.opts.Now()
	var idle []*tunnel
	p.mu.Lock()
	for _, t := range p.tunnels {
		if t.isReady() && !t.busy() && now.Sub(t.lastUsed) >= p.opts.IdleTimeout {
			p.removeLocked(t)
			idle = append(idle, t)
		}
	}
	p.mu.Unlock()
	for _, t := range idle {
		p.shut(t)
		p.idleClosed.Add(1)
		p.log.Info("tunnel closed", logKeyCustomer, t.customer, logKeyReason, "idle", logKeyIdleTimeout, p.opts.IdleTimeout)
	}
}

// conn is a connection through a tunnel; closing it releases the
// tunnel's hold.
type conn struct {
	net.Conn
	pool *Pool
	t    *tunnel
	once sync.Once
	err  error
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.err = c.Conn.Close()
		c.pool.release(c.t, c)
	})
	if errors.Is(c.err, net.ErrClosed) {
		return nil
	}
	return c.err
}
