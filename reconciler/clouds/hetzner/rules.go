package hetzner

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// The canonical firewall rules string (plan/doc.go): rules sorted and
// joined with ";", each "DIR PROTO PORT|- CIDR,CIDR", e.g.
//
//	in icmp - 0.0.0.0/0,::/0;in tcp 22 0.0.0.0/0,::/0
//
// DIR is in or out; the CIDRs are the source ranges of an in rule and the
// destination ranges of an out rule, sorted and without duplicates. PORT
// is a port, a range "80-85" or "any" for tcp and udp, and "-" for the
// protocols without ports (icmp, esp, gre). Descriptions are not part of
// the canonical form. The empty string is "no rules".

// ParseRules reads a rules string (canonical or not: order, spacing and
// CIDR order may vary) into API rules.
func ParseRules(s string) ([]hcloud.FirewallRule, error) {
	var out []hcloud.FirewallRule
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for i, part := range strings.Split(s, ";") {
		f := strings.Fields(part)
		if len(f) != 4 {
			return nil, fmt.Errorf("firewall rule %d %q: want \"DIR PROTO PORT|- CIDR,CIDR\"", i+1, strings.TrimSpace(part))
		}
		r, err := parseRule(f)
		if err != nil {
			return nil, fmt.Errorf("firewall rule %d %q: %w", i+1, strings.TrimSpace(part), err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRule(f []string) (hcloud.FirewallRule, error) {
	var r hcloud.FirewallRule
	switch f[0] {
	case "in", "out":
		r.Direction = hcloud.FirewallRuleDirection(f[0])
	default:
		return r, fmt.Errorf("direction %q: want in or out", f[0])
	}
	proto := hcloud.FirewallRuleProtocol(f[1])
	switch proto {
	case hcloud.FirewallRuleProtocolTCP, hcloud.FirewallRuleProtocolUDP:
		if !validPort(f[2]) {
			return r, fmt.Errorf("port %q: want 1-65535, a range like 80-85, or any", f[2])
		}
		p := f[2]
		r.Port = &p
	case hcloud.FirewallRuleProtocolICMP, hcloud.FirewallRuleProtocolESP, hcloud.FirewallRuleProtocolGRE:
		if f[2] != "-" {
			return r, fmt.Errorf("protocol %s takes no port: write - instead of %q", proto, f[2])
		}
	default:
		return r, fmt.Errorf("protocol %q: want tcp, udp, icmp, esp or gre", f[1])
	}
	r.Protocol = proto
	var nets []net.IPNet
	for _, c := range strings.Split(f[3], ",") {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return r, fmt.Errorf("%q is not a CIDR range", c)
		}
		if p != p.Masked() {
			return r, fmt.Errorf("%q has host bits set (want %s)", c, p.Masked())
		}
		nets = append(nets, prefixToIPNet(p))
	}
	if r.Direction == hcloud.FirewallRuleDirectionIn {
		r.SourceIPs = nets
	} else {
		r.DestinationIPs = nets
	}
	return r, nil
}

func validPort(p string) bool {
	if p == "any" {
		return true
	}
	lo, hi, isRange := strings.Cut(p, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 1 || a > 65535 || strconv.Itoa(a) != lo {
		return false
	}
	if !isRange {
		return true
	}
	b, err := strconv.Atoi(hi)
	return err == nil && b > a && b <= 65535 && strconv.Itoa(b) == hi
}

func prefixToIPNet(p netip.Prefix) net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}

// cidrString normalises an API range (lower-case IPv6, shortest form).
func cidrString(n net.IPNet) string {
	if p, err := netip.ParsePrefix(n.String()); err == nil {
		return p.String()
	}
	return n.String()
}

// FormatRules writes API rules in the canonical form.
func FormatRules(rules []hcloud.FirewallRule) string {
	out := make([]string, 0, len(rules))
	for _, r := range rules {
		port := "-"
		if r.Port != nil && *r.Port != "" {
			port = *r.Port
		}
		nets := r.SourceIPs
		if r.Direction == hcloud.FirewallRuleDirectionOut {
			nets = r.DestinationIPs
		}
		seen := map[string]bool{}
		var cidrs []string
		for _, n := range nets {
			if c := cidrString(n); !seen[c] {
				seen[c] = true
				cidrs = append(cidrs, c)
			}
		}
		sort.Strings(cidrs)
		out = append(out, string(r.Direction)+" "+string(r.Protocol)+" "+port+" "+strings.Join(cidrs, ","))
	}
	sort.Strings(out)
	return strings.Join(dedupSorted(out), ";")
}

func dedupSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// CanonicalRules validates a rules string and returns its canonical form.
func CanonicalRules(s string) (string, error) {
	rules, err := ParseRules(s)
	if err != nil {
		return "", err
	}
	return FormatRules(rules), nil
}
