package tunnel

import (
	"context"
	"fmt"
	"net"
	"net/netip"

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
	addr     netip.AddrPort
	srv      *relay.Server
}

// LocalForward starts a Forward to addr (IP:port in the customer's
// AllowedIPs, checked now and again on every connection). Close it, or
// the pool's Close or Forget(customer) does.
func (p *Pool) LocalForward(ctx context.Context, customer, addr string) (*Forward, error) {
	dst, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("customer %s: forward to %s: %w: want IP:port", customer, addr, ErrBadAddress)
	}
	cfg, err := p.config(ctx, customer)
	if err != nil {
		return nil, fmt.Errorf("customer %s: forward to %s: %w", customer, addr, err)
	}
	if !cfg.allows(dst.Addr()) {
		return nil, fmt.Errorf("customer %s: forward to %s: %w: %s is not in %v", customer, addr, ErrOutsideAllowedIPs, dst.Addr(), cfg.Peer.AllowedIPs)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("customer %s: forward to %s: %w", customer, addr, err)
	}
	f := &Forward{p: p, customer: customer, addr: l.Addr().(*net.TCPAddr).AddrPort()}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		l.Close()
		return nil, ErrClosed
	}
	// Each dial is bounded by the pool's DialTimeout and ended by Close.
	f.srv = relay.Serve(l, func(ctx context.Context) (net.Conn, error) {
		c, err := p.DialContext(ctx, customer, "tcp", dst.String())
		if err != nil {
			p.log.Warn("tunnel forward dial failed", logKeyCustomer, customer, logKeyTarget, dst.String(), logKeyErr, err)
		}
		return c, err
	})
	p.forwards[f] = struct{}{}
	p.log.Info("tunnel forward listening", logKeyCustomer, customer, logKeyTarget, dst.String(), logKeyLocal, f.addr.String())
	return f, nil
}

// Addr is the loopback address to connect to.
func (f *Forward) Addr() netip.AddrPort { return f.addr }

// Close stops listening and ends the relayed connections.
func (f *Forward) Close() error {
	err := f.srv.Close()
	f.p.mu.Lock()
	delete(f.p.forwards, f)
	f.p.mu.Unlock()
	return err
}
