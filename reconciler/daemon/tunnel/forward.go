package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel/internal/relay"
)

// Forward is a listener on 127.0.0.1 that relays each connection to one
// address in a customer's mesh through the pool. It is for clients that
// take no dialer: the Neo4j Go driver (v5) dials with its own net.Dialer,
// so it is pointed at bolt://<Forward.Addr()> (the bolt scheme, not
// neo4j: routing would hand it the server's mesh addresses). The
// listener holds no tunnel open: each accepted connection dials as
// DialContext does, so idle tunnels still close.
type Forward struct {
	p        *Pool
	customer string
	target   string
	l        net.Listener
	ctx      context.Context // ends pending dials on Close
	cancel   context.CancelFunc

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// LocalForward starts a Forward to addr (IP:port in the customer's
// AllowedIPs, checked now and again on every connection). Close it, or
// the pool's Close or Forget(customer) does.
func (p *Pool) LocalForward(ctx context.Context, customer, addr string) (*Forward, error) {
	dst, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("customer %s: forward to %s: %w: want IP:port", customer, addr, ErrBadAddress)
	}
	cfg, err := p.resolve(ctx, customer)
	if err != nil {
		return nil, fmt.Errorf("customer %s: forward to %s: tunnel configuration: %w", customer, addr, err)
	}
	if !cfg.allows(dst.Addr()) {
		return nil, fmt.Errorf("customer %s: forward to %s: %w: %s is not in %v", customer, addr, ErrOutsideAllowedIPs, dst.Addr(), cfg.Peer.AllowedIPs)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("customer %s: forward to %s: %w", customer, addr, err)
	}
	f := &Forward{p: p, customer: customer, target: dst.String(), l: l, conns: map[net.Conn]struct{}{}}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.Close()
		f.cancel()
		return nil, ErrClosed
	}
	p.forwards[f] = struct{}{}
	p.mu.Unlock()
	f.wg.Add(1)
	go f.serve()
	p.log.Info("tunnel forward listening", "customer", customer, "target", f.target, "local", l.Addr().String())
	return f, nil
}

// Addr is the loopback address to connect to.
func (f *Forward) Addr() netip.AddrPort { return f.l.Addr().(*net.TCPAddr).AddrPort() }

func (f *Forward) serve() {
	defer f.wg.Done()
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		if !f.track(c) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(c)
			// Bounded by the pool's DialTimeout, ended by Close.
			t, err := f.p.DialContext(f.ctx, f.customer, "tcp", f.target)
			if err != nil {
				f.p.log.Warn("tunnel forward dial failed", "customer", f.customer, "target", f.target, "err", err)
				return
			}
			if !f.track(t) {
				t.Close()
				return
			}
			defer f.untrack(t)
			relay.Pipe(c, t)
		}()
	}
}

func (f *Forward) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *Forward) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

// Close stops listening and ends the relayed connections.
func (f *Forward) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.cancel()
	conns := make([]net.Conn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	err := f.l.Close()
	for _, c := range conns {
		c.Close()
	}
	f.wg.Wait()
	f.p.mu.Lock()
	delete(f.p.forwards, f)
	f.p.mu.Unlock()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
