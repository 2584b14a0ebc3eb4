package exoscale

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	v3 "github.com/exoscale/egoscale/v3"
)

// ruleSpec is one security group rule in the catalogue's terms: one
// target (a CIDR, or "sg:NAME" for a rule naming another group).
type ruleSpec struct {
	dir    string // in | out
	proto  string // tcp, udp, icmp, icmpv6, esp, gre, ah, ipip
	port   string // "22", "1000-2000", "-" (none / any ICMP), "T:C" (ICMP type:code)
	target string
}

func (r ruleSpec) head() string { return r.dir + " " + r.proto + " " + r.port }

// formatRules is the canonical form: one "DIR PROTO PORT TARGET,TARGET"
// entry per (dir, proto, port) with sorted targets, entries sorted and
// ";"-joined. Duplicates collapse.
func formatRules(rs []ruleSpec) string {
	targets := map[string][]string{}
	for _, r := range rs {
		if !slices.Contains(targets[r.head()], r.target) {
			targets[r.head()] = append(targets[r.head()], r.target)
		}
	}
	out := make([]string, 0, len(targets))
	for h, ts := range targets {
		slices.Sort(ts)
		out = append(out, h+" "+strings.Join(ts, ","))
	}
	slices.Sort(out)
	return strings.Join(out, ";")
}

// parseRules reads the catalogue form ("in tcp 22 0.0.0.0/0;in udp 51820
// 0.0.0.0/0"); an entry may list several comma-separated targets.
func parseRules(s string) ([]ruleSpec, error) {
	var out []ruleSpec
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, entry := range strings.Split(s, ";") {
		f := strings.Fields(entry)
		if len(f) != 4 {
			return nil, fmt.Errorf("rule %q: want \"DIR PROTO PORT CIDR[,CIDR]\"", entry)
		}
		r := ruleSpec{dir: f[0], proto: f[1], port: f[2]}
		if r.dir != "in" && r.dir != "out" {
			return nil, fmt.Errorf("rule %q: direction %q is not in or out", entry, r.dir)
		}
		switch r.proto {
		case "tcp", "udp":
			if _, _, err := portRange(r.port); err != nil {
				return nil, fmt.Errorf("rule %q: %w", entry, err)
			}
		case "icmp", "icmpv6":
			if r.port != "-" {
				if _, _, err := icmpTypeCode(r.port); err != nil {
					return nil, fmt.Errorf("rule %q: %w", entry, err)
				}
			}
		case "esp", "gre", "ah", "ipip":
			if r.port != "-" {
				return nil, fmt.Errorf("rule %q: protocol %s takes no port (use -)", entry, r.proto)
			}
		default:
			return nil, fmt.Errorf("rule %q: unknown protocol %q", entry, r.proto)
		}
		for _, t := range strings.Split(f[3], ",") {
			if name, ok := strings.CutPrefix(t, "sg:"); ok {
				if name == "" {
					return nil, fmt.Errorf("rule %q: empty security group name", entry)
				}
			} else if _, _, err := net.ParseCIDR(t); err != nil {
				return nil, fmt.Errorf("rule %q: %q is not a CIDR", entry, t)
			}
			rr := r
			rr.target = t
			out = append(out, rr)
		}
	}
	return out, nil
}

func portRange(s string) (int64, int64, error) {
	a, b, isRange := strings.Cut(s, "-")
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("port %q is not a number or range", s)
	}
	end := start
	if isRange {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("port %q is not a number or range", s)
		}
	}
	if start < 1 || end > 65535 || start > end {
		return 0, 0, fmt.Errorf("port %q is out of range 1-65535", s)
	}
	return start, end, nil
}

func icmpTypeCode(s string) (int64, int64, error) {
	a, b, ok := strings.Cut(s, ":")
	t, err1 := strconv.ParseInt(a, 10, 64)
	c, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || t < -1 || t > 254 || c < -1 || c > 254 {
		return 0, 0, fmt.Errorf("icmp %q: want - or TYPE:CODE", s)
	}
	return t, c, nil
}

// specOf reads an API rule into the catalogue's terms.
func specOf(r v3.SecurityGroupRule) ruleSpec {
	s := ruleSpec{dir: "in", proto: string(r.Protocol), port: "-", target: r.Network}
	if r.FlowDirection == "egress" {
		s.dir = "out"
	}
	switch r.Protocol {
	case "tcp", "udp":
		if r.StartPort == r.EndPort || r.EndPort == 0 {
			s.port = strconv.FormatInt(r.StartPort, 10)
		} else {
			s.port = strconv.FormatInt(r.StartPort, 10) + "-" + strconv.FormatInt(r.EndPort, 10)
		}
	case "icmp", "icmpv6":
		if r.ICMP != nil && (r.ICMP.Type != -1 || r.ICMP.Code != -1) {
			s.port = strconv.FormatInt(r.ICMP.Type, 10) + ":" + strconv.FormatInt(r.ICMP.Code, 10)
		}
	}
	if r.SecurityGroup != nil {
		name := r.SecurityGroup.Name
		if name == "" {
			name = string(r.SecurityGroup.ID)
		}
		s.target = "sg:" + name
	}
	return s
}

// request turns a spec into the API's add-rule request.
func (r ruleSpec) request() v3.AddRuleToSecurityGroupRequest {
	req := v3.AddRuleToSecurityGroupRequest{
		FlowDirection: "ingress",
		Protocol:      v3.AddRuleToSecurityGroupRequestProtocol(r.proto),
	}
	if r.dir == "out" {
		req.FlowDirection = "egress"
	}
	switch r.proto {
	case "tcp", "udp":
		req.StartPort, req.EndPort, _ = portRange(r.port) // validated by parseRules
	case "icmp", "icmpv6":
		if r.port != "-" {
			t, c, _ := icmpTypeCode(r.port)
			req.ICMP = &v3.AddRuleToSecurityGroupRequestICMP{Type: &t, Code: &c}
		}
	}
	if name, ok := strings.CutPrefix(r.target, "sg:"); ok {
		req.SecurityGroup = &v3.SecurityGroupResource{Name: name}
	} else {
		req.Network = r.target
	}
	return req
}
