package onesim

import (
	"strconv"
)

// render writes one object's XML, as oned's info and pool calls do;
// single adds what only the info call of one object carries.
func (c *call) render(k kind, o object, b *xb, single bool) {
	switch v := o.(type) {
	case *group:
		c.renderGroup(v, b, single)
	case *vdc:
		c.renderVDC(v, b)
	case *cluster:
		c.renderCluster(v, b)
	case *user:
		c.renderUser(v, b, single)
	case *host:
		c.renderHost(v, b)
	case *vnet:
		c.renderVNet(v, b, single)
	case *datastore:
		c.renderDatastore(v, b)
	case *image:
		c.renderImage(v, b)
	case *vmtemplate:
		c.renderVMTemplate(v, b)
	case *vm:
		c.renderVM(v, b)
	}
}

// renderGroup writes a GROUP element.
func (c *call) renderGroup(v *group, b *xb, single bool) {
	d := c.d()
	b.open("GROUP")
	b.int("ID", int64(v.ID))
	b.str("NAME", v.Name)
	b.tmpl("TEMPLATE", v.Tmpl)
	var users []int
	for _, id := range sortedIDs(d.Users) {
		if hasInt(d.Users[id].Groups, v.ID) {
			users = append(users, id)
		}
	}
	b.ids("USERS", users)
	b.ids("ADMINS", v.Admins)
	if single {
		renderQuotas(b, "DEFAULT_GROUP_QUOTAS")
	}
	b.close("GROUP")
}

// renderVDC writes a VDC element.
func (c *call) renderVDC(v *vdc, b *xb) {
	b.open("VDC")
	b.int("ID", int64(v.ID))
	b.str("NAME", v.Name)
	b.ids("GROUPS", v.Groups)
	zrefs := func(outer, inner, idTag string, refs []zref) {
		if len(refs) == 0 {
			b.WriteString("<" + outer + "/>")
			return
		}
		b.open(outer)
		for _, r := range refs {
			b.open(inner)
			b.int("ZONE_ID", int64(r.Zone))
			b.int(idTag, int64(r.ID))
			b.close(inner)
		}
		b.close(outer)
	}
	zrefs("CLUSTERS", "CLUSTER", "CLUSTER_ID", v.Clusters)
	zrefs("HOSTS", "HOST", "HOST_ID", v.Hosts)
	zrefs("DATASTORES", "DATASTORE", "DATASTORE_ID", v.Datastores)
	zrefs("VNETS", "VNET", "VNET_ID", v.VNets)
	b.tmpl("TEMPLATE", v.Tmpl)
	b.close("VDC")
}

// renderCluster writes a CLUSTER element.
func (c *call) renderCluster(v *cluster, b *xb) {
	d := c.d()
	b.open("CLUSTER")
	b.int("ID", int64(v.ID))
	b.str("NAME", v.Name)
	var hosts, dss, nets []int
	for _, id := range sortedIDs(d.Hosts) {
		if d.Hosts[id].ClusterID == v.ID {
			hosts = append(hosts, id)
		}
	}
	for _, id := range sortedIDs(d.Datastores) {
		if hasInt(d.Datastores[id].Clusters, v.ID) {
			dss = append(dss, id)
		}
	}
	for _, id := range sortedIDs(d.VNets) {
		if hasInt(d.VNets[id].Clusters, v.ID) {
			nets = append(nets, id)
		}
	}
	b.ids("HOSTS", hosts)
	b.ids("DATASTORES", dss)
	b.ids("VNETS", nets)
	b.tmpl("TEMPLATE", v.Tmpl)
	b.close("CLUSTER")
}

// renderUser writes a USER element.
func (c *call) renderUser(v *user, b *xb, single bool) {
	b.open("USER")
	b.int("ID", int64(v.ID))
	b.int("GID", int64(v.GID))
	b.ids("GROUPS", v.Groups)
	b.str("GNAME", c.gname(v.GID))
	b.str("NAME", v.Name)
	b.str("PASSWORD", v.PassHash)
	b.str("AUTH_DRIVER", v.Driver)
	b.int("ENABLED", flag(v.Enabled))
	b.WriteString("<LOGIN_TOKEN/>")
	b.tmpl("TEMPLATE", v.Tmpl)
	if single {
		renderQuotas(b, "DEFAULT_USER_QUOTAS")
	}
	b.close("USER")
}

// renderHost writes a HOST element.
func (c *call) renderHost(v *host, b *xb) {
	d := c.d()
	b.open("HOST")
	b.int("ID", int64(v.ID))
	b.str("NAME", v.Name)
	b.int("STATE", int64(v.State))
	b.int("PREV_STATE", int64(v.State))
	b.str("IM_MAD", v.IMMad)
	b.str("VM_MAD", v.VMMad)
	b.int("CLUSTER_ID", int64(v.ClusterID))
	cname := ""
	if cl, ok := d.Clusters[v.ClusterID]; ok {
		cname = cl.Name
	}
	b.str("CLUSTER", cname)
	mem := c.hostUsedMem(v)
	b.open("HOST_SHARE")
	b.int("MEM_USAGE", int64(mem))
	b.int("CPU_USAGE", int64(v.usedCPU()))
	b.int("TOTAL_MEM", int64(v.TotalMem))
	b.int("TOTAL_CPU", int64(v.TotalCPU))
	b.int("MAX_MEM", int64(v.TotalMem))
	b.int("MAX_CPU", int64(v.TotalCPU))
	b.int("RUNNING_VMS", int64(len(v.VMs)))
	b.int("VMS_THREAD", 0)
	b.WriteString("<DATASTORES><DISK_USAGE>0</DISK_USAGE><FREE_DISK>0</FREE_DISK><MAX_DISK>0</MAX_DISK><USED_DISK>0</USED_DISK></DATASTORES><PCI_DEVICES/><NUMA_NODES/>")
	b.close("HOST_SHARE")
	b.ids("VMS", v.VMs)
	c.hostMonRecord(v, b)
	b.tmpl("TEMPLATE", v.Tmpl)
	b.close("HOST")
}

// renderVNet writes a VNET element.
func (c *call) renderVNet(v *vnet, b *xb, single bool) {
	b.open("VNET")
	c.owned(&v.base, b)
	b.ids("CLUSTERS", v.Clusters)
	b.str("BRIDGE", v.Bridge)
	bt, _ := v.Tmpl.Get("BRIDGE_TYPE")
	if bt == "" {
		bt = "linux"
	}
	b.str("BRIDGE_TYPE", bt)
	b.int("STATE", int64(v.State))
	b.int("PREV_STATE", 0)
	b.str("PARENT_NETWORK_ID", "")
	b.str("VN_MAD", v.VNMad)
	phy, _ := v.Tmpl.Get("PHYDEV")
	b.str("PHYDEV", phy)
	vlan, _ := v.Tmpl.Get("VLAN_ID")
	b.str("VLAN_ID", vlan)
	b.str("OUTER_VLAN_ID", "")
	b.int("VLAN_ID_AUTOMATIC", 0)
	b.int("OUTER_VLAN_ID_AUTOMATIC", 0)
	b.int("USED_LEASES", int64(len(v.Leases)))
	b.WriteString("<VROUTERS/><UPDATED_VMS/><OUTDATED_VMS/><UPDATING_VMS/><ERROR_VMS/>")
	b.tmpl("TEMPLATE", v.Tmpl)
	b.open("AR_POOL")
	for _, ar := range v.ARs {
		renderAR(v, ar, b, single)
	}
	b.close("AR_POOL")
	c.lockXML(&v.base, b)
	b.close("VNET")
}

// renderDatastore writes a DATASTORE element.
func (c *call) renderDatastore(v *datastore, b *xb) {
	b.open("DATASTORE")
	c.owned(&v.base, b)
	b.str("DS_MAD", v.DSMad)
	b.str("TM_MAD", v.TMMad)
	// oned: DATASTORE_LOCATION (default /var/lib/one/datastores) + "/" + ID
	// (Datastore::set_ds_location); a shared-TM datastore is mounted
	// there on every host.
	b.str("BASE_PATH", "/var/lib/one/datastores/"+strconv.Itoa(v.ID))
	b.int("TYPE", int64(v.Type))
	b.int("DISK_TYPE", 0)
	b.int("STATE", int64(v.State))
	b.ids("CLUSTERS", v.Clusters)
	used := c.d().dsUsedMB(v)
	if v.Type == 1 {
		used = c.d().systemUsedMB(v)
	}
	used = min(used, v.TotalMB)
	b.int("TOTAL_MB", int64(v.TotalMB))
	b.int("FREE_MB", int64(v.TotalMB-used))
	b.int("USED_MB", int64(used))
	var imgs []int
	for _, id := range sortedIDs(c.d().Images) {
		if c.d().Images[id].DSID == v.ID {
			imgs = append(imgs, id)
		}
	}
	b.ids("IMAGES", imgs)
	b.tmpl("TEMPLATE", v.Tmpl)
	b.close("DATASTORE")
}

// renderVMTemplate writes a VMTEMPLATE element.
func (c *call) renderVMTemplate(v *vmtemplate, b *xb) {
	b.open("VMTEMPLATE")
	c.owned(&v.base, b)
	c.lockXML(&v.base, b)
	b.int("REGTIME", v.RegTime)
	b.tmpl("TEMPLATE", v.Tmpl)
	b.close("VMTEMPLATE")
}

// renderVM writes a VM element.
func (c *call) renderVM(v *vm, b *xb) {
	b.open("VM")
	c.owned(&v.base, b)
	b.int("LAST_POLL", v.HostTime)
	b.int("STATE", int64(v.State))
	b.int("LCM_STATE", int64(v.LCM))
	b.int("PREV_STATE", int64(v.PrevSt))
	b.int("PREV_LCM_STATE", int64(v.PrevLCM))
	b.int("RESCHED", flag(v.Resched))
	b.int("STIME", v.STime)
	b.int("ETIME", v.ETime)
	if v.HostID >= 0 || v.State == vmDone {
		b.str("DEPLOY_ID", "one-"+strconv.Itoa(v.ID))
	} else {
		b.WriteString("<DEPLOY_ID/>")
	}
	if v.State == vmActive {
		vmMonRecord(v, b, c.now)
	} else {
		b.WriteString("<MONITORING/>")
	}
	b.tmpl("TEMPLATE", v.Tmpl)
	b.tmpl("USER_TEMPLATE", v.UserTmpl)
	c.renderHistory(v, b)
	c.lockXML(&v.base, b)
	b.close("VM")
}

// owned writes ID, UID, GID, UNAME, GNAME, NAME and PERMISSIONS.
func (c *call) owned(ob *base, b *xb) {
	b.int("ID", int64(ob.ID))
	b.int("UID", int64(ob.UID))
	b.int("GID", int64(ob.GID))
	b.str("UNAME", c.uname(ob.UID))
	b.str("GNAME", c.gname(ob.GID))
	b.str("NAME", ob.Name)
	b.perms(ob.Perms)
}

func (c *call) lockXML(ob *base, b *xb) {
	if ob.Lock == 0 {
		return
	}
	b.open("LOCK")
	b.int("LOCKED", int64(ob.Lock))
	b.int("OWNER", int64(ob.UID))
	b.int("TIME", ob.LockTime)
	b.int("REQ_ID", -1)
	b.close("LOCK")
}

// vecGet returns attribute key of the first vector named vec.
func (t Tmpl) vecGet(vec, key string) (string, bool) {
	for _, p := range t {
		if p.Key == vec && p.Vec != nil {
			for _, q := range p.Vec {
				if q.Key == key {
					return q.Val, true
				}
			}
		}
	}
	return "", false
}

// renderAR writes one address range of n with its used leases (listed
// only by the info call of one vnet).
func renderAR(n *vnet, ar Pair, b *xb, single bool) {
	b.open("AR")
	arID := ""
	for _, p := range ar.Vec {
		b.cdata(p.Key, p.Val)
		if p.Key == "AR_ID" {
			arID = p.Val
		}
	}
	if _, has := (Tmpl{ar}).vecGet("AR", "MAC"); !has {
		if ip, ok := (Tmpl{ar}).vecGet("AR", "IP"); ok {
			b.cdata("MAC", macFor(ip))
		}
	}
	used := 0
	for _, l := range n.Leases {
		if strconv.Itoa(l.ARID) == arID {
			used++
		}
	}
	b.int("USED_LEASES", int64(used))
	if single && used > 0 {
		b.open("LEASES")
		for _, l := range n.Leases {
			if strconv.Itoa(l.ARID) == arID {
				b.open("LEASE")
				b.str("IP", l.IP)
				b.str("MAC", macFor(l.IP))
				b.int("VM", int64(l.VM))
				b.close("LEASE")
			}
		}
		b.close("LEASES")
	}
	b.close("AR")
}

// renderHistory writes the VM's HISTORY_RECORDS: one record while it is
// placed on a host, none before.
func (c *call) renderHistory(v *vm, b *xb) {
	h, ok := c.d().Hosts[v.HostID]
	if !ok {
		b.WriteString("<HISTORY_RECORDS/>")
		return
	}
	b.open("HISTORY_RECORDS")
	b.open("HISTORY")
	b.int("OID", int64(v.ID))
	b.int("SEQ", 0)
	b.str("HOSTNAME", h.Name)
	b.int("HID", int64(h.ID))
	b.int("CID", int64(h.ClusterID))
	b.int("STIME", v.HostTime)
	b.int("ETIME", v.ETime)
	b.str("VM_MAD", h.VMMad)
	tm := "ssh"
	if ds, ok := c.d().Datastores[v.DSID]; ok {
		tm = ds.TMMad
	}
	b.str("TM_MAD", tm)
	b.int("DS_ID", int64(v.DSID))
	b.int("PSTIME", v.HostTime)
	b.int("PETIME", v.HostTime)
	b.int("RSTIME", v.HostTime)
	b.int("RETIME", v.ETime)
	b.int("ESTIME", 0)
	b.int("EETIME", 0)
	b.int("ACTION", 0)
	b.int("UID", -1)
	b.int("GID", -1)
	b.int("REQUEST_ID", -1)
	b.close("HISTORY")
	b.close("HISTORY_RECORDS")
}

// renderQuotas writes the (empty) quota sections that the info call of one
// user or group carries, and the defaults element def holding the same.
func renderQuotas(b *xb, def string) {
	const q = "<DATASTORE_QUOTA/><NETWORK_QUOTA/><VM_QUOTA/><IMAGE_QUOTA/>"
	b.WriteString(q)
	b.WriteString("<" + def + ">" + q + "</" + def + ">")
}

// flag is oned's 0/1 for a boolean element.
func flag(v bool) int64 {
	if v {
		return 1
	}
	return 0
}
