package exoscalesim

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	v3 "github.com/exoscale/egoscale/v3"
	"github.com/google/uuid"
)

func (c *call) network(id v3.UUID) *networkRec {
	rec, ok := c.s.st.Networks[string(id)]
	if !ok || rec.Zone != c.zone {
		return nil
	}
	return rec
}

func (c *call) listNetworks() {
	c.s.mu.RLock()
	recs := make([]*networkRec, 0, len(c.s.st.Networks))
	for _, rec := range c.s.st.Networks {
		if rec.Zone == c.zone {
			recs = append(recs, rec)
		}
	}
	byCreated(recs, func(r *networkRec) time.Time { return r.Created }, func(r *networkRec) v3.UUID { return r.Network.ID })
	out := make([]v3.PrivateNetwork, len(recs))
	for i, rec := range recs {
		out[i] = rec.Network
	}
	b, err := json.Marshal(v3.ListPrivateNetworksResponse{PrivateNetworks: out})
	c.s.mu.RUnlock()
	c.raw(b, err)
}

func (c *call) getNetwork() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	rec := c.network(id)
	if rec == nil {
		c.notFound("private network", id)
		return
	}
	c.ok(rec.Network)
}

func ip4(ip net.IP) (uint32, bool) {
	v := ip.To4()
	if v == nil {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

func fromU32(n uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, n)
	return ip
}

// checkRange validates a managed network's addressing: start, end and
// netmask are all set or all unset, and start..end lies in one subnet.
func checkRange(start, end, mask net.IP) string {
	set := 0
	for _, ip := range []net.IP{start, end, mask} {
		if ip != nil {
			set++
		}
	}
	if set == 0 {
		return ""
	}
	if set != 3 {
		return "start-ip, end-ip and netmask must be given together"
	}
	s, ok1 := ip4(start)
	e, ok2 := ip4(end)
	m, ok3 := ip4(mask)
	if !ok1 || !ok2 || !ok3 {
		return "start-ip, end-ip and netmask must be IPv4 addresses"
	}
	if ones, bits := net.IPMask(mask.To4()).Size(); bits == 0 || ones < 8 {
		return fmt.Sprintf("netmask %s is not a valid netmask", mask)
	}
	if s > e {
		return fmt.Sprintf("start-ip %s is after end-ip %s", start, end)
	}
	if s&m != e&m {
		return fmt.Sprintf("start-ip %s and end-ip %s are not in the same subnet (netmask %s)", start, end, mask)
	}
	return ""
}

func (c *call) createNetwork() {
	var req v3.CreatePrivateNetworkRequest
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
	if msg := checkRange(req.StartIP, req.EndIP, req.Netmask); msg != "" {
		c.fail(http.StatusBadRequest, msg)
		return
	}
	if msg := validLabels(req.Labels); msg != "" {
		c.fail(http.StatusBadRequest, "labels: "+msg)
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	id := v3.UUID(uuid.NewString())
	c.operation("create-private-network", "private-network", id, func() {
		s.st.NextVNI++
		n := v3.PrivateNetwork{
			ID:          id,
			Name:        req.Name,
			Description: req.Description,
			StartIP:     req.StartIP,
			EndIP:       req.EndIP,
			Netmask:     req.Netmask,
			Labels:      copyLabels(req.Labels),
			Options:     req.Options,
			Vni:         s.st.NextVNI,
		}
		s.st.Networks[string(id)] = &networkRec{Zone: c.zone, Created: s.opts.Now(), Network: n}
	})
}

func (c *call) updateNetwork() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	var req v3.UpdatePrivateNetworkRequest
	if !c.decode(&req) {
		return
	}
	if len(req.Name) > 255 || len(req.Description) > 255 {
		c.fail(http.StatusBadRequest, "name and description must be at most 255 characters")
		return
	}
	if msg := validLabels(req.Labels); msg != "" {
		c.fail(http.StatusBadRequest, "labels: "+msg)
		return
	}
	setLabels := rawLabels(c.body)
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := c.network(id)
	if rec == nil {
		c.notFound("private network", id)
		return
	}
	start, end, mask := rec.Network.StartIP, rec.Network.EndIP, rec.Network.Netmask
	if req.StartIP != nil {
		start = req.StartIP
	}
	if req.EndIP != nil {
		end = req.EndIP
	}
	if req.Netmask != nil {
		mask = req.Netmask
	}
	if msg := checkRange(start, end, mask); msg != "" {
		c.fail(http.StatusBadRequest, msg)
		return
	}
	c.operation("update-private-network", "private-network", id, func() {
		n := &rec.Network
		if req.Name != "" {
			n.Name = req.Name
		}
		if req.Description != "" {
			n.Description = req.Description
		}
		if setLabels {
			n.Labels = copyLabels(req.Labels)
		}
		if req.Options != nil {
			n.Options = req.Options
		}
		n.StartIP, n.EndIP, n.Netmask = start, end, mask
	})
}

func (c *call) deleteNetwork() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := c.network(id)
	if rec == nil {
		c.notFound("private network", id)
		return
	}
	for _, in := range s.st.Instances {
		for _, pn := range in.Instance.PrivateNetworks {
			if pn.ID == id {
				c.fail(http.StatusConflict, fmt.Sprintf("private network %s is in use by instance %s: detach it first", id, in.Instance.ID))
				return
			}
		}
	}
	c.operation("delete-private-network", "private-network", id, func() {
		delete(s.st.Networks, string(id))
	})
}

func removeLease(ls []v3.PrivateNetworkLease, inst v3.UUID) []v3.PrivateNetworkLease {
	out := make([]v3.PrivateNetworkLease, 0, len(ls))
	for _, l := range ls {
		if l.InstanceID != inst {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (c *call) attachNetwork() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	var req v3.AttachInstanceToPrivateNetworkRequest
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
	rec := c.network(id)
	if rec == nil {
		c.notFound("private network", id)
		return
	}
	inst := c.instance(req.Instance.ID)
	if inst == nil {
		c.notFound("instance", req.Instance.ID)
		return
	}
	for _, pn := range inst.Instance.PrivateNetworks {
		if pn.ID == id {
			c.fail(http.StatusConflict, fmt.Sprintf("instance %s is already attached to private network %s", inst.Instance.ID, id))
			return
		}
	}
	n := &rec.Network
	var leaseIP net.IP
	if n.StartIP != nil { // managed network: DHCP lease
		start, _ := ip4(n.StartIP)
		end, _ := ip4(n.EndIP)
		used := map[uint32]bool{}
		for _, l := range n.Leases {
			if v, ok := ip4(l.IP); ok {
				used[v] = true
			}
		}
		if req.IP != nil {
			v, ok := ip4(req.IP)
			if !ok || v < start || v > end {
				c.fail(http.StatusBadRequest, fmt.Sprintf("ip %s is outside the network range %s-%s", req.IP, n.StartIP, n.EndIP))
				return
			}
			if used[v] {
				c.fail(http.StatusConflict, fmt.Sprintf("ip %s is already leased", req.IP))
				return
			}
			leaseIP = fromU32(v)
		} else {
			for v := start; v <= end && v >= start; v++ {
				if !used[v] {
					leaseIP = fromU32(v)
					break
				}
			}
			if leaseIP == nil {
				c.fail(http.StatusConflict, fmt.Sprintf("private network %s has no free address left", id))
				return
			}
		}
	} else if req.IP != nil {
		c.fail(http.StatusBadRequest, "ip: a static lease needs a managed network (start-ip, end-ip, netmask)")
		return
	}
	c.operation("attach-instance-to-private-network", "private-network", id, func() {
		if leaseIP != nil {
			n.Leases = append(append([]v3.PrivateNetworkLease(nil), n.Leases...), v3.PrivateNetworkLease{InstanceID: inst.Instance.ID, IP: leaseIP})
		}
		pns := append([]v3.InstancePrivateNetworks(nil), inst.Instance.PrivateNetworks...)
		inst.Instance.PrivateNetworks = append(pns, v3.InstancePrivateNetworks{ID: id, MACAddress: s.st.newMAC()})
	})
}

func (c *call) detachNetwork() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	var req v3.DetachInstanceFromPrivateNetworkRequest
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
	rec := c.network(id)
	if rec == nil {
		c.notFound("private network", id)
		return
	}
	inst := c.instance(req.Instance.ID)
	if inst == nil {
		c.notFound("instance", req.Instance.ID)
		return
	}
	attached := false
	var keep []v3.InstancePrivateNetworks
	for _, pn := range inst.Instance.PrivateNetworks {
		if pn.ID == id {
			attached = true
			continue
		}
		keep = append(keep, pn)
	}
	if !attached {
		c.fail(http.StatusBadRequest, fmt.Sprintf("instance %s is not attached to private network %s", inst.Instance.ID, id))
		return
	}
	c.operation("detach-instance-from-private-network", "private-network", id, func() {
		inst.Instance.PrivateNetworks = keep
		rec.Network.Leases = removeLease(rec.Network.Leases, inst.Instance.ID)
	})
}
