package opennebula

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"

	"github.com/agentvdc/agentvdc/plan"
)

// TestHostsByAddressImageAndStates: a host is registered in oned by its
// server's public IPv4 and observed under its catalogue name; the image
// datastore's BRIDGE_LIST holds the hosts' addresses and reads back as
// their names; the image is the pinned marketplace app, READY before
// Create returns; every stateful kind reports Outputs[state]; the
// templates carry the DISK, the system datastore and the fixed IP.
func TestHostsByAddressImageAndStates(t *testing.T) {
	e := newEnv(t, nil)
	ix := newIDs()
	rs := desired("acme")
	made := createAll(t, e.p, rs, ix)
	host := made[rs[4].Address()]
	hid, _ := strconv.Atoi(host.ID)
	h, err := e.ctrl.Host(hid).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if want := serverIP("agentvdc-acme-srv-1"); h.Name != want || h.IMMAD != "lxc" || h.VMMAD != "lxc" {
		t.Errorf("oned host NAME %q drivers %s/%s, want %s lxc/lxc", h.Name, h.IMMAD, h.VMMAD, want)
	}
	dsID, _ := strconv.Atoi(made[rs[6].Address()].ID)
	ds, err := e.ctrl.Datastore(dsID).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if bl, _ := ds.Template.GetStr("BRIDGE_LIST"); bl != h.Name || ds.Type != "0" {
		t.Errorf("image datastore BRIDGE_LIST %q TYPE %s, want %q 0", bl, ds.Type, h.Name)
	}
	if _, err := ds.Template.GetStr("NFS_SERVER"); err == nil {
		t.Error("NFS_SERVER written (oned ignores it)")
	}
	if img := made[rs[8].Address()]; img.Outputs[plan.OutputState] != "READY" {
		t.Errorf("image created in state %q, want READY", img.Outputs[plan.OutputState])
	}
	tid, _ := strconv.Atoi(made[rs[9].Address()].ID)
	tm, err := e.ctrl.Template(tid).Info(false, false)
	if err != nil {
		t.Fatal(err)
	}
	imgID := made[rs[8].Address()].ID
	if id, _ := tm.Template.GetStrFromVec("DISK", "IMAGE_ID"); id != imgID {
		t.Errorf("data template DISK IMAGE_ID %q, want %s", id, imgID)
	}
	if ip, _ := tm.Template.GetStrFromVec("NIC", "IP"); ip != "10.64.0.130" {
		t.Errorf("data template NIC IP %q", ip)
	}
	if req, _ := tm.Template.GetStr("SCHED_DS_REQUIREMENTS"); req != "ID="+made[rs[7].Address()].ID {
		t.Errorf("SCHED_DS_REQUIREMENTS %q, want the system datastore", req)
	}

	// Observed: catalogue names and attributes, oned's state names.
	var seen map[plan.Address]plan.Resource
	for range 50 {
		seen = observe(t, e.p)
		if seen[rs[11].Address()].Outputs[plan.OutputState] == "RUNNING" {
			break
		}
	}
	for i, r := range rs {
		o, ok := seen[r.Address()]
		if !ok {
			t.Fatalf("%s not observed", r.Address())
		}
		if got := comparable(o.Attrs); !equalAttrs(got, r.Attrs) {
			t.Errorf("%d %s observed %v, want %v", i, r.Address(), got, r.Attrs)
		}
	}
	states := map[int]string{4: "MONITORED", 8: "USED", 11: "RUNNING"}
	for i, want := range states {
		if got := seen[rs[i].Address()].Outputs[plan.OutputState]; got != want {
			t.Errorf("%s state %q, want %q", rs[i].Address(), got, want)
		}
	}
	if !plan.InfraPhases("acme", append(append([]plan.Resource{}, values(seen)...),
		plan.Resource{Kind: plan.HetznerServer, Name: "agentvdc-acme-srv-1", Customer: "acme", Outputs: map[string]string{plan.OutputState: "running"}}))[plan.PhaseDataVMRunning] {
		t.Error("readiness does not see the data VM running")
	}
}

// TestHalfCreatedHostAdopted: a host allocated under its address whose
// marks were never written is finished and adopted; a host at that
// address registered by someone else is refused.
func TestHalfCreatedHostAdopted(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ix := newIDs()
	rs := desired("acme")
	createAll(t, e.p, rs[:2], ix)
	cid, _ := strconv.Atoi(ix.m[rs[1].Address()])
	addr := serverIP("agentvdc-acme-srv-1")
	raw, err := e.ctrl.Hosts().Create(addr, "lxc", "lxc", cid)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.p.Create(ctx, rs[4], ix.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != strconv.Itoa(raw) || got.Name != rs[4].Name {
		t.Errorf("adopted %s %s, want id %d", got.Name, got.ID, raw)
	}
	// someone else's host at the next server's address
	other := rs[4]
	other.Name = "agentvdc-acme-srv-2"
	foreign, err := e.ctrl.Hosts().Create(serverIP(other.Name), "lxc", "lxc", cid)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ctrl.Host(foreign).Update(`OWNER="ops"`, parameters.Merge); err != nil {
		t.Fatal(err)
	}
	if err := e.ctrl.Host(foreign).Update(attrCustomer+`="globex"`+"\n"+attrManagedBy+`="agentvdc"`, parameters.Merge); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Create(ctx, other, ix.lookup); err == nil || !strings.Contains(err.Error(), "someone else") {
		t.Errorf("create over another customer's host: %v", err)
	}
	// no public address yet: a clear error, no call
	none := rs[4]
	none.Name = "agentvdc-acme-srv-3"
	noIP := func(a plan.Address) (string, bool) {
		if _, _, ok := plan.SplitOutputRef(a); ok {
			return "", false
		}
		return ix.lookup(a)
	}
	if _, err := e.p.Create(ctx, none, noIP); err == nil || !strings.Contains(err.Error(), "has no public_ip yet") {
		t.Errorf("host without its server's address: %v", err)
	}
}

func equalAttrs(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if plan.Normalise(k, v) != plan.Normalise(k, b[k]) {
			return false
		}
	}
	return true
}

func values(m map[plan.Address]plan.Resource) []plan.Resource {
	out := make([]plan.Resource, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	return out
}
