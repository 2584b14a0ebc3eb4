package tunnel

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel/internal/wgnet"
)

// Config is the control plane's side of one customer's mesh.
type Config struct {
	// PrivateKey is the control plane's key in this mesh (base64, as
	// wg genkey prints it); it lives in the customer's secrets.
	PrivateKey string
	// Address is the control plane's mesh address (B.2).
	Address netip.Addr
	// Peer is the hub, the customer's storage node.
	Peer Peer
	// MTU of the tunnel; 0 means 1420, wg-quick's default.
	MTU int
}

// Peer is the hub the control plane connects to.
type Peer struct {
	// PublicKey is the storage node's public key (base64).
	PublicKey string
	// PresharedKey is optional (base64).
	PresharedKey string
	// Endpoint is the storage node's public address and WireGuard port.
	Endpoint netip.AddrPort
	// AllowedIPs are the addresses reached through the hub (B.0/25); a
	// dial anywhere else is refused.
	AllowedIPs []netip.Prefix
	// PersistentKeepalive keeps NAT mappings open (0: off).
	PersistentKeepalive time.Duration
}

// String shows the configuration without its keys' secret parts: the
// private and preshared keys are never printed (fmt's %v, %+v and %#v all
// use it).
func (c Config) String() string {
	psk := ""
	if c.Peer.PresharedKey != "" {
		psk = " PresharedKey:(redacted)"
	}
	return fmt.Sprintf("{PrivateKey:(redacted) Address:%s Peer:{PublicKey:%s%s Endpoint:%s AllowedIPs:%v PersistentKeepalive:%s} MTU:%d}",
		c.Address, c.Peer.PublicKey, psk, c.Peer.Endpoint, c.Peer.AllowedIPs, c.Peer.PersistentKeepalive, c.MTU)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue keeps the keys out of slog output too.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("address", c.Address.String()),
		slog.String("peer_public_key", c.Peer.PublicKey), slog.String("endpoint", c.Peer.Endpoint.String()),
		slog.Any("allowed_ips", c.Peer.AllowedIPs))
}

// Validate checks every field; errors wrap ErrBadConfig and name the
// field, never a key.
func (c Config) Validate() error {
	_, err := c.iface(netip.AddrPort{})
	return err
}

func badConfig(field, why string) error {
	return fmt.Errorf("%w: %s %s", ErrBadConfig, field, why)
}

// iface turns a Config into the device's settings.
func (c Config) iface(listen netip.AddrPort) (wgnet.Interface, error) {
	priv, err := wgnet.ParseKey(c.PrivateKey)
	if err != nil {
		return wgnet.Interface{}, badConfig("PrivateKey", "is "+err.Error())
	}
	pub, err := wgnet.ParseKey(c.Peer.PublicKey)
	if err != nil {
		return wgnet.Interface{}, badConfig("Peer.PublicKey", "is "+err.Error())
	}
	if pub == priv.Public() {
		return wgnet.Interface{}, badConfig("Peer.PublicKey", "is the control plane's own public key")
	}
	var psk *wgnet.Key
	if c.Peer.PresharedKey != "" {
		k, err := wgnet.ParseKey(c.Peer.PresharedKey)
		if err != nil {
			return wgnet.Interface{}, badConfig("Peer.PresharedKey", "is "+err.Error())
		}
		psk = &k
	}
	if !c.Address.IsValid() || c.Address.IsUnspecified() {
		return wgnet.Interface{}, badConfig("Address", "is not set")
	}
	ep := c.Peer.Endpoint
	switch {
	case !ep.IsValid():
		return wgnet.Interface{}, badConfig("Peer.Endpoint", "is not set (want the storage node's public IP:port)")
	case ep.Port() == 0:
		return wgnet.Interface{}, badConfig("Peer.Endpoint", "has port 0")
	case ep.Addr().IsUnspecified() || ep.Addr().IsMulticast():
		return wgnet.Interface{}, badConfig("Peer.Endpoint", fmt.Sprintf("%s is not a unicast address", ep.Addr()))
	}
	if len(c.Peer.AllowedIPs) == 0 {
		return wgnet.Interface{}, badConfig("Peer.AllowedIPs", "is empty (want the customer's mesh, B.0/25)")
	}
	for _, p := range c.Peer.AllowedIPs {
		if !p.IsValid() {
			return wgnet.Interface{}, badConfig("Peer.AllowedIPs", "holds an invalid prefix")
		}
	}
	if c.Peer.PersistentKeepalive < 0 || c.Peer.PersistentKeepalive > 65535*time.Second {
		return wgnet.Interface{}, badConfig("Peer.PersistentKeepalive", "is outside 0..65535s")
	}
	if c.MTU != 0 && (c.MTU < 576 || c.MTU > 65535) {
		return wgnet.Interface{}, badConfig("MTU", fmt.Sprintf("%d is outside 576..65535", c.MTU))
	}
	return wgnet.Interface{
		PrivateKey: priv,
		Addresses:  []netip.Addr{c.Address},
		Listen:     listen,
		MTU:        c.MTU,
		Peers: []wgnet.Peer{{
			PublicKey: pub, PresharedKey: psk, Endpoint: ep,
			AllowedIPs: c.Peer.AllowedIPs, Keepalive: c.Peer.PersistentKeepalive,
		}},
	}, nil
}

// allows reports whether a is reached through the tunnel.
func (c Config) allows(a netip.Addr) bool {
	for _, p := range c.Peer.AllowedIPs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (c Config) equal(o Config) bool {
	return c.PrivateKey == o.PrivateKey && c.Address == o.Address && c.MTU == o.MTU &&
		c.Peer.PublicKey == o.Peer.PublicKey && c.Peer.PresharedKey == o.Peer.PresharedKey &&
		c.Peer.Endpoint == o.Peer.Endpoint && c.Peer.PersistentKeepalive == o.Peer.PersistentKeepalive &&
		slices.Equal(c.Peer.AllowedIPs, o.Peer.AllowedIPs)
}
