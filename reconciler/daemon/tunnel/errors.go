package tunnel

import "errors"

var (
	// ErrBadConfig: the customer's tunnel configuration is unusable (the
	// message names the field, never a key). Terminal until the
	// configuration changes.
	ErrBadConfig = errors.New("bad tunnel configuration")
	// ErrOutsideAllowedIPs: the address is not in the customer's mesh;
	// nothing was sent.
	ErrOutsideAllowedIPs = errors.New("address is outside the customer's WireGuard AllowedIPs")
	// ErrTooManyTunnels: MaxTunnels tunnels are open and every one has
	// open connections. Retryable.
	ErrTooManyTunnels = errors.New("too many open tunnels")
	// ErrBadAddress: the dial address is not IP:port, or the network is
	// not tcp or udp.
	ErrBadAddress = errors.New("bad tunnel dial address")
	// ErrClosed: the pool is closed.
	ErrClosed = errors.New("tunnel pool is closed")
)
