package tunnel_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel"
	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel/wgtest"
)

var loopback = netip.MustParseAddrPort("127.0.0.1:0")

// storagePublic is the storage node's public address as apply would
// render it into the data VM's configuration; the test maps it to the
// hub's loopback port (TEST-NET-3: nothing is ever sent there).
const storagePublic = "203.0.113.10:51820"

// mesh is one customer's far side: the storage node as hub and the data
// VM behind it, started from wg-quick text as apply renders it.
type mesh struct {
	block      netip.Prefix
	hub, data  *wgtest.Node
	cpPriv     string
	cpPub      string
	cfg        tunnel.Config // the control plane's side
	dataServed netip.AddrPort
}

func host(block netip.Prefix, n byte) netip.Addr {
	b := block.Addr().As4()
	b[3] = n
	return netip.AddrFrom4(b)
}

func keyPair(t testing.TB) (string, string) {
	t.Helper()
	priv, pub, err := wgtest.KeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// startMesh starts a customer's hub and data VM; target (a 127.0.0.1
// server) is exposed on the data VM's B.3:9000.
func startMesh(t testing.TB, block, target string) *mesh {
	t.Helper()
	m := &mesh{block: netip.MustParsePrefix(block)}
	hubPriv, hubPub := keyPair(t)
	dataPriv, dataPub := keyPair(t)
	m.cpPriv, m.cpPub = keyPair(t)
	mesh := netip.PrefixFrom(m.block.Addr(), 25)

	hubConf := fmt.Sprintf(`[Interface]
# storage node
Address = %s/25
ListenPort = 51820
PrivateKey = %s

[Peer]
# control plane
PublicKey = %s
AllowedIPs = %s/32

[Peer]
# data VM
PublicKey = %s
AllowedIPs = %s/32
`, host(m.block, 1), hubPriv, m.cpPub, host(m.block, 2), dataPub, host(m.block, 3))
	var err error
	m.hub, err = wgtest.Start([]byte(hubConf), wgtest.Options{Name: "storage-wg0.conf", Listen: loopback, Forward: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.hub.Close() })

	dataConf := fmt.Sprintf(`[Interface]
Address = %s/25
PrivateKey = %s

[Peer]
PublicKey = %s
Endpoint = %s
AllowedIPs = %s
PersistentKeepalive = 25
`, host(m.block, 3), dataPriv, hubPub, storagePublic, mesh)
	m.data, err = wgtest.Start([]byte(dataConf), wgtest.Options{Name: "data-wg0.conf", Listen: loopback,
		Endpoints: map[string]netip.AddrPort{storagePublic: m.hub.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.data.Close() })
	m.dataServed = netip.AddrPortFrom(host(m.block, 3), 9000)
	if target != "" {
		if err := m.data.Expose(m.dataServed.String(), target); err != nil {
			t.Fatal(err)
		}
	}
	m.cfg = tunnel.Config{
		PrivateKey: m.cpPriv,
		Address:    host(m.block, 2),
		Peer: tunnel.Peer{PublicKey: hubPub, Endpoint: m.hub.Addr(),
			AllowedIPs: []netip.Prefix{mesh}, PersistentKeepalive: 25 * time.Second},
	}
	// The data VM's keepalive makes it known to the hub at once, as on
	// a real mesh; wait for that so the first dial is not a retransmit.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.hub.WaitHandshake(ctx, dataPub); err != nil {
		t.Fatal(err)
	}
	return m
}

// resolver serves fixed configurations by customer.
func resolver(cfgs map[string]tunnel.Config) tunnel.Resolver {
	return func(_ context.Context, customer string) (tunnel.Config, error) {
		c, ok := cfgs[customer]
		if !ok {
			return tunnel.Config{}, fmt.Errorf("no customer %q", customer)
		}
		return c, nil
	}
}
