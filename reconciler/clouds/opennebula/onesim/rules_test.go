package onesim

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	gerr "github.com/OpenNebula/one/src/oca/go/src/goca/errors"

	"github.com/agentvdc/agentvdc/plan"
)

// testCluster is a customer-like cluster: its own IMAGE and (optionally)
// SYSTEM datastore, a network, one host of the given capacity.
type testCluster struct {
	id, imageDS, systemDS, net, host int
}

func newCluster(t *testing.T, c *goca.Controller, name string, withSystem bool) testCluster {
	t.Helper()
	var cl testCluster
	var err error
	if cl.id, err = c.Clusters().Create(name); err != nil {
		t.Fatal(err)
	}
	if cl.imageDS, err = c.Datastores().Create(`NAME="`+name+`-images"
TYPE="IMAGE_DS"
DS_MAD="fs"
TM_MAD="shared"`, cl.id); err != nil {
		t.Fatal(err)
	}
	cl.systemDS = -1
	if withSystem {
		if cl.systemDS, err = c.Datastores().Create(`NAME="`+name+`-system"
TYPE="SYSTEM_DS"
TM_MAD="shared"`, cl.id); err != nil {
			t.Fatal(err)
		}
	}
	if cl.net, err = c.VirtualNetworks().Create(`NAME="`+name+`-net"
VN_MAD="bridge"
BRIDGE="vdc1"
AR=[TYPE="IP4",IP="10.64.0.130",SIZE="4"]`, cl.id); err != nil {
		t.Fatal(err)
	}
	if cl.host, err = c.Hosts().Create(name+"-host", "lxc", "lxc", cl.id); err != nil {
		t.Fatal(err)
	}
	return cl
}

// image allocates a READY-by-the-next-request image in the cluster's
// image datastore.
func (cl testCluster) image(t *testing.T, c *goca.Controller, name string) int {
	t.Helper()
	id, err := c.Images().Create(`NAME="`+name+`"
PATH="/var/tmp/os.qcow2"
SIZE="512"`, uint(cl.imageDS))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// instantiate creates a VM from a template with tmpl's extra attributes.
func instantiate(t *testing.T, c *goca.Controller, name, tmpl string) int {
	t.Helper()
	tid, err := c.Templates().Create(`NAME="` + name + `"` + "\n" + tmpl)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Template(tid).Instantiate(name, false, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// vmState reads a VM twice (the second read sees whatever the first one's
// scheduling pass did) and returns its state names and SCHED_MESSAGE.
func vmState(t *testing.T, c *goca.Controller, id int) (string, string, string) {
	t.Helper()
	if _, err := c.VM(id).Info(false); err != nil {
		t.Fatal(err)
	}
	v, err := c.VM(id).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	st, lcm, err := v.StateString()
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := v.UserTemplate.GetStr("SCHED_MESSAGE")
	return st, lcm, msg
}

// TestSchedulerRules: a VM runs only with a DISK whose image is READY in
// an image datastore of its cluster, a SYSTEM datastore in that cluster
// and a monitored host with room for it; otherwise it stays PENDING with
// oned's SCHED_MESSAGE.
func TestSchedulerRules(t *testing.T) {
	tests := []struct {
		name       string
		withSystem bool
		tmpl       func(cl testCluster, img int) string
		wantState  string
		wantMsg    string
	}{
		{"bootable VM runs", true, func(cl testCluster, img int) string {
			return `CPU="1"` + "\nMEMORY=\"1024\"\nDISK=[IMAGE_ID=\"" + itoa(img) + "\"]\nNIC=[NETWORK_ID=\"" + itoa(cl.net) + "\"]\nSCHED_DS_REQUIREMENTS=\"ID=" + itoa(cl.systemDS) + "\""
		}, "ACTIVE/RUNNING", ""},
		{"template without DISK stays PENDING", true, func(cl testCluster, img int) string {
			return "CPU=\"1\"\nMEMORY=\"1024\"\nNIC=[NETWORK_ID=\"" + itoa(cl.net) + "\"]"
		}, "PENDING", "Cannot dispatch VM: the VM has no DISK (no image to boot)"},
		{"no SYSTEM datastore in the cluster stays PENDING", false, func(cl testCluster, img int) string {
			return "CPU=\"1\"\nMEMORY=\"1024\"\nDISK=[IMAGE_ID=\"" + itoa(img) + "\"]\nNIC=[NETWORK_ID=\"" + itoa(cl.net) + "\"]"
		}, "PENDING", "Cannot dispatch VM: No system datastores found to run VMs"},
		{"SCHED_DS_REQUIREMENTS naming the image datastore stays PENDING", true, func(cl testCluster, img int) string {
			return "CPU=\"1\"\nMEMORY=\"1024\"\nDISK=[IMAGE_ID=\"" + itoa(img) + "\"]\nSCHED_DS_REQUIREMENTS=\"ID=" + itoa(cl.imageDS) + "\""
		}, "PENDING", "Cannot dispatch VM: No system datastore meets capacity and SCHED_DS_REQUIREMENTS: ID="},
		{"oversize CPU stays PENDING", true, func(cl testCluster, img int) string {
			return "CPU=\"5\"\nMEMORY=\"1024\"\nDISK=[IMAGE_ID=\"" + itoa(img) + "\"]"
		}, "PENDING", "Cannot dispatch VM: No host with enough capacity to deploy the VM"},
		{"oversize MEMORY stays PENDING", true, func(cl testCluster, img int) string {
			return "CPU=\"1\"\nMEMORY=\"16384\"\nDISK=[IMAGE_ID=\"" + itoa(img) + "\"]"
		}, "PENDING", "Cannot dispatch VM: No host with enough capacity to deploy the VM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// hosts of 4 cores and 8 GiB, as a Hetzner cx32
			f := newFixture(t, Options{Probe: func(string, string, string) HostProbe { return HostProbe{Cores: 4, MemoryMB: 8192} }})
			c := f.ctrl
			cl := newCluster(t, c, "acme", tt.withSystem)
			img := cl.image(t, c, "acme-os")
			id := instantiate(t, c, "vm", tt.tmpl(cl, img))
			st, lcm, msg := vmState(t, c, id)
			if got := st + "/" + lcm; st != "ACTIVE" {
				got = st
				if got != tt.wantState {
					t.Fatalf("state %s, want %s", got, tt.wantState)
				}
			} else if got != tt.wantState {
				t.Fatalf("state %s, want %s", got, tt.wantState)
			}
			if tt.wantMsg == "" {
				if msg != "" {
					t.Errorf("SCHED_MESSAGE %q on a running VM", msg)
				}
				return
			}
			// "<ctime>: <reason>", as oned's scheduler writes it
			when, reason, ok := strings.Cut(msg, ": ")
			if !ok || !strings.HasPrefix(reason, tt.wantMsg) {
				t.Fatalf("SCHED_MESSAGE %q, want ...%q", msg, tt.wantMsg)
			}
			if _, err := time.Parse("Mon Jan _2 15:04:05 2006", when); err != nil {
				t.Errorf("SCHED_MESSAGE time %q is not ctime(3): %v", when, err)
			}
		})
	}
}

// TestImageLockedUntilImported: an image is LOCKED for the import latency,
// then READY; a VM of a LOCKED image stays PENDING and runs once it is
// READY; the default datastore's BASE_PATH is /var/lib/one/datastores/ID.
func TestImageLockedUntilImported(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	f := newFixture(t, Options{Now: clk.now, Latency: Latency{ImageImport: 90 * time.Second}})
	c := f.ctrl
	cl := newCluster(t, c, "acme", true)
	img := cl.image(t, c, "acme-os")
	state := func() string {
		i, err := c.Image(img).Info(false)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := i.StateString()
		return s
	}
	if s := state(); s != "LOCKED" {
		t.Fatalf("new image %s, want LOCKED", s)
	}
	id := instantiate(t, c, "vm", "CPU=\"1\"\nMEMORY=\"512\"\nDISK=[IMAGE_ID=\""+itoa(img)+"\"]")
	if st, _, msg := vmState(t, c, id); st != "PENDING" || !strings.Contains(msg, "Cannot dispatch VM: image "+itoa(img)+" is in state LOCKED") {
		t.Fatalf("VM of a LOCKED image: %s %q", st, msg)
	}
	clk.t = clk.t.Add(89 * time.Second)
	if s := state(); s != "LOCKED" {
		t.Fatalf("image after 89 s %s, want LOCKED", s)
	}
	clk.t = clk.t.Add(time.Second)
	if s := state(); s != "USED" {
		t.Fatalf("image after 90 s %s, want USED (READY, and the waiting VM took it)", s)
	}
	if st, lcm, _ := vmState(t, c, id); st != "ACTIVE" || lcm != "RUNNING" {
		t.Fatalf("VM once the image is READY: %s/%s", st, lcm)
	}
	for _, ds := range []int{cl.imageDS, cl.systemDS} {
		d, err := c.Datastore(ds).Info(false)
		if err != nil {
			t.Fatal(err)
		}
		if want := "/var/lib/one/datastores/" + itoa(ds); d.BasePath != want || d.TMMad != "shared" {
			t.Errorf("datastore %d BASE_PATH %q TM_MAD %q, want %q shared", ds, d.BasePath, d.TMMad, want)
		}
	}
}

// TestHostMonitoring: hosts are INIT until their first monitoring, then
// MONITORED with the probed capacity, or ERROR with oned's message when
// the probe fails (the front-end's key is not authorised: oned's monitor
// cannot update the remotes); no front-end probe at all reaches nothing.
func TestHostMonitoring(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	probe := func(hostname, im, vm string) HostProbe {
		if hostname == "203.0.113.7" {
			return HostProbe{Err: "Could not update remotes"}
		}
		return HostProbe{Cores: 2, MemoryMB: 4096}
	}
	f := newFixture(t, Options{Now: clk.now, Probe: probe, Latency: Latency{HostMonitor: 30 * time.Second}})
	c := f.ctrl
	good, err := c.Hosts().Create("203.0.113.5", "lxc", "lxc", -1)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := c.Hosts().Create("203.0.113.7", "lxc", "lxc", -1)
	if err != nil {
		t.Fatal(err)
	}
	show := func(id int) (string, int, string) {
		h, err := c.Host(id).Info(false)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := h.StateString()
		e, _ := h.Template.GetStr("ERROR")
		return s, h.Share.TotalCPU, e
	}
	if s, _, _ := show(good); s != "INIT" {
		t.Fatalf("new host %s, want INIT", s)
	}
	clk.t = clk.t.Add(30 * time.Second)
	if s, cpu, _ := show(good); s != "MONITORED" || cpu != 200 {
		t.Errorf("reachable host %s with TOTAL_CPU %d, want MONITORED 200", s, cpu)
	}
	s, _, e := show(bad)
	if s != "ERROR" || !strings.HasSuffix(e, ": Error monitoring Host 203.0.113.7 ("+itoa(bad)+"): Could not update remotes") {
		t.Errorf("unreachable host %s %q", s, e)
	}

	g := newFixture(t, Options{Probe: func(string, string, string) HostProbe { return HostProbe{Err: "Could not update remotes"} }})
	h, err := g.ctrl.Hosts().Create("kvm1", "kvm", "kvm", -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.ctrl.Host(h).Info(false); err != nil {
		t.Fatal(err)
	}
	if hh, _ := g.ctrl.Host(h).Info(false); hh.StateRaw != hostError {
		t.Errorf("host of a front-end that reaches nothing: state %d, want ERROR", hh.StateRaw)
	}
}

// TestMarketplaceExport: the OpenNebula Public marketplace serves the
// pinned app; an image allocated with FROM_APP (what onemarketapp export
// sends) gets its PATH, FORMAT and FROM_APP_NAME; an unknown app and a
// system datastore are refused as oned refuses them.
func TestMarketplaceExport(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.ctrl
	apps, err := c.MarketPlaceApps().Info()
	if err != nil {
		t.Fatal(err)
	}
	app := -1
	for _, a := range apps.MarketPlaceApps {
		if a.Name == plan.ONEImageApp && a.Version == plan.ONEImageAppVersion && a.MarketPlace == plan.ONEMarketplace {
			app = a.ID
			if tm, err := base64.StdEncoding.DecodeString(a.AppTemplate64); err != nil || !strings.Contains(string(tm), "TYPE=\"OS\"") {
				t.Errorf("APPTEMPLATE64 %q: %v", tm, err)
			}
		}
	}
	if app < 0 {
		t.Fatalf("marketplace lacks %s %s: %+v", plan.ONEImageApp, plan.ONEImageAppVersion, apps.MarketPlaceApps)
	}
	cl := newCluster(t, c, "acme", true)
	id, err := c.Images().Create("NAME=\"acme-os\"\nFROM_APP=\""+itoa(app)+"\"", uint(cl.imageDS))
	if err != nil {
		t.Fatal(err)
	}
	img, err := c.Image(id).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := img.Template.GetStr("FROM_APP_NAME"); n != plan.ONEImageApp || img.Format != "qcow2" || !strings.HasPrefix(img.Path, "https://marketplace.opennebula.io/") {
		t.Errorf("exported image: name %q format %q path %q", n, img.Format, img.Path)
	}
	if _, err := c.Images().Create("NAME=\"x\"\nFROM_APP=\"999\"", uint(cl.imageDS)); respCode(t, err) != gerr.OneInternalError {
		t.Errorf("unknown app: %v", err)
	}
	if _, err := c.Images().Create("NAME=\"y\"\nPATH=\"/x\"", uint(cl.systemDS)); respCode(t, err) != gerr.OneAllocateError {
		t.Errorf("image in a system datastore: %v", err)
	}
}

// TestFixedLease: a NIC asking for an IP gets exactly it, and a second VM
// asking for the same one is refused.
func TestFixedLease(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.ctrl
	cl := newCluster(t, c, "acme", true)
	img := cl.image(t, c, "acme-os")
	tmpl := "CPU=\"1\"\nMEMORY=\"512\"\nDISK=[IMAGE_ID=\"" + itoa(img) + "\"]\nNIC=[NETWORK_ID=\"" + itoa(cl.net) + "\",IP=\"10.64.0.131\"]"
	id := instantiate(t, c, "data", tmpl)
	v, err := c.VM(id).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if ip, _ := v.Template.GetStrFromVec("NIC", "IP"); ip != "10.64.0.131" {
		t.Errorf("NIC IP %q, want the fixed 10.64.0.131", ip)
	}
	tid, err := c.Templates().Create("NAME=\"again\"\n" + tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Template(tid).Instantiate("again", false, "", false); err == nil || !strings.Contains(err.Error(), "Cannot get IP/MAC lease") {
		t.Errorf("second VM on the same fixed IP: %v", err)
	}
}
