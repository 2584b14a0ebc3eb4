package hetzner

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/hetzner/hetznersim"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

// TestRoundTrip asserts, for every kind, that desired → Create → Observe
// gives exactly the desired attributes, the customer, an id and the labels.
func TestRoundTrip(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	known := ids{}
	created := h.createAll(t, "acme", 2, known)
	want := []plan.Resource{desiredNetwork("acme"), desiredFirewall("acme"), desiredServer("acme", 1), desiredServer("acme", 2)}

	obs, err := h.p.Observe(ctx)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	if len(obs) != len(want) {
		t.Fatalf("Observe returned %d resources, want %d: %+v", len(obs), len(want), obs)
	}
	got := byAddress(obs)
	for i, w := range want {
		o, ok := got[w.Address()]
		if !ok {
			t.Fatalf("%s not observed", w.Address())
		}
		if diff := cmp.Diff(w.Attrs, o.Attrs); diff != "" {
			t.Errorf("%s attrs (-desired +observed):\n%s", w.Address(), diff)
		}
		if diff := cmp.Diff(w.Attrs, created[i].Attrs); diff != "" {
			t.Errorf("%s attrs returned by Create (-desired +created):\n%s", w.Address(), diff)
		}
		if o.Customer != "acme" || o.ID == "" || o.ID != created[i].ID {
			t.Errorf("%s: customer %q id %q (created id %q)", w.Address(), o.Customer, o.ID, created[i].ID)
		}
		if diff := cmp.Diff(w.Labels, o.Labels); diff != "" {
			t.Errorf("%s labels (-desired +observed):\n%s", w.Address(), diff)
		}
	}
	// The server really carries the bootstrap label, runs, and got its user data.
	for _, s := range h.sim.Servers() {
		if s.Labels[plan.LabelBootstrap] != "3f2a9c1b7e4d" || s.Status != "running" {
			t.Errorf("server %s: labels %v status %s", s.Name, s.Labels, s.Status)
		}
	}
}

// TestObserveOneListCallPerPage counts the API calls of Observe with more
// resources than fit on one page.
func TestObserveOneListCallPerPage(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	// 60 managed networks and firewalls, 110 servers, plus unowned noise.
	for i := range 60 {
		c := "c" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		lbl := ownership(c)
		if _, _, err := h.raw.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "agentvdc-" + c, IPRange: mustCIDR(t, "10.0.0.0/16"), Labels: lbl}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := h.raw.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "agentvdc-" + c, Labels: lbl}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 110 {
		lbl := ownership("bulk")
		if _, _, err := h.raw.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "agentvdc-bulk-srv-" + itoa(i),
			ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}, Labels: lbl}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := h.raw.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "theirs", IPRange: mustCIDR(t, "10.0.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	h.sim.Control().ResetCounters()
	obs, err := h.p.Observe(ctx)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	if len(obs) != 60+60+110 {
		t.Fatalf("observed %d resources, want 230", len(obs))
	}
	want := map[string]int64{"GET /v1/networks": 2, "GET /v1/firewalls": 2, "GET /v1/servers": 3}
	if diff := cmp.Diff(want, h.sim.Control().Counters()); diff != "" {
		t.Errorf("API calls of Observe (-want +got):\n%s", diff)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func mustCIDR(t testing.TB, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCreateIsIdempotent: a second Create (as after a crash before the
// journal entry) adopts instead of duplicating, also for a server whose
// create was interrupted before the network attach.
func TestCreateIsIdempotent(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	known := ids{}
	first := h.createAll(t, "acme", 1, known)
	h.sim.Control().ResetCounters()
	second := h.createAll(t, "acme", 1, known)
	for i := range first {
		if first[i].ID != second[i].ID || !cmp.Equal(first[i].Attrs, second[i].Attrs) {
			t.Errorf("%s: second create gave %+v, first %+v", first[i].Address(), second[i], first[i])
		}
	}
	if n := h.sim.Control().Total("POST /v1/servers/{id}/actions/*") + h.sim.Control().Total("POST /v1/firewalls/{id}/actions/*"); n != 0 {
		t.Errorf("adopting a complete server made %d action calls", n)
	}

	// A server created (with labels) but never attached: Create finishes it.
	d := desiredServer("acme", 2)
	labels, err := ownLabels(d)
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := h.raw.Server.Create(ctx, hcloud.ServerCreateOpts{Name: d.Name, ServerType: &hcloud.ServerType{Name: "cx22"},
		Image: &hcloud.Image{Name: "ubuntu-24.04"}, Location: &hcloud.Location{Name: "fsn1"}, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.raw.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		t.Fatal(err)
	}
	got, err := h.p.Create(ctx, d, known.lookup)
	if err != nil {
		t.Fatalf("Create over interrupted create: %v", err)
	}
	if got.ID != itoa(int(res.Server.ID)) {
		t.Errorf("adopted id %s, want %d", got.ID, res.Server.ID)
	}
	if diff := cmp.Diff(d.Attrs, got.Attrs); diff != "" {
		t.Errorf("adopted server attrs (-desired +got):\n%s", diff)
	}
	if n := len(h.sim.Servers()); n != 2 {
		t.Errorf("%d servers exist, want 2", n)
	}
}

// TestUnownedIsInvisibleAndRefused: resources without the ownership labels
// are not observed; Update and Delete refuse them even with forged labels;
// Create refuses to adopt them.
func TestUnownedIsInvisibleAndRefused(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	n, _, err := h.raw.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "agentvdc-acme", IPRange: mustCIDR(t, "10.0.0.0/16"),
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.1.0/24"), NetworkZone: "eu-central"}}})
	if err != nil {
		t.Fatal(err)
	}
	fw, _, err := h.raw.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "agentvdc-acme",
		Labels: map[string]string{plan.LabelManagedBy: plan.ManagedByValue}}) // no customer label
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := h.raw.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "agentvdc-acme-srv-1", ServerType: &hcloud.ServerType{Name: "cx22"},
		Image: &hcloud.Image{Name: "ubuntu-24.04"}, Labels: map[string]string{"agentvdc.io/customer": "acme"}})
	if err != nil {
		t.Fatal(err)
	}
	obs, err := h.p.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 0 {
		t.Fatalf("Observe returned unowned resources: %+v", obs)
	}
	forged := func(r plan.Resource, id int64) plan.Resource {
		r.ID = itoa(int(id))
		return r
	}
	cases := []struct {
		name string
		r    plan.Resource
	}{
		{"network", forged(desiredNetwork("acme"), n.ID)},
		{"firewall", forged(desiredFirewall("acme"), fw.Firewall.ID)},
		{"server", forged(desiredServer("acme", 1), srv.Server.ID)},
	}
	lookup := ids{{Kind: plan.HetznerNetwork, Name: "agentvdc-acme"}: itoa(int(n.ID)), {Kind: plan.HetznerFirewall, Name: "agentvdc-acme"}: itoa(int(fw.Firewall.ID))}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.p.Delete(ctx, tc.r); !errors.Is(err, reconciler.ErrNotOwned) {
				t.Errorf("Delete: %v, want ErrNotOwned", err)
			}
			after := tc.r
			after.Labels = map[string]string{plan.LabelManagedBy: plan.ManagedByValue, plan.LabelCustomer: "acme", "x": "y"}
			if _, err := h.p.Update(ctx, tc.r, after, lookup.lookup); !errors.Is(err, reconciler.ErrNotOwned) {
				t.Errorf("Update: %v, want ErrNotOwned", err)
			}
			create := tc.r
			create.ID = ""
			if _, err := h.p.Create(ctx, create, lookup.lookup); !errors.Is(err, reconciler.ErrNotOwned) {
				t.Errorf("Create over an unowned name: %v, want ErrNotOwned", err)
			}
		})
	}
	// Nothing was changed or deleted.
	if got, _, _ := h.raw.Network.GetByID(ctx, n.ID); got == nil || len(got.Labels) != 0 {
		t.Errorf("unowned network changed: %+v", got)
	}
	if got, _, _ := h.raw.Server.GetByID(ctx, srv.Server.ID); got == nil || len(got.Labels) != 1 {
		t.Errorf("unowned server changed: %+v", got)
	}
	if got, _, _ := h.raw.Firewall.GetByID(ctx, fw.Firewall.ID); got == nil || len(got.Labels) != 1 {
		t.Errorf("unowned firewall changed: %+v", got)
	}
}

// TestUpdateServer changes server type, firewall and labels in place.
func TestUpdateServer(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	known := ids{}
	created := byAddress(h.createAll(t, "acme", 1, known))
	fw2 := desiredFirewall("acme")
	fw2.Name = "agentvdc-acme-extra"
	got2, err := h.p.Create(ctx, fw2, known.lookup)
	if err != nil {
		t.Fatal(err)
	}
	known[fw2.Address()] = got2.ID

	before := created[desiredServer("acme", 1).Address()]
	after := desiredServer("acme", 1)
	after.Attrs["server_type"] = "cx32"
	after.Attrs["firewall"] = fw2.Name
	after.Labels["team"] = "platform"
	h.sim.Control().ResetCounters()
	up, err := h.p.Update(ctx, before, after, known.lookup)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if diff := cmp.Diff(after.Attrs, up.Attrs); diff != "" {
		t.Errorf("updated attrs (-want +got):\n%s", diff)
	}
	for _, k := range []string{"shutdown", "change_type", "poweron"} {
		if n := h.sim.Control().Total("POST /v1/servers/{id}/actions/" + k); n != 1 {
			t.Errorf("%s called %d times, want 1", k, n)
		}
	}
	s, _, err := h.raw.Server.GetByID(ctx, mustInt(t, up.ID))
	if err != nil || s == nil {
		t.Fatal(err)
	}
	if s.Status != hcloud.ServerStatusRunning || s.PrimaryDiskSize != 40 || s.Labels["team"] != "platform" || s.Labels[plan.LabelBootstrap] != "3f2a9c1b7e4d" {
		t.Errorf("server after update: status %s disk %d labels %v", s.Status, s.PrimaryDiskSize, s.Labels)
	}
	obs, err := h.p.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o := byAddress(obs)[after.Address()]
	if diff := cmp.Diff(after.Attrs, o.Attrs); diff != "" {
		t.Errorf("observed after update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(after.Labels, o.Labels); diff != "" {
		t.Errorf("observed labels after update (-want +got):\n%s", diff)
	}
	// Attributes that need a replacement are refused.
	bad := after
	bad.Attrs = map[string]string{}
	for k, v := range after.Attrs {
		bad.Attrs[k] = v
	}
	bad.Attrs["location"] = "nbg1"
	if _, err := h.p.Update(ctx, o, bad, known.lookup); err == nil || !strings.Contains(err.Error(), "location") {
		t.Errorf("Update of location: %v, want a replace error", err)
	}
}

func mustInt(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("not an id: %q", s)
	}
	return n
}

// TestUpdateFirewallAndNetwork: rules by set_rules, labels by PUT.
func TestUpdateFirewallAndNetwork(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	known := ids{}
	created := byAddress(h.createAll(t, "acme", 0, known))

	fwBefore := created[desiredFirewall("acme").Address()]
	fwAfter := desiredFirewall("acme")
	fwAfter.Attrs["rules"] = "in tcp 443 0.0.0.0/0,::/0;out tcp any 10.0.0.0/8;in esp - 192.0.2.0/24"
	up, err := h.p.Update(ctx, fwBefore, fwAfter, known.lookup)
	if err != nil {
		t.Fatalf("Update firewall: %v", err)
	}
	canon, _ := CanonicalRules(fwAfter.Attrs["rules"])
	if up.Attrs["rules"] != canon {
		t.Errorf("rules after update %q, want %q", up.Attrs["rules"], canon)
	}
	netBefore := created[desiredNetwork("acme").Address()]
	netAfter := desiredNetwork("acme")
	netAfter.Labels["cost-centre"] = "42"
	upn, err := h.p.Update(ctx, netBefore, netAfter, known.lookup)
	if err != nil {
		t.Fatalf("Update network: %v", err)
	}
	if diff := cmp.Diff(netAfter.Labels, upn.Labels); diff != "" {
		t.Errorf("network labels (-want +got):\n%s", diff)
	}
	obs, err := h.p.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := byAddress(obs)[fwAfter.Address()].Attrs["rules"]; got != canon {
		t.Errorf("observed rules %q, want %q", got, canon)
	}
	bad := desiredNetwork("acme")
	bad.Attrs["subnet"] = "10.0.2.0/24"
	if _, err := h.p.Update(ctx, netBefore, bad, known.lookup); err == nil {
		t.Error("Update of a network subnet succeeded; it needs a replacement")
	}
	badRules := desiredFirewall("acme")
	badRules.Attrs["rules"] = "in tcp 0 0.0.0.0/0"
	if _, err := h.p.Update(ctx, up, badRules, known.lookup); err == nil {
		t.Error("Update with invalid rules succeeded")
	}
}

// TestDelete removes every kind, detaching first; a second delete succeeds.
func TestDelete(t *testing.T) {
	h := newHarness(t, hetznersim.Options{ActionDelay: 5 * time.Millisecond}, nil)
	ctx := ctxT(t)
	known := ids{}
	created := h.createAll(t, "acme", 2, known)
	// Delete the network and the firewall while a server still uses them
	// (they must be detached first), then the servers.
	order := []plan.Resource{created[0], created[1], created[2], created[3]}
	for _, r := range order {
		if err := h.p.Delete(ctx, r); err != nil {
			t.Fatalf("Delete %s: %v", r.Address(), err)
		}
	}
	for _, r := range order {
		if err := h.p.Delete(ctx, r); err != nil {
			t.Errorf("second Delete %s: %v", r.Address(), err)
		}
	}
	obs, err := h.p.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 0 || len(h.sim.Servers()) != 0 {
		t.Errorf("left over: %+v, servers %+v", obs, h.sim.Servers())
	}
	if h.sim.Control().Total("POST /v1/servers/{id}/actions/detach_from_network") != 2 {
		t.Errorf("network delete did not detach both servers: %v", h.sim.Control().Counters())
	}
	if h.sim.Control().Total("POST /v1/firewalls/{id}/actions/remove_from_resources") != 1 {
		t.Errorf("firewall delete did not remove it from its servers: %v", h.sim.Control().Counters())
	}
}

// TestFaults: with 10 % 5xx on every endpoint, latency, dropped connections
// and a hung request, the whole life cycle still succeeds.
func TestFaults(t *testing.T) {
	h := newHarness(t, hetznersim.Options{Seed: 7}, func(c *Config) {
		c.AttemptTimeout = 300 * time.Millisecond
		c.Retry.Attempts = 9
	})
	ctx := ctxT(t)
	ctl := h.sim.Control()
	var faults []simctl.Fault
	// simctl patterns are path.Match globs: "*" stops at "/", so one
	// pattern per path depth covers every endpoint.
	for _, pat := range anyEndpoint {
		faults = append(faults,
			simctl.Fault{Pattern: pat, ErrorRate: 0.10, Status: 503},
			simctl.Fault{Pattern: pat, ErrorRate: 0.03, Status: 500},
			simctl.Fault{Pattern: pat, Latency: simctl.Duration(2 * time.Millisecond)})
	}
	for _, f := range append(faults, []simctl.Fault{
		{Pattern: "GET /v1/servers", Drop: 0.2},
		{Pattern: "GET /v1/networks", Timeout: true, Times: 1},
		{Pattern: "POST /v1/servers", ErrorRate: 1, Status: 502, Times: 2},
	}...) {
		if _, err := ctl.AddFault(f); err != nil {
			t.Fatal(err)
		}
	}
	known := ids{}
	all := []plan.Resource{}
	for _, c := range []string{"acme", "globex", "initech", "umbrella"} {
		all = append(all, h.createAll(t, c, 2, known)...)
	}
	created := byAddress(all)
	obs, err := h.p.Observe(ctx)
	if err != nil {
		t.Fatalf("Observe under faults: %v", err)
	}
	if len(obs) != len(all) {
		t.Fatalf("observed %d, want %d", len(obs), len(all))
	}
	for _, o := range obs {
		want := created[o.Address()]
		if !cmp.Equal(want.Attrs, o.Attrs) {
			t.Errorf("%s: %v vs %v", o.Address(), want.Attrs, o.Attrs)
		}
	}
	srv := created[desiredServer("acme", 1).Address()]
	after := desiredServer("acme", 1)
	after.Attrs["server_type"] = "cx32"
	if _, err := h.p.Update(ctx, srv, after, known.lookup); err != nil {
		t.Fatalf("Update under faults: %v", err)
	}
	for _, o := range obs {
		if err := h.p.Delete(ctx, o); err != nil {
			t.Fatalf("Delete %s under faults: %v", o.Address(), err)
		}
	}
	if n := len(h.sim.Servers()); n != 0 {
		t.Errorf("%d servers left", n)
	}
	if !strings.Contains(h.logs.String(), "retrying") {
		t.Error("no retry was logged; the faults did not bite")
	}
	t.Logf("API calls under faults: %d", totalCalls(ctl))
	if n := countLines(h.logs.String(), "status=503"); n < 5 {
		t.Errorf("only %d retried 503s; the 10%% fault did not bite", n)
	}
}

// TestSensitiveNeverInErrorsOrLogs: a failing create with user data shows
// neither the user data in the error nor in the logs.
func TestSensitiveNeverInErrorsOrLogs(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	known := ids{}
	h.createAll(t, "acme", 0, known)
	d := desiredServer("acme", 1)
	d.Sensitive[plan.SensitiveUserData] = "#cloud-config\n# SECRETKEY\n" + strings.Repeat("x", 40*1024) // over the 32 KiB limit
	_, err := h.p.Create(ctx, d, known.lookup)
	if err == nil {
		t.Fatal("Create with oversized user data succeeded")
	}
	if strings.Contains(err.Error(), "SECRETKEY") || strings.Contains(h.logs.String(), "SECRETKEY") {
		t.Errorf("user data leaked: err=%v logs=%s", err, h.logs.String())
	}
	if strings.Contains(err.Error(), h.sim.Token()) || strings.Contains(h.logs.String(), h.sim.Token()) {
		t.Error("token leaked")
	}
}

func TestBadInput(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	noCustomer := desiredNetwork("acme")
	noCustomer.Customer = ""
	badIP := desiredServer("acme", 1)
	badIP.Attrs["private_ip"] = "10.0.1.300"
	badRange := desiredNetwork("acme")
	badRange.Attrs["ip_range"] = "10.0.0.1/16"
	wrongCustomer := desiredNetwork("acme")
	wrongCustomer.Labels[plan.LabelCustomer] = "other"
	unknownKind := desiredNetwork("acme")
	unknownKind.Kind = "hetzner_volume"
	for name, r := range map[string]plan.Resource{
		"no customer": noCustomer, "bad private ip": badIP, "host bits": badRange,
		"label mismatch": wrongCustomer, "unknown kind": unknownKind, "missing network": desiredServer("acme", 2),
	} {
		if _, err := h.p.Create(ctx, r, ids{}.lookup); err == nil {
			t.Errorf("%s: Create succeeded", name)
		}
	}
	if err := h.p.Delete(ctx, plan.Resource{Kind: plan.HetznerServer, Name: "agentvdc-x", ID: "abc"}); err == nil {
		t.Error("Delete with a bad id succeeded")
	}
	if _, err := New(ctx, Config{}); err == nil {
		t.Error("New without token succeeded")
	}
	if _, err := New(ctx, Config{Token: "t", Endpoint: "ftp://x"}); err == nil {
		t.Error("New with a bad endpoint succeeded")
	}
	if len(h.sim.Servers()) != 0 {
		t.Error("a bad input created a server")
	}
}

func TestServerTypePricesAndCPU(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	h.sim.Control().ResetCounters()
	prices, err := h.p.ServerTypePrices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.sim.Control().Counters(); !cmp.Equal(got, map[string]int64{"GET /v1/server_types": 1}) {
		t.Errorf("ServerTypePrices made calls %v, want one list call", got)
	}
	for _, tc := range []struct {
		typ, loc string
		want     float64
	}{{"cx22", "fsn1", 3.79}, {"cpx11", "ash", 5.0}, {"ccx13", "sin", 16.24}} {
		if got, ok := prices[tc.typ][tc.loc]; !ok || got != tc.want {
			t.Errorf("price %s/%s = %v (%v), want %v", tc.typ, tc.loc, got, ok, tc.want)
		}
	}
	if _, ok := prices["cx22"]["ash"]; ok {
		t.Error("cx22 has a price in ash, where it is not sold")
	}

	known := ids{}
	srv := h.createAll(t, "acme", 1, known)[2]
	if err := h.sim.SetServerCPU(mustInt(t, srv.ID), 87.5); err != nil {
		t.Fatal(err)
	}
	cpu, err := h.p.ServerCPU(ctx, srv.ID, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if cpu != 87.5 {
		t.Errorf("ServerCPU = %v, want 87.5", cpu)
	}
	for _, bad := range []struct {
		id string
		w  time.Duration
	}{{"x", time.Minute}, {srv.ID, 0}, {"999", time.Minute}} {
		if _, err := h.p.ServerCPU(ctx, bad.id, bad.w); err == nil {
			t.Errorf("ServerCPU(%q, %v) succeeded", bad.id, bad.w)
		}
	}
}

// anyEndpoint are fault patterns matching every /v1 endpoint key.
var anyEndpoint = []string{"* /v1/*", "* /v1/*/*", "* /v1/*/*/*", "* /v1/*/*/*/*"}

func totalCalls(ctl *simctl.Controller) int64 {
	var n int64
	for _, v := range ctl.Counters() {
		n += v
	}
	return n
}

func countLines(s, sub string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// TestChangeTypeFailureLeavesServerRunning: a failed change_type action
// returns an error, the server is powered on again with its old type, and
// a retried Update converges.
func TestChangeTypeFailureLeavesServerRunning(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	known := ids{}
	before := h.createAll(t, "acme", 1, known)[2]
	after := desiredServer("acme", 1)
	after.Attrs["server_type"] = "cx42"
	if err := h.sim.FailActions(hetznersim.ActionFailure{Command: "change_server_type", Times: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.Update(ctx, before, after, known.lookup); err == nil {
		t.Fatal("Update succeeded although change_type failed")
	}
	s := h.sim.Servers()[0]
	if s.Status != "running" || s.ServerType != "cx22" {
		t.Errorf("after a failed change: status %s type %s, want running cx22", s.Status, s.ServerType)
	}
	got, err := h.p.Update(ctx, before, after, known.lookup)
	if err != nil {
		t.Fatalf("retried Update: %v", err)
	}
	if got.Attrs["server_type"] != "cx42" || h.sim.Servers()[0].Status != "running" {
		t.Errorf("retried Update: %v, sim %+v", got.Attrs, h.sim.Servers()[0])
	}
}

// TestCreateRefusesAnotherCustomersName: a name held by another customer's
// managed resource is not adopted.
func TestCreateRefusesAnotherCustomersName(t *testing.T) {
	h := newHarness(t, hetznersim.Options{}, nil)
	ctx := ctxT(t)
	if _, err := h.p.Create(ctx, desiredNetwork("acme"), nil); err != nil {
		t.Fatal(err)
	}
	other := desiredNetwork("globex")
	other.Name = desiredNetwork("acme").Name
	if _, err := h.p.Create(ctx, other, nil); !errors.Is(err, reconciler.ErrNotOwned) {
		t.Errorf("Create over another customer's name: %v, want ErrNotOwned", err)
	}
}

// TestServerQuotaIsSurfaced: the project's server limit (the simulator's
// ServerLimit) fails Create at once, not retried, with what to do; a
// server that already exists is still adopted at the limit.
func TestServerQuotaIsSurfaced(t *testing.T) {
	h := newHarness(t, hetznersim.Options{ServerLimit: 1}, nil)
	ctx := ctxT(t)
	known := ids{}
	h.createAll(t, "acme", 1, known)
	h.sim.Control().ResetCounters()
	_, err := h.p.Create(ctx, desiredServer("acme", 2), known.lookup)
	if !hcloud.IsError(err, hcloud.ErrorCodeResourceLimitExceeded) {
		t.Fatalf("second server: %v", err)
	}
	for _, want := range []string{"the Hetzner project's server quota is reached", "--hetzner-server-quota", "server limit exceeded: the project already has 1 of its 1 servers (resource_limit_exceeded"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := h.sim.Control().Total("POST /v1/servers"); n != 1 {
		t.Errorf("%d create calls, want 1 (a quota is not retried)", n)
	}
	if _, err := h.p.Create(ctx, desiredServer("acme", 1), known.lookup); err != nil {
		t.Fatalf("adopting the existing server at the limit: %v", err)
	}
}
