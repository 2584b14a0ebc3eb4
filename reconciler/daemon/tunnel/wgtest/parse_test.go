package wgtest

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	k1 = "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd28="
	k2 = "d29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGU="
	k3 = "c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3I="
)

func TestParse(t *testing.T) {
	text := `# rendered by apply
[Interface]
Address = 10.64.0.1/25
ListenPort = 51820
PrivateKey = ` + k1 + `
PostUp = sysctl -w net.ipv4.ip_forward=1

[Peer] # control plane
publickey=` + k2 + `
AllowedIPs = 10.64.0.2/32
[peer]
PublicKey = ` + k3 + `
PresharedKey = ` + k1 + `
Endpoint = [2001:db8::1]:51820
AllowedIPs = 10.64.0.3, 10.64.0.4/32
AllowedIPs = fd00::3/128
PersistentKeepalive = 25
`
	got, err := Parse("storage.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Interface: Interface{PrivateKey: k1, Address: []netip.Prefix{netip.MustParsePrefix("10.64.0.1/25")}, ListenPort: 51820},
		Peers: []Peer{
			{Line: 8, PublicKey: k2, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.64.0.2/32")}},
			{Line: 11, PublicKey: k3, PresharedKey: k1, Endpoint: "[2001:db8::1]:51820",
				AllowedIPs:          []netip.Prefix{netip.MustParsePrefix("10.64.0.3/32"), netip.MustParsePrefix("10.64.0.4/32"), netip.MustParsePrefix("fd00::3/128")},
				PersistentKeepalive: 25 * time.Second},
		},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Fatalf("Parse (-want +got):\n%s", d)
	}
	for _, out := range []string{fmt.Sprint(got), fmt.Sprintf("%+v", got), fmt.Sprintf("%#v", got)} {
		if strings.Contains(out, k1) || !strings.Contains(out, k3) {
			t.Fatalf("printed configuration shows a private or preshared key, or hides a public one: %s", out)
		}
	}
	again, err := Parse("marshalled", got.Marshal())
	if err != nil {
		t.Fatalf("Marshal output does not parse: %v\n%s", err, got.Marshal())
	}
	if !bytes.Equal(again.Marshal(), got.Marshal()) {
		t.Fatalf("Marshal is not stable:\n%s\n---\n%s", got.Marshal(), again.Marshal())
	}
}

func TestParseErrors(t *testing.T) {
	iface := "[Interface]\nPrivateKey = " + k1 + "\n"
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "c.conf:1: no [Interface] section"},
		{"setting before section", "PrivateKey = " + k1 + "\n", "c.conf:1: setting PrivateKey before any [Interface] or [Peer] section"},
		{"not a setting", "[Interface]\nPrivateKey\n", "c.conf:2: [Interface]: line is neither a [section] nor Key = Value"},
		{"unknown section", "[Interfaces]\n", "c.conf:1: unknown section [Interfaces]"},
		{"second interface", iface + "[Interface]\n", "c.conf:3: [Interface]: second [Interface] section (the first is on line 1)"},
		{"no private key", "[Interface]\nAddress = 10.0.0.1/24\n", "c.conf:1: [Interface]: PrivateKey is missing"},
		{"bad private key", "[Interface]\nPrivateKey = " + k1[:43] + "#\n", "c.conf:2: [Interface] PrivateKey: not a WireGuard key"},
		{"repeated key", iface + "ListenPort = 1\nListenPort = 2\n", "c.conf:4: [Interface] ListenPort: given twice (first on line 3)"},
		{"bad port", iface + "ListenPort = 70000\n", `c.conf:3: [Interface] ListenPort: "70000" is not a port number`},
		{"bad address", iface + "Address = 10.0.0.300/24\n", `c.conf:3: [Interface] Address: "10.0.0.300/24": not an IP address`},
		{"empty address", iface + "Address =\n", "c.conf:3: [Interface] Address: is empty"},
		{"unknown interface key", iface + "Adress = 10.0.0.1\n", "c.conf:3: [Interface] Adress: unknown key in [Interface]"},
		{"peer without key", iface + "[Peer]\nAllowedIPs = 10.0.0.2/32\n", "c.conf:3: [Peer]: PublicKey is missing"},
		{"peer key twice", iface + "[Peer]\nPublicKey = " + k2 + "\n[Peer]\nPublicKey = " + k2 + "\n",
			"c.conf:5: [Peer] PublicKey: the same key as the peer on line 3"},
		{"bad endpoint", iface + "[Peer]\nPublicKey = " + k2 + "\nEndpoint = 10.0.0.1\n", `c.conf:5: [Peer] Endpoint: "10.0.0.1" is not host:port`},
		{"endpoint port 0", iface + "[Peer]\nPublicKey = " + k2 + "\nEndpoint = 10.0.0.1:0\n", `c.conf:5: [Peer] Endpoint: "10.0.0.1:0": port "0" is not 1..65535`},
		{"bare ipv6 endpoint", iface + "[Peer]\nPublicKey = " + k2 + "\nEndpoint = 2001:db8::1:51820\n", `is not host:port or [IPv6]:port`},
		{"bad host", iface + "[Peer]\nPublicKey = " + k2 + "\nEndpoint = bad_host:51820\n", `"bad_host" is neither an IP address nor a host name`},
		{"bad allowed ip", iface + "[Peer]\nPublicKey = " + k2 + "\nAllowedIPs = 10.0.0.0/33\n", `c.conf:5: [Peer] AllowedIPs: "10.0.0.0/33"`},
		{"empty list entry", iface + "[Peer]\nPublicKey = " + k2 + "\nAllowedIPs = 10.0.0.1/32,\n", `empty list entry`},
		{"bad keepalive", iface + "[Peer]\nPublicKey = " + k2 + "\nPersistentKeepalive = often\n", `[Peer] PersistentKeepalive: "often" is not off`},
		{"key as a line", k1 + "\n", "c.conf:1: setting (text that looks like a key, not shown) before any"},
		{"key in a list", iface + "Address = " + k2 + "\n", "c.conf:3: [Interface] Address: (a value that looks like a key, not shown): not an IP"},
		{"key as a key name", iface + k2[:43] + "x = 1\n", "[Interface] (text that looks like a key, not shown): unknown key"},
		{"unknown peer key", iface + "[Peer]\nPublicKey = " + k2 + "\nAllowedIP = 10.0.0.1\n", `c.conf:5: [Peer] AllowedIP: unknown key in [Peer]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.conf", []byte(tc.text))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %q, want it to contain %q", err, tc.want)
			}
			for _, k := range []string{k1, k1[:43], k2, k2[:20]} {
				if strings.Contains(err.Error(), k) {
					t.Fatalf("err = %q carries a key", err)
				}
			}
		})
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	conf := "[Interface]\nAddress = 10.64.0.3/25\nPrivateKey = " + k1 + "\n[Peer]\nPublicKey = " + k2 +
		"\nEndpoint = 203.0.113.10:51820\nAllowedIPs = 10.64.0.0/25\n"
	_, err := Start([]byte(conf), Options{Listen: netip.MustParseAddrPort("127.0.0.1:0")})
	if err == nil || !strings.Contains(err.Error(), "wg0.conf:4: [Peer] Endpoint 203.0.113.10:51820 is not a loopback address") {
		t.Fatalf("err = %v, want the unmapped public endpoint refused", err)
	}
	_, err = Start([]byte(strings.Replace(conf, "203.0.113.10", "storage.example", 1)), Options{Listen: netip.MustParseAddrPort("127.0.0.1:0")})
	if err == nil || !strings.Contains(err.Error(), "host names are not resolved") {
		t.Fatalf("err = %v, want the host name refused", err)
	}
	_, err = Start([]byte(conf), Options{Listen: netip.MustParseAddrPort("0.0.0.0:0")})
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("err = %v, want a wildcard listen address refused", err)
	}
}

// FuzzParse: any input either parses into a configuration whose Marshal
// parses back to the same configuration, or fails with a located
// *ParseError; it never panics and never echoes a key.
func FuzzParse(f *testing.F) {
	f.Add("[Interface]\nPrivateKey = " + k1 + "\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = " + k2 + "\nEndpoint = 127.0.0.1:51820\nAllowedIPs = 10.0.0.0/24\n")
	f.Add("[interface]\nprivatekey=" + k1 + "#c\nlistenport=0\n[PEER]\npublickey=" + k2 + "\npersistentkeepalive=off\n")
	f.Add("[Peer]\n=\n")
	f.Add("[Interface]\nAddress = ::1, 10.0.0.1\nMTU = 1280\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse("f.conf", []byte(text))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("err = %v: not a located *ParseError", err)
			}
			if keyLike(err.Error()) {
				t.Fatalf("err = %q repeats text that looks like a key", err)
			}
			return
		}
		again, err := Parse("m.conf", c.Marshal())
		if err != nil {
			t.Fatalf("Marshal of a parsed configuration does not parse: %v\n%s", err, c.Marshal())
		}
		if !bytes.Equal(again.Marshal(), c.Marshal()) {
			t.Fatalf("round trip differs:\n%s\n---\n%s", c.Marshal(), again.Marshal())
		}
	})
}
