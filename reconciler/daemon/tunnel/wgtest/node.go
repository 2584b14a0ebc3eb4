package wgtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel/internal/relay"
	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel/internal/wgnet"
)

// Options tune Start.
type Options struct {
	// Name labels the configuration in errors (default "wg0.conf").
	Name string
	// Listen is the node's UDP address; the default is 127.0.0.1 with
	// the configuration's ListenPort, and tests normally pass
	// 127.0.0.1:0 (any free port) since real ports such as 51820 may be
	// taken. It must be a loopback address.
	Listen netip.AddrPort
	// Endpoints maps a peer's Endpoint as written in the configuration
	// to the loopback address that peer really listens on in the test.
	Endpoints map[string]netip.AddrPort
	// Forward makes the node route packets between its peers (a hub).
	Forward bool
	// Log receives wireguard-go's messages (nil: discarded).
	Log *slog.Logger
}

// Node is a running userspace peer.
type Node struct {
	dev   *wgnet.Device
	cfg   Config
	pub   wgnet.Key
	addrs []netip.Addr

	mu        sync.Mutex
	closed    bool
	listeners []net.Listener
	relays    []*relay.Server
}

// Start parses a wg-quick configuration and starts it.
func Start(conf []byte, opts Options) (*Node, error) {
	name := opts.Name
	if name == "" {
		name = "wg0.conf"
	}
	c, err := Parse(name, conf)
	if err != nil {
		return nil, err
	}
	return StartConfig(c, opts)
}

// StartConfig starts a parsed configuration.
func StartConfig(c Config, opts Options) (*Node, error) {
	name := opts.Name
	if name == "" {
		name = "wg0.conf"
	}
	priv, err := wgnet.ParseKey(c.Interface.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%s: [Interface] PrivateKey: %w", name, err)
	}
	listen := opts.Listen
	if !listen.IsValid() {
		listen = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), c.Interface.ListenPort)
	}
	if !listen.Addr().IsLoopback() {
		return nil, fmt.Errorf("%s: listen address %s is not a loopback address (wgtest stays on this machine)", name, listen)
	}
	ifc := wgnet.Interface{PrivateKey: priv, Listen: listen, MTU: c.Interface.MTU, Forward: opts.Forward, Log: opts.Log}
	for _, a := range c.Interface.Address {
		ifc.Addresses = append(ifc.Addresses, a.Addr())
	}
	if len(ifc.Addresses) == 0 {
		return nil, fmt.Errorf("%s: [Interface] Address is missing (a userspace peer needs its mesh address)", name)
	}
	for _, p := range c.Peers {
		wp, err := peer(name, p, opts.Endpoints)
		if err != nil {
			return nil, err
		}
		ifc.Peers = append(ifc.Peers, wp)
	}
	dev, err := wgnet.Open(ifc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Node{dev: dev, cfg: c, pub: priv.Public(), addrs: ifc.Addresses}, nil
}

func peer(name string, p Peer, endpoints map[string]netip.AddrPort) (wgnet.Peer, error) {
	where := fmt.Sprintf("%s:%d: [Peer]", name, p.Line)
	pub, err := wgnet.ParseKey(p.PublicKey)
	if err != nil {
		return wgnet.Peer{}, fmt.Errorf("%s PublicKey: %w", where, err)
	}
	wp := wgnet.Peer{PublicKey: pub, AllowedIPs: p.AllowedIPs, Keepalive: p.PersistentKeepalive}
	if p.PresharedKey != "" {
		k, err := wgnet.ParseKey(p.PresharedKey)
		if err != nil {
			return wgnet.Peer{}, fmt.Errorf("%s PresharedKey: %w", where, err)
		}
		wp.PresharedKey = &k
	}
	if p.Endpoint == "" {
		return wp, nil
	}
	ep, mapped := endpoints[p.Endpoint]
	if !mapped {
		ep, err = netip.ParseAddrPort(p.Endpoint)
		if err != nil {
			return wgnet.Peer{}, fmt.Errorf("%s Endpoint %s: host names are not resolved; map it with Options.Endpoints", where, p.Endpoint)
		}
	}
	if !ep.Addr().IsLoopback() {
		return wgnet.Peer{}, fmt.Errorf("%s Endpoint %s is not a loopback address: map it to the test peer's address with Options.Endpoints (wgtest never sends outside this machine)", where, ep)
	}
	wp.Endpoint = ep
	return wp, nil
}

// Addr is the node's UDP address, the Endpoint its peers use.
func (n *Node) Addr() netip.AddrPort { return n.dev.LocalAddr() }

// PublicKey is the node's public key (base64).
func (n *Node) PublicKey() string { return n.pub.String() }

// Config is the configuration the node runs.
func (n *Node) Config() Config { return n.cfg }

// LastHandshake is when the node last completed a handshake with the peer
// of that public key (zero: never).
func (n *Node) LastHandshake(publicKey string) time.Time {
	k, err := wgnet.ParseKey(publicKey)
	if err != nil {
		return time.Time{}
	}
	return n.dev.LastHandshake(k)
}

// WaitHandshake waits until the node has completed a handshake with the
// peer of that public key, or ctx ends.
func (n *Node) WaitHandshake(ctx context.Context, publicKey string) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for n.LastHandshake(publicKey).IsZero() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wgtest: no handshake with peer %s: %w", abbrev(publicKey), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// abbrev shortens a public key as wireguard-go's logs do.
func abbrev(k string) string {
	if len(k) < 8 {
		return k
	}
	return k[:4] + "…" + k[len(k)-5:len(k)-1]
}

// Listen listens in the node's mesh; addr is one of its addresses with a
// port ("10.64.0.3:9000"). Only tcp is served.
func (n *Node) Listen(network, addr string) (net.Listener, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, fmt.Errorf("wgtest: listen %s: only tcp is served", network)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("wgtest: listen %s: want IP:port", addr)
	}
	if !n.owns(ap.Addr()) {
		return nil, fmt.Errorf("wgtest: listen %s: %s is not an address of this node (%v)", addr, ap.Addr(), n.addrs)
	}
	l, err := n.dev.Net().ListenTCPAddrPort(ap)
	if err != nil {
		return nil, fmt.Errorf("wgtest: listen %s: %w", addr, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		l.Close()
		return nil, net.ErrClosed
	}
	n.listeners = append(n.listeners, l)
	return l, nil
}

func (n *Node) owns(a netip.Addr) bool {
	for _, o := range n.addrs {
		if o == a {
			return true
		}
	}
	return false
}

// DialContext dials from the node into its mesh.
func (n *Node) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return n.dev.Net().DialContext(ctx, network, addr)
}

// Expose serves addr in the mesh (tcp, one of the node's addresses) by
// relaying each connection to target, a server on this machine's loopback
// ("127.0.0.1:9000"), as the data VM's services would answer on B.3. It
// runs until the node is closed.
func (n *Node) Expose(addr, target string) error {
	tap, err := netip.ParseAddrPort(target)
	if err != nil || !tap.Addr().IsLoopback() {
		return fmt.Errorf("wgtest: expose %s: target %q is not a loopback IP:port", addr, target)
	}
	l, err := n.Listen("tcp", addr)
	if err != nil {
		return err
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	srv := relay.Serve(l, func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", target) })
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		srv.Close()
		return net.ErrClosed
	}
	n.relays = append(n.relays, srv)
	return nil
}

// Close stops the node: its listeners, relayed connections and device.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	ls, rs := n.listeners, n.relays
	n.mu.Unlock()
	var errs []error
	for _, r := range rs {
		errs = append(errs, r.Close())
	}
	for _, l := range ls {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, n.dev.Close())
	return errors.Join(errs...)
}

// KeyPair draws a WireGuard key pair (base64), as wg genkey | wg pubkey.
func KeyPair() (private, public string, err error) {
	k, err := wgnet.GenerateKey()
	if err != nil {
		return "", "", err
	}
	return k.String(), k.Public().String(), nil
}
