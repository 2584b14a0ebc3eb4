package wgnet

import (
	"encoding/binary"
	"net/netip"
	"os"
	"sync"

	"golang.zx2c4.com/wireguard/tun"
)

// forwarder makes an interface a hub: a packet that wireguard-go
// decrypted from one peer and whose destination is another peer's
// AllowedIPs goes straight back to wireguard-go for encryption to that
// peer, as a Linux storage node with net.ipv4.ip_forward=1 routes it
// out of wg0 again. Only packets for the interface's own addresses reach
// the netstack.
//
// Why here and not in gVisor: netstack.Net keeps its gVisor stack
// unexported, so its forwarding switch cannot be reached; and the TUN is
// exactly where the kernel's routing decision sits. The forwarded packet's
// TTL (hop limit) is decremented and the IPv4 header checksum recomputed;
// a packet whose TTL would reach zero, whose destination has no peer, or
// whose destination peer is its source peer is dropped (the kernel would
// answer ICMP unreachable; callers see a timeout).
type forwarder struct {
	tun.Device
	local  []netip.Addr
	routes []route

	fwd       chan []byte // packets going back out, each an owned copy
	in        chan []byte // packets the netstack sends, pumped from Device.Read
	closed    chan struct{}
	closeOnce sync.Once
	pumpDone  chan struct{}
}

type route struct {
	prefix netip.Prefix
	peer   int
}

// queueLen bounds the forwarding queue as a router's transmit queue
// does: a full queue drops (TCP backs off), it never blocks the
// receiving peer's goroutine.
const queueLen = 1024

func newForwarder(inner tun.Device, local []netip.Addr, peers []Peer) *forwarder {
	f := &forwarder{
		Device: inner, local: local,
		fwd: make(chan []byte, queueLen), in: make(chan []byte),
		closed: make(chan struct{}), pumpDone: make(chan struct{}),
	}
	for i, p := range peers {
		for _, a := range p.AllowedIPs {
			f.routes = append(f.routes, route{prefix: a.Masked(), peer: i})
		}
	}
	go f.pump()
	return f
}

// pump moves the netstack's outgoing packets to Read.
func (f *forwarder) pump() {
	defer close(f.pumpDone)
	mtu, _ := f.Device.MTU()
	bufs, sizes := [][]byte{make([]byte, mtu+64)}, []int{0}
	for {
		n, err := f.Device.Read(bufs, sizes, 0)
		if err != nil {
			return
		}
		if n == 0 {
			continue
		}
		p := append([]byte(nil), bufs[0][:sizes[0]]...)
		select {
		case f.in <- p:
		case <-f.closed:
			return
		}
	}
}

func (f *forwarder) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	var p []byte
	select {
	case p = <-f.fwd:
	case p = <-f.in:
	case <-f.closed:
		return 0, os.ErrClosed
	}
	sizes[0] = copy(bufs[0][offset:], p)
	return 1, nil
}

func (f *forwarder) Write(bufs [][]byte, offset int) (int, error) {
	local := make([][]byte, 0, len(bufs))
	for _, b := range bufs {
		pkt := b[offset:]
		src, dst, ok := addrs(pkt)
		if !ok || f.isLocal(dst) {
			local = append(local, b)
			continue
		}
		to, from := f.peerOf(dst), f.peerOf(src)
		if to < 0 || to == from || !decrementTTL(pkt) {
			continue
		}
		select {
		case f.fwd <- append([]byte(nil), pkt...):
		case <-f.closed:
			return 0, os.ErrClosed
		default: // queue full: drop
		}
	}
	if len(local) == 0 {
		return len(bufs), nil
	}
	if _, err := f.Device.Write(local, offset); err != nil {
		return 0, err
	}
	return len(bufs), nil
}

func (f *forwarder) Close() error {
	var err error
	f.closeOnce.Do(func() {
		close(f.closed)
		err = f.Device.Close()
		<-f.pumpDone
	})
	return err
}

func (f *forwarder) isLocal(a netip.Addr) bool {
	for _, l := range f.local {
		if l == a {
			return true
		}
	}
	return false
}

// peerOf is the peer whose AllowedIPs hold a by longest prefix, or -1.
func (f *forwarder) peerOf(a netip.Addr) int {
	best, bits := -1, -1
	for _, r := range f.routes {
		if r.prefix.Bits() > bits && r.prefix.Contains(a) {
			best, bits = r.peer, r.prefix.Bits()
		}
	}
	return best
}

// addrs reads an IP packet's source and destination.
func addrs(pkt []byte) (src, dst netip.Addr, ok bool) {
	if len(pkt) < 1 {
		return src, dst, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return src, dst, false
		}
		return netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20])), true
	case 6:
		if len(pkt) < 40 {
			return src, dst, false
		}
		return netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40])), true
	}
	return src, dst, false
}

// decrementTTL lowers the TTL or hop limit by one as a router does,
// reporting false when the packet must be dropped instead.
func decrementTTL(pkt []byte) bool {
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0x0f) * 4
		if pkt[8] <= 1 || ihl < 20 || len(pkt) < ihl {
			return false
		}
		pkt[8]--
		pkt[10], pkt[11] = 0, 0
		binary.BigEndian.PutUint16(pkt[10:12], checksum(pkt[:ihl]))
		return true
	case 6:
		if pkt[7] <= 1 {
			return false
		}
		pkt[7]--
		return true
	}
	return false
}

// checksum is the Internet checksum (RFC 1071) of an IPv4 header.
func checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
