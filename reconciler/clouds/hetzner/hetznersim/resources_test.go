package hetznersim

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func TestPaginationAcrossPages(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := ctxT(t)
	const n = 180 // 4 pages of 50, 8 of 25
	for i := range n {
		h.createServer(t, fmt.Sprintf("s-%03d", i), map[string]string{"i": fmt.Sprint(i % 2)})
	}
	h.sim.Control().ResetCounters()
	all, err := h.client.Server.All(ctx)
	if err != nil || len(all) != n {
		t.Fatalf("All: %d %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("not ordered by id at %d", i)
		}
	}
	if got := h.sim.Control().Counters()["GET /v1/servers"]; got != 4 {
		t.Errorf("All made %d list calls, want 4 (per_page=50)", got)
	}
	half, err := h.client.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "i=1", PerPage: 25}})
	if err != nil || len(half) != n/2 {
		t.Fatalf("AllWithOpts selector: %d %v", len(half), err)
	}

	for _, tc := range []struct {
		page, perPage, wantLen, prev, next, last int
	}{
		{1, 0, 25, 0, 2, 8},
		{2, 25, 25, 1, 3, 8},
		{8, 25, 5, 7, 0, 8},
		{9, 25, 0, 8, 0, 8},
		{1, 100, 50, 0, 2, 4}, // per_page is capped at 50
	} {
		list, resp, err := h.client.Server.List(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{Page: tc.page, PerPage: tc.perPage}})
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Meta.Pagination
		if len(list) != tc.wantLen || p.Page != tc.page || p.PreviousPage != tc.prev || p.NextPage != tc.next || p.LastPage != tc.last || p.TotalEntries != n {
			t.Errorf("page %d per %d: len %d meta %+v", tc.page, tc.perPage, len(list), *p)
		}
	}
	_, _, err = h.client.Server.List(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{Page: -1}})
	if err != nil { // the client drops page<=0; the raw API rejects it
		t.Fatal(err)
	}
	resp, err := rawGet(h, "/v1/servers?page=0")
	if err != nil || resp != 400 {
		t.Errorf("page=0: status %d %v", resp, err)
	}
}

func rawGet(h *harness, path string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, h.ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+h.sim.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestSSHKeys(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := ctxT(t)
	c := h.client
	k, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k1", PublicKey: sshPublicKey(1), Labels: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Fingerprint) != 47 || k.Labels["a"] != "b" {
		t.Errorf("key: %+v", k)
	}
	_, _, err = c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k1", PublicKey: sshPublicKey(2)})
	mustAPIError(t, err, hcloud.ErrorCodeUniquenessError)
	_, _, err = c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k2", PublicKey: sshPublicKey(1)})
	mustAPIError(t, err, hcloud.ErrorCodeUniquenessError)
	_, _, err = c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k3", PublicKey: "ssh-ed25519 not-base64"})
	mustAPIError(t, err, hcloud.ErrorCodeInvalidInput)
	k2, _, err := c.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k2", PublicKey: sshPublicKey(2)})
	if err != nil {
		t.Fatal(err)
	}
	byFP, _, err := c.SSHKey.GetByFingerprint(ctx, k2.Fingerprint)
	if err != nil || byFP == nil || byFP.ID != k2.ID {
		t.Fatalf("by fingerprint: %v %v", byFP, err)
	}
	upd, _, err := c.SSHKey.Update(ctx, k, hcloud.SSHKeyUpdateOpts{Name: "k1-renamed", Labels: map[string]string{}})
	if err != nil || upd.Name != "k1-renamed" || len(upd.Labels) != 0 {
		t.Fatalf("update: %+v %v", upd, err)
	}
	_, _, err = c.SSHKey.Update(ctx, k, hcloud.SSHKeyUpdateOpts{Name: "k2"})
	mustAPIError(t, err, hcloud.ErrorCodeUniquenessError)
	all, err := c.SSHKey.All(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("all: %d %v", len(all), err)
	}
	// A server created with a key gets no root password.
	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "s", ServerType: &hcloud.ServerType{Name: "cx22"},
		Image: &hcloud.Image{Name: "ubuntu-22.04"}, SSHKeys: []*hcloud.SSHKey{k}})
	if err != nil || res.RootPassword != "" {
		t.Fatalf("server with key: %q %v", res.RootPassword, err)
	}
	if _, err := c.SSHKey.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	gone, _, err := c.SSHKey.GetByID(ctx, k.ID)
	if err != nil || gone != nil {
		t.Fatalf("deleted key: %v %v", gone, err)
	}
	_, err = c.SSHKey.Delete(ctx, k)
	mustAPIError(t, err, hcloud.ErrorCodeNotFound)
}

func TestNetworks(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := ctxT(t)
	c := h.client
	nw, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "n1", IPRange: mustCIDR(t, "10.0.0.0/16"),
		Labels:  map[string]string{"agentvdc.io/customer": "acme"},
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.1.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral}},
		Routes:  []hcloud.NetworkRoute{{Destination: mustCIDR(t, "10.100.0.0/24"), Gateway: net.ParseIP("10.0.1.10")}}})
	if err != nil {
		t.Fatal(err)
	}
	if nw.Subnets[0].Gateway.String() != "10.0.0.1" || len(nw.Routes) != 1 {
		t.Errorf("network: %+v", nw)
	}
	for _, bad := range []hcloud.NetworkCreateOpts{
		{Name: "n1", IPRange: mustCIDR(t, "10.1.0.0/16")},
		{Name: "n2", IPRange: mustCIDR(t, "8.8.0.0/16")},
		{Name: "n2", IPRange: mustCIDR(t, "10.0.0.0/28")},
		{Name: "n2", IPRange: mustCIDR(t, "10.0.0.0/16"), Subnets: []hcloud.NetworkSubnet{{Type: "cloud", IPRange: mustCIDR(t, "10.9.0.0/24"), NetworkZone: "eu-central"}}},
	} {
		_, _, err := c.Network.Create(ctx, bad)
		if !hcloud.IsError(err, hcloud.ErrorCodeUniquenessError, hcloud.ErrorCodeInvalidInput) {
			t.Errorf("create %s %s: want error, got %v", bad.Name, bad.IPRange, err)
		}
	}
	a, _, err := c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{Type: "cloud", NetworkZone: "us-east"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Action.WaitFor(ctx, a); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Network.AddSubnet(ctx, nw, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{Type: "cloud", IPRange: mustCIDR(t, "10.0.1.128/25"), NetworkZone: "eu-central"}})
	mustAPIError(t, err, hcloud.ErrorCodeNetworksOverlap)
	nw, _, _ = c.Network.GetByID(ctx, nw.ID)
	if len(nw.Subnets) != 2 || nw.Subnets[1].IPRange.String() != "10.0.0.0/24" {
		t.Fatalf("auto subnet: %+v", nw.Subnets)
	}

	srv := h.createServer(t, "s1", nil)
	a, _, err = c.Server.AttachToNetwork(ctx, srv, hcloud.ServerAttachToNetworkOpts{Network: nw, IP: net.ParseIP("10.0.1.50")})
	if err != nil || a.Command != "attach_to_network" {
		t.Fatalf("attach: %v %v", a, err)
	}
	if err := c.Action.WaitFor(ctx, a); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Server.AttachToNetwork(ctx, srv, hcloud.ServerAttachToNetworkOpts{Network: nw})
	mustAPIError(t, err, hcloud.ErrorCodeServerAlreadyAttached)
	srv2 := h.createServer(t, "s2", nil)
	_, _, err = c.Server.AttachToNetwork(ctx, srv2, hcloud.ServerAttachToNetworkOpts{Network: nw, IP: net.ParseIP("10.0.1.50")})
	mustAPIError(t, err, hcloud.ErrorCodeIPNotAvailable)
	srvGot, _, _ := c.Server.GetByID(ctx, srv.ID)
	if len(srvGot.PrivateNet) != 1 || srvGot.PrivateNet[0].IP.String() != "10.0.1.50" || srvGot.PrivateNet[0].MACAddress == "" {
		t.Fatalf("private net: %+v", srvGot.PrivateNet)
	}
	nw, _, _ = c.Network.GetByID(ctx, nw.ID)
	if len(nw.Servers) != 1 || nw.Servers[0].ID != srv.ID {
		t.Fatalf("network servers: %+v", nw.Servers)
	}
	_, _, err = c.Network.DeleteSubnet(ctx, nw, hcloud.NetworkDeleteSubnetOpts{Subnet: hcloud.NetworkSubnet{IPRange: mustCIDR(t, "10.0.1.0/24")}})
	mustAPIError(t, err, hcloud.ErrorCodeResourceInUse)
	a, _, err = c.Server.DetachFromNetwork(ctx, srv, hcloud.ServerDetachFromNetworkOpts{Network: nw})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Action.WaitFor(ctx, a)
	_, _, err = c.Server.DetachFromNetwork(ctx, srv, hcloud.ServerDetachFromNetworkOpts{Network: nw})
	if err == nil {
		t.Error("second detach: want error")
	}
	for _, step := range []func() (*hcloud.Action, *hcloud.Response, error){
		func() (*hcloud.Action, *hcloud.Response, error) {
			return c.Network.AddRoute(ctx, nw, hcloud.NetworkAddRouteOpts{Route: hcloud.NetworkRoute{Destination: mustCIDR(t, "10.200.0.0/16"), Gateway: net.ParseIP("10.0.1.11")}})
		},
		func() (*hcloud.Action, *hcloud.Response, error) {
			return c.Network.DeleteRoute(ctx, nw, hcloud.NetworkDeleteRouteOpts{Route: hcloud.NetworkRoute{Destination: mustCIDR(t, "10.100.0.0/24"), Gateway: net.ParseIP("10.0.1.10")}})
		},
		func() (*hcloud.Action, *hcloud.Response, error) {
			return c.Network.ChangeIPRange(ctx, nw, hcloud.NetworkChangeIPRangeOpts{IPRange: mustCIDR(t, "10.0.0.0/15")})
		},
	} {
		a, _, err := step()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Action.WaitFor(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	nw, _, _ = c.Network.GetByID(ctx, nw.ID)
	if len(nw.Routes) != 1 || nw.Routes[0].Destination.String() != "10.200.0.0/16" || nw.IPRange.String() != "10.0.0.0/15" {
		t.Errorf("after route/range changes: %+v %v", nw.Routes, nw.IPRange)
	}
	upd, _, err := c.Network.Update(ctx, nw, hcloud.NetworkUpdateOpts{Name: "n1b", Labels: map[string]string{"x": "y"}})
	if err != nil || upd.Name != "n1b" || upd.Labels["x"] != "y" {
		t.Fatalf("update: %v %v", upd, err)
	}
	list, err := c.Network.AllWithOpts(ctx, hcloud.NetworkListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "x=y"}})
	if err != nil || len(list) != 1 {
		t.Fatalf("list by label: %d %v", len(list), err)
	}
	// Deleting a network detaches its servers, as the real API does.
	a, _, err = c.Server.AttachToNetwork(ctx, srv2, hcloud.ServerAttachToNetworkOpts{Network: nw})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Action.WaitFor(ctx, a)
	if _, err := c.Network.Delete(ctx, nw); err != nil {
		t.Fatal(err)
	}
	s2, _, _ := c.Server.GetByID(ctx, srv2.ID)
	if len(s2.PrivateNet) != 0 {
		t.Errorf("server still attached to deleted network: %+v", s2.PrivateNet)
	}
	_, err = c.Network.Delete(ctx, nw)
	mustAPIError(t, err, hcloud.ErrorCodeNotFound)
}

func TestFirewalls(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := ctxT(t)
	c := h.client
	a := h.createServer(t, "a", map[string]string{"role": "web"})
	b := h.createServer(t, "b", map[string]string{"role": "db"})
	port := "22"
	res, _, err := c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "fw", Labels: map[string]string{"k": "v"},
		Rules: []hcloud.FirewallRule{{Direction: hcloud.FirewallRuleDirectionIn, Protocol: hcloud.FirewallRuleProtocolTCP, Port: &port,
			SourceIPs: []net.IPNet{*mustCIDR(t, "0.0.0.0/0")}}},
		ApplyTo: []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: b.ID}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 1 || res.Actions[0].Command != "apply_firewall" {
		t.Fatalf("create actions: %+v", res.Actions)
	}
	if err := c.Action.WaitFor(ctx, res.Actions...); err != nil {
		t.Fatal(err)
	}
	fw := res.Firewall
	_, _, err = c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "fw"})
	mustAPIError(t, err, hcloud.ErrorCodeUniquenessError)
	_, _, err = c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "fw2", Rules: []hcloud.FirewallRule{{Direction: "in", Protocol: "tcp", SourceIPs: []net.IPNet{*mustCIDR(t, "0.0.0.0/0")}}}})
	mustAPIError(t, err, hcloud.ErrorCodeInvalidInput) // tcp without port

	acts, _, err := c.Firewall.ApplyResources(ctx, fw, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeLabelSelector, LabelSelector: &hcloud.FirewallResourceLabelSelector{Selector: "role=web"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Action.WaitFor(ctx, acts...); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Firewall.ApplyResources(ctx, fw, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: b.ID}}})
	mustAPIError(t, err, hcloud.ErrorCodeFirewallAlreadyApplied)
	got, _, _ := c.Firewall.GetByID(ctx, fw.ID)
	if len(got.AppliedTo) != 2 || got.AppliedTo[1].LabelSelector.Selector != "role=web" ||
		len(got.AppliedTo[1].AppliedToResources) != 1 || got.AppliedTo[1].AppliedToResources[0].Server.ID != a.ID {
		t.Fatalf("applied_to: %+v", got.AppliedTo)
	}
	if len(got.Rules) != 1 || *got.Rules[0].Port != "22" {
		t.Errorf("rules: %+v", got.Rules)
	}
	for _, s := range []*hcloud.Server{a, b} {
		srv, _, _ := c.Server.GetByID(ctx, s.ID)
		if len(srv.PublicNet.Firewalls) != 1 || srv.PublicNet.Firewalls[0].Firewall.ID != fw.ID || srv.PublicNet.Firewalls[0].Status != hcloud.FirewallStatusApplied {
			t.Errorf("server %s firewalls: %+v", s.Name, srv.PublicNet.Firewalls)
		}
	}
	_, _, err = c.Firewall.RemoveResources(ctx, fw, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: a.ID}}})
	mustAPIError(t, err, hcloud.ErrorCodeFirewallManagedByLabelSelector)
	_, err = c.Firewall.Delete(ctx, fw)
	mustAPIError(t, err, hcloud.ErrorCodeResourceInUse)

	acts, _, err = c.Firewall.SetRules(ctx, fw, hcloud.FirewallSetRulesOpts{Rules: []hcloud.FirewallRule{
		{Direction: hcloud.FirewallRuleDirectionOut, Protocol: hcloud.FirewallRuleProtocolICMP, DestinationIPs: []net.IPNet{*mustCIDR(t, "::/0")}}}})
	if err != nil || acts[0].Command != "set_firewall_rules" {
		t.Fatalf("set rules: %v %v", acts, err)
	}
	acts, _, err = c.Firewall.RemoveResources(ctx, fw, []hcloud.FirewallResource{
		{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: b.ID}},
		{Type: hcloud.FirewallResourceTypeLabelSelector, LabelSelector: &hcloud.FirewallResourceLabelSelector{Selector: "role=web"}}})
	if err != nil || len(acts) != 2 {
		t.Fatalf("remove: %v %v", acts, err)
	}
	if err := c.Action.WaitFor(ctx, acts...); err != nil {
		t.Fatal(err)
	}
	upd, _, err := c.Firewall.Update(ctx, fw, hcloud.FirewallUpdateOpts{Name: "fw-renamed", Labels: map[string]string{"k": "w"}})
	if err != nil || upd.Name != "fw-renamed" || upd.Labels["k"] != "w" || len(upd.Rules) != 1 || upd.Rules[0].Protocol != "icmp" {
		t.Fatalf("update: %+v %v", upd, err)
	}
	list, err := c.Firewall.AllWithOpts(ctx, hcloud.FirewallListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "k=w"}})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %d %v", len(list), err)
	}
	if _, err := c.Firewall.Delete(ctx, fw); err != nil {
		t.Fatalf("delete unused firewall: %v", err)
	}
}

func TestCatalog(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := ctxT(t)
	c := h.client
	locs, err := c.Location.All(ctx)
	if err != nil || len(locs) != 6 {
		t.Fatalf("locations: %d %v", len(locs), err)
	}
	zones := map[string]hcloud.NetworkZone{}
	for _, l := range locs {
		zones[l.Name] = l.NetworkZone
	}
	for name, zone := range map[string]hcloud.NetworkZone{"fsn1": "eu-central", "nbg1": "eu-central", "hel1": "eu-central", "ash": "us-east", "hil": "us-west", "sin": "ap-southeast"} {
		if zones[name] != zone {
			t.Errorf("location %s zone %q, want %q", name, zones[name], zone)
		}
	}
	st, _, err := c.ServerType.GetByName(ctx, "cx22")
	if err != nil || st == nil || st.Cores != 2 || st.Memory != 4 || st.Disk != 40 || st.Architecture != hcloud.ArchitectureX86 {
		t.Fatalf("cx22: %+v %v", st, err)
	}
	var fsn *hcloud.ServerTypeLocationPricing
	for i, p := range st.Pricings {
		if p.Location.Name == "fsn1" {
			fsn = &st.Pricings[i]
		}
	}
	if fsn == nil || fsn.Monthly.Net != "3.7900000000" || fsn.Monthly.Gross != "4.5101000000" {
		t.Fatalf("cx22 fsn1 price: %+v", fsn)
	}
	types, err := c.ServerType.All(ctx)
	if err != nil || len(types) < 10 {
		t.Fatalf("server types: %d %v", len(types), err)
	}
	for _, want := range []string{"cx22", "cx32", "cx42", "cx52", "cpx11", "cpx21", "cpx31", "ccx13", "ccx23", "ccx33"} {
		found := false
		for _, ty := range types {
			found = found || ty.Name == want
		}
		if !found {
			t.Errorf("server type %s missing", want)
		}
	}
	for _, arch := range []hcloud.Architecture{hcloud.ArchitectureX86, hcloud.ArchitectureARM} {
		im, _, err := c.Image.GetByNameAndArchitecture(ctx, "ubuntu-24.04", arch)
		if err != nil || im == nil || im.Architecture != arch || im.Type != hcloud.ImageTypeSystem {
			t.Errorf("image ubuntu-24.04/%s: %+v %v", arch, im, err)
		}
	}
	ims, err := c.Image.AllWithOpts(ctx, hcloud.ImageListOpts{Type: []hcloud.ImageType{hcloud.ImageTypeSystem}, Architecture: []hcloud.Architecture{hcloud.ArchitectureX86}})
	if err != nil || len(ims) < 5 {
		t.Fatalf("images: %d %v", len(ims), err)
	}
	dcs, err := c.Datacenter.All(ctx)
	if err != nil || len(dcs) != 6 {
		t.Fatalf("datacenters: %d %v", len(dcs), err)
	}
	loc, _, err := c.Location.GetByID(ctx, 99)
	if err != nil || loc != nil {
		t.Errorf("unknown location: %v %v", loc, err)
	}
	// An arm server gets the arm image of the same name.
	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "arm", ServerType: &hcloud.ServerType{Name: "cax11"}, Image: &hcloud.Image{Name: "debian-12"}, Location: &hcloud.Location{Name: "hel1"}})
	if err != nil || res.Server.Image.Architecture != hcloud.ArchitectureARM {
		t.Fatalf("arm server: %v %v", res.Server, err)
	}
}
