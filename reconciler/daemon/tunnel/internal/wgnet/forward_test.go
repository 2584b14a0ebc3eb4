package wgnet

import (
	"net/netip"
	"testing"
)

func ipv4Packet(ttl byte, src, dst string) []byte {
	p := make([]byte, 28)
	p[0] = 0x45
	p[2], p[3] = 0, 28
	p[8], p[9] = ttl, 17
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	c := checksum(p[:20])
	p[10], p[11] = byte(c>>8), byte(c)
	return p
}

func TestDecrementTTL(t *testing.T) {
	p := ipv4Packet(64, "10.64.0.2", "10.64.0.3")
	if !decrementTTL(p) {
		t.Fatal("TTL 64 dropped")
	}
	if p[8] != 63 {
		t.Fatalf("TTL = %d, want 63", p[8])
	}
	if c := checksum(p[:20]); c != 0 { // a valid header sums to 0xffff
		t.Fatalf("header checksum invalid after rewrite (residue %#04x)", c)
	}
	if decrementTTL(ipv4Packet(1, "10.64.0.2", "10.64.0.3")) {
		t.Fatal("TTL 1 forwarded")
	}
	v6 := make([]byte, 40)
	v6[0], v6[7] = 0x60, 2
	if !decrementTTL(v6) || v6[7] != 1 || decrementTTL(v6) {
		t.Fatalf("IPv6 hop limit handling wrong (hop limit now %d)", v6[7])
	}
	bad := ipv4Packet(64, "10.64.0.2", "10.64.0.3")
	bad[0] = 0x4f // IHL 60 bytes, longer than the packet
	if decrementTTL(bad) {
		t.Fatal("truncated header forwarded")
	}
}

func TestForwardDecision(t *testing.T) {
	f := &forwarder{local: []netip.Addr{netip.MustParseAddr("10.64.0.1")}}
	for i, p := range []string{"10.64.0.2/32", "10.64.0.3/32", "10.64.0.0/25"} {
		f.routes = append(f.routes, route{prefix: netip.MustParsePrefix(p), peer: i})
	}
	for _, tc := range []struct {
		addr string
		want int
	}{
		{"10.64.0.2", 0}, {"10.64.0.3", 1}, {"10.64.0.9", 2}, {"10.64.0.200", -1}, {"10.64.1.3", -1},
	} {
		if got := f.peerOf(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("peerOf(%s) = %d, want %d (longest prefix)", tc.addr, got, tc.want)
		}
	}
	src, dst, ok := addrs(ipv4Packet(64, "10.64.0.2", "10.64.0.3"))
	if !ok || src.String() != "10.64.0.2" || dst.String() != "10.64.0.3" {
		t.Fatalf("addrs = %v %v %v", src, dst, ok)
	}
	if _, _, ok := addrs([]byte{0x45, 0}); ok {
		t.Fatal("short packet parsed")
	}
}
