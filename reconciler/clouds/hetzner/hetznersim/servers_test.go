package hetznersim

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

func TestServerLifecycle(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := ctxT(t)
	c := h.client

	nw, _, err := c.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "net1", IPRange: mustCIDR(t, "10.0.0.0/16"),
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(t, "10.0.1.0/24"), NetworkZone: hcloud.NetworkZoneEUCentral}}})
	if err != nil {
		t.Fatalf("create network: %v", err)
	}
	fwRes, _, err := c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "fw1"})
	if err != nil {
		t.Fatalf("create firewall: %v", err)
	}
	start := false
	res, _, err := c.Server.Create(ctx, hcloud.ServerCreateOpts{
		Name: "web-1", ServerType: &hcloud.ServerType{Name: "cpx21"}, Image: &hcloud.Image{Name: "debian-12"},
		Location: &hcloud.Location{Name: "nbg1"}, Labels: map[string]string{"agentvdc.io/customer": "acme"},
		UserData: "#cloud-config\n", StartAfterCreate: &start, Networks: []*hcloud.Network{nw},
		Firewalls: []*hcloud.ServerCreateFirewall{{Firewall: *fwRes.Firewall}},
	})
	if err != nil {
		t.Fatalf("create server: %v", err)
	}
	if res.RootPassword == "" {
		t.Error("want a root password without SSH keys")
	}
	if res.Server.Status != hcloud.ServerStatusInitializing || res.Action.Status != hcloud.ActionStatusRunning || res.Action.Command != "create_server" {
		t.Errorf("create: status %s, action %s %s", res.Server.Status, res.Action.Command, res.Action.Status)
	}
	if res.Server.ServerType.Name != "cpx21" || res.Server.Location.Name != "nbg1" || res.Server.Image.Name != "debian-12" ||
		res.Server.Image.Architecture != hcloud.ArchitectureX86 {
		t.Errorf("create: got type %s, location %s, image %s", res.Server.ServerType.Name, res.Server.Location.Name, res.Server.Image.Name)
	}
	if len(res.Server.PrivateNet) != 1 || res.Server.PrivateNet[0].IP.String() != "10.0.1.2" {
		t.Errorf("private net: %+v", res.Server.PrivateNet)
	}
	if len(res.Server.PublicNet.Firewalls) != 1 || res.Server.PublicNet.Firewalls[0].Firewall.ID != fwRes.Firewall.ID {
		t.Errorf("firewalls: %+v", res.Server.PublicNet.Firewalls)
	}
	if err := c.Action.WaitFor(ctx, append(res.NextActions, res.Action)...); err != nil {
		t.Fatalf("wait: %v", err)
	}
	srv, _, err := c.Server.GetByID(ctx, res.Server.ID)
	if err != nil || srv == nil {
		t.Fatalf("get: %v %v", srv, err)
	}
	if srv.Status != hcloud.ServerStatusOff {
		t.Errorf("start_after_create=false: status %s, want off", srv.Status)
	}
	if srv.PublicNet.IPv4.IP == nil || srv.PublicNet.IPv6.IP == nil {
		t.Errorf("public net: %+v", srv.PublicNet)
	}

	// Uniqueness and validation.
	_, _, err = c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "web-1", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}})
	mustAPIError(t, err, hcloud.ErrorCodeUniquenessError)
	_, _, err = c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "bad_name!", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}})
	mustAPIError(t, err, hcloud.ErrorCodeInvalidInput)
	_, _, err = c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "x", ServerType: &hcloud.ServerType{Name: "cx999"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}})
	mustAPIError(t, err, hcloud.ErrorCodeInvalidInput)
	_, _, err = c.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "x", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}, Location: &hcloud.Location{Name: "ash"}})
	mustAPIError(t, err, hcloud.ErrorCodeInvalidServerType)

	// Power actions.
	act, _, err := c.Server.Poweron(ctx, srv)
	if err != nil || act.Command != "start_server" {
		t.Fatalf("poweron: %v %v", act, err)
	}
	waitStatus(t, h, srv.ID, act, hcloud.ServerStatusRunning)
	for _, step := range []struct {
		do   func() (*hcloud.Action, *hcloud.Response, error)
		cmd  string
		want hcloud.ServerStatus
	}{
		{func() (*hcloud.Action, *hcloud.Response, error) { return c.Server.Reboot(ctx, srv) }, "reboot_server", hcloud.ServerStatusRunning},
		{func() (*hcloud.Action, *hcloud.Response, error) { return c.Server.Reset(ctx, srv) }, "reset_server", hcloud.ServerStatusRunning},
		{func() (*hcloud.Action, *hcloud.Response, error) { return c.Server.Shutdown(ctx, srv) }, "shutdown_server", hcloud.ServerStatusOff},
		{func() (*hcloud.Action, *hcloud.Response, error) { return c.Server.Poweron(ctx, srv) }, "start_server", hcloud.ServerStatusRunning},
	} {
		a, _, err := step.do()
		if err != nil || a.Command != step.cmd {
			t.Fatalf("%s: %v %v", step.cmd, a, err)
		}
		waitStatus(t, h, srv.ID, a, step.want)
	}

	// change_type needs the server off, as the real API.
	_, _, err = c.Server.ChangeType(ctx, srv, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: "cpx31"}, UpgradeDisk: true})
	mustAPIError(t, err, hcloud.ErrorCodeServerNotStopped)
	a, _, err := c.Server.Poweroff(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, h, srv.ID, a, hcloud.ServerStatusOff)
	_, _, err = c.Server.ChangeType(ctx, srv, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: "cax11"}})
	mustAPIError(t, err, hcloud.ErrorCodeInvalidServerType) // architecture change
	a, _, err = c.Server.ChangeType(ctx, srv, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: "cpx31"}, UpgradeDisk: true})
	if err != nil {
		t.Fatalf("change type: %v", err)
	}
	waitStatus(t, h, srv.ID, a, hcloud.ServerStatusOff)
	srv, _, _ = c.Server.GetByID(ctx, srv.ID)
	if srv.ServerType.Name != "cpx31" || srv.PrimaryDiskSize != 160 {
		t.Errorf("after change_type: %s disk %d", srv.ServerType.Name, srv.PrimaryDiskSize)
	}

	// Update.
	upd, _, err := c.Server.Update(ctx, srv, hcloud.ServerUpdateOpts{Name: "web-2", Labels: map[string]string{"env": "prod"}})
	if err != nil || upd.Name != "web-2" || len(upd.Labels) != 1 || upd.Labels["env"] != "prod" {
		t.Fatalf("update: %+v %v", upd, err)
	}
	byName, _, err := c.Server.GetByName(ctx, "web-2")
	if err != nil || byName == nil || byName.ID != srv.ID {
		t.Fatalf("get by name: %v %v", byName, err)
	}

	// Per-resource action list.
	acts, err := c.Server.Action.AllFor(ctx, srv, hcloud.ActionListOpts{})
	if err != nil || len(acts) < 8 {
		t.Fatalf("server actions: %d %v", len(acts), err)
	}
	one, _, err := c.Action.GetByID(ctx, acts[0].ID)
	if err != nil || one == nil || one.ID != acts[0].ID {
		t.Fatalf("GET /actions/{id}: %v %v", one, err)
	}

	// Delete returns an action; afterwards the server is gone.
	del, _, err := c.Server.DeleteWithResult(ctx, srv)
	if err != nil || del.Action.Command != "delete_server" {
		t.Fatalf("delete: %v %v", del, err)
	}
	if err := c.Action.WaitFor(ctx, del.Action); err != nil {
		t.Fatal(err)
	}
	gone, _, err := c.Server.GetByID(ctx, srv.ID)
	if err != nil || gone != nil {
		t.Fatalf("deleted server still there: %v %v", gone, err)
	}
	_, _, err = c.Server.Update(ctx, srv, hcloud.ServerUpdateOpts{Name: "zzz"})
	mustAPIError(t, err, hcloud.ErrorCodeNotFound)
	got, _, _ := c.Network.GetByID(ctx, nw.ID)
	if len(got.Servers) != 0 {
		t.Errorf("network still lists deleted server: %v", got.Servers)
	}
}

func waitStatus(t *testing.T, h *harness, id int64, a *hcloud.Action, want hcloud.ServerStatus) {
	t.Helper()
	ctx := ctxT(t)
	if err := h.client.Action.WaitFor(ctx, a); err != nil {
		t.Fatalf("wait %s: %v", a.Command, err)
	}
	srv, _, err := h.client.Server.GetByID(ctx, id)
	if err != nil || srv == nil {
		t.Fatalf("get %d: %v", id, err)
	}
	if srv.Status != want {
		t.Fatalf("after %s: status %s, want %s", a.Command, srv.Status, want)
	}
}

func TestServerListFiltersAndSort(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := ctxT(t)
	for _, n := range []string{"b", "c", "a"} {
		h.createServer(t, n, nil)
	}
	list, _, err := h.client.Server.List(ctx, hcloud.ServerListOpts{Sort: []string{"name:desc"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "c,b,a" {
		t.Errorf("sort name:desc: %v", names)
	}
	list, _, err = h.client.Server.List(ctx, hcloud.ServerListOpts{Name: "a"})
	if err != nil || len(list) != 1 || list[0].Name != "a" {
		t.Errorf("name filter: %v %v", list, err)
	}
	list, _, err = h.client.Server.List(ctx, hcloud.ServerListOpts{Status: []hcloud.ServerStatus{hcloud.ServerStatusOff}})
	if err != nil || len(list) != 0 {
		t.Errorf("status=off: %d %v", len(list), err)
	}
	_, _, err = h.client.Server.List(ctx, hcloud.ServerListOpts{Sort: []string{"color"}})
	mustAPIError(t, err, hcloud.ErrorCodeInvalidInput)
}

func TestServerMetricsCPU(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := ctxT(t)
	a := h.createServer(t, "a", map[string]string{"agentvdc.io/customer": "acme"})
	b := h.createServer(t, "b", map[string]string{"agentvdc.io/customer": "other"})
	if err := h.sim.SetServerCPU(b.ID, 12.5); err != nil {
		t.Fatal(err)
	}
	ids, err := h.sim.SetCPUBySelector("agentvdc.io/customer=acme", 90)
	if err != nil || len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("SetCPUBySelector: %v %v", ids, err)
	}
	end := time.Now().Truncate(time.Second)
	start := end.Add(-5 * time.Minute)
	for _, tc := range []struct {
		srv  *hcloud.Server
		want string
	}{{a, "90"}, {b, "12.5"}} {
		m, _, err := h.client.Server.GetMetrics(ctx, tc.srv, hcloud.ServerGetMetricsOpts{
			Types: []hcloud.ServerMetricType{hcloud.ServerMetricCPU, hcloud.ServerMetricDisk}, Start: start, End: end, Step: 60})
		if err != nil {
			t.Fatalf("metrics: %v", err)
		}
		vals := m.TimeSeries["cpu"]
		if len(vals) != 6 || m.Step != 60 {
			t.Fatalf("cpu series: %d values, step %v", len(vals), m.Step)
		}
		for _, v := range vals {
			if v.Value != tc.want {
				t.Errorf("server %s cpu %s, want %s", tc.srv.Name, v.Value, tc.want)
			}
		}
		if vals[0].Timestamp != float64(start.Unix()) {
			t.Errorf("first timestamp %v, want %d", vals[0].Timestamp, start.Unix())
		}
		if _, ok := m.TimeSeries["disk.0.iops.read"]; !ok {
			t.Errorf("disk series missing: %v", m.TimeSeries)
		}
	}

	// The control endpoint does the same over HTTP.
	resp, err := http.Post(h.ts.URL+"/_sim/cpu", "application/json", strings.NewReader(`{"selector":"agentvdc.io/customer in (acme,other)","cpu":42}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Servers []int64 `json:"servers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || len(out.Servers) != 2 {
		t.Fatalf("/_sim/cpu: %d %v %v", resp.StatusCode, out, err)
	}
	resp.Body.Close()
	for _, bad := range []string{`{"selector":"a in (","cpu":1}`, `{"server_id":1,"cpu":1}`, `{"selector":"a","cpu":101}`, `{"selector":"a"}`} {
		resp, err := http.Post(h.ts.URL+"/_sim/cpu", "application/json", strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("/_sim/cpu %s: status %d, want 400", bad, resp.StatusCode)
		}
	}
	m, _, err := h.client.Server.GetMetrics(ctx, a, hcloud.ServerGetMetricsOpts{Types: []hcloud.ServerMetricType{"cpu"}, Start: start, End: end})
	if err != nil || m.TimeSeries["cpu"][0].Value != "42" {
		t.Fatalf("after control endpoint: %v %v", m, err)
	}
	_, _, err = h.client.Server.GetMetrics(ctx, a, hcloud.ServerGetMetricsOpts{Types: []hcloud.ServerMetricType{"gpu"}, Start: start, End: end})
	mustAPIError(t, err, hcloud.ErrorCodeInvalidInput)
}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var _ = netip.Addr{}

// TestServerLimit: with Options.ServerLimit the project's next server is
// refused with Hetzner's resource_limit_exceeded, through hcloud-go.
func TestServerLimit(t *testing.T) {
	h := newHarness(t, Options{ServerLimit: 2})
	ctx := ctxT(t)
	a := h.createServer(t, "a", nil)
	h.createServer(t, "b", nil)
	create := func(name string) error {
		_, _, err := h.client.Server.Create(ctx, hcloud.ServerCreateOpts{Name: name,
			ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}})
		return err
	}
	err := create("c")
	if !hcloud.IsError(err, hcloud.ErrorCodeResourceLimitExceeded) {
		t.Fatalf("third server: %v, want %s", err, hcloud.ErrorCodeResourceLimitExceeded)
	}
	var herr hcloud.Error
	if !errors.As(err, &herr) || herr.Message != "server limit exceeded: the project already has 2 of its 2 servers" {
		t.Fatalf("error = %#v", err)
	}
	var resp *hcloud.Response
	if _, resp, _ = h.client.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "c",
		ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}}); resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status = %v", resp)
	}
	if len(h.sim.Servers()) != 2 {
		t.Fatalf("servers = %d after refusals", len(h.sim.Servers()))
	}
	// Deleting one makes room.
	res, _, err := h.client.Server.DeleteWithResult(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.client.Action.WaitFor(ctx, res.Action); err != nil {
		t.Fatal(err)
	}
	if err := create("c"); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	if _, err := New(Options{ServerLimit: -1}); err == nil {
		t.Fatal("negative ServerLimit accepted")
	}
}
