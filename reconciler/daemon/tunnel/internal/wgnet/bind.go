package wgnet

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
)

// bind is a conn.Bind on one UDP socket bound to a chosen address.
// wireguard-go's StdNetBind always listens on every interface (":port"),
// which the tests may not do (they bind 127.0.0.1 only) and the control
// plane need not do; this one listens where it is told.
type bind struct {
	network string // "udp4" for an IPv4 listen address, "udp" for the wildcard
	addr    netip.AddrPort

	mu   sync.Mutex
	conn *net.UDPConn
}

var _ conn.Bind = (*bind)(nil)

const socketBuffer = 7 << 20 // wireguard-go's socketBufferSize

func newBind(listen netip.AddrPort) *bind {
	network := "udp"
	if listen.Addr().Is4() && !listen.Addr().IsUnspecified() {
		network = "udp4"
	}
	return &bind{network: network, addr: listen}
}

// Open listens on the configured address; port is the device's
// listen_port, which is never set (0), so the configured port applies.
func (b *bind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil {
		return nil, 0, conn.ErrBindAlreadyOpen
	}
	if port == 0 {
		port = b.addr.Port()
	}
	var la *net.UDPAddr
	if b.addr.Addr().IsValid() && !b.addr.Addr().IsUnspecified() {
		la = net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.addr.Addr(), port))
	} else {
		la = &net.UDPAddr{Port: int(port)}
	}
	c, err := net.ListenUDP(b.network, la)
	if err != nil {
		return nil, 0, fmt.Errorf("listen for WireGuard on %s: %w", la, err)
	}
	// As wireguard-go's own bind does: bursts of a fast transfer
	// overflow the default socket buffers (~208 KiB), and every dropped
	// datagram is a TCP retransmission inside the tunnel. The kernel caps
	// the size at net.core.[rw]mem_max.
	_ = c.SetReadBuffer(socketBuffer)
	_ = c.SetWriteBuffer(socketBuffer)
	b.conn = c
	recv := func(packets [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		n, ap, err := c.ReadFromUDPAddrPort(packets[0])
		if err != nil {
			return 0, err
		}
		sizes[0] = n
		eps[0] = endpoint(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		return 1, nil
	}
	return []conn.ReceiveFunc{recv}, uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
}

func (b *bind) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		return nil
	}
	err := b.conn.Close()
	b.conn = nil
	return err
}

// localAddr is the socket's address (invalid before Open).
func (b *bind) localAddr() netip.AddrPort {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		return netip.AddrPort{}
	}
	return b.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func (b *bind) SetMark(uint32) error { return nil }

func (b *bind) BatchSize() int { return 1 }

func (b *bind) Send(bufs [][]byte, ep conn.Endpoint) error {
	e, ok := ep.(endpoint)
	if !ok {
		return conn.ErrWrongEndpointType
	}
	b.mu.Lock()
	c := b.conn
	b.mu.Unlock()
	if c == nil {
		return net.ErrClosed
	}
	for _, buf := range bufs {
		if _, err := c.WriteToUDPAddrPort(buf, netip.AddrPort(e)); err != nil {
			return err
		}
	}
	return nil
}

func (b *bind) ParseEndpoint(s string) (conn.Endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, err
	}
	return endpoint(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())), nil
}

// endpoint is a peer's UDP address; there is no sticky source address.
type endpoint netip.AddrPort

func (e endpoint) ClearSrc()           {}
func (e endpoint) SrcToString() string { return "" }
func (e endpoint) DstToString() string { return netip.AddrPort(e).String() }
func (e endpoint) DstToBytes() []byte {
	b, _ := netip.AddrPort(e).MarshalBinary()
	return b
}
func (e endpoint) DstIP() netip.Addr { return netip.AddrPort(e).Addr() }
func (e endpoint) SrcIP() netip.Addr { return netip.Addr{} }
