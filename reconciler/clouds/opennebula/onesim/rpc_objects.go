package onesim

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type timeT = time.Time

// VM states (STATE) and LCM states used by the simulator.
const (
	vmInit       = 0
	vmPending    = 1
	vmHold       = 2
	vmActive     = 3
	vmStopped    = 4
	vmSuspended  = 5
	vmDone       = 6
	vmPoweroff   = 8
	vmUndeployed = 9

	lcmLCMInit = 0
	lcmRunning = 3
)

// Host states.
const (
	hostMonitored = 2
	hostDisabled  = 4
	hostOffline   = 8
)

// ---------------------------------------------------------------- groups

func (c *call) groupAllocate(a args) (any, error) {
	name, err := a.str(0)
	if err != nil {
		return nil, err
	}
	if err := c.allocName(kGroup, name, 0); err != nil {
		return nil, err
	}
	d := c.d()
	id := d.nextID("group", kGroup.first)
	d.Groups[id] = &group{base: base{ID: id, Name: name, RegTime: c.now.Unix()}}
	// oned adds every new group to the default VDC.
	if v, ok := d.VDCs[0]; ok {
		v.Groups = append(v.Groups, id)
	}
	return id, nil
}

func (c *call) groupAdmin(a args, add bool) (any, error) {
	o, id, err := c.lookup(kGroup, a, 0)
	if err != nil {
		return nil, err
	}
	uid, err := a.int(1)
	if err != nil {
		return nil, err
	}
	u, ok := c.d().Users[uid]
	if !ok {
		return nil, c.notFound(kUser, uid)
	}
	g := o.(*group)
	if add {
		if !hasInt(u.Groups, id) {
			return nil, rpcErrf(errAction, "[%s] User %d is not in group %d.", c.method, uid, id)
		}
		if !hasInt(g.Admins, uid) {
			g.Admins = append(g.Admins, uid)
		}
	} else {
		g.Admins = removeInt(g.Admins, uid)
	}
	return id, nil
}

// ---------------------------------------------------------------- VDCs

func (c *call) vdcAllocate(a args) (any, error) {
	src, err := a.str(0)
	if err != nil {
		return nil, err
	}
	t, perr := ParseTemplate(src)
	if perr != nil {
		return nil, rpcErrf(errAllocate, "[%s] Error parsing template: %v", c.method, perr)
	}
	name, _ := t.Get("NAME")
	if err := c.allocName(kVDC, name, 0); err != nil {
		return nil, err
	}
	d := c.d()
	id := d.nextID("vdc", kVDC.first)
	d.VDCs[id] = &vdc{base: base{ID: id, Name: name, RegTime: c.now.Unix(), Tmpl: t.Del("NAME")}}
	return id, nil
}

func (c *call) vdcGroup(a args, add bool) (any, error) {
	o, id, err := c.lookup(kVDC, a, 0)
	if err != nil {
		return nil, err
	}
	gid, err := a.int(1)
	if err != nil {
		return nil, err
	}
	v := o.(*vdc)
	if _, ok := c.d().Groups[gid]; !ok {
		return nil, c.notFound(kGroup, gid)
	}
	if add {
		if hasInt(v.Groups, gid) {
			return nil, rpcErrf(errAction, "[%s] Group %d is already assigned to the VDC %d", c.method, gid, id)
		}
		v.Groups = append(v.Groups, gid)
	} else {
		if !hasInt(v.Groups, gid) {
			return nil, rpcErrf(errAction, "[%s] Group %d is not assigned to the VDC %d", c.method, gid, id)
		}
		v.Groups = removeInt(v.Groups, gid)
	}
	return id, nil
}

func (c *call) vdcResource(a args, what string, k kind, add bool) (any, error) {
	o, id, err := c.lookup(kVDC, a, 0)
	if err != nil {
		return nil, err
	}
	zone, err := a.int(1)
	if err != nil {
		return nil, err
	}
	rid, err := a.int(2)
	if err != nil {
		return nil, err
	}
	if zone != 0 {
		return nil, rpcErrf(errNoExists, "[%s] Error getting zone [%d].", c.method, zone)
	}
	if _, ok := c.d().get(k, rid); !ok && rid != -10 {
		return nil, c.notFound(k, rid)
	}
	v := o.(*vdc)
	list := map[string]*[]zref{"cluster": &v.Clusters, "host": &v.Hosts, "datastore": &v.Datastores, "vnet": &v.VNets}[what]
	found := false
	for _, r := range *list {
		if r.Zone == zone && r.ID == rid {
			found = true
		}
	}
	switch {
	case add && found:
		return nil, rpcErrf(errAction, "[%s] %s %d is already assigned to the VDC %d", c.method, k.label, rid, id)
	case add:
		*list = append(*list, zref{Zone: zone, ID: rid})
	case !found:
		return nil, rpcErrf(errAction, "[%s] %s %d is not assigned to the VDC %d", c.method, k.label, rid, id)
	default:
		*list = removeRef(*list, rid)
	}
	return id, nil
}

// ---------------------------------------------------------------- clusters

func (c *call) clusterAllocate(a args) (any, error) {
	name, err := a.str(0)
	if err != nil {
		return nil, err
	}
	if err := c.allocName(kCluster, name, 0); err != nil {
		return nil, err
	}
	d := c.d()
	id := d.nextID("cluster", kCluster.first)
	d.Clusters[id] = &cluster{base{ID: id, Name: name, RegTime: c.now.Unix(), Tmpl: Tmpl{{Key: "RESERVED_CPU", Val: ""}, {Key: "RESERVED_MEM", Val: ""}}}}
	return id, nil
}

func (c *call) clusterResource(a args, k kind, add bool) (any, error) {
	_, id, err := c.lookup(kCluster, a, 0)
	if err != nil {
		return nil, err
	}
	o, rid, err := c.lookup(k, a, 1)
	if err != nil {
		return nil, err
	}
	switch r := o.(type) {
	case *host:
		// a host is in exactly one cluster: add moves it, del returns it
		// to the default cluster
		if add {
			r.ClusterID = id
		} else if r.ClusterID == id {
			r.ClusterID = 0
		}
	case *datastore:
		if add {
			if !hasInt(r.Clusters, id) {
				r.Clusters = append(r.Clusters, id)
			}
		} else {
			r.Clusters = removeInt(r.Clusters, id)
		}
	case *vnet:
		if add {
			if !hasInt(r.Clusters, id) {
				r.Clusters = append(r.Clusters, id)
			}
		} else {
			r.Clusters = removeInt(r.Clusters, id)
		}
	}
	_ = rid
	return id, nil
}

// ---------------------------------------------------------------- users

func (c *call) userAllocate(a args) (any, error) {
	name, err := a.str(0)
	if err != nil {
		return nil, err
	}
	pass, err := a.str(1)
	if err != nil {
		return nil, err
	}
	driver, err := a.strOr(2, "")
	if err != nil {
		return nil, err
	}
	gids, err := a.ints(3)
	if err != nil {
		return nil, err
	}
	if driver == "" {
		driver = "core"
	}
	if strings.ContainsAny(name, " :\t\n") || name == "" {
		return nil, rpcErrf(errAllocate, "[%s] Invalid NAME, it cannot contain spaces or ':'", c.method)
	}
	if driver == "core" && (pass == "" || strings.ContainsAny(pass, " \t\n")) {
		return nil, rpcErrf(errAllocate, "[%s] Invalid password, it cannot be empty or contain spaces", c.method)
	}
	if err := c.allocName(kUser, name, 0); err != nil {
		return nil, err
	}
	d := c.d()
	if len(gids) == 0 {
		gids = []int{1}
	}
	for _, g := range gids {
		if _, ok := d.Groups[g]; !ok {
			return nil, rpcErrf(errAllocate, "[%s] Error getting group [%d].", c.method, g)
		}
	}
	id := d.nextID("user", kUser.first)
	d.Users[id] = &user{
		base:     base{ID: id, Name: name, GID: gids[0], RegTime: c.now.Unix()},
		Groups:   append([]int(nil), gids...),
		PassHash: hashPassword(pass),
		Driver:   driver,
		Enabled:  true,
	}
	return id, nil
}

func (c *call) userChgrp(a args) (any, error) {
	o, id, err := c.lookup(kUser, a, 0)
	if err != nil {
		return nil, err
	}
	gid, err := a.int(1)
	if err != nil {
		return nil, err
	}
	if _, ok := c.d().Groups[gid]; !ok {
		return nil, c.notFound(kGroup, gid)
	}
	u := o.(*user)
	if id == 0 && gid != 0 {
		return nil, rpcErrf(errAction, "[%s] Cannot change primary group of user oneadmin.", c.method)
	}
	// the old primary group stays a secondary group only if it was one
	// besides being primary; oned removes the user from the old primary.
	u.Groups = removeInt(u.Groups, u.GID)
	u.GID = gid
	if !hasInt(u.Groups, gid) {
		u.Groups = append([]int{gid}, u.Groups...)
	}
	return id, nil
}

func (c *call) userGroup(a args, add bool) (any, error) {
	o, id, err := c.lookup(kUser, a, 0)
	if err != nil {
		return nil, err
	}
	gid, err := a.int(1)
	if err != nil {
		return nil, err
	}
	if _, ok := c.d().Groups[gid]; !ok {
		return nil, c.notFound(kGroup, gid)
	}
	u := o.(*user)
	if add {
		if hasInt(u.Groups, gid) {
			return nil, rpcErrf(errAction, "[%s] User %d is already in group %d.", c.method, id, gid)
		}
		u.Groups = append(u.Groups, gid)
	} else {
		if gid == u.GID {
			return nil, rpcErrf(errAction, "[%s] Cannot remove user from its primary group.", c.method)
		}
		u.Groups = removeInt(u.Groups, gid)
	}
	return id, nil
}

func (c *call) userPasswd(a args) (any, error) {
	o, id, err := c.lookup(kUser, a, 0)
	if err != nil {
		return nil, err
	}
	pass, err := a.str(1)
	if err != nil {
		return nil, err
	}
	if pass == "" || strings.ContainsAny(pass, " \t\n") {
		return nil, rpcErrf(errAction, "[%s] Invalid password, it cannot be empty or contain spaces", c.method)
	}
	o.(*user).PassHash = hashPassword(pass)
	return id, nil
}

// ---------------------------------------------------------------- hosts

func (c *call) hostAllocate(a args) (any, error) {
	name, err := a.str(0)
	if err != nil {
		return nil, err
	}
	im, err := a.str(1)
	if err != nil {
		return nil, err
	}
	vmm, err := a.str(2)
	if err != nil {
		return nil, err
	}
	cid, err := a.intOr(3, -1)
	if err != nil {
		return nil, err
	}
	if cid < 0 {
		cid = 0
	}
	if _, ok := c.d().Clusters[cid]; !ok {
		return nil, rpcErrf(errAllocate, "[%s] Error getting cluster [%d].", c.method, cid)
	}
	if im == "" || vmm == "" {
		return nil, rpcErrf(errAllocate, "[%s] IM_MAD and VM_MAD cannot be empty", c.method)
	}
	if err := c.allocName(kHost, name, 0); err != nil {
		return nil, err
	}
	d := c.d()
	id := d.nextID("host", kHost.first)
	d.Hosts[id] = &host{
		base:      base{ID: id, Name: name, RegTime: c.now.Unix(), Tmpl: Tmpl{{Key: "HOSTNAME", Val: name}, {Key: "HYPERVISOR", Val: vmm}}},
		IMMad:     im,
		VMMad:     vmm,
		ClusterID: cid,
		// INIT until the first monitoring (Latency.HostMonitor) decides
		// MONITORED or ERROR; capacity comes from the probe.
		State:     hostInit,
		MonitorAt: c.now.Add(c.s.opts.Latency.HostMonitor).UnixNano(),
	}
	c.s.due(d.Hosts[id].MonitorAt)
	return id, nil
}

func (c *call) hostStatus(a args) (any, error) {
	o, id, err := c.lookup(kHost, a, 0)
	if err != nil {
		return nil, err
	}
	st, err := a.int(1)
	if err != nil {
		return nil, err
	}
	h := o.(*host)
	switch st {
	case 0:
		// Enabled: monitored again before the scheduler uses it.
		if h.State != hostMonitored {
			h.State = hostInit
			h.MonitorAt = c.now.Add(c.s.opts.Latency.HostMonitor).UnixNano()
			c.s.due(h.MonitorAt)
		}
	case 1:
		h.State = hostDisabled
	case 2:
		h.State = hostOffline
	default:
		return nil, rpcErrf(errAPI, "[%s] Wrong status %d (0 enabled, 1 disabled, 2 offline)", c.method, st)
	}
	c.s.schedule(c.now)
	return id, nil
}

func (c *call) hostMonitoring(a args) (any, error) {
	o, _, err := c.lookup(kHost, a, 0)
	if err != nil {
		return nil, err
	}
	var b xb
	b.open("MONITORING_DATA")
	c.hostMonRecord(o.(*host), &b)
	b.close("MONITORING_DATA")
	return b.String(), nil
}

func (c *call) hostPoolMonitoring(a args) (any, error) {
	var b xb
	b.open("MONITORING_DATA")
	for _, id := range sortedIDs(c.d().Hosts) {
		c.hostMonRecord(c.d().Hosts[id], &b)
	}
	b.close("MONITORING_DATA")
	return b.String(), nil
}

func (h *host) usedCPU() int { return int(h.CPUPct * float64(h.TotalCPU) / 100) }

func (c *call) hostUsedMem(h *host) int {
	total := 0
	for _, vid := range h.VMs {
		if v, ok := c.d().VMs[vid]; ok {
			if m, ok := v.Tmpl.Get("MEMORY"); ok {
				n, _ := strconv.Atoi(m)
				total += n * 1024
			}
		}
	}
	return min(total, h.TotalMem)
}

func (c *call) hostMonRecord(h *host, b *xb) {
	used := h.usedCPU()
	mem := c.hostUsedMem(h)
	b.open("MONITORING")
	b.int("TIMESTAMP", h.MonTime)
	b.int("ID", int64(h.ID))
	b.open("CAPACITY")
	b.int("FREE_CPU", int64(h.TotalCPU-used))
	b.int("FREE_MEMORY", int64(h.TotalMem-mem))
	b.int("USED_CPU", int64(used))
	b.int("USED_MEMORY", int64(mem))
	b.close("CAPACITY")
	b.open("SYSTEM")
	b.int("NETRX", 0)
	b.int("NETTX", 0)
	b.close("SYSTEM")
	b.close("MONITORING")
}

// ---------------------------------------------------------------- vnets

func (c *call) vnAllocate(a args) (any, error) {
	src, err := a.str(0)
	if err != nil {
		return nil, err
	}
	cid, err := a.intOr(1, -1)
	if err != nil {
		return nil, err
	}
	t, perr := ParseTemplate(src)
	if perr != nil {
		return nil, rpcErrf(errAllocate, "[%s] Error parsing template: %v", c.method, perr)
	}
	name, _ := t.Get("NAME")
	mad, _ := t.Get("VN_MAD")
	if mad == "" {
		return nil, rpcErrf(errAllocate, "[%s] VN_MAD is mandatory", c.method)
	}
	if cid < 0 {
		cid = 0
	}
	d := c.d()
	if _, ok := d.Clusters[cid]; !ok {
		return nil, rpcErrf(errAllocate, "[%s] Error getting cluster [%d].", c.method, cid)
	}
	if err := c.allocName(kVNet, name, c.user.ID); err != nil {
		return nil, err
	}
	n := &vnet{VNMad: mad, State: 1, Clusters: []int{cid}}
	for _, ar := range t.Vectors("AR") {
		if err := checkAR(ar); err != nil {
			return nil, rpcErrf(errAllocate, "[%s] %v", c.method, err)
		}
		n.ARs = append(n.ARs, arWithID(ar, n.NextAR))
		n.NextAR++
	}
	id := d.nextID("vn", kVNet.first)
	bridge, _ := t.Get("BRIDGE")
	if bridge == "" {
		bridge = fmt.Sprintf("onebr%d", id)
	}
	n.base = base{ID: id, Name: name, UID: c.user.ID, GID: c.user.GID, Perms: defaultPerms, RegTime: c.now.Unix(), Tmpl: t.Del("AR").Del("NAME")}
	n.Bridge = bridge
	d.VNets[id] = n
	return id, nil
}

func checkAR(ar Pair) error {
	typ := ""
	ip := ""
	size := ""
	for _, p := range ar.Vec {
		switch p.Key {
		case "TYPE":
			typ = strings.ToUpper(p.Val)
		case "IP":
			ip = p.Val
		case "SIZE":
			size = p.Val
		}
	}
	if typ != "IP4" && typ != "IP6" && typ != "IP4_6" && typ != "ETHER" {
		return fmt.Errorf("unknown address range type %q", typ)
	}
	if n, err := strconv.Atoi(size); err != nil || n <= 0 {
		return fmt.Errorf("wrong size for address range: %q", size)
	}
	if strings.HasPrefix(typ, "IP4") {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("wrong IP for address range: %q", ip)
		}
	}
	return nil
}

func arWithID(ar Pair, id int) Pair {
	out := Pair{Key: "AR", Vec: []Pair{{Key: "AR_ID", Val: strconv.Itoa(id)}}}
	for _, p := range ar.Vec {
		if p.Key != "AR_ID" {
			out.Vec = append(out.Vec, p)
		}
	}
	return out
}

// leaseIP takes the next free IPv4 of n for vm id, or exactly want when
// it is set (a fixed lease: it must be in an address range and free).
func (n *vnet) leaseIP(vmID int, want string) (string, int, bool) {
	used := map[string]bool{}
	for _, l := range n.Leases {
		used[l.IP] = true
	}
	for _, ar := range n.ARs {
		var start netip.Addr
		size, arID := 0, 0
		for _, p := range ar.Vec {
			switch p.Key {
			case "IP":
				start, _ = netip.ParseAddr(p.Val)
			case "SIZE":
				size, _ = strconv.Atoi(p.Val)
			case "AR_ID":
				arID, _ = strconv.Atoi(p.Val)
			}
		}
		if !start.IsValid() || !start.Is4() {
			continue
		}
		ip := start
		for i := 0; i < size; i++ {
			if want != "" && ip.String() != want {
				ip = ip.Next()
				continue
			}
			if !used[ip.String()] {
				n.Leases = append(n.Leases, lease{IP: ip.String(), VM: vmID, ARID: arID})
				return ip.String(), arID, true
			}
			ip = ip.Next()
		}
	}
	return "", 0, false
}

func (n *vnet) release(vmID int) {
	out := n.Leases[:0:0]
	for _, l := range n.Leases {
		if l.VM != vmID {
			out = append(out, l)
		}
	}
	n.Leases = out
}

// ---------------------------------------------------------------- datastores

func (c *call) datastoreAllocate(a args) (any, error) {
	src, err := a.str(0)
	if err != nil {
		return nil, err
	}
	cid, err := a.intOr(1, -1)
	if err != nil {
		return nil, err
	}
	t, perr := ParseTemplate(src)
	if perr != nil {
		return nil, rpcErrf(errAllocate, "[%s] Error parsing template: %v", c.method, perr)
	}
	name, _ := t.Get("NAME")
	ds := &datastore{TotalMB: 102400}
	typ, _ := t.Get("TYPE")
	switch strings.ToUpper(typ) {
	case "", "IMAGE_DS":
		ds.Type = 0
		t = t.Set("TYPE", "IMAGE_DS")
	case "SYSTEM_DS":
		ds.Type = 1
	case "FILE_DS":
		ds.Type = 2
	default:
		return nil, rpcErrf(errAllocate, "[%s] Unknown datastore type %q", c.method, typ)
	}
	ds.DSMad, _ = t.Get("DS_MAD")
	ds.TMMad, _ = t.Get("TM_MAD")
	if ds.Type != 1 && ds.DSMad == "" {
		return nil, rpcErrf(errAllocate, "[%s] No DS_MAD in template.", c.method)
	}
	if ds.TMMad == "" {
		return nil, rpcErrf(errAllocate, "[%s] No TM_MAD in template.", c.method)
	}
	if lim, ok := t.Get("LIMIT_MB"); ok {
		if n, err := strconv.Atoi(lim); err == nil && n > 0 {
			ds.TotalMB = n
		}
	}
	if cid < 0 {
		cid = 0
	}
	d := c.d()
	if _, ok := d.Clusters[cid]; !ok {
		return nil, rpcErrf(errAllocate, "[%s] Error getting cluster [%d].", c.method, cid)
	}
	if err := c.allocName(kDatastore, name, 0); err != nil {
		return nil, err
	}
	id := d.nextID("datastore", kDatastore.first)
	ds.base = base{ID: id, Name: name, UID: c.user.ID, GID: c.user.GID, Perms: perms{1, 1, 0, 1, 0, 0, 0, 0, 0}, RegTime: c.now.Unix(), Tmpl: t.Del("NAME")}
	ds.Clusters = []int{cid}
	d.Datastores[id] = ds
	return id, nil
}

func (c *call) datastoreEnable(a args) (any, error) {
	o, id, err := c.lookup(kDatastore, a, 0)
	if err != nil {
		return nil, err
	}
	on, err := a.boolOr(1, true)
	if err != nil {
		return nil, err
	}
	if on {
		o.(*datastore).State = 0
	} else {
		o.(*datastore).State = 1
	}
	return id, nil
}

// ---------------------------------------------------------------- templates

// allocTemplate parses an allocate call's template (its first argument).
func (c *call) allocTemplate(a args) (Tmpl, error) {
	src, err := a.str(0)
	if err != nil {
		return nil, err
	}
	t, perr := ParseTemplate(src)
	if perr != nil {
		return nil, rpcErrf(errAllocate, "[%s] Error parsing template: %v", c.method, perr)
	}
	return t, nil
}

func (c *call) templateAllocate(a args) (any, error) {
	t, err := c.allocTemplate(a)
	if err != nil {
		return nil, err
	}
	d := c.d()
	name, _ := t.Get("NAME")
	if name == "" {
		return nil, rpcErrf(errAllocate, "[%s] NAME is mandatory in a VM template", c.method)
	}
	if err := c.allocName(kTemplate, name, c.user.ID); err != nil {
		return nil, err
	}
	id := d.nextID("template", kTemplate.first)
	d.Templates[id] = &vmtemplate{base{ID: id, Name: name, UID: c.user.ID, GID: c.user.GID, Perms: defaultPerms, RegTime: c.now.Unix(), Tmpl: t.Del("NAME")}}
	return id, nil
}

func (c *call) templateClone(a args) (any, error) {
	o, _, err := c.lookup(kTemplate, a, 0)
	if err != nil {
		return nil, err
	}
	name, err := a.str(1)
	if err != nil {
		return nil, err
	}
	if err := c.checkLock(o, opUse); err != nil {
		return nil, err
	}
	if err := c.allocName(kTemplate, name, c.user.ID); err != nil {
		return nil, err
	}
	d := c.d()
	id := d.nextID("template", kTemplate.first)
	d.Templates[id] = &vmtemplate{base{ID: id, Name: name, UID: c.user.ID, GID: c.user.GID, Perms: defaultPerms, RegTime: c.now.Unix(), Tmpl: o.b().Tmpl.clone()}}
	return id, nil
}

func (c *call) templateInstantiate(a args) (any, error) {
	o, id, err := c.lookup(kTemplate, a, 0)
	if err != nil {
		return nil, err
	}
	name, err := a.strOr(1, "")
	if err != nil {
		return nil, err
	}
	hold, err := a.boolOr(2, false)
	if err != nil {
		return nil, err
	}
	extra, err := a.strOr(3, "")
	if err != nil {
		return nil, err
	}
	if err := c.checkLock(o, opUse); err != nil {
		return nil, err
	}
	t := o.b().Tmpl.clone()
	if strings.TrimSpace(extra) != "" {
		et, perr := ParseTemplate(extra)
		if perr != nil {
			return nil, rpcErrf(errInternal, "[%s] Error parsing extra template: %v", c.method, perr)
		}
		t = t.Merge(et)
	}
	v, rerr := c.s.createVM(c.now, name, o.b().Name, t, c.user, hold, id)
	if rerr != nil {
		rerr.msg = "[" + c.method + "] " + rerr.msg
		return nil, rerr
	}
	return v.ID, nil
}

// ---------------------------------------------------------------- VMs

func (c *call) vmAllocate(a args) (any, error) {
	src, err := a.str(0)
	if err != nil {
		return nil, err
	}
	hold, err := a.boolOr(1, false)
	if err != nil {
		return nil, err
	}
	t, perr := ParseTemplate(src)
	if perr != nil {
		return nil, rpcErrf(errAllocate, "[%s] Error parsing template: %v", c.method, perr)
	}
	name, _ := t.Get("NAME")
	v, rerr := c.s.createVM(c.now, name, "", t.Del("NAME"), c.user, hold, -1)
	if rerr != nil {
		rerr.msg = "[" + c.method + "] " + rerr.msg
		return nil, rerr
	}
	return v.ID, nil
}

// vmCoreAttrs stay in a VM's TEMPLATE; every other attribute moves to its
// USER_TEMPLATE, as oned splits them.
var vmCoreAttrs = map[string]bool{
	"CPU": true, "VCPU": true, "MEMORY": true, "DISK": true, "NIC": true, "NIC_ALIAS": true,
	"NIC_DEFAULT": true, "GRAPHICS": true, "OS": true, "CONTEXT": true, "FEATURES": true,
	"RAW": true, "INPUT": true, "PCI": true, "CPU_MODEL": true, "TOPOLOGY": true, "NUMA_NODE": true,
	"VMGROUP": true, "SECURITY_GROUP_RULE": true, "AUTOMATIC_REQUIREMENTS": true,
	"AUTOMATIC_DS_REQUIREMENTS": true, "MEMORY_COST": true, "CPU_COST": true, "DISK_COST": true,
	"VMID": true, "TEMPLATE_ID": true, "SNAPSHOT": true, "SCHED_ACTION": true, "VROUTER_ID": true,
	"MEMORY_UNIT_COST": true, "HYPERVISOR": true,
}

// createVM creates a VM from a full template; the caller holds s.mu.
func (s *Server) createVM(now timeT, name, tmplName string, t Tmpl, owner *user, hold bool, templateID int) (*vm, *rpcError) {
	d := s.d
	id := d.nextID("vm", kVM.first)
	if name == "" {
		if tmplName != "" {
			name = fmt.Sprintf("%s-%d", tmplName, id)
		} else {
			name = fmt.Sprintf("one-%d", id)
		}
	}
	if strings.ContainsAny(name, "\n\r\t") {
		return nil, rpcErrf(errAllocate, "Invalid NAME, it cannot contain control characters")
	}
	t, clusters, rerr := s.resolveDisks(t)
	if rerr != nil {
		return nil, rerr
	}
	v := &vm{HostID: -1, DSID: -1, STime: now.Unix(), State: vmPending, Clusters: clusters}
	if hold {
		v.State = vmHold
	}
	v.base = base{ID: id, Name: name, UID: owner.ID, GID: owner.GID, Perms: defaultPerms, RegTime: now.Unix()}
	var core, usr Tmpl
	nicID := 0
	for _, p := range t {
		if p.Key == "NAME" {
			continue
		}
		if !vmCoreAttrs[p.Key] {
			usr = append(usr, p)
			continue
		}
		if p.Key == "NIC" && p.Vec != nil {
			nic, err := s.resolveNIC(p, id, nicID, owner)
			if err != nil {
				for _, n := range d.VNets {
					n.release(id)
				}
				return nil, err
			}
			nicID++
			core = append(core, nic)
			continue
		}
		core = append(core, p)
	}
	core = append(core, Pair{Key: "AUTOMATIC_REQUIREMENTS", Val: clusterReq(clusters)})
	core = append(core, Pair{Key: "VMID", Val: strconv.Itoa(id)})
	if templateID >= 0 {
		core = append(core, Pair{Key: "TEMPLATE_ID", Val: strconv.Itoa(templateID)})
	}
	v.Tmpl = core
	v.UserTmpl = usr
	d.VMs[id] = v
	if v.State == vmPending {
		s.scheduleVMs(now, []int{id})
	}
	return v, nil
}

func (s *Server) resolveNIC(p Pair, vmID, nicID int, owner *user) (Pair, *rpcError) {
	var netID = -1
	var netName string
	for _, q := range p.Vec {
		switch q.Key {
		case "NETWORK_ID":
			n, err := strconv.Atoi(q.Val)
			if err != nil {
				return p, rpcErrf(errAllocate, "Wrong NETWORK_ID %q in NIC", q.Val)
			}
			netID = n
		case "NETWORK":
			netName = q.Val
		}
	}
	var n *vnet
	switch {
	case netID >= 0:
		n = s.d.VNets[netID]
		if n == nil {
			return p, rpcErrf(errNoExists, "Error getting virtual network [%d].", netID)
		}
	case netName != "":
		for _, id := range sortedIDs(s.d.VNets) {
			if c := s.d.VNets[id]; c.Name == netName && c.UID == owner.ID {
				n = c
				break
			}
		}
		if n == nil {
			return p, rpcErrf(errNoExists, "Virtual network %s does not exist", netName)
		}
	default:
		return p, rpcErrf(errAllocate, "NIC does not have a NETWORK or NETWORK_ID")
	}
	ip, arID, ok := n.leaseIP(vmID, vecVal(p, "IP"))
	if !ok {
		return p, rpcErrf(errAction, "Cannot get IP/MAC lease from virtual network %d.", n.ID)
	}
	mac := macFor(ip)
	out := Pair{Key: "NIC", Vec: []Pair{
		{Key: "AR_ID", Val: strconv.Itoa(arID)},
		{Key: "BRIDGE", Val: n.Bridge},
		{Key: "IP", Val: ip},
		{Key: "MAC", Val: mac},
		{Key: "NETWORK", Val: n.Name},
		{Key: "NETWORK_ID", Val: strconv.Itoa(n.ID)},
		{Key: "NIC_ID", Val: strconv.Itoa(nicID)},
		{Key: "VN_MAD", Val: n.VNMad},
	}}
	for _, q := range p.Vec {
		switch q.Key {
		case "NETWORK", "NETWORK_ID", "IP", "MAC", "AR_ID", "BRIDGE", "NIC_ID", "VN_MAD":
		default:
			out.Vec = append(out.Vec, q)
		}
	}
	return out, nil
}

func macFor(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return "02:00:00:00:00:00"
	}
	b := a.As4()
	return fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

// schedule deploys PENDING VMs on the enabled host with the fewest VMs,
// as the scheduler would on its next pass.
func (s *Server) schedule(now timeT) {
	var pending, resched []int
	for id, v := range s.d.VMs {
		switch {
		case v.State == vmPending:
			pending = append(pending, id)
		case v.State == vmActive && v.Resched:
			resched = append(resched, id)
		}
	}
	slices.Sort(pending)
	slices.Sort(resched)
	s.scheduleVMs(now, pending)
	s.migrate(now, resched)
}

// migrate moves ACTIVE VMs flagged for rescheduling (one.vm.action
// resched) to another host the scheduler finds for them, keeping their
// system datastore as oned does for migrations; a VM with no other place
// keeps its flag and its host, and is tried again on the next pass.
func (s *Server) migrate(now timeT, ids []int) {
	for _, id := range ids {
		v := s.d.VMs[id]
		p := s.place(v)
		if p.host == nil || p.host.ID == v.HostID {
			continue
		}
		if ds, ok := s.d.Datastores[v.DSID]; ok && !slices.Contains(ds.Clusters, p.host.ClusterID) {
			continue
		}
		s.undeployFromHost(v)
		v.HostID, v.HostTime, v.Resched = p.host.ID, now.Unix(), false
		p.host.VMs = append(p.host.VMs, v.ID)
	}
}

// scheduleVMs deploys the given PENDING VMs, in order, where the
// scheduler's match-making puts them (place: images READY, a monitored
// host of an allowed cluster with the capacity, a system datastore of
// that cluster meeting SCHED_DS_REQUIREMENTS; the least loaded host
// first). A VM that cannot be placed stays PENDING with SCHED_MESSAGE in
// its USER_TEMPLATE as oned's scheduler writes it ("<ctime>: Cannot
// dispatch VM: ..."), rewritten only when the reason changes.
func (s *Server) scheduleVMs(now timeT, pending []int) {
	for _, id := range pending {
		v := s.d.VMs[id]
		p := s.place(v)
		if p.host == nil {
			old, _ := v.UserTmpl.Get("SCHED_MESSAGE")
			if _, reason, ok := strings.Cut(old, ": Cannot dispatch"); !ok || "Cannot dispatch"+reason != p.msg {
				v.UserTmpl = v.UserTmpl.Set("SCHED_MESSAGE", ctime(now)+": "+p.msg)
			}
			continue
		}
		s.deploy(v, p.host, p.ds, now)
	}
}

var clusterReqRE = regexp.MustCompile(`CLUSTER_ID\s*=\s*"?(\d+)"?`)

// eligible reports whether v may run on h (see scheduleVMs).
func (s *Server) eligible(v *vm, h *host) bool {
	req, ok := v.UserTmpl.Get("SCHED_REQUIREMENTS")
	if !ok {
		req, ok = v.Tmpl.Get("SCHED_REQUIREMENTS")
	}
	if ok {
		if m := clusterReqRE.FindStringSubmatch(req); m != nil && m[1] != strconv.Itoa(h.ClusterID) {
			return false
		}
	}
	for _, nic := range v.Tmpl.Vectors("NIC") {
		id, ok := Tmpl(nic.Vec).Get("NETWORK_ID")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(id)
		if err != nil {
			continue
		}
		if vn, ok := s.d.VNets[n]; ok && !slices.Contains(vn.Clusters, h.ClusterID) {
			return false
		}
	}
	return true
}

// deploy dispatches v to h and system datastore ds (nil: the manual
// one.vm.deploy without one): ACTIVE/PROLOG for Latency.VMBoot, then
// RUNNING; its images are USED while it exists.
func (s *Server) deploy(v *vm, h *host, ds *datastore, now timeT) {
	v.State, v.LCM = vmActive, lcmProlog
	v.RunAt = now.Add(s.opts.Latency.VMBoot).UnixNano()
	s.due(v.RunAt)
	v.HostID = h.ID
	v.HostTime = now.Unix()
	if ds != nil {
		v.DSID = ds.ID
	}
	v.UserTmpl = v.UserTmpl.Del("SCHED_MESSAGE")
	if !hasInt(h.VMs, v.ID) {
		h.VMs = append(h.VMs, v.ID)
	}
	for _, disk := range v.Tmpl.Vectors("DISK") {
		id, _ := strconv.Atoi(vecVal(disk, "IMAGE_ID"))
		if img, ok := s.d.Images[id]; ok && !hasInt(img.VMs, v.ID) {
			img.VMs = append(img.VMs, v.ID)
			if img.State == imageReady {
				img.State = imageUsed
			}
		}
	}
}

// releaseImages frees v's images (USED → READY when the last VM is gone).
func (s *Server) releaseImages(v *vm) {
	for _, img := range s.d.Images {
		if hasInt(img.VMs, v.ID) {
			img.VMs = removeInt(img.VMs, v.ID)
			if len(img.VMs) == 0 && img.State == imageUsed {
				img.State = imageReady
			}
		}
	}
}

func (s *Server) undeployFromHost(v *vm) {
	if h, ok := s.d.Hosts[v.HostID]; ok {
		h.VMs = removeInt(h.VMs, v.ID)
	}
}

// terminate ends a VM: DONE, leases released, host freed.
func (s *Server) terminate(v *vm, now timeT) {
	s.undeployFromHost(v)
	v.PrevSt, v.PrevLCM = v.State, v.LCM
	v.State, v.LCM = vmDone, lcmLCMInit
	v.ETime = now.Unix()
	for _, n := range s.d.VNets {
		n.release(v.ID)
	}
	s.releaseImages(v)
	s.schedule(now) // capacity was freed
}

func (c *call) vmAction(a args) (any, error) {
	action, err := a.str(0)
	if err != nil {
		return nil, err
	}
	o, id, err := c.lookup(kVM, a, 1)
	if err != nil {
		return nil, err
	}
	if err := c.checkLock(o, opManage); err != nil {
		return nil, err
	}
	v := o.(*vm)
	if rerr := c.s.vmAction(v, action, c.now); rerr != nil {
		rerr.msg = "[" + c.method + "] " + rerr.msg
		return nil, rerr
	}
	return id, nil
}

var stateNames = map[int]string{0: "INIT", 1: "PENDING", 2: "HOLD", 3: "ACTIVE", 4: "STOPPED", 5: "SUSPENDED", 6: "DONE", 8: "POWEROFF", 9: "UNDEPLOYED"}

// vmAction applies one.vm.action semantics; the caller holds s.mu.
func (s *Server) vmAction(v *vm, action string, now timeT) *rpcError {
	bad := func() *rpcError {
		return rpcErrf(errAction, "Error performing action %q on virtual machine [%d]: This action is not available for state %s", action, v.ID, stateNames[v.State])
	}
	move := func(st int) {
		v.PrevSt, v.PrevLCM = v.State, v.LCM
		v.State, v.LCM = st, lcmLCMInit
	}
	switch action {
	case "terminate", "terminate-hard":
		if v.State == vmDone || v.State == vmInit {
			return bad()
		}
		s.terminate(v, now)
	case "poweroff", "poweroff-hard":
		if v.State != vmActive {
			return bad()
		}
		move(vmPoweroff)
	case "suspend":
		if v.State != vmActive {
			return bad()
		}
		move(vmSuspended)
	case "stop":
		if v.State != vmActive && v.State != vmSuspended {
			return bad()
		}
		s.undeployFromHost(v)
		move(vmStopped)
	case "undeploy", "undeploy-hard":
		if v.State != vmActive && v.State != vmPoweroff {
			return bad()
		}
		s.undeployFromHost(v)
		move(vmUndeployed)
	case "resume":
		switch v.State {
		case vmPoweroff, vmSuspended:
			v.PrevSt, v.PrevLCM = v.State, v.LCM
			v.State, v.LCM = vmActive, lcmRunning
		case vmStopped, vmUndeployed:
			move(vmPending)
			s.schedule(now)
		default:
			return bad()
		}
	case "reboot", "reboot-hard":
		if v.State != vmActive {
			return bad()
		}
	case "hold":
		if v.State != vmPending {
			return bad()
		}
		move(vmHold)
	case "release":
		if v.State != vmHold {
			return bad()
		}
		move(vmPending)
		s.schedule(now)
	case "resched", "unresched":
		if v.State != vmActive && v.State != vmPoweroff {
			return bad()
		}
		v.Resched = action == "resched"
		s.schedule(now)
	default:
		return rpcErrf(errAPI, "Virtual machine action %q is not supported", action)
	}
	return nil
}

func (c *call) vmDeploy(a args) (any, error) {
	o, id, err := c.lookup(kVM, a, 0)
	if err != nil {
		return nil, err
	}
	h, hid, err := c.lookup(kHost, a, 1)
	if err != nil {
		return nil, err
	}
	v := o.(*vm)
	if v.State != vmPending && v.State != vmHold {
		return nil, rpcErrf(errAction, "[%s] Deploy action is not available for state %s", c.method, stateNames[v.State])
	}
	_ = hid
	c.s.deploy(v, h.(*host), nil, c.now)
	return id, nil
}

func (c *call) vmMonitoring(a args) (any, error) {
	o, _, err := c.lookup(kVM, a, 0)
	if err != nil {
		return nil, err
	}
	var b xb
	b.open("MONITORING_DATA")
	if v := o.(*vm); v.State == vmActive {
		vmMonRecord(v, &b, c.now)
	}
	b.close("MONITORING_DATA")
	return b.String(), nil
}

func (c *call) vmPoolMonitoring(a args) (any, error) {
	who, err := a.intOr(0, -2)
	if err != nil {
		return nil, err
	}
	var b xb
	b.open("MONITORING_DATA")
	for _, id := range sortedIDs(c.d().VMs) {
		v := c.d().VMs[id]
		if v.State == vmActive && c.visible(who, &v.base) {
			vmMonRecord(v, &b, c.now)
		}
	}
	b.close("MONITORING_DATA")
	return b.String(), nil
}

func vmMonRecord(v *vm, b *xb, now timeT) {
	b.open("MONITORING")
	b.int("ID", int64(v.ID))
	b.int("TIMESTAMP", now.Unix())
	b.float("CPU", v.CPU)
	mem := int64(0)
	if m, ok := v.Tmpl.Get("MEMORY"); ok {
		n, _ := strconv.Atoi(m)
		mem = int64(n) * 1024
	}
	b.int("MEMORY", mem)
	b.str("STATE", "a")
	b.close("MONITORING")
}
