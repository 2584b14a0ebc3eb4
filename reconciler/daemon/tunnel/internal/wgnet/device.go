package wgnet

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

// DefaultMTU is wg-quick's default for an IPv4 underlay (1500 - 80).
const DefaultMTU = 1420

// Key is a Curve25519 key (private, public or preshared).
type Key [32]byte

// Interface is one WireGuard interface.
type Interface struct {
	PrivateKey Key
	// Addresses are the interface's own addresses in its network.
	Addresses []netip.Addr
	// Listen is the UDP address the device binds (port 0: any free port).
	Listen netip.AddrPort
	MTU    int
	Peers  []Peer
	// Forward routes packets between peers (a hub), see forward.go.
	Forward bool
	// Log receives wireguard-go's messages (nil: discarded).
	Log *slog.Logger
}

// Peer is one peer of an Interface.
type Peer struct {
	PublicKey    Key
	PresharedKey *Key
	// Endpoint is the peer's UDP address; the zero value means the peer
	// is not dialled (it must reach us first).
	Endpoint   netip.AddrPort
	AllowedIPs []netip.Prefix
	Keepalive  time.Duration
}

// Device is a running interface.
type Device struct {
	dev  *device.Device
	net  *netstack.Net
	bind *bind
}

// Open starts the interface. Errors name the setting, never a key.
func Open(ifc Interface) (*Device, error) {
	if len(ifc.Addresses) == 0 {
		return nil, errors.New("wireguard interface has no address")
	}
	mtu := ifc.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	tdev, tnet, err := netstack.CreateNetTUN(ifc.Addresses, nil, mtu)
	if err != nil {
		return nil, fmt.Errorf("wireguard netstack: %w", err)
	}
	if ifc.Forward {
		tdev = newForwarder(tdev, ifc.Addresses, ifc.Peers)
	}
	b := newBind(ifc.Listen)
	dev := device.NewDevice(tdev, b, logger(ifc.Log))
	if err := dev.IpcSet(uapi(ifc)); err != nil {
		dev.Close()
		return nil, fmt.Errorf("configure wireguard device: %w", err)
	}
	if err := dev.Up(); err != nil {
		dev.Close()
		return nil, fmt.Errorf("start wireguard device: %w", err)
	}
	return &Device{dev: dev, net: tnet, bind: b}, nil
}

// uapi renders the configuration in wireguard-go's set protocol
// (https://www.wireguard.com/xplatform/); it holds the private key and
// must never be logged.
func uapi(ifc Interface) string {
	var s strings.Builder
	s.WriteString("private_key=" + hex.EncodeToString(ifc.PrivateKey[:]) + "\nreplace_peers=true\n")
	for _, p := range ifc.Peers {
		s.WriteString("public_key=" + hex.EncodeToString(p.PublicKey[:]) + "\n")
		if p.PresharedKey != nil {
			s.WriteString("preshared_key=" + hex.EncodeToString(p.PresharedKey[:]) + "\n")
		}
		if p.Endpoint.IsValid() {
			s.WriteString("endpoint=" + p.Endpoint.String() + "\n")
		}
		if p.Keepalive > 0 {
			s.WriteString("persistent_keepalive_interval=" + strconv.Itoa(int(p.Keepalive/time.Second)) + "\n")
		}
		s.WriteString("replace_allowed_ips=true\n")
		for _, a := range p.AllowedIPs {
			s.WriteString("allowed_ip=" + a.Masked().String() + "\n")
		}
	}
	return s.String()
}

func logger(l *slog.Logger) *device.Logger {
	if l == nil {
		return &device.Logger{Verbosef: device.DiscardLogf, Errorf: device.DiscardLogf}
	}
	// wireguard-go names peers by an abbreviated public key and never
	// prints the private key.
	return &device.Logger{
		Verbosef: func(format string, args ...any) { l.Debug("wireguard", "event", fmt.Sprintf(format, args...)) },
		Errorf:   func(format string, args ...any) { l.Warn("wireguard", "event", fmt.Sprintf(format, args...)) },
	}
}

// Net is the interface's network stack (dial and listen in it).
func (d *Device) Net() *netstack.Net { return d.net }

// LocalAddr is the UDP address the device listens on.
func (d *Device) LocalAddr() netip.AddrPort { return d.bind.localAddr() }

// LastHandshake is when the latest handshake with the peer completed
// (zero if none or no such peer).
func (d *Device) LastHandshake(peer Key) time.Time {
	get, err := d.dev.IpcGet()
	if err != nil {
		return time.Time{}
	}
	want := "public_key=" + hex.EncodeToString(peer[:])
	var in bool
	var sec, nsec int64
	for _, line := range strings.Split(get, "\n") {
		switch k, v, _ := strings.Cut(line, "="); {
		case k == "public_key":
			in = line == want
		case in && k == "last_handshake_time_sec":
			sec, _ = strconv.ParseInt(v, 10, 64)
		case in && k == "last_handshake_time_nsec":
			nsec, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if sec == 0 && nsec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, nsec)
}

// Close stops the device and its network stack, and waits for its
// goroutines.
func (d *Device) Close() error {
	// netstack's Close closes the channel its TCP goroutines send on
	// without waiting for them (wireguard-go ecfc5a8d5446), so a segment
	// arriving while a closed connection drains is answered by a RST that
	// races the close. Taking the device down first stops the segments
	// from arriving; the stack's own queues are short.
	_ = d.dev.Down()
	time.Sleep(10 * time.Millisecond)
	d.dev.Close()
	<-d.dev.Wait()
	return nil
}

var _ tun.Device = (*forwarder)(nil)
