package hetzner

import (
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

func TestCanonicalRules(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"blank", "  ", ""},
		{"catalogue form is a fixed point", testRules, testRules},
		{"sorts rules", "in udp 51820 0.0.0.0/0,::/0;in tcp 22 0.0.0.0/0,::/0;in icmp - 0.0.0.0/0,::/0", testRules},
		{"sorts and dedups cidrs", "in tcp 22 ::/0,0.0.0.0/0,::/0", "in tcp 22 0.0.0.0/0,::/0"},
		{"normalises ipv6", "in tcp 22 2001:DB8::/32", "in tcp 22 2001:db8::/32"},
		{"extra spaces", "  in   tcp  22   10.0.0.0/8 ;out udp 53 1.1.1.1/32", "in tcp 22 10.0.0.0/8;out udp 53 1.1.1.1/32"},
		{"port range and any", "in tcp 80-85 0.0.0.0/0;in udp any 0.0.0.0/0", "in tcp 80-85 0.0.0.0/0;in udp any 0.0.0.0/0"},
		{"duplicate rules collapse", "in gre - 10.0.0.0/8;in gre - 10.0.0.0/8", "in gre - 10.0.0.0/8"},
		{"out rule", "out esp - 192.0.2.0/24", "out esp - 192.0.2.0/24"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CanonicalRules(tc.in)
			if err != nil {
				t.Fatalf("CanonicalRules(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("CanonicalRules(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseRulesErrors(t *testing.T) {
	cases := []struct {
		in, wantErr string
	}{
		{"in tcp 22", `want "DIR PROTO PORT|- CIDR,CIDR"`},
		{"in tcp 22 0.0.0.0/0 extra", `want "DIR PROTO PORT|- CIDR,CIDR"`},
		{"inbound tcp 22 0.0.0.0/0", `direction "inbound"`},
		{"in sctp 22 0.0.0.0/0", `protocol "sctp"`},
		{"in tcp - 0.0.0.0/0", `port "-"`},
		{"in tcp 0 0.0.0.0/0", `port "0"`},
		{"in tcp 65536 0.0.0.0/0", `port "65536"`},
		{"in tcp 85-80 0.0.0.0/0", `port "85-80"`},
		{"in tcp 022 0.0.0.0/0", `port "022"`},
		{"in icmp 8 0.0.0.0/0", "takes no port"},
		{"in tcp 22 10.0.0.1", `"10.0.0.1" is not a CIDR`},
		{"in tcp 22 10.0.0.1/8", "host bits"},
		{"in tcp 22 0.0.0.0/0,", `"" is not a CIDR`},
		{"in tcp 22 0.0.0.0/0;;in udp 53 0.0.0.0/0", "firewall rule 2"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseRules(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRules(%q) = %v, want an error containing %q", tc.in, err, tc.wantErr)
			}
		})
	}
}

func TestParseRulesToAPI(t *testing.T) {
	rules, err := ParseRules("in tcp 22 0.0.0.0/0,::/0;out udp 53 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	port22, port53 := "22", "53"
	_, v4all, _ := net.ParseCIDR("0.0.0.0/0")
	_, v6all, _ := net.ParseCIDR("::/0")
	_, ten, _ := net.ParseCIDR("10.0.0.0/8")
	want := []hcloud.FirewallRule{
		{Direction: "in", Protocol: "tcp", Port: &port22, SourceIPs: []net.IPNet{*v4all, *v6all}},
		{Direction: "out", Protocol: "udp", Port: &port53, DestinationIPs: []net.IPNet{*ten}},
	}
	norm := func(rs []hcloud.FirewallRule) []string {
		var out []string
		for _, r := range rs {
			s := string(r.Direction) + " " + string(r.Protocol)
			if r.Port != nil {
				s += " " + *r.Port
			}
			for _, n := range r.SourceIPs {
				s += " src=" + n.String()
			}
			for _, n := range r.DestinationIPs {
				s += " dst=" + n.String()
			}
			out = append(out, s)
		}
		return out
	}
	if diff := cmp.Diff(norm(want), norm(rules)); diff != "" {
		t.Errorf("API rules (-want +got):\n%s", diff)
	}
	// Formatting what the API returns gives the canonical string back.
	if got := FormatRules(want); got != "in tcp 22 0.0.0.0/0,::/0;out udp 53 10.0.0.0/8" {
		t.Errorf("FormatRules = %q", got)
	}
}

func FuzzCanonicalRules(f *testing.F) {
	f.Add(testRules)
	f.Add("out tcp 80-85 10.0.0.0/8,192.168.0.0/16")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := CanonicalRules(s)
		if err != nil {
			return
		}
		// Canonical is a fixed point.
		c2, err := CanonicalRules(c)
		if err != nil || c2 != c {
			t.Fatalf("CanonicalRules(%q) = %q, again = %q, %v", s, c, c2, err)
		}
	})
}
