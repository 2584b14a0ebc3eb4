package onesim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// call is one authenticated XML-RPC request, run with the state lock held.
type call struct {
	s      *Server
	method string
	user   *user
	now    time.Time
}

func (c *call) d() *db { return c.s.d }

type handler struct {
	fn    func(c *call, a args) (any, error)
	write bool
}

func (c *call) notFound(k kind, id int) error {
	return rpcErrf(errNoExists, "[%s] Error getting %s [%d].", c.method, k.label, id)
}

func (c *call) lookup(k kind, a args, i int) (object, int, error) {
	id, err := a.int(i)
	if err != nil {
		return nil, 0, err
	}
	o, ok := c.d().get(k, id)
	if !ok {
		return nil, id, c.notFound(k, id)
	}
	return o, id, nil
}

// lock levels of operations, as oned's LOCK attribute blocks them.
const (
	opUse    = 1
	opManage = 2
	opAdmin  = 3
)

func (c *call) checkLock(o object, op int) error {
	l := o.b().Lock
	if l != 0 && (l == 4 || op >= l) {
		return rpcErrf(errLocked, "[%s] The resource %d is locked.", c.method, o.b().ID)
	}
	return nil
}

func (c *call) uname(uid int) string {
	if u, ok := c.d().Users[uid]; ok {
		return u.Name
	}
	return ""
}

func (c *call) gname(gid int) string {
	if g, ok := c.d().Groups[gid]; ok {
		return g.Name
	}
	return ""
}

// rpcMethods is the XML-RPC method table.
var rpcMethods = map[string]handler{}

func init() {
	kinds := []kind{kGroup, kVDC, kCluster, kUser, kHost, kVNet, kDatastore, kImage, kTemplate, kVM}
	for _, k := range kinds {
		k := k
		rpcMethods["one."+k.prefix+".info"] = handler{fn: func(c *call, a args) (any, error) { return c.info(k, a) }}
		rpcMethods["one."+k.prefix+".update"] = handler{fn: func(c *call, a args) (any, error) { return c.update(k, a) }, write: true}
		if k.prefix != "vm" {
			rpcMethods["one."+k.prefix+".delete"] = handler{fn: func(c *call, a args) (any, error) { return c.delete(k, a) }, write: true}
		}
		if k.prefix != "group" && k.prefix != "user" {
			rpcMethods["one."+k.prefix+".rename"] = handler{fn: func(c *call, a args) (any, error) { return c.rename(k, a) }, write: true}
		}
		pool := "one." + k.prefix + "pool.info"
		rpcMethods[pool] = handler{fn: func(c *call, a args) (any, error) { return c.pool(k, a, false) }}
	}
	for _, k := range []kind{kVNet, kDatastore, kImage, kTemplate, kVM} {
		k := k
		rpcMethods["one."+k.prefix+".chown"] = handler{fn: func(c *call, a args) (any, error) { return c.chown(k, a) }, write: true}
		rpcMethods["one."+k.prefix+".chmod"] = handler{fn: func(c *call, a args) (any, error) { return c.chmod(k, a) }, write: true}
	}
	for _, k := range []kind{kVNet, kImage, kTemplate, kVM} {
		k := k
		rpcMethods["one."+k.prefix+".lock"] = handler{fn: func(c *call, a args) (any, error) { return c.lock(k, a, true) }, write: true}
		rpcMethods["one."+k.prefix+".unlock"] = handler{fn: func(c *call, a args) (any, error) { return c.lock(k, a, false) }, write: true}
	}
	rpcMethods["one.vmpool.infoextended"] = handler{fn: func(c *call, a args) (any, error) { return c.pool(kVM, a, true) }}
	rpcMethods["one.vmpool.infoset"] = handler{fn: (*call).vmInfoSet}

	rpcMethods["one.group.allocate"] = handler{fn: (*call).groupAllocate, write: true}
	rpcMethods["one.group.addadmin"] = handler{fn: func(c *call, a args) (any, error) { return c.groupAdmin(a, true) }, write: true}
	rpcMethods["one.group.deladmin"] = handler{fn: func(c *call, a args) (any, error) { return c.groupAdmin(a, false) }, write: true}

	rpcMethods["one.vdc.allocate"] = handler{fn: (*call).vdcAllocate, write: true}
	rpcMethods["one.vdc.addgroup"] = handler{fn: func(c *call, a args) (any, error) { return c.vdcGroup(a, true) }, write: true}
	rpcMethods["one.vdc.delgroup"] = handler{fn: func(c *call, a args) (any, error) { return c.vdcGroup(a, false) }, write: true}
	for _, r := range []struct {
		name string
		k    kind
	}{{"cluster", kCluster}, {"host", kHost}, {"datastore", kDatastore}, {"vnet", kVNet}} {
		r := r
		rpcMethods["one.vdc.add"+r.name] = handler{fn: func(c *call, a args) (any, error) { return c.vdcResource(a, r.name, r.k, true) }, write: true}
		rpcMethods["one.vdc.del"+r.name] = handler{fn: func(c *call, a args) (any, error) { return c.vdcResource(a, r.name, r.k, false) }, write: true}
	}

	rpcMethods["one.cluster.allocate"] = handler{fn: (*call).clusterAllocate, write: true}
	for _, r := range []struct {
		name string
		k    kind
	}{{"host", kHost}, {"datastore", kDatastore}, {"vnet", kVNet}} {
		r := r
		rpcMethods["one.cluster.add"+r.name] = handler{fn: func(c *call, a args) (any, error) { return c.clusterResource(a, r.k, true) }, write: true}
		rpcMethods["one.cluster.del"+r.name] = handler{fn: func(c *call, a args) (any, error) { return c.clusterResource(a, r.k, false) }, write: true}
	}

	rpcMethods["one.user.allocate"] = handler{fn: (*call).userAllocate, write: true}
	rpcMethods["one.user.chgrp"] = handler{fn: (*call).userChgrp, write: true}
	rpcMethods["one.user.addgroup"] = handler{fn: func(c *call, a args) (any, error) { return c.userGroup(a, true) }, write: true}
	rpcMethods["one.user.delgroup"] = handler{fn: func(c *call, a args) (any, error) { return c.userGroup(a, false) }, write: true}
	rpcMethods["one.user.passwd"] = handler{fn: (*call).userPasswd, write: true}

	rpcMethods["one.host.allocate"] = handler{fn: (*call).hostAllocate, write: true}
	rpcMethods["one.host.status"] = handler{fn: (*call).hostStatus, write: true}
	rpcMethods["one.host.monitoring"] = handler{fn: (*call).hostMonitoring}
	rpcMethods["one.hostpool.monitoring"] = handler{fn: (*call).hostPoolMonitoring}

	rpcMethods["one.vn.allocate"] = handler{fn: (*call).vnAllocate, write: true}
	rpcMethods["one.datastore.allocate"] = handler{fn: (*call).datastoreAllocate, write: true}
	rpcMethods["one.datastore.enable"] = handler{fn: (*call).datastoreEnable, write: true}

	rpcMethods["one.image.allocate"] = handler{fn: (*call).imageAllocate, write: true}
	rpcMethods["one.marketpool.info"] = handler{fn: (*call).marketPool}
	rpcMethods["one.market.info"] = handler{fn: (*call).marketInfo}
	rpcMethods["one.marketapppool.info"] = handler{fn: (*call).marketAppPool}
	rpcMethods["one.marketapp.info"] = handler{fn: (*call).marketAppInfo}

	rpcMethods["one.template.allocate"] = handler{fn: (*call).templateAllocate, write: true}
	rpcMethods["one.template.instantiate"] = handler{fn: (*call).templateInstantiate, write: true}
	rpcMethods["one.template.clone"] = handler{fn: (*call).templateClone, write: true}

	rpcMethods["one.vm.allocate"] = handler{fn: (*call).vmAllocate, write: true}
	rpcMethods["one.vm.action"] = handler{fn: (*call).vmAction, write: true}
	rpcMethods["one.vm.deploy"] = handler{fn: (*call).vmDeploy, write: true}
	rpcMethods["one.vm.monitoring"] = handler{fn: (*call).vmMonitoring}
	rpcMethods["one.vmpool.monitoring"] = handler{fn: (*call).vmPoolMonitoring}

	rpcMethods["one.system.version"] = handler{fn: func(c *call, a args) (any, error) { return "6.6.0", nil }}
	rpcMethods["one.system.config"] = handler{fn: func(c *call, a args) (any, error) {
		return "<OPENNEBULA_CONFIGURATION><API_LIST_ORDER>DESC</API_LIST_ORDER><DEFAULT_AUTH>core</DEFAULT_AUTH></OPENNEBULA_CONFIGURATION>", nil
	}}
}

// ---------------------------------------------------------------- generic

func (c *call) info(k kind, a args) (any, error) {
	o, _, err := c.lookup(k, a, 0)
	if err != nil {
		return nil, err
	}
	var b xb
	c.render(k, o, &b, true)
	return b.String(), nil
}

func (c *call) update(k kind, a args) (any, error) {
	o, id, err := c.lookup(k, a, 0)
	if err != nil {
		return nil, err
	}
	src, err := a.str(1)
	if err != nil {
		return nil, err
	}
	typ, err := a.intOr(2, 0)
	if err != nil {
		return nil, err
	}
	if typ != 0 && typ != 1 {
		return nil, rpcErrf(errAPI, "[%s] Wrong update type", c.method)
	}
	if err := c.checkLock(o, opManage); err != nil {
		return nil, err
	}
	t, perr := ParseTemplate(src)
	if perr != nil {
		return nil, rpcErrf(errInternal, "[%s] Error parsing template: %v", c.method, perr)
	}
	target := &o.b().Tmpl
	if v, ok := o.(*vm); ok {
		target = &v.UserTmpl
	}
	if typ == 0 {
		*target = t
	} else {
		*target = target.Merge(t)
	}
	if ds, ok := o.(*datastore); ok {
		if lim, ok := ds.Tmpl.Get("LIMIT_MB"); ok {
			if n, err := strconv.Atoi(lim); err == nil && n > 0 {
				ds.TotalMB = n
			}
		}
	}
	return id, nil
}

func (c *call) rename(k kind, a args) (any, error) {
	o, id, err := c.lookup(k, a, 0)
	if err != nil {
		return nil, err
	}
	name, err := a.str(1)
	if err != nil {
		return nil, err
	}
	if err := c.checkLock(o, opManage); err != nil {
		return nil, err
	}
	if err := c.checkName(k, name, o.b().UID, id); err != nil {
		return nil, err
	}
	o.b().Name = name
	return id, nil
}

func (c *call) checkName(k kind, name string, uid, self int) error {
	if strings.TrimSpace(name) == "" {
		return rpcErrf(errAction, "[%s] Invalid NAME, it cannot be empty", c.method)
	}
	if strings.ContainsAny(name, "\n\r\t") {
		return rpcErrf(errAction, "[%s] Invalid NAME, it cannot contain control characters", c.method)
	}
	if other := c.d().nameTaken(k, name, uid); other >= 0 && other != self {
		return rpcErrf(errAction, "[%s] NAME is already taken by %s %d.", c.method, strings.ToUpper(k.prefix), other)
	}
	return nil
}

func (c *call) allocName(k kind, name string, uid int) error {
	if err := c.checkName(k, name, uid, -1); err != nil {
		err.(*rpcError).code = errAllocate
		return err
	}
	return nil
}

func (c *call) delete(k kind, a args) (any, error) {
	o, id, err := c.lookup(k, a, 0)
	if err != nil {
		return nil, err
	}
	if err := c.checkLock(o, opManage); err != nil {
		return nil, err
	}
	d := c.d()
	busy := func(format string, x ...any) error {
		return rpcErrf(errAction, "[%s] Cannot delete %s. %s", c.method, k.label, fmt.Sprintf(format, x...))
	}
	switch k.prefix {
	case "group":
		if id < 100 {
			return nil, busy("System groups cannot be deleted.")
		}
		for _, u := range d.Users {
			if u.GID == id {
				return nil, busy("Group %d is not empty.", id)
			}
		}
		for _, u := range d.Users {
			u.Groups = removeInt(u.Groups, id)
		}
		for _, v := range d.VDCs {
			v.Groups = removeInt(v.Groups, id)
		}
	case "vdc":
		if id == 0 {
			return nil, busy("The default VDC cannot be deleted.")
		}
	case "cluster":
		if id == 0 {
			return nil, busy("The default cluster cannot be deleted.")
		}
		for _, h := range d.Hosts {
			if h.ClusterID == id {
				return nil, busy("Cluster %d is not empty, it contains hosts.", id)
			}
		}
		for _, ds := range d.Datastores {
			if hasInt(ds.Clusters, id) {
				return nil, busy("Cluster %d is not empty, it contains datastores.", id)
			}
		}
		for _, n := range d.VNets {
			if hasInt(n.Clusters, id) {
				return nil, busy("Cluster %d is not empty, it contains virtual networks.", id)
			}
		}
	case "user":
		if id < 2 {
			return nil, busy("oneadmin and serveradmin cannot be deleted.")
		}
		if id == c.user.ID {
			return nil, busy("A user cannot delete itself.")
		}
	case "host":
		if len(o.(*host).VMs) > 0 {
			return nil, busy("Can not remove a host with running VMs")
		}
	case "vn":
		if n := o.(*vnet); len(n.Leases) > 0 {
			return nil, busy("Can not remove a virtual network with leases in use")
		}
	case "datastore":
		if id < 3 {
			return nil, busy("System datastores cannot be deleted.")
		}
		for _, img := range d.Images {
			if img.DSID == id {
				return nil, busy("Datastore %d is not empty, it contains images.", id)
			}
		}
		for _, v := range d.VMs {
			if v.DSID == id && v.State != vmDone {
				return nil, busy("Datastore %d is in use by virtual machines.", id)
			}
		}
	case "image":
		if img := o.(*image); len(img.VMs) > 0 {
			return nil, busy("The image is used by %d virtual machines.", len(img.VMs))
		}
	}
	d.del(k, id)
	for _, v := range d.VDCs {
		switch k.prefix {
		case "cluster":
			v.Clusters = removeRef(v.Clusters, id)
		case "host":
			v.Hosts = removeRef(v.Hosts, id)
		case "datastore":
			v.Datastores = removeRef(v.Datastores, id)
		case "vn":
			v.VNets = removeRef(v.VNets, id)
		}
	}
	return id, nil
}

func removeRef(s []zref, id int) []zref {
	out := s[:0:0]
	for _, r := range s {
		if r.ID != id {
			out = append(out, r)
		}
	}
	return out
}

func (c *call) chown(k kind, a args) (any, error) {
	o, id, err := c.lookup(k, a, 0)
	if err != nil {
		return nil, err
	}
	uid, err := a.int(1)
	if err != nil {
		return nil, err
	}
	gid, err := a.int(2)
	if err != nil {
		return nil, err
	}
	if err := c.checkLock(o, opAdmin); err != nil {
		return nil, err
	}
	if uid >= 0 {
		if _, ok := c.d().Users[uid]; !ok {
			return nil, c.notFound(kUser, uid)
		}
		o.b().UID = uid
	}
	if gid >= 0 {
		if _, ok := c.d().Groups[gid]; !ok {
			return nil, c.notFound(kGroup, gid)
		}
		o.b().GID = gid
	}
	return id, nil
}

func (c *call) chmod(k kind, a args) (any, error) {
	o, id, err := c.lookup(k, a, 0)
	if err != nil {
		return nil, err
	}
	if err := c.checkLock(o, opAdmin); err != nil {
		return nil, err
	}
	p := o.b().Perms
	for i := 0; i < 9; i++ {
		v, err := a.int(1 + i)
		if err != nil {
			return nil, err
		}
		if v > 1 {
			return nil, rpcErrf(errAPI, "[%s] Permission bits must be -1, 0 or 1", c.method)
		}
		if v >= 0 {
			p[i] = v
		}
	}
	o.b().Perms = p
	return id, nil
}

func (c *call) lock(k kind, a args, on bool) (any, error) {
	o, id, err := c.lookup(k, a, 0)
	if err != nil {
		return nil, err
	}
	if !on {
		o.b().Lock = 0
		return id, nil
	}
	level, err := a.intOr(1, 1)
	if err != nil {
		return nil, err
	}
	if level < 1 || level > 4 {
		return nil, rpcErrf(errAPI, "[%s] Wrong lock level %d", c.method, level)
	}
	if o.b().Lock != 0 {
		return nil, rpcErrf(errLocked, "[%s] Error trying to lock the resource %d: it is already locked.", c.method, id)
	}
	o.b().Lock = level
	o.b().LockTime = c.now.Unix()
	return id, nil
}

// pool answers one.<x>pool.info. Objects with owners take the who/start/
// end filter (VMs also state and "KEY=VALUE"); order is by id, descending
// (oned's default API_LIST_ORDER).
func (c *call) pool(k kind, a args, extended bool) (any, error) {
	who, start, end := -2, -1, -1
	state := -1
	filter := ""
	owned := k.prefix == "vn" || k.prefix == "template" || k.prefix == "vm" || k.prefix == "image"
	if owned {
		var err error
		if who, err = a.intOr(0, -2); err != nil {
			return nil, err
		}
		if start, err = a.intOr(1, -1); err != nil {
			return nil, err
		}
		if end, err = a.intOr(2, -1); err != nil {
			return nil, err
		}
		if who < -4 {
			return nil, rpcErrf(errAPI, "[%s] Incorrect filter_flag", c.method)
		}
		if k.prefix == "vm" {
			if state, err = a.intOr(3, -1); err != nil {
				return nil, err
			}
			if state < -2 || state > 11 {
				return nil, rpcErrf(errAPI, "[%s] Incorrect filter_flag, state", c.method)
			}
			if filter, err = a.strOr(4, ""); err != nil {
				return nil, err
			}
		}
	}
	d := c.d()
	tbl := d.table(k)
	ids := sortedIDs(tbl)
	slices.Reverse(ids)
	offset, limit := 0, -1
	if end < -1 {
		limit = -end
		offset = max(start, 0)
	}
	var b xb
	b.Grow(len(ids) * 512)
	b.open(k.pool)
	skipped, n := 0, 0
	for _, id := range ids {
		o := tbl[id]
		ob := o.b()
		if end >= -1 && start != -1 && (id < start || (end != -1 && id > end)) {
			continue
		}
		if owned && !c.visible(who, ob) {
			continue
		}
		if k.prefix == "vm" {
			v := o.(*vm)
			if (state == -1 && v.State == vmDone) || (state >= 0 && v.State != state) {
				continue
			}
			if filter != "" && !vmMatches(v, filter) {
				continue
			}
		}
		if limit >= 0 {
			if skipped < offset {
				skipped++
				continue
			}
			if n >= limit {
				break
			}
		}
		n++
		c.render(k, o, &b, false)
	}
	b.close(k.pool)
	return b.String(), nil
}

func (c *call) visible(who int, ob *base) bool {
	switch {
	case who == -2:
		return true
	case who == -3:
		return ob.UID == c.user.ID
	case who == -1:
		return ob.UID == c.user.ID || hasInt(c.user.Groups, ob.GID)
	case who == -4:
		return ob.GID == c.user.GID
	default:
		return ob.UID == who
	}
}

// vmMatches implements the KEY=VALUE filter of one.vmpool.info over the
// VM's name and top-level TEMPLATE and USER_TEMPLATE attributes; a filter
// without "=" matches any of those values by substring (oned's full text
// search, roughly).
func vmMatches(v *vm, filter string) bool {
	key, val, hasEq := strings.Cut(filter, "=")
	key = strings.ToUpper(strings.TrimSpace(key))
	if !hasEq {
		if strings.Contains(v.Name, filter) {
			return true
		}
		for _, t := range []Tmpl{v.UserTmpl, v.Tmpl} {
			for _, p := range t {
				if strings.Contains(p.Val, filter) {
					return true
				}
			}
		}
		return false
	}
	if key == "NAME" {
		return v.Name == val
	}
	for _, t := range []Tmpl{v.UserTmpl, v.Tmpl} {
		for _, p := range t {
			if p.Key == key && p.Vec == nil && p.Val == val {
				return true
			}
		}
	}
	return false
}

func (c *call) vmInfoSet(a args) (any, error) {
	list, err := a.str(0)
	if err != nil {
		return nil, err
	}
	var b xb
	b.open("VM_POOL")
	seen := map[int]bool{}
	var ids []int
	for _, f := range strings.Split(list, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	for _, id := range ids {
		if v, ok := c.d().VMs[id]; ok {
			c.render(kVM, v, &b, false)
		}
	}
	b.close("VM_POOL")
	return b.String(), nil
}
