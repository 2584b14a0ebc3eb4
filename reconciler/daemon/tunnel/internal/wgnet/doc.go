// Package wgnet runs one userspace WireGuard interface: wireguard-go's
// device over gVisor's netstack, with a UDP socket bound where the caller
// says. It is shared by the tunnel pool (the control plane's peer) and by
// wgtest (the test peers); it owns no policy.
package wgnet
