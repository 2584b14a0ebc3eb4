package onesim

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	gerr "github.com/OpenNebula/one/src/oca/go/src/goca/errors"
	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

type fixture struct {
	sim  *Server
	srv  *httptest.Server
	ctrl *goca.Controller
	user string
	pass string
}

// newFixture starts a simulator on 127.0.0.1 and a goca controller (XML-RPC
// and OneFlow) pointed at it.
func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	if opts.Probe == nil {
		opts.Probe = reachAll
	}
	sim, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.Close()
		if err := sim.Close(); err != nil {
			t.Error(err)
		}
	})
	u, p := sim.Credentials()
	return &fixture{sim: sim, srv: srv, ctrl: controller(srv, u, p), user: u, pass: p}
}

// reachAll is a front-end that reaches every host, each with 64 cores and
// 256 GiB (room for the tests' and benchmarks' VMs).
func reachAll(string, string, string) HostProbe { return HostProbe{Cores: 64, MemoryMB: 256 << 10} }

var diskSeq atomic.Int64

// bootDisk allocates an image in the default image datastore (id 1, of
// the default cluster) and returns the DISK attribute that boots it, to
// append to a VM template. With the zero Latency the image is READY by the
// next request.
func bootDisk(t testing.TB, c *goca.Controller) string {
	t.Helper()
	id, err := c.Images().Create("NAME=\"os-"+itoa(int(diskSeq.Add(1)))+"\"\nPATH=\"/var/tmp/os.qcow2\"\nSIZE=\"64\"", 1)
	if err != nil {
		t.Fatal(err)
	}
	return "\nDISK=[IMAGE_ID=\"" + itoa(id) + "\"]"
}

func controller(srv *httptest.Server, user, pass string) *goca.Controller {
	rpc := goca.NewClient(goca.NewConfig(user, pass, srv.URL+"/RPC2"), srv.Client())
	flow := goca.NewFlowClient(goca.NewFlowConfig(user, pass, srv.URL+"/flow"), srv.Client())
	return goca.NewGenericController(rpc, flow)
}

func respCode(t *testing.T, err error) gerr.OneErrCode {
	t.Helper()
	var re *gerr.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want a goca ResponseError, got %T %v", err, err)
	}
	return re.Code
}

func TestGroupsUsersVDCsClusters(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.ctrl

	gid, err := c.Groups().Create("tenant-a")
	if err != nil {
		t.Fatal(err)
	}
	if gid != 100 {
		t.Errorf("first group id = %d, want 100 (oned reserves 0..99)", gid)
	}
	if _, err := c.Groups().Create("tenant-a"); respCode(t, err) != gerr.OneAllocateError {
		t.Errorf("duplicate group: %v", err)
	}
	if err := c.Group(gid).Update(`AGENTVDC_MANAGED_BY="agentvdc"`+"\n"+`AGENTVDC_CUSTOMER="acme"`, parameters.Merge); err != nil {
		t.Fatal(err)
	}

	uid, err := c.Users().Create("acme-admin", "s3cret", "core", []int{gid})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.User(uid).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if u.Password == "s3cret" || u.Password == "" || u.GID != gid || u.GName != "tenant-a" {
		t.Errorf("user info = password %q gid %d gname %q", u.Password, u.GID, u.GName)
	}
	// the new user can log in with its own password
	if _, err := controller(f.srv, "acme-admin", "s3cret").Users().Info(); err != nil {
		t.Errorf("login as created user: %v", err)
	}
	if err := c.User(uid).Chgrp(1); err != nil {
		t.Fatal(err)
	}
	if u, _ = c.User(uid).Info(false); u.GID != 1 {
		t.Errorf("after chgrp gid = %d", u.GID)
	}

	g, err := c.Group(gid).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := g.Template.GetStr("AGENTVDC_CUSTOMER"); v != "acme" {
		t.Errorf("group template customer = %q", v)
	}

	cid, err := c.Clusters().Create("acme")
	if err != nil {
		t.Fatal(err)
	}
	vid, err := c.VDCs().Create(`NAME="vdc-acme"`+"\n"+`LABELS="env/prod"`, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VDC(vid).AddGroup(gid); err != nil {
		t.Fatal(err)
	}
	if err := c.VDC(vid).AddCluster(0, cid); err != nil {
		t.Fatal(err)
	}
	hid, err := c.Hosts().Create("kvm1", "kvm", "kvm", cid)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VDC(vid).AddHost(0, hid); err != nil {
		t.Fatal(err)
	}
	if err := c.VDC(vid).AddHost(0, hid); respCode(t, err) != gerr.OneActionError {
		t.Errorf("adding a host twice: %v", err)
	}
	v, err := c.VDC(vid).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Groups.ID) != 1 || v.Groups.ID[0] != gid || len(v.Clusters) != 1 || v.Clusters[0].ClusterID != cid || len(v.Hosts) != 1 || v.Hosts[0].HostID != hid {
		t.Errorf("vdc = %+v", v)
	}
	if l, _ := v.Template.GetStr("LABELS"); l != "env/prod" {
		t.Errorf("vdc LABELS = %q", l)
	}
	if err := c.VDC(vid).DelHost(0, hid); err != nil {
		t.Fatal(err)
	}
	if err := c.VDC(vid).DelGroup(gid); err != nil {
		t.Fatal(err)
	}
	if v, _ = c.VDC(vid).Info(false); len(v.Hosts) != 0 || len(v.Groups.ID) != 0 {
		t.Errorf("after del: %+v", v)
	}
	cl, err := c.Cluster(cid).Info()
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Hosts.ID) != 1 || cl.Hosts.ID[0] != hid {
		t.Errorf("cluster hosts = %v", cl.Hosts.ID)
	}
	if err := c.Cluster(cid).Delete(); respCode(t, err) != gerr.OneActionError {
		t.Errorf("deleting a non-empty cluster: %v", err)
	}

	pools := []struct {
		name string
		n    func() (int, error)
		want int
	}{
		{"groups", func() (int, error) {
			p, err := c.Groups().Info()
			return lenOr(p, err, func() int { return len(p.Groups) })
		}, 3},
		{"users", func() (int, error) {
			p, err := c.Users().Info()
			return lenOr(p, err, func() int { return len(p.Users) })
		}, 3},
		{"vdcs", func() (int, error) {
			p, err := c.VDCs().Info()
			return lenOr(p, err, func() int { return len(p.VDCs) })
		}, 2},
		{"clusters", func() (int, error) {
			p, err := c.Clusters().Info(false)
			return lenOr(p, err, func() int { return len(p.Clusters) })
		}, 2},
	}
	for _, p := range pools {
		n, err := p.n()
		if err != nil || n != p.want {
			t.Errorf("%s pool: %d, %v; want %d", p.name, n, err, p.want)
		}
	}

	// deletes
	if err := c.Host(hid).Delete(); err != nil {
		t.Fatal(err)
	}
	for _, del := range []func() error{c.Cluster(cid).Delete, c.VDC(vid).Delete, c.User(uid).Delete, c.Group(gid).Delete} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Group(gid).Info(false); respCode(t, err) != gerr.OneNoExistsError {
		t.Errorf("deleted group: %v", err)
	}
	if _, err := c.Groups().Create("next"); err != nil {
		t.Fatal(err)
	} else if p, _ := c.Groups().Info(); p.Groups[0].ID != 101 {
		t.Errorf("ids must not be reused: newest group id %d (pool is id-descending)", p.Groups[0].ID)
	}
}

func lenOr[T any](p *T, err error, n func() int) (int, error) {
	if err != nil {
		return 0, err
	}
	return n(), nil
}

func TestBadCredentials(t *testing.T) {
	f := newFixture(t, Options{Password: "right"})
	for _, tc := range []struct{ user, pass string }{{"oneadmin", "wrong"}, {"nobody", "right"}, {"oneadmin", ""}} {
		_, err := controller(f.srv, tc.user, tc.pass).VMs().Info()
		if respCode(t, err) != gerr.OneAuthenticationError {
			t.Errorf("%s:%s: %v", tc.user, tc.pass, err)
		}
	}
	// OneFlow answers 401
	_, err := controller(f.srv, "oneadmin", "wrong").Services().Info()
	if err == nil || !strings.Contains(err.Error(), "Invalid credentials") {
		t.Errorf("flow with bad credentials: %v", err)
	}
}

func TestHostsDatastoresNetworks(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.ctrl
	hid, err := c.Hosts().Create("kvm1", "kvm", "kvm", -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Hosts().Create("kvm1", "kvm", "kvm", -1); respCode(t, err) != gerr.OneAllocateError {
		t.Errorf("duplicate host: %v", err)
	}
	if err := c.Host(hid).Update(`AGENTVDC_CUSTOMER="acme"`, parameters.Merge); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.SetHostCPU(hid, 90); err != nil {
		t.Fatal(err)
	}
	hp, err := c.Hosts().Info()
	if err != nil {
		t.Fatal(err)
	}
	h := hp.Hosts[0]
	// capacity from the probe (reachAll: 64 cores)
	if h.Share.CPUUsage != 5760 || h.Share.TotalCPU != 6400 || h.StateRaw != 2 || h.Cluster != "default" {
		t.Errorf("host = %+v", h.Share)
	}
	if v, _ := h.Template.GetStr("AGENTVDC_CUSTOMER"); v != "acme" {
		t.Errorf("host template in pool: %q", v)
	}
	mon, err := c.Host(hid).Monitoring()
	if err != nil {
		t.Fatal(err)
	}
	if len(mon.Records) != 1 {
		t.Fatalf("monitoring records = %d", len(mon.Records))
	}
	if cap, err := mon.Records[0].GetVector("CAPACITY"); err != nil {
		t.Error(err)
	} else if used, _ := cap.GetInt("USED_CPU"); used != 5760 {
		t.Errorf("USED_CPU = %d", used)
	}

	// datastore
	dsTpl := `NAME = "acme-nfs"
DS_MAD = "fs"
TM_MAD = "shared"
LIMIT_MB = "51200"
AGENTVDC_MANAGED_BY = "agentvdc"`
	dsid, err := c.Datastores().Create(dsTpl, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Datastores().Create(`NAME="x"`, -1); respCode(t, err) != gerr.OneAllocateError {
		t.Errorf("datastore without DS_MAD: %v", err)
	}
	if err := f.sim.SetDatastoreUsed(dsid, 80); err != nil {
		t.Fatal(err)
	}
	ds, err := c.Datastore(dsid).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if ds.TotalMB != 51200 || ds.UsedMB != 40960 || ds.FreeMB != 10240 {
		t.Errorf("datastore MB total %d used %d free %d", ds.TotalMB, ds.UsedMB, ds.FreeMB)
	}
	if err := c.Datastore(dsid).Update(`LIMIT_MB="102400"`, parameters.Merge); err != nil {
		t.Fatal(err)
	}
	dp, err := c.Datastores().Info()
	if err != nil {
		t.Fatal(err)
	}
	if len(dp.Datastores) != 4 || dp.Datastores[0].ID != dsid || dp.Datastores[0].TotalMB != 102400 {
		t.Errorf("datastore pool: %d entries, first %+v", len(dp.Datastores), dp.Datastores[0].ID)
	}
	if v, _ := dp.Datastores[0].Template.GetStr("AGENTVDC_MANAGED_BY"); v != "agentvdc" {
		t.Errorf("ownership attribute missing in pool: %q", v)
	}

	// network with an address range
	vnTpl := `NAME = "acme-net"
VN_MAD = "bridge"
BRIDGE = "br0"
AR = [ TYPE = "IP4", IP = "10.0.0.10", SIZE = "2" ]
LABELS = "acme"`
	nid, err := c.VirtualNetworks().Create(vnTpl, -1)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.VirtualNetwork(nid).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.ARs) != 1 || n.Bridge != "br0" || n.VNMad != "bridge" || n.StateRaw != 1 {
		t.Fatalf("vnet = %+v", n)
	}
	if ip, _ := n.ARs[0].GetStr("IP"); ip != "10.0.0.10" {
		t.Errorf("AR IP = %q", ip)
	}
	if err := c.VirtualNetwork(nid).Update(`LABELS="acme,prod"`, parameters.Merge); err != nil {
		t.Fatal(err)
	}
	np, err := c.VirtualNetworks().Info(parameters.PoolWhoMine)
	if err != nil {
		t.Fatal(err)
	}
	if len(np.VirtualNetworks) != 1 {
		t.Fatalf("mine vnets = %d", len(np.VirtualNetworks))
	}
	if l, _ := np.VirtualNetworks[0].Template.GetStr("LABELS"); l != "acme,prod" {
		t.Errorf("LABELS = %q", l)
	}
	// NIC leases come from the range; the range has two addresses
	tid, err := c.Templates().Create("NAME=\"t\"\nCPU=1\nMEMORY=512\nNIC=[NETWORK_ID=\"" + itoa(nid) + "\"]" + bootDisk(t, c))
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for i := 0; i < 2; i++ {
		id, err := c.Template(tid).Instantiate("", false, "", false)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := c.VM(id).Info(false)
		nics := v.Template.GetVectors("NIC")
		if len(nics) != 1 {
			t.Fatalf("nics = %d", len(nics))
		}
		ip, _ := nics[0].GetStr("IP")
		ips = append(ips, ip)
	}
	if ips[0] != "10.0.0.10" || ips[1] != "10.0.0.11" {
		t.Errorf("leased IPs = %v", ips)
	}
	if _, err := c.Template(tid).Instantiate("", false, "", false); err == nil {
		t.Error("instantiate with an exhausted range must fail")
	}
	if err := c.VirtualNetwork(nid).Delete(); respCode(t, err) != gerr.OneActionError {
		t.Errorf("deleting a vnet with leases: %v", err)
	}
	if err := c.Datastore(dsid).Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Datastore(dsid).Info(false); respCode(t, err) != gerr.OneNoExistsError {
		t.Errorf("deleted datastore: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestTemplatesAndVMs(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.ctrl
	tpl := `NAME = "web"
CPU = "1"
MEMORY = "1024"
AGENTVDC_MANAGED_BY = "agentvdc"
AGENTVDC_CUSTOMER = "acme"
CONTEXT = [ NETWORK = "YES" ]` + bootDisk(t, c)
	tid, err := c.Templates().Create(tpl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Templates().Create(tpl); respCode(t, err) != gerr.OneAllocateError {
		t.Errorf("duplicate template: %v", err)
	}
	ti, err := c.Template(tid).Info(false, false)
	if err != nil {
		t.Fatal(err)
	}
	if ti.Name != "web" || ti.UName != "oneadmin" {
		t.Errorf("template = %+v", ti)
	}
	if err := c.Template(tid).Update(`DESCRIPTION="web tier"`, parameters.Merge); err != nil {
		t.Fatal(err)
	}

	// without a host, VMs stay PENDING; a host makes the scheduler deploy them
	vmID, err := c.Template(tid).Instantiate("web-1", false, `AGENTVDC_ROLE="web"`, false)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.VM(vmID).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if v.StateRaw != vmPending {
		t.Errorf("VM state without hosts = %d", v.StateRaw)
	}
	hid, err := c.Hosts().Create("kvm1", "kvm", "kvm", -1)
	if err != nil {
		t.Fatal(err)
	}
	v, _ = c.VM(vmID).Info(false)
	if v.StateRaw != vmActive || v.LCMStateRaw != lcmProlog || len(v.HistoryRecords) != 1 || v.HistoryRecords[0].HID != hid {
		t.Errorf("VM once its host is monitored = state %d lcm %d history %+v", v.StateRaw, v.LCMStateRaw, v.HistoryRecords)
	}
	v, _ = c.VM(vmID).Info(false) // PROLOG ends by the next request (zero Latency)
	if v.StateRaw != vmActive || v.LCMStateRaw != lcmRunning || len(v.HistoryRecords) != 1 || v.HistoryRecords[0].HID != hid {
		t.Errorf("VM after host = state %d lcm %d history %+v", v.StateRaw, v.LCMStateRaw, v.HistoryRecords)
	}
	if c, _ := v.UserTemplate.GetStr("AGENTVDC_CUSTOMER"); c != "acme" {
		t.Errorf("USER_TEMPLATE customer = %q", c)
	}
	if r, _ := v.UserTemplate.GetStr("AGENTVDC_ROLE"); r != "web" {
		t.Errorf("extra template attribute = %q", r)
	}
	if m, _ := v.Template.GetStr("MEMORY"); m != "1024" {
		t.Errorf("TEMPLATE MEMORY = %q", m)
	}
	if id, _ := v.Template.GetInt("TEMPLATE_ID"); id != tid {
		t.Errorf("TEMPLATE_ID = %d", id)
	}

	if err := f.sim.SetVMCPU(vmID, 42); err != nil {
		t.Fatal(err)
	}
	mon, err := c.VM(vmID).Monitoring()
	if err != nil {
		t.Fatal(err)
	}
	if len(mon.Records) != 1 {
		t.Fatalf("vm monitoring records = %d", len(mon.Records))
	}
	if cpu, _ := mon.Records[0].GetFloat("CPU"); cpu != 42 {
		t.Errorf("monitoring CPU = %v", cpu)
	}

	if err := c.VM(vmID).Update(`LABELS="a,b"`, parameters.Merge); err != nil {
		t.Fatal(err)
	}
	v, _ = c.VM(vmID).Info(false)
	if l, _ := v.UserTemplate.GetStr("LABELS"); l != "a,b" {
		t.Errorf("LABELS = %q", l)
	}
	if cust, _ := v.UserTemplate.GetStr("AGENTVDC_CUSTOMER"); cust != "acme" {
		t.Errorf("merge lost an attribute: %q", cust)
	}

	// actions
	steps := []struct {
		act   func() error
		state int
		code  gerr.OneErrCode
	}{
		{c.VM(vmID).Poweroff, vmPoweroff, 0},
		{c.VM(vmID).Poweroff, vmPoweroff, gerr.OneActionError},
		{c.VM(vmID).Resume, vmActive, 0},
		{c.VM(vmID).Suspend, vmSuspended, 0},
		{c.VM(vmID).Resume, vmActive, 0},
		{c.VM(vmID).Release, vmActive, gerr.OneActionError},
		{c.VM(vmID).Terminate, vmDone, 0},
		{c.VM(vmID).TerminateHard, vmDone, gerr.OneActionError},
	}
	for i, st := range steps {
		err := st.act()
		if st.code == 0 && err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if st.code != 0 && respCode(t, err) != st.code {
			t.Errorf("step %d: code %v", i, err)
		}
		if v, _ := c.VM(vmID).Info(false); v.StateRaw != st.state {
			t.Errorf("step %d: state %d, want %d", i, v.StateRaw, st.state)
		}
	}
	if err := c.VM(9999).Terminate(); respCode(t, err) != gerr.OneNoExistsError {
		t.Errorf("missing VM: %v", err)
	}
	if _, err := c.Template(9999).Info(false, false); respCode(t, err) != gerr.OneNoExistsError {
		t.Errorf("missing template: %v", err)
	}
	// locks
	if err := c.Template(tid).Lock(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Template(tid).Delete(); respCode(t, err) != gerr.OneLockedError {
		t.Errorf("delete of a locked template: %v", err)
	}
	if err := c.Template(tid).Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := c.Template(tid).Delete(); err != nil {
		t.Fatal(err)
	}
}

func TestVMPoolFilters(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.ctrl
	if _, err := c.Hosts().Create("kvm1", "kvm", "kvm", -1); err != nil {
		t.Fatal(err)
	}
	tid, err := c.Templates().Create("NAME=\"t\"\nCPU=1\nMEMORY=128" + bootDisk(t, c))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ {
		cust := "acme"
		if i%5 == 0 {
			cust = "other"
		}
		if _, err := c.Template(tid).Instantiate("", false, `AGENTVDC_CUSTOMER="`+cust+`"`, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.VM(3).Terminate(); err != nil {
		t.Fatal(err)
	}
	// a second user's VM
	uid, err := c.Users().Create("bob", "pw", "core", []int{1})
	if err != nil {
		t.Fatal(err)
	}
	bob := controller(f.srv, "bob", "pw")
	if _, err := bob.VMs().Create("NAME=\"bobs\"\nCPU=1\nMEMORY=64", false); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		f     *goca.VMFilter
		want  int
		first int
	}{
		{"default excludes DONE", goca.NewVMFilterDefault(), 25, 25},
		{"any state", goca.NewVMFilter(-2, -1, -1, -2), 26, 25},
		{"DONE only", goca.NewVMFilter(-2, -1, -1, vmDone), 1, 3},
		{"mine", goca.NewVMFilter(-3, -1, -1, -1), 24, 24},
		{"user id", goca.NewVMFilter(uid, -1, -1, -1), 1, 25},
		{"id range", goca.NewVMFilter(-2, 10, 14, -1), 5, 14},
		{"page 1", goca.NewVMFilter(-2, 0, -10, -1), 10, 25},
		{"page 3", goca.NewVMFilter(-2, 20, -10, -1), 5, 5}, // ids 25..0 without 3
	}
	for _, tc := range cases {
		p, err := c.VMs().InfoFilter(tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(p.VMs) != tc.want || (len(p.VMs) > 0 && p.VMs[0].ID != tc.first) {
			first := -1
			if len(p.VMs) > 0 {
				first = p.VMs[0].ID
			}
			t.Errorf("%s: %d VMs (first %d), want %d (first %d)", tc.name, len(p.VMs), first, tc.want, tc.first)
		}
	}
	flt := goca.NewVMFilterDefault()
	if err := flt.SetPair("AGENTVDC_CUSTOMER", "other"); err != nil {
		t.Fatal(err)
	}
	p, err := c.VMs().InfoFilter(flt)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.VMs) != 5 {
		t.Errorf("KEY=VALUE filter: %d VMs, want 5", len(p.VMs))
	}
	for _, v := range p.VMs {
		if cust, _ := v.UserTemplate.GetStr("AGENTVDC_CUSTOMER"); cust != "other" {
			t.Errorf("filter returned VM %d of %q", v.ID, cust)
		}
	}
	if _, err := c.VMs().InfoFilter(goca.NewVMFilter(-9, -1, -1, -1)); respCode(t, err) != gerr.OneXMLRPCAPIError {
		t.Errorf("bad who: %v", err)
	}
	// templates pool with who filter
	tp, err := bob.Templates().Info(parameters.PoolWhoMine)
	if err != nil || len(tp.Templates) != 0 {
		t.Errorf("bob's templates: %v %v", tp, err)
	}
}

func TestFaultInjection(t *testing.T) {
	f := newFixture(t, Options{Seed: 1})
	ctl := f.sim.Control()
	cases := []struct {
		name   string
		fault  simctl.Fault
		status int
	}{
		{"503", simctl.Fault{Pattern: "one.vmpool.*", ErrorRate: 1, Status: 503, Times: 1}, 503},
		{"500", simctl.Fault{Pattern: "one.vmpool.info", ErrorRate: 1, Status: 500, Times: 1}, 500},
		{"429", simctl.Fault{Pattern: "one.*", RateLimit: true, Times: 1}, 429},
	}
	for _, tc := range cases {
		if _, err := ctl.AddFault(tc.fault); err != nil {
			t.Fatal(err)
		}
		_, err := f.ctrl.VMs().Info()
		var ce *gerr.ClientError
		if !errors.As(err, &ce) || ce.Code != gerr.ClientRespHTTP || ce.GetHTTPResponse().StatusCode != tc.status {
			t.Errorf("%s: got %v", tc.name, err)
		}
		if _, err := f.ctrl.VMs().Info(); err != nil {
			t.Errorf("%s: the rule was for one call: %v", tc.name, err)
		}
	}
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "one.hostpool.info", Latency: simctl.Duration(80 * time.Millisecond), Times: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := f.ctrl.Hosts().Info(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("latency not applied: %v", d)
	}
	// OneFlow faults come back as the error body
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "GET /flow/service", ErrorRate: 1, Status: 502, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ctrl.Services().Info(); err == nil || !strings.Contains(err.Error(), "Bad Gateway") {
		t.Errorf("flow fault: %v", err)
	}
	if n := ctl.Counters()["one.vmpool.info"]; n != 6 {
		t.Errorf("one.vmpool.info counter = %d, want 6", n)
	}
	// control endpoints over HTTP
	resp, err := http.Post(f.srv.URL+"/_sim/host-cpu", "application/json", strings.NewReader(`{"name":"nope","cpu":50}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown host: %d", resp.StatusCode)
	}
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	sim, err := New(Options{DataDir: dir, Password: "pw", Probe: reachAll})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	c := controller(srv, "oneadmin", "pw")
	gid, _ := c.Groups().Create("g")
	hid, _ := c.Hosts().Create("h", "kvm", "kvm", -1)
	tid, err := c.Templates().Create("NAME=\"t\"\nCPU=1\nMEMORY=64\nLABELS=\"x\"" + bootDisk(t, c))
	if err != nil {
		t.Fatal(err)
	}
	vmID, err := c.Template(tid).Instantiate("vm", false, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.SetDatastoreUsed(1, 55); err != nil {
		t.Fatal(err)
	}
	stID := createWorkersTemplate(t, c, tid, `[{"type":"CHANGE","adjust":1,"expression":"CPU > 80"}]`, 1, 1, 3)
	svc, err := c.STemplate(stID).Instantiate("")
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}

	sim2, err := New(Options{DataDir: dir}) // password comes back from one_auth
	if err != nil {
		t.Fatal(err)
	}
	defer sim2.Close()
	srv2 := httptest.NewServer(sim2)
	defer srv2.Close()
	if _, p := sim2.Credentials(); p != "pw" {
		t.Errorf("password after restart = %q", p)
	}
	c2 := controller(srv2, "oneadmin", "pw")
	if g, err := c2.Group(gid).Info(false); err != nil || g.Name != "g" {
		t.Errorf("group: %v %v", g, err)
	}
	if h, err := c2.Host(hid).Info(false); err != nil || len(h.VMs.ID) != 2 {
		t.Errorf("host after restart: %v %v", h, err)
	}
	if v, err := c2.VM(vmID).Info(false); err != nil || v.Name != "vm" || v.StateRaw != vmActive {
		t.Errorf("vm: %v %v", v, err)
	}
	if ds, _ := c2.Datastore(1).Info(false); ds.UsedMB != 56320 { // 55 % of 100 GiB (more than its 64 MB image)
		t.Errorf("datastore used after restart = %d", ds.UsedMB)
	}
	if s, err := c2.Service(svc.ID).Info(); err != nil || len(s.Template.Body.Roles) != 1 || len(s.Template.Body.Roles[0].Nodes) != 1 {
		t.Errorf("service after restart: %+v %v", s, err)
	}
	// counters continue: new ids are above the old ones
	if g2, _ := c2.Groups().Create("g2"); g2 != gid+1 {
		t.Errorf("group id after restart = %d, want %d", g2, gid+1)
	}
	if v2, _ := c2.Template(tid).Instantiate("", false, "", false); v2 <= svc.Template.Body.Roles[0].Nodes[0].DeployID {
		t.Errorf("vm id after restart = %d", v2)
	}
	env := sim2.Env("http://127.0.0.1:1/opennebula/")
	if env["ONE_XMLRPC"] != "http://127.0.0.1:1/opennebula/RPC2" || env["ONEFLOW_URL"] != "http://127.0.0.1:1/opennebula/flow" || env["ONE_AUTH"] == "" {
		t.Errorf("env = %v", env)
	}
	// goca reads ONE_AUTH as a file path
	t.Setenv("ONE_AUTH", env["ONE_AUTH"])
	cfg := goca.NewConfig("", "", srv2.URL+"/RPC2")
	if _, err := goca.NewController(goca.NewClient(cfg, srv2.Client())).Groups().Info(); err != nil {
		t.Errorf("client configured from ONE_AUTH: %v", err)
	}
	fc := goca.NewControllerFlow(goca.NewFlowClient(goca.NewFlowConfig("", "", srv2.URL+"/flow"), srv2.Client()))
	if _, err := fc.Services().Info(); err != nil {
		t.Errorf("flow client configured from ONE_AUTH: %v", err)
	}
}

func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			if _, err := f.ctrl.Groups().Create("g" + itoa(i)); err != nil {
				errs <- err
			}
		}(i)
		go func() {
			defer wg.Done()
			if _, err := f.ctrl.Groups().Info(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p, _ := f.ctrl.Groups().Info()
	if len(p.Groups) != 22 {
		t.Errorf("groups = %d", len(p.Groups))
	}
}

// TestVMsStayInTheirNetworksCluster: as oned's scheduler, a VM only runs
// on a host of a cluster that holds its networks (one customer's VMs never
// land on another's hosts), and waits PENDING when there is none.
func TestVMsStayInTheirNetworksCluster(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.ctrl
	clusterA, err := c.Clusters().Create("a")
	if err != nil {
		t.Fatal(err)
	}
	clusterB, err := c.Clusters().Create("b")
	if err != nil {
		t.Fatal(err)
	}
	hostB, err := c.Hosts().Create("host-b", "kvm", "kvm", clusterB)
	if err != nil {
		t.Fatal(err)
	}
	net, err := c.VirtualNetworks().Create("NAME=\"net-a\"\nVN_MAD=\"bridge\"\nBRIDGE=\"br0\"\nAR=[TYPE=\"IP4\",IP=\"10.0.0.10\",SIZE=\"10\"]", clusterA)
	if err != nil {
		t.Fatal(err)
	}
	// cluster a's own image and system datastores
	imgDS, err := c.Datastores().Create("NAME=\"a-images\"\nDS_MAD=\"fs\"\nTM_MAD=\"shared\"", clusterA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Datastores().Create("NAME=\"a-system\"\nTYPE=\"SYSTEM_DS\"\nTM_MAD=\"shared\"", clusterA); err != nil {
		t.Fatal(err)
	}
	img, err := c.Images().Create("NAME=\"a-os\"\nPATH=\"/var/tmp/os.qcow2\"", uint(imgDS))
	if err != nil {
		t.Fatal(err)
	}
	tid, err := c.Templates().Create("NAME=\"t\"\nCPU=1\nMEMORY=512\nNIC=[NETWORK_ID=\"" + itoa(net) + "\"]\nDISK=[IMAGE_ID=\"" + itoa(img) + "\"]")
	if err != nil {
		t.Fatal(err)
	}
	// the default cluster's image cannot boot in cluster a's network
	bad, err := c.Templates().Create("NAME=\"bad\"\nCPU=1\nMEMORY=512\nNIC=[NETWORK_ID=\"" + itoa(net) + "\"]" + bootDisk(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Template(bad).Instantiate("bad", false, "", false); respCode(t, err) != gerr.OneAllocateError || !strings.Contains(err.Error(), "Incompatible cluster IDs.") {
		t.Errorf("image and network of different clusters: %v", err)
	}
	vmID, err := c.Template(tid).Instantiate("vm", false, "", false)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := c.VM(vmID).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if st, _, _ := vm.State(); st.String() != "PENDING" {
		t.Fatalf("VM in cluster a's network with only a cluster b host: state %s, want PENDING", st)
	}
	hostA, err := c.Hosts().Create("host-a", "kvm", "kvm", clusterA)
	if err != nil {
		t.Fatal(err)
	}
	vmID2, err := c.Template(tid).Instantiate("vm2", false, "", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int{vmID, vmID2} {
		vm, err := c.VM(id).Info(false)
		if err != nil {
			t.Fatal(err)
		}
		if len(vm.HistoryRecords) == 0 || vm.HistoryRecords[len(vm.HistoryRecords)-1].HID != hostA {
			t.Errorf("VM %d not on host-a (%d); host-b is %d: %+v", id, hostA, hostB, vm.HistoryRecords)
		}
	}
}
