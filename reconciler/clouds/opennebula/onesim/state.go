package onesim

import (
	"sort"
)

// stateVersion is the schema version of the persisted state file.
const stateVersion = 1

// base is what every OpenNebula object shares.
type base struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Perms    perms  `json:"perms"`
	RegTime  int64  `json:"regtime"`
	Tmpl     Tmpl   `json:"tmpl,omitempty"`
	Lock     int    `json:"lock,omitempty"`
	LockTime int64  `json:"lock_time,omitempty"`
}

func (b *base) b() *base { return b }

type object interface{ b() *base }

type group struct {
	base
	Admins []int `json:"admins,omitempty"`
}

type zref struct {
	Zone int `json:"zone"`
	ID   int `json:"id"`
}

type vdc struct {
	base
	Groups     []int  `json:"groups,omitempty"`
	Clusters   []zref `json:"clusters,omitempty"`
	Hosts      []zref `json:"hosts,omitempty"`
	Datastores []zref `json:"datastores,omitempty"`
	VNets      []zref `json:"vnets,omitempty"`
}

type cluster struct{ base }

type user struct {
	base
	Groups   []int  `json:"groups"`
	PassHash string `json:"pass_hash"`
	Driver   string `json:"driver"`
	Enabled  bool   `json:"enabled"`
}

type host struct {
	base
	IMMad     string  `json:"im_mad"`
	VMMad     string  `json:"vm_mad"`
	ClusterID int     `json:"cluster_id"`
	State     int     `json:"state"`
	CPUPct    float64 `json:"cpu_pct"`
	TotalCPU  int     `json:"total_cpu"`
	TotalMem  int     `json:"total_mem"`
	VMs       []int   `json:"vms,omitempty"`
	MonTime   int64   `json:"mon_time"`
	// MonitorAt (unix ns) is when an INIT or ERROR host is monitored next.
	MonitorAt int64 `json:"monitor_at,omitempty"`
}

type lease struct {
	IP   string `json:"ip"`
	VM   int    `json:"vm"`
	ARID int    `json:"ar"`
}

type vnet struct {
	base
	Clusters []int   `json:"clusters"`
	Bridge   string  `json:"bridge"`
	VNMad    string  `json:"vn_mad"`
	State    int     `json:"state"`
	ARs      []Pair  `json:"ars,omitempty"`
	Leases   []lease `json:"leases,omitempty"`
	NextAR   int     `json:"next_ar"`
}

type datastore struct {
	base
	Clusters []int   `json:"clusters"`
	DSMad    string  `json:"ds_mad"`
	TMMad    string  `json:"tm_mad"`
	Type     int     `json:"type"`
	TotalMB  int     `json:"total_mb"`
	UsedPct  float64 `json:"used_pct"`
	State    int     `json:"state"`
}

type vmtemplate struct{ base }

type vm struct {
	base
	State    int     `json:"state"`
	LCM      int     `json:"lcm"`
	PrevSt   int     `json:"prev_state"`
	PrevLCM  int     `json:"prev_lcm"`
	STime    int64   `json:"stime"`
	ETime    int64   `json:"etime"`
	UserTmpl Tmpl    `json:"user_tmpl,omitempty"`
	CPU      float64 `json:"cpu"`
	HostID   int     `json:"host_id"`
	HostTime int64   `json:"host_time"`
	Resched  bool    `json:"resched,omitempty"`
	// RunAt (unix ns) is when a dispatched VM (PROLOG) is RUNNING.
	RunAt int64 `json:"run_at,omitempty"`
	// DSID is the system datastore the VM runs from (-1: none yet).
	DSID int `json:"ds_id"`
	// Clusters are the clusters its images and networks allow.
	Clusters []int `json:"clusters,omitempty"`
}

// db is the whole persisted state of one simulator.
type db struct {
	Version    int                   `json:"version"`
	Next       map[string]int        `json:"next"`
	Groups     map[int]*group        `json:"groups"`
	VDCs       map[int]*vdc          `json:"vdcs"`
	Clusters   map[int]*cluster      `json:"clusters"`
	Users      map[int]*user         `json:"users"`
	Hosts      map[int]*host         `json:"hosts"`
	VNets      map[int]*vnet         `json:"vnets"`
	Datastores map[int]*datastore    `json:"datastores"`
	Images     map[int]*image        `json:"images"`
	Templates  map[int]*vmtemplate   `json:"templates"`
	VMs        map[int]*vm           `json:"vms"`
	STemplates map[int]*flowTemplate `json:"service_templates"`
	Services   map[int]*flowService  `json:"services"`
}

func newDB() *db {
	return &db{
		Version:    stateVersion,
		Next:       map[string]int{},
		Groups:     map[int]*group{},
		VDCs:       map[int]*vdc{},
		Clusters:   map[int]*cluster{},
		Users:      map[int]*user{},
		Hosts:      map[int]*host{},
		VNets:      map[int]*vnet{},
		Datastores: map[int]*datastore{},
		Images:     map[int]*image{},
		Templates:  map[int]*vmtemplate{},
		VMs:        map[int]*vm{},
		STemplates: map[int]*flowTemplate{},
		Services:   map[int]*flowService{},
	}
}

// fill makes maps of an older or partial state file usable.
func (d *db) fill() {
	n := newDB()
	if d.Next == nil {
		d.Next = n.Next
	}
	if d.Groups == nil {
		d.Groups = n.Groups
	}
	if d.VDCs == nil {
		d.VDCs = n.VDCs
	}
	if d.Clusters == nil {
		d.Clusters = n.Clusters
	}
	if d.Users == nil {
		d.Users = n.Users
	}
	if d.Hosts == nil {
		d.Hosts = n.Hosts
	}
	if d.VNets == nil {
		d.VNets = n.VNets
	}
	if d.Datastores == nil {
		d.Datastores = n.Datastores
	}
	if d.Images == nil {
		d.Images = n.Images
	}
	if d.Templates == nil {
		d.Templates = n.Templates
	}
	if d.VMs == nil {
		d.VMs = n.VMs
	}
	if d.STemplates == nil {
		d.STemplates = n.STemplates
	}
	if d.Services == nil {
		d.Services = n.Services
	}
}

// kind describes one XML-RPC object type.
type kind struct {
	prefix string // method prefix: "vm" in one.vm.info
	label  string // in oned's error messages
	root   string // XML root element
	pool   string // pool root element
	uniq   int    // 0: names may repeat, 1: unique, 2: unique per owner
	first  int    // first id handed out (oned reserves 0..99 for some types)
}

var (
	kGroup     = kind{"group", "group", "GROUP", "GROUP_POOL", 1, 100}
	kVDC       = kind{"vdc", "VDC", "VDC", "VDC_POOL", 1, 100}
	kCluster   = kind{"cluster", "cluster", "CLUSTER", "CLUSTER_POOL", 1, 100}
	kUser      = kind{"user", "user", "USER", "USER_POOL", 1, 2}
	kHost      = kind{"host", "host", "HOST", "HOST_POOL", 1, 0}
	kVNet      = kind{"vn", "virtual network", "VNET", "VNET_POOL", 2, 0}
	kDatastore = kind{"datastore", "datastore", "DATASTORE", "DATASTORE_POOL", 1, 100}
	kTemplate  = kind{"template", "virtual machine template", "VMTEMPLATE", "VMTEMPLATE_POOL", 2, 0}
	kVM        = kind{"vm", "virtual machine", "VM", "VM_POOL", 0, 0}
)

func (d *db) table(k kind) map[int]object {
	switch k.prefix {
	case "group":
		return objects(d.Groups)
	case "vdc":
		return objects(d.VDCs)
	case "cluster":
		return objects(d.Clusters)
	case "user":
		return objects(d.Users)
	case "host":
		return objects(d.Hosts)
	case "vn":
		return objects(d.VNets)
	case "datastore":
		return objects(d.Datastores)
	case "image":
		return objects(d.Images)
	case "template":
		return objects(d.Templates)
	case "vm":
		return objects(d.VMs)
	}
	return map[int]object{}
}

// objects views one typed table as objects.
func objects[T object](m map[int]T) map[int]object {
	out := make(map[int]object, len(m))
	for id, o := range m {
		out[id] = o
	}
	return out
}

func (d *db) get(k kind, id int) (object, bool) {
	switch k.prefix {
	case "group":
		if o, ok := d.Groups[id]; ok {
			return o, true
		}
	case "vdc":
		if o, ok := d.VDCs[id]; ok {
			return o, true
		}
	case "cluster":
		if o, ok := d.Clusters[id]; ok {
			return o, true
		}
	case "user":
		if o, ok := d.Users[id]; ok {
			return o, true
		}
	case "host":
		if o, ok := d.Hosts[id]; ok {
			return o, true
		}
	case "vn":
		if o, ok := d.VNets[id]; ok {
			return o, true
		}
	case "datastore":
		if o, ok := d.Datastores[id]; ok {
			return o, true
		}
	case "image":
		if o, ok := d.Images[id]; ok {
			return o, true
		}
	case "template":
		if o, ok := d.Templates[id]; ok {
			return o, true
		}
	case "vm":
		if o, ok := d.VMs[id]; ok {
			return o, true
		}
	}
	return nil, false
}

func (d *db) del(k kind, id int) {
	switch k.prefix {
	case "group":
		delete(d.Groups, id)
	case "vdc":
		delete(d.VDCs, id)
	case "cluster":
		delete(d.Clusters, id)
	case "user":
		delete(d.Users, id)
	case "host":
		delete(d.Hosts, id)
	case "vn":
		delete(d.VNets, id)
	case "datastore":
		delete(d.Datastores, id)
	case "image":
		delete(d.Images, id)
	case "template":
		delete(d.Templates, id)
	case "vm":
		delete(d.VMs, id)
	}
}

// nextID hands out the next id of kind k, never reusing one.
func (d *db) nextID(name string, first int) int {
	id, ok := d.Next[name]
	if !ok || id < first {
		id = first
	}
	d.Next[name] = id + 1
	return id
}

// nameTaken returns the id of an object of kind k with name (and owner
// uid when names are unique per owner), or -1.
func (d *db) nameTaken(k kind, name string, uid int) int {
	if k.uniq == 0 {
		return -1
	}
	for id, o := range d.table(k) {
		b := o.b()
		if b.Name == name && (k.uniq == 1 || b.UID == uid) {
			return id
		}
	}
	return -1
}

func sortedIDs[T any](m map[int]T) []int {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func removeInt(s []int, v int) []int {
	out := s[:0:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func hasInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
