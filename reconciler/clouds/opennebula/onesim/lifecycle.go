package onesim

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/plan"
)

// Latency is how long the simulated asynchronous work takes (package doc:
// sources of the realistic values). The zero value completes each step on
// the first request after the one that started it.
type Latency struct {
	// ImageImport: a new image stays LOCKED this long (download from the
	// marketplace and copy into the datastore), then READY.
	ImageImport time.Duration
	// HostMonitor: a new or enabled host stays INIT this long before its
	// first monitoring makes it MONITORED (or ERROR).
	HostMonitor time.Duration
	// VMBoot: a dispatched VM is ACTIVE/PROLOG this long (disk clone and
	// container start), then RUNNING.
	VMBoot time.Duration
}

// FastLatency keeps tests and `make run` converging in seconds.
func FastLatency() Latency {
	return Latency{ImageImport: 50 * time.Millisecond, HostMonitor: 20 * time.Millisecond, VMBoot: 20 * time.Millisecond}
}

// RealisticLatency is what a real front-end takes (package doc).
func RealisticLatency() Latency {
	return Latency{ImageImport: 90 * time.Second, HostMonitor: 45 * time.Second, VMBoot: 20 * time.Second}
}

// HostProbe is what the front-end finds when it monitors a host: Err is
// why it cannot (the host goes to ERROR with it), else the host's
// capacity.
type HostProbe struct {
	Err      string
	Cores    int
	MemoryMB int
}

// Prober monitors a host by its hostname (oned's host NAME, the address
// the front-end's drivers ssh to) and its drivers. nil reaches no host.
type Prober func(hostname, imMad, vmMad string) HostProbe

// hostErrorRetry is how often a host in ERROR is monitored again (oned's
// monitord restarts the probes after MONITORING_INTERVAL_HOST without a
// beacon); never faster than this, so requests stay cheap.
const hostErrorRetry = 2 * time.Second

// More states (oned's enums: Host::HostState, Image::ImageState,
// VirtualMachine::LcmState).
const (
	hostInit  = 0
	hostError = 3

	imageInit   = 0
	imageReady  = 1
	imageUsed   = 2
	imageLocked = 4
	imageError  = 5

	lcmProlog = 1
)

// image is an image of an image datastore.
type image struct {
	base
	DSID    int    `json:"ds_id"`
	State   int    `json:"state"`
	Type    string `json:"type"`
	Source  string `json:"source,omitempty"`
	Format  string `json:"format,omitempty"`
	SizeMB  int    `json:"size_mb"`
	ReadyAt int64  `json:"ready_at,omitempty"` // unix nanoseconds
	VMs     []int  `json:"vms,omitempty"`
}

var kImage = kind{"image", "image", "IMAGE", "IMAGE_POOL", 2, 0}

// ---------------------------------------------------------------- marketplace

// market and app are the read-only marketplace catalogue: oned's default
// "OpenNebula Public" marketplace (id 0) with a few of its apps, among
// them the one agentvdc pins (plan.ONEImageApp, plan.ONEImageAppVersion).
type market struct {
	ID   int
	Name string
	MAD  string
}

type marketApp struct {
	ID       int
	Name     string
	Version  string
	Market   int
	SizeMB   int
	Format   string
	MD5      string
	Template string // APPTEMPLATE64, decoded
}

var markets = []market{{0, plan.ONEMarketplace, "one"}, {1, "Linux Containers", "linuxcontainers"}}

var marketApps = []marketApp{
	{1, "Alpine Linux 3.20", "6.10.0-2-20240514", 0, 256, "qcow2", "8f3c2f5b1f0a4c1e9d6b7a2e4c5d6f70", "DEV_PREFIX=\"vd\"\nTYPE=\"OS\""},
	{2, "Ubuntu 22.04", "6.10.0-2-20240514", 0, 2252, "qcow2", "0c4e7a1d9b3f5e2a6c8d0b1f3a5c7e92", "DEV_PREFIX=\"vd\"\nTYPE=\"OS\""},
	{3, plan.ONEImageApp, plan.ONEImageAppVersion, 0, 3584, "qcow2", "5d2b9e0f7c1a3e4b6d8f0a2c4e6b8d13", "DEV_PREFIX=\"vd\"\nTYPE=\"OS\""},
	{4, plan.ONEImageApp, "6.8.1-1-20240131", 0, 3584, "qcow2", "9a1c3e5f7b2d4f6a8c0e1b3d5f7a9c24", "DEV_PREFIX=\"vd\"\nTYPE=\"OS\""},
}

func appByID(id int) (marketApp, bool) {
	for _, a := range marketApps {
		if a.ID == id {
			return a, true
		}
	}
	return marketApp{}, false
}

func (a marketApp) source() string {
	return "https://marketplace.opennebula.io//appliance/" + a.MD5 + "/download/0"
}

func (c *call) marketPool(a args) (any, error) {
	var b xb
	b.open("MARKETPLACE_POOL")
	for _, m := range markets {
		renderMarket(m, &b)
	}
	b.close("MARKETPLACE_POOL")
	return b.String(), nil
}

func (c *call) marketInfo(a args) (any, error) {
	id, err := a.int(0)
	if err != nil {
		return nil, err
	}
	for _, m := range markets {
		if m.ID == id {
			var b xb
			renderMarket(m, &b)
			return b.String(), nil
		}
	}
	return nil, rpcErrf(errNoExists, "[%s] Error getting marketplace [%d].", c.method, id)
}

func renderMarket(m market, b *xb) {
	b.open("MARKETPLACE")
	oneadminOwned(b, m.ID, m.Name)
	b.int("STATE", 0)
	b.str("MARKET_MAD", m.MAD)
	var ids []int
	for _, a := range marketApps {
		if a.Market == m.ID {
			ids = append(ids, a.ID)
		}
	}
	b.ids("MARKETPLACEAPPS", ids)
	b.tmpl("TEMPLATE", Tmpl{{Key: "MARKET_MAD", Val: m.MAD}})
	b.close("MARKETPLACE")
}

// oneadminOwned writes the id, oneadmin's ownership and the name of a
// built-in object.
func oneadminOwned(b *xb, id int, name string) {
	b.int("ID", int64(id))
	b.int("UID", 0)
	b.int("GID", 0)
	b.str("UNAME", "oneadmin")
	b.str("GNAME", "oneadmin")
	b.str("NAME", name)
}

func (c *call) marketAppPool(a args) (any, error) {
	var b xb
	b.open("MARKETPLACEAPP_POOL")
	for i := len(marketApps) - 1; i >= 0; i-- {
		renderApp(marketApps[i], &b)
	}
	b.close("MARKETPLACEAPP_POOL")
	return b.String(), nil
}

func (c *call) marketAppInfo(a args) (any, error) {
	id, err := a.int(0)
	if err != nil {
		return nil, err
	}
	app, ok := appByID(id)
	if !ok {
		return nil, rpcErrf(errNoExists, "[%s] Error getting marketplace app [%d].", c.method, id)
	}
	var b xb
	renderApp(app, &b)
	return b.String(), nil
}

func renderApp(a marketApp, b *xb) {
	mname := ""
	for _, m := range markets {
		if m.ID == a.Market {
			mname = m.Name
		}
	}
	b.open("MARKETPLACEAPP")
	oneadminOwned(b, a.ID, a.Name)
	b.int("TYPE", 1) // IMAGE
	b.int("ORIGIN_ID", -1)
	b.str("SOURCE", a.source())
	b.str("MD5", a.MD5)
	b.int("SIZE", int64(a.SizeMB))
	b.str("VERSION", a.Version)
	b.str("FORMAT", a.Format)
	b.str("APPTEMPLATE64", base64.StdEncoding.EncodeToString([]byte(a.Template)))
	b.int("MARKETPLACE_ID", int64(a.Market))
	b.str("MARKETPLACE", mname)
	b.int("STATE", 1) // READY
	b.int("ZONE_ID", 0)
	b.tmpl("TEMPLATE", Tmpl{{Key: "VERSION", Val: a.Version}})
	b.close("MARKETPLACEAPP")
}

// ---------------------------------------------------------------- images

// imageAllocate is one.image.allocate(template, datastore id): a new image
// is LOCKED while its file is copied, READY after Latency.ImageImport. As
// oned (RequestManagerAllocate's ImageAllocate): the datastore must be an
// image datastore, FROM_APP=<app id> takes PATH, FORMAT, FROM_APP_NAME,
// FROM_APP_MD5 and the size from the marketplace app, and the image must
// fit in the datastore's free space.
func (c *call) imageAllocate(a args) (any, error) {
	t, err := c.allocTemplate(a)
	if err != nil {
		return nil, err
	}
	dsid, err := a.int(1)
	if err != nil {
		return nil, err
	}
	d := c.d()
	ds, ok := d.Datastores[dsid]
	if !ok {
		return nil, rpcErrf(errNoExists, "[%s] Error getting datastore [%d].", c.method, dsid)
	}
	if ds.Type != 0 {
		return nil, rpcErrf(errAllocate, "[%s] New images can only be allocated in a files or image datastore.", c.method)
	}
	name, _ := t.Get("NAME")
	if name == "" {
		return nil, rpcErrf(errAllocate, "[%s] No NAME in template for Image.", c.method)
	}
	img := &image{DSID: dsid, State: imageLocked, Type: "OS"}
	if typ, ok := t.Get("TYPE"); ok && typ != "" {
		img.Type = strings.ToUpper(typ)
	}
	if v, ok := t.Get("FROM_APP"); ok {
		id, err := strconv.Atoi(v)
		app, found := appByID(id)
		if err != nil || !found {
			return nil, rpcErrf(errInternal, "[%s] Cannot determine image SIZE.", c.method)
		}
		t = t.Set("FROM_APP_NAME", app.Name).Set("PATH", app.source()).Set("FORMAT", app.Format).Set("FROM_APP_MD5", app.MD5)
		img.SizeMB = app.SizeMB
	}
	path, _ := t.Get("PATH")
	source, _ := t.Get("SOURCE")
	if path == "" && source == "" {
		return nil, rpcErrf(errAllocate, "[%s] The image has no PATH nor SOURCE.", c.method)
	}
	if img.SizeMB == 0 {
		img.SizeMB = 1024
		if v, ok := t.Get("SIZE"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				img.SizeMB = n
			}
		}
	}
	if img.SizeMB > ds.TotalMB-d.dsUsedMB(ds) {
		return nil, rpcErrf(errAction, "[%s] Not enough space in datastore", c.method)
	}
	img.Format, _ = t.Get("FORMAT")
	if err := c.allocName(kImage, name, c.user.ID); err != nil {
		return nil, err
	}
	id := d.nextID("image", kImage.first)
	img.base = base{ID: id, Name: name, UID: c.user.ID, GID: c.user.GID, Perms: defaultPerms, RegTime: c.now.Unix(), Tmpl: t.Del("NAME")}
	img.Source = fmt.Sprintf("/var/lib/one/datastores/%d/%x", dsid, id*7919+dsid)
	img.ReadyAt = c.now.Add(c.s.opts.Latency.ImageImport).UnixNano()
	d.Images[id] = img
	c.s.due(img.ReadyAt)
	return id, nil
}

// dsUsedMB is the space the images of ds take, or the simulated used
// share (SetDatastoreUsed) when that is more: the control API sets what
// the datastore reports, the objects in it are a floor.
func (d *db) dsUsedMB(ds *datastore) int {
	used := 0
	for _, img := range d.Images {
		if img.DSID == ds.ID {
			used += img.SizeMB
		}
	}
	return max(used, int(float64(ds.TotalMB)*ds.UsedPct/100))
}

func imageStateName(st int) string {
	return map[int]string{imageInit: "INIT", imageReady: "READY", imageUsed: "USED", imageLocked: "LOCKED", imageError: "ERROR"}[st]
}

// renderImage writes an IMAGE element.
func (c *call) renderImage(v *image, b *xb) {
	b.open("IMAGE")
	c.owned(&v.base, b)
	c.lockXML(&v.base, b)
	types := map[string]int64{"OS": 0, "CDROM": 1, "DATABLOCK": 2}
	b.int("TYPE", types[v.Type])
	b.int("DISK_TYPE", 0)
	b.int("PERSISTENT", 0)
	b.int("REGTIME", v.RegTime)
	b.str("SOURCE", v.Source)
	path, _ := v.Tmpl.Get("PATH")
	b.str("PATH", path)
	b.str("FORMAT", v.Format)
	b.str("FS", "")
	b.int("SIZE", int64(v.SizeMB))
	b.int("STATE", int64(v.State))
	b.int("PREV_STATE", 0)
	b.int("RUNNING_VMS", int64(len(v.VMs)))
	b.int("CLONING_OPS", 0)
	b.int("CLONING_ID", -1)
	b.int("TARGET_SNAPSHOT", -1)
	b.int("DATASTORE_ID", int64(v.DSID))
	dsName := ""
	if ds, ok := c.d().Datastores[v.DSID]; ok {
		dsName = ds.Name
	}
	b.str("DATASTORE", dsName)
	b.ids("VMS", v.VMs)
	b.WriteString("<CLONES/><APP_CLONES/>")
	b.tmpl("TEMPLATE", v.Tmpl)
	b.WriteString("<SNAPSHOTS><ALLOW_ORPHANS>NO</ALLOW_ORPHANS><CURRENT_BASE>-1</CURRENT_BASE><NEXT_SNAPSHOT>0</NEXT_SNAPSHOT></SNAPSHOTS>")
	b.close("IMAGE")
}

// ---------------------------------------------------------------- advancing

// due records that something completes at t (unix nanoseconds); the
// caller holds s.mu for writing.
func (s *Server) due(t int64) {
	if n := s.nextDue.Load(); n == 0 || t < n {
		s.nextDue.Store(t)
	}
}

// pending reports whether some asynchronous step is due at now (so the
// request must take the write lock and advance first).
func (s *Server) pending(now time.Time) bool {
	n := s.nextDue.Load()
	return n != 0 && n <= now.UnixNano()
}

// advance completes every step due at now (images READY or ERROR, hosts
// monitored, VMs booted) and runs the scheduler when something changed;
// the caller holds s.mu for writing.
func (s *Server) advance(now time.Time) {
	d := s.d
	t := now.UnixNano()
	s.nextDue.Store(0)
	changed := false
	// run does what is due at `at` now, or remembers when it will be.
	run := func(at int64, do func()) {
		if at > t {
			s.due(at)
			return
		}
		do()
		changed = true
	}
	for _, id := range sortedIDs(d.Hosts) {
		if h := d.Hosts[id]; (h.State == hostInit || h.State == hostError) && h.MonitorAt != 0 {
			run(h.MonitorAt, func() { s.monitorHost(h, now) })
		}
	}
	for _, id := range sortedIDs(d.Images) {
		if img := d.Images[id]; img.State == imageLocked {
			run(img.ReadyAt, func() { s.finishImport(img, now) })
		}
	}
	for _, id := range sortedIDs(d.VMs) {
		if v := d.VMs[id]; v.State == vmActive && v.LCM == lcmProlog {
			run(v.RunAt, func() { v.LCM = lcmRunning })
		}
	}
	if changed {
		s.schedule(now)
		s.markDirty()
	}
}

// monitorHost runs the front-end's first (or next) monitoring of h: the
// probe decides MONITORED with the host's capacity, or ERROR with oned's
// message (Host::error: "Error monitoring Host NAME (ID): ..."); a host in
// ERROR is tried again every hostErrorRetry.
func (s *Server) monitorHost(h *host, now time.Time) {
	p := HostProbe{Err: "Could not update remotes"} // ssh from the front-end fails
	if s.opts.Probe != nil {
		p = s.opts.Probe(h.Name, h.IMMad, h.VMMad)
	}
	if p.Err == "" && (p.Cores <= 0 || p.MemoryMB <= 0) {
		p.Err = "the probes reported no CPU or memory"
	}
	h.MonTime = now.Unix()
	if p.Err != "" {
		h.State = hostError
		h.Tmpl = h.Tmpl.Set("ERROR", ctime(now)+": "+fmt.Sprintf("Error monitoring Host %s (%d): %s", h.Name, h.ID, p.Err))
		h.MonitorAt = now.Add(max(s.opts.Latency.HostMonitor, hostErrorRetry)).UnixNano()
		s.due(h.MonitorAt)
		return
	}
	h.State = hostMonitored
	h.MonitorAt = 0
	h.Tmpl = h.Tmpl.Del("ERROR")
	h.TotalCPU = p.Cores * 100
	h.TotalMem = p.MemoryMB * 1024
	h.Tmpl = h.Tmpl.Set("TOTALCPU", strconv.Itoa(h.TotalCPU)).Set("TOTALMEMORY", strconv.Itoa(h.TotalMem))
}

// finishImport ends an image copy: READY, or ERROR when the datastore's
// BRIDGE_LIST names no host the front-end can reach (oned runs the
// datastore driver's copy on a bridge host over ssh).
func (s *Server) finishImport(img *image, now time.Time) {
	img.ReadyAt = 0
	ds := s.d.Datastores[img.DSID]
	if ds == nil {
		img.State = imageError
		img.Tmpl = img.Tmpl.Set("ERROR", ctime(now)+": Error copying image in the datastore: datastore is gone")
		return
	}
	if list, ok := ds.Tmpl.Get("BRIDGE_LIST"); ok && strings.TrimSpace(list) != "" {
		reach := false
		for _, hn := range strings.Fields(list) {
			for _, h := range s.d.Hosts {
				if h.Name == hn && h.State == hostMonitored {
					reach = true
				}
			}
		}
		if !reach {
			img.State = imageError
			img.Tmpl = img.Tmpl.Set("ERROR", ctime(now)+": Error copying image in the datastore: no host of BRIDGE_LIST ("+list+") is monitored")
			return
		}
	}
	img.State = imageReady
	img.Tmpl = img.Tmpl.Del("ERROR")
}

// ctime is oned's one_util::log_time (ctime(3) without the newline).
func ctime(t time.Time) string { return t.UTC().Format("Mon Jan _2 15:04:05 2006") }

// ---------------------------------------------------------------- scheduler

// placement is where the scheduler may put a VM, or why not.
type placement struct {
	host *host
	ds   *datastore
	msg  string
}

var dsIDReq = regexp.MustCompile(`^\s*ID\s*=\s*"?(\d+)"?\s*$`)

// place runs oned's match-making for one PENDING VM (6.10's
// src/scheduler/src/sched/Scheduler.cc, messages as it writes them to
// SCHED_MESSAGE), after two checks of the simulator's own: every DISK's
// image must be READY or USED (oned would dispatch and the prolog would
// fail on a LOCKED image), and the VM must have a DISK at all (a disk-less
// VM has nothing to boot).
func (s *Server) place(v *vm) placement {
	d := s.d
	disks := v.Tmpl.Vectors("DISK")
	if len(disks) == 0 {
		return placement{msg: "Cannot dispatch VM: the VM has no DISK (no image to boot)"}
	}
	clusters := v.Clusters
	for _, disk := range disks {
		id, _ := strconv.Atoi(vecVal(disk, "IMAGE_ID"))
		img, ok := d.Images[id]
		if !ok {
			return placement{msg: fmt.Sprintf("Cannot dispatch VM: image %d does not exist", id)}
		}
		if img.State != imageReady && img.State != imageUsed {
			return placement{msg: fmt.Sprintf("Cannot dispatch VM: image %d is in state %s", id, imageStateName(img.State))}
		}
	}
	var monitored, matched, fits []*host
	for _, id := range sortedIDs(d.Hosts) {
		h := d.Hosts[id]
		if h.State != hostMonitored {
			continue
		}
		monitored = append(monitored, h)
		if !slices.Contains(clusters, h.ClusterID) || !s.eligible(v, h) {
			continue
		}
		matched = append(matched, h)
		if s.hostFree(h, v) {
			fits = append(fits, h)
		}
	}
	switch {
	case len(monitored) == 0:
		return placement{msg: "Cannot dispatch VM: No hosts enabled to run VMs"}
	case len(matched) == 0:
		req, _ := v.Tmpl.Get("AUTOMATIC_REQUIREMENTS")
		if r, ok := v.UserTmpl.Get("SCHED_REQUIREMENTS"); ok {
			req = "(" + req + ") & (" + r + ")"
		}
		return placement{msg: "Cannot dispatch VM: No host meets capacity and SCHED_REQUIREMENTS: " + req}
	case len(fits) == 0:
		return placement{msg: "Cannot dispatch VM: No host with enough capacity to deploy the VM"}
	}
	dsReq, _ := v.UserTmpl.Get("SCHED_DS_REQUIREMENTS")
	if r, ok := v.Tmpl.Get("SCHED_DS_REQUIREMENTS"); ok {
		dsReq = r
	}
	want := -1
	if dsReq != "" {
		m := dsIDReq.FindStringSubmatch(dsReq)
		if m == nil {
			return placement{msg: "Cannot dispatch VM: No system datastore meets capacity and SCHED_DS_REQUIREMENTS: " + dsReq}
		}
		want, _ = strconv.Atoi(m[1])
	}
	size := v.diskMB(d)
	var best placement
	anySystem, anyMatch := false, false
	for _, h := range fits {
		for _, id := range sortedIDs(d.Datastores) {
			ds := d.Datastores[id]
			if ds.Type != 1 || ds.State != 0 || !slices.Contains(ds.Clusters, h.ClusterID) {
				continue
			}
			anySystem = true
			if want >= 0 && ds.ID != want {
				continue
			}
			anyMatch = true
			if ds.TotalMB-d.systemUsedMB(ds) < size {
				continue
			}
			if best.host == nil || len(h.VMs) < len(best.host.VMs) {
				best = placement{host: h, ds: ds}
			}
			break
		}
	}
	switch {
	case best.host != nil:
		return best
	case !anySystem:
		return placement{msg: "Cannot dispatch VM: No system datastores found to run VMs"}
	case !anyMatch:
		return placement{msg: "Cannot dispatch VM: No system datastore meets capacity and SCHED_DS_REQUIREMENTS: " + dsReq}
	}
	return placement{msg: "Cannot dispatch VM: No system datastore with enough capacity for the VM"}
}

// hostFree reports whether h's monitored capacity takes v besides the VMs
// already on it (CPU in hundredths of a core, MEMORY in MB).
func (s *Server) hostFree(h *host, v *vm) bool {
	usedCPU, usedMem := 0, 0
	for _, id := range h.VMs {
		if o, ok := s.d.VMs[id]; ok {
			c, m := o.capacity()
			usedCPU += c
			usedMem += m
		}
	}
	c, m := v.capacity()
	return usedCPU+c <= h.TotalCPU && usedMem+m <= h.TotalMem
}

// capacity is v's CPU (hundredths) and MEMORY (KB).
func (v *vm) capacity() (int, int) {
	cpu, mem := 0.0, 0
	if s, ok := v.Tmpl.Get("CPU"); ok {
		cpu, _ = strconv.ParseFloat(s, 64)
	}
	if s, ok := v.Tmpl.Get("MEMORY"); ok {
		mem, _ = strconv.Atoi(s)
	}
	return int(cpu * 100), mem * 1024
}

// diskMB is the space v's disks take in a system datastore (clones of
// their images with the shared TM).
func (v *vm) diskMB(d *db) int {
	n := 0
	for _, disk := range v.Tmpl.Vectors("DISK") {
		id, _ := strconv.Atoi(vecVal(disk, "IMAGE_ID"))
		if img, ok := d.Images[id]; ok {
			n += img.SizeMB
		}
	}
	return n
}

// systemUsedMB is what the VMs placed on system datastore ds take (or the
// simulated used share, as dsUsedMB).
func (d *db) systemUsedMB(ds *datastore) int {
	used := 0
	for _, v := range d.VMs {
		if v.DSID == ds.ID && v.State == vmActive {
			used += v.diskMB(d)
		}
	}
	return max(used, int(float64(ds.TotalMB)*ds.UsedPct/100))
}

func vecVal(p Pair, key string) string {
	for _, q := range p.Vec {
		if q.Key == key {
			return q.Val
		}
	}
	return ""
}

// resolveDisks checks a new VM's DISKs as oned's instantiate does (the
// image must exist; its datastore's clusters bound where the VM may run,
// together with its networks'), writes IMAGE, IMAGE_ID, DATASTORE_ID and
// DISK_ID into each, and returns the clusters the VM may run in. Disjoint
// clusters fail with oned's "Incompatible cluster IDs." (documented in
// the scheduler overview, "Virtual Machine Automatic Requirements").
func (s *Server) resolveDisks(t Tmpl) (Tmpl, []int, *rpcError) {
	var clusters []int
	first := true
	narrow := func(cs []int) {
		if first {
			clusters, first = slices.Clone(cs), false
			return
		}
		clusters = slices.DeleteFunc(clusters, func(c int) bool { return !slices.Contains(cs, c) })
	}
	diskID := 0
	out := make(Tmpl, 0, len(t))
	for _, p := range t {
		switch {
		case p.Key == "DISK" && p.Vec != nil:
			v := vecVal(p, "IMAGE_ID")
			id, err := strconv.Atoi(v)
			img, ok := s.d.Images[id]
			if err != nil || !ok {
				return nil, nil, rpcErrf(errNoExists, "Error getting image [%s].", v)
			}
			ds := s.d.Datastores[img.DSID]
			if ds == nil {
				return nil, nil, rpcErrf(errNoExists, "Error getting datastore [%d].", img.DSID)
			}
			narrow(ds.Clusters)
			out = append(out, Pair{Key: "DISK", Vec: []Pair{
				{Key: "DATASTORE", Val: ds.Name}, {Key: "DATASTORE_ID", Val: strconv.Itoa(ds.ID)},
				{Key: "DISK_ID", Val: strconv.Itoa(diskID)}, {Key: "IMAGE", Val: img.Name},
				{Key: "IMAGE_ID", Val: strconv.Itoa(id)}, {Key: "SIZE", Val: strconv.Itoa(img.SizeMB)},
				{Key: "TM_MAD", Val: ds.TMMad},
			}})
			diskID++
		case p.Key == "NIC" && p.Vec != nil:
			id, err := strconv.Atoi(vecVal(p, "NETWORK_ID"))
			if n, ok := s.d.VNets[id]; err == nil && ok {
				narrow(n.Clusters)
			}
			out = append(out, p)
		default:
			out = append(out, p)
		}
	}
	if first {
		for _, id := range sortedIDs(s.d.Clusters) {
			clusters = append(clusters, id)
		}
	}
	if len(clusters) == 0 {
		return nil, nil, rpcErrf(errAllocate, "Error allocating a new virtual machine. Incompatible cluster IDs.")
	}
	return out, clusters, nil
}

// clusterReq is AUTOMATIC_REQUIREMENTS for the clusters a VM may use.
func clusterReq(clusters []int) string {
	parts := make([]string, len(clusters))
	for i, c := range clusters {
		parts[i] = "CLUSTER_ID = " + strconv.Itoa(c)
	}
	return strings.Join(parts, " | ")
}
