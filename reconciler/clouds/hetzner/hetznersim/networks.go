package hetznersim

import (
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

type networkRec struct {
	ID            int64                  `json:"id"`
	Name          string                 `json:"name"`
	Created       time.Time              `json:"created"`
	IPRange       string                 `json:"ip_range"`
	Subnets       []schema.NetworkSubnet `json:"subnets"`
	Routes        []schema.NetworkRoute  `json:"routes"`
	Servers       []int64                `json:"servers"`
	Labels        map[string]string      `json:"labels"`
	ProtectDelete bool                   `json:"protect_delete,omitempty"`
	ExposeRoutes  bool                   `json:"expose_routes,omitempty"`
}

func (n *networkRec) toSchema() schema.Network {
	out := schema.Network{ID: n.ID, Name: n.Name, Created: n.Created, IPRange: n.IPRange,
		Subnets: n.Subnets, Routes: n.Routes, Servers: n.Servers, LoadBalancers: []int64{},
		Protection: schema.NetworkProtection{Delete: n.ProtectDelete}, Labels: labelsOrEmpty(n.Labels),
		ExposeRoutesToVSwitch: n.ExposeRoutes}
	if out.Subnets == nil {
		out.Subnets = []schema.NetworkSubnet{}
	}
	if out.Routes == nil {
		out.Routes = []schema.NetworkRoute{}
	}
	if out.Servers == nil {
		out.Servers = []int64{}
	}
	return out
}

// gateway is the network's router address: its first host address.
func (n *networkRec) gateway() string {
	p := netip.MustParsePrefix(n.IPRange)
	return p.Addr().Next().String()
}

// subnetFor returns a server-attachable subnet in zone (containing ip when
// ip is set).
func (n *networkRec) subnetFor(zone, ip string) *schema.NetworkSubnet {
	for i := range n.Subnets {
		sn := &n.Subnets[i]
		if sn.NetworkZone != zone || sn.Type == "vswitch" {
			continue
		}
		if ip != "" {
			a, err := netip.ParseAddr(ip)
			if err != nil || !netip.MustParsePrefix(sn.IPRange).Contains(a) {
				continue
			}
		}
		return sn
	}
	return nil
}

var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

// parseRange validates a network ip_range: an RFC 1918 IPv4 prefix of at
// least /24.
func parseRange(field, v string) (netip.Prefix, *apiError) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() {
		return p, errInvalid(field, "%q is not an IPv4 CIDR range", v)
	}
	if p.Masked() != p {
		return p, errInvalid(field, "%q has host bits set (want %s)", v, p.Masked())
	}
	ok := false
	for _, r := range privateRanges {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			ok = true
		}
	}
	if !ok {
		return p, errInvalid(field, "%q is not inside a private (RFC 1918) range", v)
	}
	return p, nil
}

func overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

// addSubnet validates sn against n and appends it (filling ip_range and
// gateway).
func (n *networkRec) addSubnet(sn schema.NetworkSubnet) *apiError {
	switch sn.Type {
	case "cloud", "server":
	case "vswitch":
		if sn.VSwitchID == 0 {
			return errInvalid("vswitch_id", "vswitch_id is required for vswitch subnets")
		}
	default:
		return errInvalid("type", "subnet type must be cloud, server or vswitch")
	}
	if !networkZones[sn.NetworkZone] {
		return errInvalid("network_zone", "unknown network zone %q", sn.NetworkZone)
	}
	netRange := netip.MustParsePrefix(n.IPRange)
	if sn.IPRange == "" {
		p, ok := n.freeSubnet(netRange)
		if !ok {
			return newErr(http.StatusUnprocessableEntity, "no_subnet_available", "no free /24 left in %s", n.IPRange)
		}
		sn.IPRange = p.String()
	}
	p, err := netip.ParsePrefix(sn.IPRange)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return errInvalid("ip_range", "%q is not a valid IPv4 CIDR range", sn.IPRange)
	}
	if p.Bits() < netRange.Bits() || !netRange.Contains(p.Addr()) || p.Bits() > 30 {
		return errInvalid("ip_range", "subnet %s must lie inside the network range %s and be at most /30", sn.IPRange, n.IPRange)
	}
	for _, o := range n.Subnets {
		if overlaps(p, netip.MustParsePrefix(o.IPRange)) {
			return newErr(http.StatusUnprocessableEntity, "networks_overlap", "subnet %s overlaps subnet %s", sn.IPRange, o.IPRange)
		}
	}
	sn.Gateway = n.gateway()
	n.Subnets = append(n.Subnets, sn)
	return nil
}

// freeSubnet finds the first /24 (or the whole range when smaller) that
// does not overlap an existing subnet.
func (n *networkRec) freeSubnet(netRange netip.Prefix) (netip.Prefix, bool) {
	bits := max(24, netRange.Bits())
	cand := netip.PrefixFrom(netRange.Addr(), bits)
	for netRange.Contains(cand.Addr()) {
		free := true
		for _, o := range n.Subnets {
			if overlaps(cand, netip.MustParsePrefix(o.IPRange)) {
				free = false
				break
			}
		}
		if free {
			return cand, true
		}
		next, ok := nextPrefix(cand)
		if !ok {
			break
		}
		cand = next
	}
	return netip.Prefix{}, false
}

func nextPrefix(p netip.Prefix) (netip.Prefix, bool) {
	a := p.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	size := uint32(1) << (32 - p.Bits())
	if v+size < v {
		return netip.Prefix{}, false
	}
	v += size
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), p.Bits()), true
}

func (n *networkRec) validateRoute(rt schema.NetworkRoute) *apiError {
	dst, err := netip.ParsePrefix(rt.Destination)
	if err != nil || !dst.Addr().Is4() || dst.Masked() != dst {
		return errInvalid("destination", "%q is not a valid IPv4 CIDR range", rt.Destination)
	}
	gw, err := netip.ParseAddr(rt.Gateway)
	if err != nil || !netip.MustParsePrefix(n.IPRange).Contains(gw) {
		return errInvalid("gateway", "gateway %q must be an address inside %s", rt.Gateway, n.IPRange)
	}
	if rt.Gateway == n.gateway() {
		return errInvalid("gateway", "gateway %q is the network's own router", rt.Gateway)
	}
	return nil
}

// attach connects server r to network n with ip (or the next free one).
func (s *Server) attach(r *serverRec, n *networkRec, ip string, alias []string) *apiError {
	for _, pn := range r.PrivateNet {
		if pn.Network == n.ID {
			return newErr(http.StatusUnprocessableEntity, "server_already_attached", "server %d is already attached to network %d", r.ID, n.ID)
		}
	}
	zone := locationByID(r.Location).NetworkZone
	sn := n.subnetFor(zone, ip)
	if sn == nil {
		if ip != "" {
			return newErr(http.StatusUnprocessableEntity, "ip_not_available", "IP %s is not in a subnet of network %d in zone %s", ip, n.ID, zone)
		}
		return newErr(http.StatusUnprocessableEntity, "no_subnet_available", "network %d has no subnet in network zone %s", n.ID, zone)
	}
	used := map[string]bool{n.gateway(): true}
	for _, sid := range n.Servers {
		if o := s.st.Servers[sid]; o != nil {
			for _, pn := range o.PrivateNet {
				if pn.Network == n.ID {
					used[pn.IP] = true
					for _, a := range pn.AliasIPs {
						used[a] = true
					}
				}
			}
		}
	}
	prefix := netip.MustParsePrefix(sn.IPRange)
	usable := func(a netip.Addr) bool {
		if !prefix.Contains(a) || a == prefix.Addr() || a == prefix.Addr().Next() || used[a.String()] {
			return false
		}
		return prefix.Contains(a.Next()) // not the broadcast address
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil || !usable(a) {
			return newErr(http.StatusUnprocessableEntity, "ip_not_available", "IP %s is not available in network %d", ip, n.ID)
		}
	} else {
		for a := prefix.Addr().Next().Next(); prefix.Contains(a); a = a.Next() {
			if usable(a) {
				ip = a.String()
				break
			}
		}
		if ip == "" {
			return newErr(http.StatusUnprocessableEntity, "no_subnet_available", "subnet %s of network %d is full", sn.IPRange, n.ID)
		}
	}
	used[ip] = true
	for _, al := range alias {
		a, err := netip.ParseAddr(al)
		if err != nil || !usable(a) {
			return newErr(http.StatusUnprocessableEntity, "ip_not_available", "alias IP %s is not available in network %d", al, n.ID)
		}
		used[al] = true
	}
	mac := s.st.nextID("mac")
	r.PrivateNet = append(r.PrivateNet, privateNet{Network: n.ID, IP: ip, AliasIPs: alias,
		MAC: fmt.Sprintf("86:00:00:%02x:%02x:%02x", byte(mac>>16), byte(mac>>8), byte(mac))})
	n.Servers = append(n.Servers, r.ID)
	return nil
}

func (s *Server) detach(r *serverRec, n *networkRec) *apiError {
	for i, pn := range r.PrivateNet {
		if pn.Network == n.ID {
			r.PrivateNet = append(r.PrivateNet[:i], r.PrivateNet[i+1:]...)
			n.Servers = removeID(n.Servers, r.ID)
			return nil
		}
	}
	return newErr(http.StatusUnprocessableEntity, "server_not_attached_to_network", "server %d is not attached to network %d", r.ID, n.ID)
}

// deleteNetwork serves DELETE /networks/{id}.
func (s *Server) deleteNetwork(q *request, n *networkRec) (int, any, *apiError) {
	if n.ProtectDelete {
		return 0, nil, newErr(http.StatusLocked, "protected", "network %d is protected against deletion", n.ID)
	}
	// As the real API: attached servers are detached (in the background there).
	for _, sid := range append([]int64(nil), n.Servers...) {
		if r := s.st.Servers[sid]; r != nil {
			_ = s.detach(r, n)
		}
	}
	delete(s.st.Networks, n.ID)
	return http.StatusNoContent, nil, nil
}

func (s *Server) listNetworks(q *request) (int, any, *apiError) {
	lq, err := parseList(q.query, "id", "name", "created")
	if err != nil {
		return 0, nil, err
	}
	var list []*networkRec
	for _, n := range s.st.Networks {
		if (lq.name == "" || n.Name == lq.name) && lq.sel.matches(n.Labels) {
			list = append(list, n)
		}
	}
	sortByID(list, func(n *networkRec) int64 { return n.ID })
	sortBy(list, lq.sorts, func(a, b *networkRec, f string) int {
		switch f {
		case "name":
			return cmpStr(a.Name, b.Name)
		case "created":
			return cmpTime(a.Created, b.Created)
		}
		return cmpInt(a.ID, b.ID)
	})
	pg, meta := page(list, lq)
	out := make([]schema.Network, 0, len(pg))
	for _, n := range pg {
		out = append(out, n.toSchema())
	}
	return http.StatusOK, listBody("networks", out, meta), nil
}

func (s *Server) networkByName(name string) *networkRec {
	for _, n := range s.st.Networks {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (s *Server) createNetwork(q *request, now time.Time) (int, any, *apiError) {
	var in schema.NetworkCreateRequest
	if err := q.decode(&in); err != nil {
		return 0, nil, err
	}
	if in.Name == "" {
		return 0, nil, errInvalid("name", "name is required")
	}
	if s.networkByName(in.Name) != nil {
		return 0, nil, errUnique("name")
	}
	p, aerr := parseRange("ip_range", in.IPRange)
	if aerr != nil {
		return 0, nil, aerr
	}
	if p.Bits() > 24 {
		return 0, nil, errInvalid("ip_range", "the network must be at least a /24")
	}
	labels := map[string]string{}
	if in.Labels != nil {
		labels = copyLabels(*in.Labels)
	}
	if err := validateLabels(labels); err != nil {
		return 0, nil, errInvalid("labels", "%v", err)
	}
	n := &networkRec{Name: in.Name, Created: now.UTC().Truncate(time.Second), IPRange: p.String(),
		Labels: labels, ExposeRoutes: in.ExposeRoutesToVSwitch, Subnets: []schema.NetworkSubnet{},
		Routes: []schema.NetworkRoute{}, Servers: []int64{}}
	for _, sn := range in.Subnets {
		if err := n.addSubnet(sn); err != nil {
			return 0, nil, err
		}
	}
	for _, rt := range in.Routes {
		if err := n.validateRoute(rt); err != nil {
			return 0, nil, err
		}
		n.Routes = append(n.Routes, rt)
	}
	n.ID = s.st.nextID("network")
	s.st.Networks[n.ID] = n
	return http.StatusCreated, map[string]any{"network": n.toSchema()}, nil
}

func (s *Server) updateNetwork(q *request, n *networkRec) (int, any, *apiError) {
	var in schema.NetworkUpdateRequest
	if err := q.decode(&in); err != nil {
		return 0, nil, err
	}
	if in.Name != "" && in.Name != n.Name && s.networkByName(in.Name) != nil {
		return 0, nil, errUnique("name")
	}
	if in.Labels != nil {
		if err := validateLabels(*in.Labels); err != nil {
			return 0, nil, errInvalid("labels", "%v", err)
		}
		n.Labels = copyLabels(*in.Labels)
	}
	if in.Name != "" {
		n.Name = in.Name
	}
	if in.ExposeRoutesToVSwitch != nil {
		n.ExposeRoutes = *in.ExposeRoutesToVSwitch
	}
	return http.StatusOK, map[string]any{"network": n.toSchema()}, nil
}

func (s *Server) networkAction(q *request, n *networkRec, cmd string, now time.Time) (int, any, *apiError) {
	switch cmd {
	case "add_subnet":
		var in schema.NetworkActionAddSubnetRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		if err := n.addSubnet(schema.NetworkSubnet{Type: in.Type, IPRange: in.IPRange, NetworkZone: in.NetworkZone, VSwitchID: in.VSwitchID}); err != nil {
			return 0, nil, err
		}
	case "delete_subnet":
		var in schema.NetworkActionDeleteSubnetRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		idx := -1
		for i, sn := range n.Subnets {
			if sn.IPRange == in.IPRange {
				idx = i
			}
		}
		if idx < 0 {
			return 0, nil, errInvalid("ip_range", "network %d has no subnet %s", n.ID, in.IPRange)
		}
		p := netip.MustParsePrefix(in.IPRange)
		for _, sid := range n.Servers {
			for _, pn := range s.st.Servers[sid].PrivateNet {
				if a, err := netip.ParseAddr(pn.IP); pn.Network == n.ID && err == nil && p.Contains(a) {
					return 0, nil, newErr(http.StatusUnprocessableEntity, "resource_in_use", "subnet %s still has server %d attached", in.IPRange, sid)
				}
			}
		}
		n.Subnets = append(n.Subnets[:idx], n.Subnets[idx+1:]...)
	case "add_route", "delete_route":
		var in schema.NetworkRoute
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		idx := -1
		for i, rt := range n.Routes {
			if rt == in {
				idx = i
			}
		}
		if cmd == "add_route" {
			if err := n.validateRoute(in); err != nil {
				return 0, nil, err
			}
			if idx >= 0 {
				return 0, nil, errUnique("destination")
			}
			n.Routes = append(n.Routes, in)
		} else {
			if idx < 0 {
				return 0, nil, errInvalid("destination", "network %d has no route %s via %s", n.ID, in.Destination, in.Gateway)
			}
			n.Routes = append(n.Routes[:idx], n.Routes[idx+1:]...)
		}
	case "change_ip_range":
		var in schema.NetworkActionChangeIPRangeRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		p, aerr := parseRange("ip_range", in.IPRange)
		if aerr != nil {
			return 0, nil, aerr
		}
		old := netip.MustParsePrefix(n.IPRange)
		if p.Bits() > old.Bits() || !p.Contains(old.Addr()) {
			return 0, nil, errInvalid("ip_range", "the new range must contain the old range %s", n.IPRange)
		}
		n.IPRange = p.String()
	case "change_protection":
		var in schema.NetworkActionChangeProtectionRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		if in.Delete != nil {
			n.ProtectDelete = *in.Delete
		}
	default:
		return 0, nil, newErr(http.StatusNotFound, "not_found", "network action %q not supported by the simulator", cmd)
	}
	a := s.newAction(now, cmd, ref("network", n.ID))
	return http.StatusCreated, actionBody(a), nil
}
