package hetznersim

import (
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

type firewallRec struct {
	ID        int64                 `json:"id"`
	Name      string                `json:"name"`
	Labels    map[string]string     `json:"labels"`
	Created   time.Time             `json:"created"`
	Rules     []schema.FirewallRule `json:"rules"`
	Servers   []int64               `json:"servers"`   // applied directly
	Selectors []string              `json:"selectors"` // applied by label selector
}

// selectors parses the stored label selectors (they were validated when
// applied, so errors cannot occur).
func (f *firewallRec) parsedSelectors() []selector {
	out := make([]selector, 0, len(f.Selectors))
	for _, v := range f.Selectors {
		if sel, err := parseSelector(v); err == nil {
			out = append(out, sel)
		}
	}
	return out
}

func (f *firewallRec) inUse() bool { return len(f.Servers) > 0 || len(f.Selectors) > 0 }

func (s *Server) firewallIDs() []int64 {
	ids := make([]int64, 0, len(s.st.Firewalls))
	for id := range s.st.Firewalls {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// firewallsOf lists the firewalls that apply to a server, directly or by
// label selector. A server without a public interface has none.
func (s *Server) firewallsOf(r *serverRec) []schema.ServerFirewall {
	out := []schema.ServerFirewall{}
	if r.IPv4 == "" && r.IPv6 == "" {
		return out
	}
	for _, id := range s.firewallIDs() {
		f := s.st.Firewalls[id]
		applied := containsID(f.Servers, r.ID)
		for _, sel := range f.parsedSelectors() {
			applied = applied || sel.matches(r.Labels)
		}
		if applied {
			out = append(out, schema.ServerFirewall{ID: id, Status: "applied"})
		}
	}
	return out
}

func (s *Server) renderFirewall(f *firewallRec) schema.Firewall {
	out := schema.Firewall{ID: f.ID, Name: f.Name, Labels: labelsOrEmpty(f.Labels), Created: f.Created,
		Rules: f.Rules, AppliedTo: []schema.FirewallResource{}}
	if out.Rules == nil {
		out.Rules = []schema.FirewallRule{}
	}
	for _, id := range f.Servers {
		out.AppliedTo = append(out.AppliedTo, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: id}})
	}
	sels := f.parsedSelectors()
	for i, v := range f.Selectors {
		res := schema.FirewallResource{Type: "label_selector", LabelSelector: &schema.FirewallResourceLabelSelector{Selector: v},
			AppliedToResources: []schema.FirewallResource{}}
		for _, sid := range s.order {
			if r := s.st.Servers[sid]; (r.IPv4 != "" || r.IPv6 != "") && sels[i].matches(r.Labels) {
				res.AppliedToResources = append(res.AppliedToResources, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: sid}})
			}
		}
		out.AppliedTo = append(out.AppliedTo, res)
	}
	return out
}

var firewallProtocols = []string{"tcp", "udp", "icmp", "esp", "gre"}

func validPort(p string) bool {
	if p == "any" {
		return true
	}
	lo, hi, isRange := strings.Cut(p, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 1 || a > 65535 {
		return false
	}
	if !isRange {
		return true
	}
	b, err := strconv.Atoi(hi)
	return err == nil && b >= a && b <= 65535
}

func validateRules(in []schema.FirewallRuleRequest) ([]schema.FirewallRule, *apiError) {
	out := make([]schema.FirewallRule, 0, len(in))
	if len(in) > 50 {
		return nil, errInvalid("rules", "at most 50 rules are allowed")
	}
	for i, r := range in {
		field := "rules[" + strconv.Itoa(i) + "]"
		if r.Direction != "in" && r.Direction != "out" {
			return nil, errInvalid(field+".direction", "direction must be in or out")
		}
		if !contains(firewallProtocols, r.Protocol) {
			return nil, errInvalid(field+".protocol", "protocol must be one of tcp, udp, icmp, esp, gre")
		}
		if r.Protocol == "tcp" || r.Protocol == "udp" {
			if r.Port == nil || !validPort(*r.Port) {
				return nil, errInvalid(field+".port", "port must be a port, a range like 80-85, or any")
			}
		} else if r.Port != nil {
			return nil, errInvalid(field+".port", "port is only allowed for tcp and udp")
		}
		if r.Direction == "in" && (len(r.SourceIPs) == 0 || len(r.DestinationIPs) > 0) {
			return nil, errInvalid(field+".source_ips", "inbound rules need source_ips and no destination_ips")
		}
		if r.Direction == "out" && (len(r.DestinationIPs) == 0 || len(r.SourceIPs) > 0) {
			return nil, errInvalid(field+".destination_ips", "outbound rules need destination_ips and no source_ips")
		}
		for _, ip := range append(append([]string(nil), r.SourceIPs...), r.DestinationIPs...) {
			if _, err := netip.ParsePrefix(ip); err != nil {
				return nil, errInvalid(field, "%q is not a CIDR range", ip)
			}
		}
		if r.Description != nil && len(*r.Description) > 255 {
			return nil, errInvalid(field+".description", "description must not exceed 255 characters")
		}
		rule := schema.FirewallRule{Direction: r.Direction, Protocol: r.Protocol, Port: r.Port, Description: r.Description,
			SourceIPs: append([]string{}, r.SourceIPs...), DestinationIPs: append([]string{}, r.DestinationIPs...)}
		out = append(out, rule)
	}
	return out, nil
}

// applyTo applies f to resources, one action per resource.
func (s *Server) applyTo(f *firewallRec, res []schema.FirewallResource, now time.Time) ([]*actionRec, *apiError) {
	// Validate everything first: a request is applied whole or not at all.
	for _, r := range res {
		switch r.Type {
		case "server":
			if r.Server == nil {
				return nil, errInvalid("apply_to", "server resource without server id")
			}
			srv := s.st.Servers[r.Server.ID]
			if srv == nil {
				return nil, newErr(http.StatusNotFound, "firewall_resource_not_found", "server %d not found", r.Server.ID)
			}
			if srv.IPv4 == "" && srv.IPv6 == "" {
				return nil, newErr(http.StatusUnprocessableEntity, "private_net_only_server", "server %d has no public interface", srv.ID)
			}
			if containsID(f.Servers, srv.ID) {
				return nil, newErr(http.StatusUnprocessableEntity, "firewall_already_applied", "firewall %d is already applied to server %d", f.ID, srv.ID)
			}
		case "label_selector":
			if r.LabelSelector == nil {
				return nil, errInvalid("apply_to", "label_selector resource without selector")
			}
			if _, err := parseSelector(r.LabelSelector.Selector); err != nil {
				return nil, errInvalid("label_selector", "%v", err)
			}
			if contains(f.Selectors, r.LabelSelector.Selector) {
				return nil, newErr(http.StatusUnprocessableEntity, "firewall_already_applied", "firewall %d is already applied to %q", f.ID, r.LabelSelector.Selector)
			}
		default:
			return nil, errInvalid("type", "resource type must be server or label_selector")
		}
	}
	var actions []*actionRec
	for _, r := range res {
		if r.Type == "server" {
			f.Servers = append(f.Servers, r.Server.ID)
			actions = append(actions, s.newAction(now, "apply_firewall", ref("firewall", f.ID), ref("server", r.Server.ID)))
		} else {
			f.Selectors = append(f.Selectors, r.LabelSelector.Selector)
			actions = append(actions, s.newAction(now, "apply_firewall", ref("firewall", f.ID)))
		}
	}
	return actions, nil
}

func (s *Server) removeFrom(f *firewallRec, res []schema.FirewallResource, now time.Time) ([]*actionRec, *apiError) {
	for _, r := range res {
		switch r.Type {
		case "server":
			if r.Server == nil {
				return nil, errInvalid("remove_from", "server resource without server id")
			}
			srv := s.st.Servers[r.Server.ID]
			if srv == nil {
				return nil, newErr(http.StatusNotFound, "firewall_resource_not_found", "server %d not found", r.Server.ID)
			}
			if !containsID(f.Servers, srv.ID) {
				for _, sel := range f.parsedSelectors() {
					if sel.matches(srv.Labels) {
						return nil, newErr(http.StatusUnprocessableEntity, "firewall_managed_by_label_selector",
							"firewall %d is applied to server %d by a label selector", f.ID, srv.ID)
					}
				}
			}
		case "label_selector":
			if r.LabelSelector == nil {
				return nil, errInvalid("remove_from", "label_selector resource without selector")
			}
		default:
			return nil, errInvalid("type", "resource type must be server or label_selector")
		}
	}
	var actions []*actionRec
	for _, r := range res {
		if r.Type == "server" {
			f.Servers = removeID(f.Servers, r.Server.ID)
			actions = append(actions, s.newAction(now, "remove_firewall", ref("firewall", f.ID), ref("server", r.Server.ID)))
		} else {
			kept := f.Selectors[:0]
			for _, v := range f.Selectors {
				if v != r.LabelSelector.Selector {
					kept = append(kept, v)
				}
			}
			f.Selectors = kept
			actions = append(actions, s.newAction(now, "remove_firewall", ref("firewall", f.ID)))
		}
	}
	return actions, nil
}

func (s *Server) firewallByName(name string) *firewallRec {
	for _, f := range s.st.Firewalls {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// updateFirewall serves PUT /firewalls/{id}.
func (s *Server) updateFirewall(q *request, f *firewallRec) (int, any, *apiError) {
	var in schema.FirewallUpdateRequest
	if err := q.decode(&in); err != nil {
		return 0, nil, err
	}
	if in.Name != nil && *in.Name != f.Name {
		if *in.Name == "" {
			return 0, nil, errInvalid("name", "name must not be empty")
		}
		if s.firewallByName(*in.Name) != nil {
			return 0, nil, errUnique("name")
		}
	}
	if in.Labels != nil {
		if err := validateLabels(*in.Labels); err != nil {
			return 0, nil, errInvalid("labels", "%v", err)
		}
		f.Labels = copyLabels(*in.Labels)
	}
	if in.Name != nil {
		f.Name = *in.Name
	}
	return http.StatusOK, map[string]any{"firewall": s.renderFirewall(f)}, nil
}

// deleteFirewall serves DELETE /firewalls/{id}: a firewall still applied
// to a resource is refused.
func (s *Server) deleteFirewall(q *request, f *firewallRec) (int, any, *apiError) {
	if f.inUse() {
		return 0, nil, newErr(http.StatusUnprocessableEntity, "resource_in_use", "firewall with ID '%d' is still in use", f.ID)
	}
	delete(s.st.Firewalls, f.ID)
	return http.StatusNoContent, nil, nil
}

// firewallAction serves POST /firewalls/{id}/actions/{action}.
func (s *Server) firewallAction(q *request, f *firewallRec, action string, now time.Time) (int, any, *apiError) {
	var actions []*actionRec
	switch action {
	case "set_rules":
		var in schema.FirewallActionSetRulesRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		rules, err := validateRules(in.Rules)
		if err != nil {
			return 0, nil, err
		}
		f.Rules = rules
		actions = append(actions, s.newAction(now, "set_firewall_rules", ref("firewall", f.ID)))
		for _, sid := range f.Servers {
			actions = append(actions, s.newAction(now, "apply_firewall", ref("firewall", f.ID), ref("server", sid)))
		}
	case "apply_to_resources":
		var in schema.FirewallActionApplyToResourcesRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		var err *apiError
		if actions, err = s.applyTo(f, in.ApplyTo, now); err != nil {
			return 0, nil, err
		}
	case "remove_from_resources":
		var in schema.FirewallActionRemoveFromResourcesRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		var err *apiError
		if actions, err = s.removeFrom(f, in.RemoveFrom, now); err != nil {
			return 0, nil, err
		}
	default:
		return 0, nil, newErr(http.StatusNotFound, "not_found", "firewall action %q not supported by the simulator", action)
	}
	return http.StatusCreated, actionsBody(actions...), nil
}

func (s *Server) listFirewalls(q *request) (int, any, *apiError) {
	lq, err := parseList(q.query, "id", "name", "created")
	if err != nil {
		return 0, nil, err
	}
	var list []*firewallRec
	for _, id := range s.firewallIDs() {
		f := s.st.Firewalls[id]
		if (lq.name == "" || f.Name == lq.name) && lq.sel.matches(f.Labels) {
			list = append(list, f)
		}
	}
	sortBy(list, lq.sorts, func(a, b *firewallRec, fl string) int {
		switch fl {
		case "name":
			return cmpStr(a.Name, b.Name)
		case "created":
			return cmpTime(a.Created, b.Created)
		}
		return cmpInt(a.ID, b.ID)
	})
	pg, meta := page(list, lq)
	out := make([]schema.Firewall, 0, len(pg))
	for _, f := range pg {
		out = append(out, s.renderFirewall(f))
	}
	return http.StatusOK, listBody("firewalls", out, meta), nil
}

func (s *Server) createFirewall(q *request, now time.Time) (int, any, *apiError) {
	var in schema.FirewallCreateRequest
	if err := q.decode(&in); err != nil {
		return 0, nil, err
	}
	if in.Name == "" {
		return 0, nil, errInvalid("name", "name is required")
	}
	if s.firewallByName(in.Name) != nil {
		return 0, nil, errUnique("name")
	}
	labels := map[string]string{}
	if in.Labels != nil {
		labels = copyLabels(*in.Labels)
	}
	if err := validateLabels(labels); err != nil {
		return 0, nil, errInvalid("labels", "%v", err)
	}
	rules, aerr := validateRules(in.Rules)
	if aerr != nil {
		return 0, nil, aerr
	}
	f := &firewallRec{Name: in.Name, Labels: labels, Created: now.UTC().Truncate(time.Second), Rules: rules,
		Servers: []int64{}, Selectors: []string{}}
	f.ID = s.st.nextID("firewall")
	actions, aerr := s.applyTo(f, in.ApplyTo, now)
	if aerr != nil {
		s.st.Next["firewall"]-- // nothing was created; the real API does not burn ids either
		return 0, nil, aerr
	}
	s.st.Firewalls[f.ID] = f
	return http.StatusCreated, map[string]any{"firewall": s.renderFirewall(f), "actions": actionsBody(actions...)["actions"]}, nil
}
