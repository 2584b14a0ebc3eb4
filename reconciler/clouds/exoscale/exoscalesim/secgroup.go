package exoscalesim

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	v3 "github.com/exoscale/egoscale/v3"
	"github.com/google/uuid"
)

// Security groups are global in Exoscale (one list for every zone) and
// carry no labels: the project marks ownership by the "agentvdc-" name
// prefix.

func (c *call) listSecurityGroups() {
	vis := c.r.URL.Query().Get("visibility")
	switch vis {
	case "", "private":
	case "public":
		// The simulator has no public (Exoscale-provided) security groups.
		c.ok(v3.ListSecurityGroupsResponse{SecurityGroups: []v3.SecurityGroup{}})
		return
	default:
		c.fail(http.StatusBadRequest, fmt.Sprintf("visibility: %q is not one of private, public", vis))
		return
	}
	c.s.mu.RLock()
	recs := make([]*securityGroupRec, 0, len(c.s.st.SecurityGroups))
	for _, rec := range c.s.st.SecurityGroups {
		recs = append(recs, rec)
	}
	byCreated(recs, func(r *securityGroupRec) time.Time { return r.Created }, func(r *securityGroupRec) v3.UUID { return r.Group.ID })
	out := make([]v3.SecurityGroup, len(recs))
	for i, rec := range recs {
		out[i] = rec.Group
	}
	b, err := json.Marshal(v3.ListSecurityGroupsResponse{SecurityGroups: out})
	c.s.mu.RUnlock()
	c.raw(b, err)
}

func (c *call) getSecurityGroup() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	rec, found := c.s.st.SecurityGroups[string(id)]
	if !found {
		c.notFound("security group", id)
		return
	}
	c.ok(rec.Group)
}

func (c *call) createSecurityGroup() {
	var req v3.CreateSecurityGroupRequest
	if !c.decode(&req) {
		return
	}
	if req.Name == "" || len(req.Name) > 255 {
		c.fail(http.StatusBadRequest, "name: must be 1 to 255 characters")
		return
	}
	if len(req.Description) > 255 {
		c.fail(http.StatusBadRequest, "description: must be at most 255 characters")
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.st.SecurityGroups {
		if rec.Group.Name == req.Name {
			c.fail(http.StatusConflict, fmt.Sprintf("a security group named %q already exists", req.Name))
			return
		}
	}
	id := v3.UUID(uuid.NewString())
	c.operation("create-security-group", "security-group", id, func() {
		s.st.SecurityGroups[string(id)] = &securityGroupRec{
			Created: s.opts.Now(),
			Group:   v3.SecurityGroup{ID: id, Name: req.Name, Description: req.Description},
		}
	})
}

func (c *call) deleteSecurityGroup() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, found := s.st.SecurityGroups[string(id)]; !found {
		c.notFound("security group", id)
		return
	}
	for _, in := range s.st.Instances {
		for _, sg := range in.Instance.SecurityGroups {
			if sg.ID == id {
				c.fail(http.StatusConflict, fmt.Sprintf("security group %s is in use by instance %s", id, in.Instance.ID))
				return
			}
		}
	}
	for _, other := range s.st.SecurityGroups {
		if other.Group.ID == id {
			continue
		}
		for _, r := range other.Group.Rules {
			if r.SecurityGroup != nil && r.SecurityGroup.ID == id {
				c.fail(http.StatusConflict, fmt.Sprintf("security group %s is referenced by a rule of security group %s", id, other.Group.ID))
				return
			}
		}
	}
	c.operation("delete-security-group", "security-group", id, func() {
		delete(s.st.SecurityGroups, string(id))
	})
}

func ruleProtocol(p string) bool {
	switch p {
	case "tcp", "udp", "icmp", "icmpv6", "esp", "gre", "ah", "ipip":
		return true
	}
	return false
}

func (c *call) addRule() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	var req v3.AddRuleToSecurityGroupRequest
	if !c.decode(&req) {
		return
	}
	if req.FlowDirection != "ingress" && req.FlowDirection != "egress" {
		c.fail(http.StatusBadRequest, fmt.Sprintf("flow-direction: %q is not one of ingress, egress", req.FlowDirection))
		return
	}
	if !ruleProtocol(string(req.Protocol)) {
		c.fail(http.StatusBadRequest, fmt.Sprintf("protocol: %q is not one of tcp, udp, icmp, icmpv6, esp, gre, ah, ipip", req.Protocol))
		return
	}
	tcpudp := req.Protocol == "tcp" || req.Protocol == "udp"
	if tcpudp {
		if req.StartPort < 1 || req.StartPort > 65535 || req.EndPort < 1 || req.EndPort > 65535 {
			c.fail(http.StatusBadRequest, "start-port and end-port are required for tcp and udp (1 to 65535)")
			return
		}
		if req.StartPort > req.EndPort {
			c.fail(http.StatusBadRequest, fmt.Sprintf("start-port %d is greater than end-port %d", req.StartPort, req.EndPort))
			return
		}
	} else if req.StartPort != 0 || req.EndPort != 0 {
		c.fail(http.StatusBadRequest, fmt.Sprintf("ports are only valid for tcp and udp, not %s", req.Protocol))
		return
	}
	icmp := req.Protocol == "icmp" || req.Protocol == "icmpv6"
	if req.ICMP != nil && !icmp {
		c.fail(http.StatusBadRequest, "icmp: only valid for protocols icmp and icmpv6")
		return
	}
	if (req.Network == "") == (req.SecurityGroup == nil) {
		c.fail(http.StatusBadRequest, "exactly one of network and security-group is required")
		return
	}
	if req.Network != "" {
		if _, _, err := net.ParseCIDR(req.Network); err != nil {
			c.fail(http.StatusBadRequest, fmt.Sprintf("network: %q is not a CIDR", req.Network))
			return
		}
	}
	if len(req.Description) > 255 {
		c.fail(http.StatusBadRequest, "description: must be at most 255 characters")
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, found := s.st.SecurityGroups[string(id)]
	if !found {
		c.notFound("security group", id)
		return
	}
	rule := v3.SecurityGroupRule{
		ID:            v3.UUID(uuid.NewString()),
		Description:   req.Description,
		FlowDirection: v3.SecurityGroupRuleFlowDirection(req.FlowDirection),
		Protocol:      v3.SecurityGroupRuleProtocol(req.Protocol),
		Network:       req.Network,
		StartPort:     req.StartPort,
		EndPort:       req.EndPort,
	}
	if icmp {
		t, code := int64(-1), int64(-1)
		if req.ICMP != nil && req.ICMP.Type != nil {
			t = *req.ICMP.Type
		}
		if req.ICMP != nil && req.ICMP.Code != nil {
			code = *req.ICMP.Code
		}
		rule.ICMP = &v3.SecurityGroupRuleICMP{Type: t, Code: code}
	}
	if ref := req.SecurityGroup; ref != nil {
		var target *securityGroupRec
		for _, g := range s.st.SecurityGroups {
			if (ref.ID != "" && g.Group.ID == ref.ID) || (ref.ID == "" && ref.Name != "" && g.Group.Name == ref.Name) {
				target = g
				break
			}
		}
		if target == nil {
			c.fail(http.StatusNotFound, "security-group: the referenced security group does not exist")
			return
		}
		rule.SecurityGroup = &v3.SecurityGroupResource{ID: target.Group.ID, Name: target.Group.Name, Visibility: "private"}
	}
	for _, r := range rec.Group.Rules {
		if sameRule(r, rule) {
			c.fail(http.StatusConflict, "an identical rule already exists in this security group")
			return
		}
	}
	c.operation("add-rule-to-security-group", "security-group", id, func() {
		rec.Group.Rules = append(append([]v3.SecurityGroupRule(nil), rec.Group.Rules...), rule)
	})
}

func sameRule(a, b v3.SecurityGroupRule) bool {
	sgA, sgB := v3.UUID(""), v3.UUID("")
	if a.SecurityGroup != nil {
		sgA = a.SecurityGroup.ID
	}
	if b.SecurityGroup != nil {
		sgB = b.SecurityGroup.ID
	}
	icmpA, icmpB := v3.SecurityGroupRuleICMP{}, v3.SecurityGroupRuleICMP{}
	if a.ICMP != nil {
		icmpA = *a.ICMP
	}
	if b.ICMP != nil {
		icmpB = *b.ICMP
	}
	return a.FlowDirection == b.FlowDirection && a.Protocol == b.Protocol && a.Network == b.Network &&
		a.StartPort == b.StartPort && a.EndPort == b.EndPort && sgA == sgB && icmpA == icmpB
}

func (c *call) deleteRule() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	ruleID, ok := c.id(1)
	if !ok {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, found := s.st.SecurityGroups[string(id)]
	if !found {
		c.notFound("security group", id)
		return
	}
	var keep []v3.SecurityGroupRule
	found = false
	for _, r := range rec.Group.Rules {
		if r.ID == ruleID {
			found = true
			continue
		}
		keep = append(keep, r)
	}
	if !found {
		c.notFound("security group rule", ruleID)
		return
	}
	c.operation("delete-rule-from-security-group", "security-group", id, func() {
		rec.Group.Rules = keep
	})
}

// sgMembership attaches (attach=true) or detaches an instance.
func (c *call) sgMembership(attach bool) {
	id, ok := c.id(0)
	if !ok {
		return
	}
	var req v3.AttachInstanceToSecurityGroupRequest
	if !c.decode(&req) {
		return
	}
	if req.Instance == nil || req.Instance.ID == "" {
		c.fail(http.StatusBadRequest, "instance: an instance id is required")
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, found := s.st.SecurityGroups[string(id)]; !found {
		c.notFound("security group", id)
		return
	}
	inst := c.instance(req.Instance.ID)
	if inst == nil {
		c.notFound("instance", req.Instance.ID)
		return
	}
	member := false
	var keep []v3.SecurityGroup
	for _, sg := range inst.Instance.SecurityGroups {
		if sg.ID == id {
			member = true
			continue
		}
		keep = append(keep, sg)
	}
	if attach {
		if member {
			c.fail(http.StatusConflict, fmt.Sprintf("instance %s is already in security group %s", inst.Instance.ID, id))
			return
		}
		c.operation("attach-instance-to-security-group", "security-group", id, func() {
			sgs := append([]v3.SecurityGroup(nil), inst.Instance.SecurityGroups...)
			inst.Instance.SecurityGroups = append(sgs, v3.SecurityGroup{ID: id})
		})
		return
	}
	if !member {
		c.fail(http.StatusBadRequest, fmt.Sprintf("instance %s is not in security group %s", inst.Instance.ID, id))
		return
	}
	c.operation("detach-instance-from-security-group", "security-group", id, func() {
		inst.Instance.SecurityGroups = keep
	})
}

func (c *call) attachSecurityGroup() { c.sgMembership(true) }
func (c *call) detachSecurityGroup() { c.sgMembership(false) }
