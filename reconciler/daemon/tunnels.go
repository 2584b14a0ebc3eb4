package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel"
	"github.com/agentvdc/agentvdc/state"
)

// keepalive keeps the control plane's hub mapping fresh while a tunnel
// is open (the value wg-quick users set behind NAT).
const keepalive = 25 * time.Second

// TunnelConfig is the control plane's WireGuard peer for one customer
// (a tunnel.Resolver): its own key and mesh address from the customer's
// secrets and address block, and one peer, the customer's storage node
// (the hub), at its observed public address, routing the customer's mesh.
func (d *Daemon) TunnelConfig(_ context.Context, customer string) (tunnel.Config, error) {
	a := d.addressesOf(customer)
	if a.IsZero() {
		return tunnel.Config{}, fmt.Errorf("customer %s holds no address block yet (not applied)", customer)
	}
	secrets, err := d.cfg.Store.Secrets(customer)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return tunnel.Config{}, fmt.Errorf("customer %s: read secrets: %w", customer, err)
	}
	priv := secrets[reconciler.WireGuardPrivate(reconciler.ControlPlaneNode)]
	hub := secrets[reconciler.WireGuardPublic(reconciler.StorageNode)]
	if priv == "" || hub == "" {
		return tunnel.Config{}, fmt.Errorf("customer %s has no mesh keys yet (not applied)", customer)
	}
	storage := plan.Address{Kind: plan.ExoInstance, Name: plan.BaseName(customer) + "-storage"}
	d.mu.Lock()
	var ip string
	for _, r := range d.observed[customer] {
		if r.Address() == storage {
			ip = r.Outputs[plan.OutputPublicIP]
		}
	}
	d.mu.Unlock()
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return tunnel.Config{}, fmt.Errorf("customer %s: %w: %s has no observed public address", customer, ErrNoDataEndpoint, storage)
	}
	return tunnel.Config{
		PrivateKey: priv, Address: a.ControlPlaneWG(),
		Peer: tunnel.Peer{PublicKey: hub, Endpoint: netip.AddrPortFrom(addr, plan.WireGuardPort),
			AllowedIPs: []netip.Prefix{a.MeshSubnet()}, PersistentKeepalive: keepalive},
	}, nil
}
