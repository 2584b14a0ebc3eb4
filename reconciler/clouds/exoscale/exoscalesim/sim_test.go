package exoscalesim

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
	v3 "github.com/exoscale/egoscale/v3"
	"github.com/exoscale/egoscale/v3/credentials"
)

// mount is where tests mount the simulator, as `vdc sim` does.
const mount = "/exoscale"

type harness struct {
	sim *Server
	srv *httptest.Server
	c   *v3.Client
}

// newHarness serves a simulator under /exoscale on 127.0.0.1 and returns
// a real egoscale client (no retries) pointed at it.
func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	sim, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(mount+"/", http.StripPrefix(mount, sim))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		if err := sim.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &harness{sim: sim, srv: srv, c: clientFor(t, srv.URL+mount+"/v2", sim.APIKey(), sim.APISecret())}
}

func clientFor(t testing.TB, endpoint, key, secret string) *v3.Client {
	t.Helper()
	c, err := v3.NewClient(credentials.NewStaticCredentials(key, secret),
		v3.ClientOptWithEndpoint(v3.Endpoint(endpoint)),
		v3.ClientOptWithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// done checks an immediate operation succeeded and returns its reference:
// done(t)(client.CreateX(ctx, req)).
func done(t testing.TB) func(*v3.Operation, error) v3.UUID {
	return func(op *v3.Operation, err error) v3.UUID {
		t.Helper()
		return doneOp(t, op, err)
	}
}

func doneOp(t testing.TB, op *v3.Operation, err error) v3.UUID {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if op.State != v3.OperationStateSuccess || op.Reference == nil || op.Reference.ID == "" {
		t.Fatalf("operation: %+v", op)
	}
	return op.Reference.ID
}

// wantStatus checks err is an *v3.APIError for sentinel whose message
// contains msg.
func wantStatus(t testing.TB, err, sentinel error, msg string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error = %v, want %v", err, sentinel)
	}
	var apiErr *v3.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not a *v3.APIError", err)
	}
	if !strings.Contains(apiErr.Message, msg) {
		t.Fatalf("message = %q, want it to contain %q", apiErr.Message, msg)
	}
}

func immediate() Options { return Options{ImmediateOperations: true} }

func TestZonesAndEndpointSwitch(t *testing.T) {
	h := newHarness(t, immediate())
	ctx := context.Background()
	zones, err := h.c.ListZones(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(zones.Zones) != 8 {
		t.Fatalf("zones = %d, want 8", len(zones.Zones))
	}
	ep, err := h.c.GetZoneAPIEndpoint(ctx, v3.ZoneNameDEFra1)
	if err != nil {
		t.Fatal(err)
	}
	if want := h.srv.URL + mount + "/v2"; string(ep) != want {
		t.Fatalf("de-fra-1 endpoint = %s, want %s", ep, want)
	}
	gva, err := h.c.GetZoneAPIEndpoint(ctx, v3.ZoneNameCHGva2)
	if err != nil {
		t.Fatal(err)
	}
	name, err := h.c.GetZoneName(ctx, gva)
	if err != nil || name != v3.ZoneNameCHGva2 {
		t.Fatalf("GetZoneName(%s) = %s, %v", gva, name, err)
	}
	// Resources are zonal: a network made in ch-gva-2 is not in de-fra-1.
	cg := h.c.WithEndpoint(gva)
	id := done(t)(cg.CreatePrivateNetwork(ctx, v3.CreatePrivateNetworkRequest{Name: "gva-net"}))
	if _, err := cg.GetPrivateNetwork(ctx, id); err != nil {
		t.Fatalf("get in ch-gva-2: %v", err)
	}
	_, err = h.c.GetPrivateNetwork(ctx, id)
	wantStatus(t, err, v3.ErrNotFound, "not found")
	list, err := h.c.ListPrivateNetworks(ctx)
	if err != nil || len(list.PrivateNetworks) != 0 {
		t.Fatalf("de-fra-1 networks = %+v, %v", list, err)
	}
}

func TestPrivateNetworkCRUD(t *testing.T) {
	h := newHarness(t, immediate())
	ctx := context.Background()
	labels := v3.Labels{"agentvdc.io/managed-by": "agentvdc", "agentvdc.io/customer": "acme"}
	id := done(t)(h.c.CreatePrivateNetwork(ctx, v3.CreatePrivateNetworkRequest{
		Name: "agentvdc-acme", Description: "storage", Labels: labels,
		StartIP: net.ParseIP("10.0.0.10"), EndIP: net.ParseIP("10.0.0.20"), Netmask: net.ParseIP("255.255.255.0"),
	}))
	pn, err := h.c.GetPrivateNetwork(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if pn.Name != "agentvdc-acme" || pn.Labels["agentvdc.io/customer"] != "acme" || pn.Vni == 0 || !pn.StartIP.Equal(net.ParseIP("10.0.0.10")) {
		t.Fatalf("network = %+v", pn)
	}
	done(t)(h.c.UpdatePrivateNetwork(ctx, id, v3.UpdatePrivateNetworkRequest{Labels: v3.Labels{"agentvdc.io/customer": "beta"}}))
	done(t)(h.c.UpdatePrivateNetwork(ctx, id, v3.UpdatePrivateNetworkRequest{Name: "renamed"}))
	pn, _ = h.c.GetPrivateNetwork(ctx, id)
	if pn.Name != "renamed" || len(pn.Labels) != 1 || pn.Labels["agentvdc.io/customer"] != "beta" || pn.Description != "storage" {
		t.Fatalf("after updates = %+v", pn)
	}
	list, err := h.c.ListPrivateNetworks(ctx)
	if err != nil || len(list.PrivateNetworks) != 1 || list.PrivateNetworks[0].ID != id {
		t.Fatalf("list = %+v, %v", list, err)
	}
	for _, tc := range []struct {
		name string
		req  v3.CreatePrivateNetworkRequest
		msg  string
	}{
		{"partial range", v3.CreatePrivateNetworkRequest{Name: "x", StartIP: net.ParseIP("10.0.0.1")}, "together"},
		{"start after end", v3.CreatePrivateNetworkRequest{Name: "x", StartIP: net.ParseIP("10.0.0.9"), EndIP: net.ParseIP("10.0.0.1"), Netmask: net.ParseIP("255.255.255.0")}, "after end-ip"},
		{"other subnet", v3.CreatePrivateNetworkRequest{Name: "x", StartIP: net.ParseIP("10.0.0.9"), EndIP: net.ParseIP("10.0.1.1"), Netmask: net.ParseIP("255.255.255.0")}, "same subnet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.c.CreatePrivateNetwork(ctx, tc.req)
			wantStatus(t, err, v3.ErrBadRequest, tc.msg)
		})
	}
	done(t)(h.c.DeletePrivateNetwork(ctx, id))
	_, err = h.c.GetPrivateNetwork(ctx, id)
	wantStatus(t, err, v3.ErrNotFound, "private network")
	_, err = h.c.DeletePrivateNetwork(ctx, id)
	wantStatus(t, err, v3.ErrNotFound, "private network")
}

func TestSecurityGroupCRUD(t *testing.T) {
	h := newHarness(t, immediate())
	ctx := context.Background()
	id := done(t)(h.c.CreateSecurityGroup(ctx, v3.CreateSecurityGroupRequest{Name: "agentvdc-acme", Description: "nfs"}))
	other := done(t)(h.c.CreateSecurityGroup(ctx, v3.CreateSecurityGroupRequest{Name: "agentvdc-acme-peers"}))
	_, err := h.c.CreateSecurityGroup(ctx, v3.CreateSecurityGroupRequest{Name: "agentvdc-acme"})
	wantStatus(t, err, v3.ErrConflict, "already exists")

	done(t)(h.c.AddRuleToSecurityGroup(ctx, id, v3.AddRuleToSecurityGroupRequest{
		FlowDirection: "ingress", Protocol: "tcp", StartPort: 2049, EndPort: 2049, Network: "10.0.0.0/24", Description: "nfs"}))
	done(t)(h.c.AddRuleToSecurityGroup(ctx, id, v3.AddRuleToSecurityGroupRequest{
		FlowDirection: "ingress", Protocol: "icmp", Network: "0.0.0.0/0"}))
	done(t)(h.c.AddRuleToSecurityGroup(ctx, id, v3.AddRuleToSecurityGroupRequest{
		FlowDirection: "ingress", Protocol: "tcp", StartPort: 22, EndPort: 22, SecurityGroup: &v3.SecurityGroupResource{ID: other}}))
	for _, tc := range []struct {
		name   string
		req    v3.AddRuleToSecurityGroupRequest
		status error
		msg    string
	}{
		{"duplicate", v3.AddRuleToSecurityGroupRequest{FlowDirection: "ingress", Protocol: "tcp", StartPort: 2049, EndPort: 2049, Network: "10.0.0.0/24"}, v3.ErrConflict, "identical"},
		{"bad direction", v3.AddRuleToSecurityGroupRequest{FlowDirection: "inward", Protocol: "tcp", StartPort: 1, EndPort: 2, Network: "10.0.0.0/24"}, v3.ErrBadRequest, "flow-direction"},
		{"bad protocol", v3.AddRuleToSecurityGroupRequest{FlowDirection: "egress", Protocol: "sctp", Network: "10.0.0.0/24"}, v3.ErrBadRequest, "protocol"},
		{"ports reversed", v3.AddRuleToSecurityGroupRequest{FlowDirection: "ingress", Protocol: "udp", StartPort: 90, EndPort: 80, Network: "10.0.0.0/24"}, v3.ErrBadRequest, "greater than"},
		{"no target", v3.AddRuleToSecurityGroupRequest{FlowDirection: "ingress", Protocol: "tcp", StartPort: 1, EndPort: 1}, v3.ErrBadRequest, "exactly one"},
		{"bad cidr", v3.AddRuleToSecurityGroupRequest{FlowDirection: "ingress", Protocol: "tcp", StartPort: 1, EndPort: 1, Network: "10.0.0.0"}, v3.ErrBadRequest, "CIDR"},
		{"unknown group", v3.AddRuleToSecurityGroupRequest{FlowDirection: "ingress", Protocol: "tcp", StartPort: 1, EndPort: 1, SecurityGroup: &v3.SecurityGroupResource{ID: "0b9e4a34-3a7f-4f8e-9b47-6a8f2a2b8c11"}}, v3.ErrNotFound, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.c.AddRuleToSecurityGroup(ctx, id, tc.req)
			wantStatus(t, err, tc.status, tc.msg)
		})
	}
	sg, err := h.c.GetSecurityGroup(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(sg.Rules) != 3 || sg.Rules[2].SecurityGroup == nil || sg.Rules[2].SecurityGroup.Name != "agentvdc-acme-peers" || sg.Rules[1].ICMP == nil || sg.Rules[1].ICMP.Type != -1 {
		t.Fatalf("rules = %+v", sg.Rules)
	}
	// The referenced group cannot go while a rule points at it.
	_, err = h.c.DeleteSecurityGroup(ctx, other)
	wantStatus(t, err, v3.ErrConflict, "referenced")
	done(t)(h.c.DeleteRuleFromSecurityGroup(ctx, id, sg.Rules[2].ID))
	_, err = h.c.DeleteRuleFromSecurityGroup(ctx, id, sg.Rules[2].ID)
	wantStatus(t, err, v3.ErrNotFound, "rule")
	done(t)(h.c.DeleteSecurityGroup(ctx, other))

	list, err := h.c.ListSecurityGroups(ctx)
	if err != nil || len(list.SecurityGroups) != 1 || list.SecurityGroups[0].Name != "agentvdc-acme" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	pub, err := h.c.ListSecurityGroups(ctx, v3.ListSecurityGroupsWithVisibility("public"))
	if err != nil || len(pub.SecurityGroups) != 0 {
		t.Fatalf("public list = %+v, %v", pub, err)
	}
	done(t)(h.c.DeleteSecurityGroup(ctx, id))
	_, err = h.c.GetSecurityGroup(ctx, id)
	wantStatus(t, err, v3.ErrNotFound, "security group")
}

// catalogIDs resolves an instance type and a template through the client.
func catalogIDs(t testing.TB, c *v3.Client, typ, family string) (v3.InstanceType, v3.Template) {
	t.Helper()
	ctx := context.Background()
	types, err := c.ListInstanceTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it, err := types.FindInstanceTypeByIdOrFamilyAndSize(typ)
	if err != nil {
		t.Fatal(err)
	}
	tpls, err := c.ListTemplates(ctx, v3.ListTemplatesWithFamily(family))
	if err != nil || len(tpls.Templates) == 0 {
		t.Fatalf("templates %s: %+v, %v", family, tpls, err)
	}
	return it, tpls.Templates[0]
}

func createInstance(t testing.TB, c *v3.Client, name string, labels v3.Labels, sgs ...v3.UUID) v3.UUID {
	t.Helper()
	it, tpl := catalogIDs(t, c, "standard.medium", "ubuntu")
	var refs []v3.SecurityGroup
	for _, id := range sgs {
		refs = append(refs, v3.SecurityGroup{ID: id})
	}
	return done(t)(c.CreateInstance(context.Background(), v3.CreateInstanceRequest{
		Name: name, InstanceType: &it, Template: &tpl, DiskSize: 50, Labels: labels,
		SecurityGroups: refs, UserData: base64.StdEncoding.EncodeToString([]byte("#cloud-config\n")),
	}))
}

func TestCatalogues(t *testing.T) {
	h := newHarness(t, immediate())
	ctx := context.Background()
	types, err := h.c.ListInstanceTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		cpus   int64
		memMiB int64
	}{{"standard.micro", 1, 512}, {"standard.small", 2, 2048}, {"medium", 2, 4096}, {"standard.large", 4, 8192}} {
		it, err := types.FindInstanceTypeByIdOrFamilyAndSize(tc.name)
		if err != nil || it.Cpus != tc.cpus || it.Memory != tc.memMiB<<20 {
			t.Errorf("%s = %+v, %v", tc.name, it, err)
		}
		got, err := h.c.GetInstanceType(ctx, it.ID)
		if err != nil || got.Size != it.Size {
			t.Errorf("get %s = %+v, %v", tc.name, got, err)
		}
	}
	deb, err := h.c.ListTemplates(ctx, v3.ListTemplatesWithFamily("debian"))
	if err != nil || len(deb.Templates) != 2 || !strings.Contains(deb.Templates[0].Name, "Debian") {
		t.Fatalf("debian templates = %+v, %v", deb, err)
	}
	all, err := h.c.ListTemplates(ctx, v3.ListTemplatesWithVisibility("public"))
	if err != nil || len(all.Templates) != 4 {
		t.Fatalf("public templates = %d, %v", len(all.Templates), err)
	}
	got, err := h.c.GetTemplate(ctx, deb.Templates[0].ID)
	if err != nil || got.DefaultUser != "debian" {
		t.Fatalf("get template = %+v, %v", got, err)
	}
}

func TestInstanceLifecycle(t *testing.T) {
	h := newHarness(t, immediate())
	ctx := context.Background()
	sg := done(t)(h.c.CreateSecurityGroup(ctx, v3.CreateSecurityGroupRequest{Name: "agentvdc-acme"}))
	pnID := done(t)(h.c.CreatePrivateNetwork(ctx, v3.CreatePrivateNetworkRequest{
		Name: "agentvdc-acme", StartIP: net.ParseIP("10.1.0.10"), EndIP: net.ParseIP("10.1.0.11"), Netmask: net.ParseIP("255.255.255.0")}))
	owned := v3.Labels{"agentvdc.io/managed-by": "agentvdc", "agentvdc.io/customer": "acme"}
	id := createInstance(t, h.c, "acme-storage", owned, sg)
	createInstance(t, h.c, "unmanaged", nil)

	in, err := h.c.GetInstance(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if in.Name != "acme-storage" || in.State != v3.InstanceStateRunning || in.DiskSize != 50 || typeSize(t, h.c, in) != "medium" ||
		in.Template == nil || in.PublicIP == nil || len(in.SecurityGroups) != 1 || in.SecurityGroups[0].ID != sg || in.UserData == "" || in.CreatedAT.IsZero() {
		t.Fatalf("instance = %+v", in)
	}
	all, err := h.c.ListInstances(ctx)
	if err != nil || len(all.Instances) != 2 {
		t.Fatalf("list = %+v, %v", all, err)
	}
	mine, err := h.c.ListInstances(ctx, v3.ListInstancesWithLabels("agentvdc.io/managed-by=agentvdc,agentvdc.io/customer=acme"))
	if err != nil || len(mine.Instances) != 1 || mine.Instances[0].ID != id {
		t.Fatalf("label list = %+v, %v", mine, err)
	}
	// Security group in use → cannot be deleted.
	_, err = h.c.DeleteSecurityGroup(ctx, sg)
	wantStatus(t, err, v3.ErrConflict, "in use")

	done(t)(h.c.UpdateInstance(ctx, id, v3.UpdateInstanceRequest{Labels: v3.Labels{"agentvdc.io/customer": "acme", "tier": "pro"}}))
	done(t)(h.c.UpdateInstance(ctx, id, v3.UpdateInstanceRequest{Name: "acme-nfs"})) // sends "labels": null
	in, _ = h.c.GetInstance(ctx, id)
	if in.Name != "acme-nfs" || in.Labels["tier"] != "pro" || len(in.Labels) != 2 {
		t.Fatalf("after update = %+v", in)
	}

	// Scaling needs a stopped instance.
	large, _ := catalogIDs(t, h.c, "standard.large", "ubuntu")
	_, err = h.c.ScaleInstance(ctx, id, v3.ScaleInstanceRequest{InstanceType: &large})
	wantStatus(t, err, v3.ErrBadRequest, "stopped")
	done(t)(h.c.StopInstance(ctx, id))
	done(t)(h.c.ScaleInstance(ctx, id, v3.ScaleInstanceRequest{InstanceType: &large}))
	_, err = h.c.ResizeInstanceDisk(ctx, id, v3.ResizeInstanceDiskRequest{DiskSize: 40})
	wantStatus(t, err, v3.ErrBadRequest, "only grow")
	done(t)(h.c.StartInstance(ctx, id, v3.StartInstanceRequest{}))
	in, _ = h.c.GetInstance(ctx, id)
	if in.State != v3.InstanceStateRunning || typeSize(t, h.c, in) != "large" {
		t.Fatalf("after scale/start = %+v", in)
	}

	// Private network attach with DHCP leases from the managed range.
	done(t)(h.c.AttachInstanceToPrivateNetwork(ctx, pnID, v3.AttachInstanceToPrivateNetworkRequest{
		Instance: &v3.AttachInstanceToPrivateNetworkRequestInstance{ID: id}, IP: net.ParseIP("10.1.0.11")}))
	_, err = h.c.AttachInstanceToPrivateNetwork(ctx, pnID, v3.AttachInstanceToPrivateNetworkRequest{
		Instance: &v3.AttachInstanceToPrivateNetworkRequestInstance{ID: id}})
	wantStatus(t, err, v3.ErrConflict, "already attached")
	pn, _ := h.c.GetPrivateNetwork(ctx, pnID)
	in, _ = h.c.GetInstance(ctx, id)
	if len(pn.Leases) != 1 || pn.Leases[0].InstanceID != id || !pn.Leases[0].IP.Equal(net.ParseIP("10.1.0.11")) ||
		len(in.PrivateNetworks) != 1 || in.PrivateNetworks[0].ID != pnID || in.PrivateNetworks[0].MACAddress == "" {
		t.Fatalf("after attach: network %+v, instance networks %+v", pn, in.PrivateNetworks)
	}
	_, err = h.c.DeletePrivateNetwork(ctx, pnID)
	wantStatus(t, err, v3.ErrConflict, "in use")
	done(t)(h.c.DetachInstanceFromPrivateNetwork(ctx, pnID, v3.DetachInstanceFromPrivateNetworkRequest{Instance: &v3.Instance{ID: id}}))
	_, err = h.c.DetachInstanceFromPrivateNetwork(ctx, pnID, v3.DetachInstanceFromPrivateNetworkRequest{Instance: &v3.Instance{ID: id}})
	wantStatus(t, err, v3.ErrBadRequest, "not attached")
	pn, _ = h.c.GetPrivateNetwork(ctx, pnID)
	if len(pn.Leases) != 0 {
		t.Fatalf("leases after detach = %+v", pn.Leases)
	}

	// Security group membership through the security-group endpoints.
	done(t)(h.c.DetachInstanceFromSecurityGroup(ctx, sg, v3.DetachInstanceFromSecurityGroupRequest{Instance: &v3.Instance{ID: id}}))
	done(t)(h.c.AttachInstanceToSecurityGroup(ctx, sg, v3.AttachInstanceToSecurityGroupRequest{Instance: &v3.Instance{ID: id}}))

	for _, tc := range []struct {
		name   string
		mutate func(*v3.CreateInstanceRequest)
		status error
		msg    string
	}{
		{"disk too small", func(r *v3.CreateInstanceRequest) { r.DiskSize = 5 }, v3.ErrBadRequest, "disk-size"},
		{"unknown type", func(r *v3.CreateInstanceRequest) {
			r.InstanceType = &v3.InstanceType{ID: "8a1b4b1e-4a1e-4f1e-9b1e-1a1b1c1d1e1f"}
		}, v3.ErrNotFound, "instance type"},
		{"unknown template", func(r *v3.CreateInstanceRequest) {
			r.Template = &v3.Template{ID: "8a1b4b1e-4a1e-4f1e-9b1e-1a1b1c1d1e1f"}
		}, v3.ErrNotFound, "template"},
		{"user data not base64", func(r *v3.CreateInstanceRequest) { r.UserData = "#cloud-config!" }, v3.ErrBadRequest, "base64"},
		{"unknown security group", func(r *v3.CreateInstanceRequest) {
			r.SecurityGroups = []v3.SecurityGroup{{ID: "8a1b4b1e-4a1e-4f1e-9b1e-1a1b1c1d1e1f"}}
		}, v3.ErrNotFound, "security group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it, tpl := catalogIDs(t, h.c, "standard.micro", "debian")
			req := v3.CreateInstanceRequest{Name: "x", InstanceType: &it, Template: &tpl, DiskSize: 10}
			tc.mutate(&req)
			_, err := h.c.CreateInstance(ctx, req)
			wantStatus(t, err, tc.status, tc.msg)
		})
	}

	done(t)(h.c.DeleteInstance(ctx, id))
	_, err = h.c.GetInstance(ctx, id)
	wantStatus(t, err, v3.ErrNotFound, "instance")
	done(t)(h.c.DeleteSecurityGroup(ctx, sg))
	// A malformed id is a 400, as the client reports it.
	_, err = h.c.GetInstance(ctx, "not-a-uuid")
	wantStatus(t, err, v3.ErrBadRequest, "UUID")
}

func TestVolumeLifecycle(t *testing.T) {
	h := newHarness(t, immediate())
	ctx := context.Background()
	inst := createInstance(t, h.c, "acme-storage", nil)
	id := done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{
		Name: "agentvdc-acme-data", Size: 50, Labels: v3.Labels{"agentvdc.io/customer": "acme"}}))
	vol, err := h.c.GetBlockStorageVolume(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if vol.Size != 50 || vol.State != v3.BlockStorageVolumeStateDetached || vol.Instance != nil || vol.Labels["agentvdc.io/customer"] != "acme" || vol.Blocksize != 4096 {
		t.Fatalf("volume = %+v", vol)
	}
	for _, tc := range []struct {
		name string
		size int64
		msg  string
	}{{"shrink", 40, "only grow"}, {"same size", 50, "only grow"}, {"above maximum", 20000, "maximum"}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.c.ResizeBlockStorageVolume(ctx, id, v3.ResizeBlockStorageVolumeRequest{Size: tc.size})
			wantStatus(t, err, v3.ErrBadRequest, tc.msg)
		})
	}
	grown, err := h.c.ResizeBlockStorageVolume(ctx, id, v3.ResizeBlockStorageVolumeRequest{Size: 100})
	if err != nil || grown.Size != 100 || grown.ID != id {
		t.Fatalf("resize = %+v, %v", grown, err)
	}

	done(t)(h.c.AttachBlockStorageVolumeToInstance(ctx, id, v3.AttachBlockStorageVolumeToInstanceRequest{Instance: &v3.InstanceTarget{ID: inst}}))
	_, err = h.c.AttachBlockStorageVolumeToInstance(ctx, id, v3.AttachBlockStorageVolumeToInstanceRequest{Instance: &v3.InstanceTarget{ID: inst}})
	wantStatus(t, err, v3.ErrConflict, "already attached")
	byInst, err := h.c.ListBlockStorageVolumes(ctx, v3.ListBlockStorageVolumesWithInstanceID(inst))
	if err != nil || len(byInst.BlockStorageVolumes) != 1 || byInst.BlockStorageVolumes[0].State != v3.BlockStorageVolumeStateAttached {
		t.Fatalf("volumes of instance = %+v, %v", byInst, err)
	}
	_, err = h.c.DeleteBlockStorageVolume(ctx, id)
	wantStatus(t, err, v3.ErrConflict, "attached")
	// Online growth while attached is allowed.
	if _, err := h.c.ResizeBlockStorageVolume(ctx, id, v3.ResizeBlockStorageVolumeRequest{Size: 150}); err != nil {
		t.Fatal(err)
	}
	done(t)(h.c.DetachBlockStorageVolume(ctx, id))
	_, err = h.c.DetachBlockStorageVolume(ctx, id)
	wantStatus(t, err, v3.ErrBadRequest, "not attached")

	done(t)(h.c.UpdateBlockStorageVolume(ctx, id, v3.UpdateBlockStorageVolumeRequest{Labels: v3.Labels{"agentvdc.io/customer": "acme", "x": "y"}}))
	done(t)(h.c.UpdateBlockStorageVolume(ctx, id, v3.UpdateBlockStorageVolumeRequest{Name: v3.String("renamed")}))
	vol, _ = h.c.GetBlockStorageVolume(ctx, id)
	if vol.Name != "renamed" || len(vol.Labels) != 2 || vol.Size != 150 {
		t.Fatalf("after update = %+v", vol)
	}
	list, err := h.c.ListBlockStorageVolumes(ctx)
	if err != nil || len(list.BlockStorageVolumes) != 1 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	_, err = h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "no-size"})
	wantStatus(t, err, v3.ErrBadRequest, "size")
	done(t)(h.c.DeleteBlockStorageVolume(ctx, id))
	_, err = h.c.GetBlockStorageVolume(ctx, id)
	wantStatus(t, err, v3.ErrNotFound, "volume")
}

// TestAsyncOperations waits through client.Wait with real pending
// operations (each Wait takes egoscale's first 3 s poll tick).
func TestAsyncOperations(t *testing.T) {
	h := newHarness(t, Options{OperationDelay: 20 * time.Millisecond})
	ctx := context.Background()
	t.Run("success", func(t *testing.T) {
		t.Parallel()
		op, err := h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "ok", Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		if op.State != v3.OperationStatePending {
			t.Fatalf("state = %s, want pending", op.State)
		}
		got, err := h.c.Wait(ctx, op, v3.OperationStateSuccess)
		if err != nil {
			t.Fatal(err)
		}
		if got.Reference.Command != "create-block-storage-volume" {
			t.Fatalf("operation = %+v", got)
		}
		if _, err := h.c.GetBlockStorageVolume(ctx, got.Reference.ID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		inst := createInstanceWait(t, h)
		if err := h.sim.FailNextOperation("PUT /v2/instance/{id}:stop"); err != nil {
			t.Fatal(err)
		}
		op, err := h.c.StopInstance(ctx, inst)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.c.Wait(ctx, op, v3.OperationStateSuccess)
		if err == nil || !strings.Contains(err.Error(), "state: failure") || !strings.Contains(err.Error(), "unavailable") {
			t.Fatalf("Wait error = %v, want a failure", err)
		}
		in, err := h.c.GetInstance(ctx, inst)
		if err != nil || in.State != v3.InstanceStateRunning {
			t.Fatalf("failed stop must not apply: %+v, %v", in, err)
		}
	})
	t.Run("failure via control endpoint", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Post(h.srv.URL+mount+"/_sim/fail-next-operation", "application/json", strings.NewReader(`{"pattern":"POST /v2/security-group"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("control status = %d", resp.StatusCode)
		}
		op, err := h.c.CreateSecurityGroup(ctx, v3.CreateSecurityGroupRequest{Name: "agentvdc-failing"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.c.Wait(ctx, op, v3.OperationStateSuccess); err == nil || !strings.Contains(err.Error(), "failure") {
			t.Fatalf("Wait error = %v", err)
		}
		list, _ := h.c.ListSecurityGroups(ctx)
		for _, g := range list.SecurityGroups {
			if g.Name == "agentvdc-failing" {
				t.Fatal("failed create must not create the group")
			}
		}
	})
}

// createInstanceWait creates an instance in a sim with pending operations,
// reading the result without Wait (the operation's reference is known).
func createInstanceWait(t *testing.T, h *harness) v3.UUID {
	t.Helper()
	it, tpl := catalogIDs(t, h.c, "standard.small", "ubuntu")
	op, err := h.c.CreateInstance(context.Background(), v3.CreateInstanceRequest{Name: "w", InstanceType: &it, Template: &tpl, DiskSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		o, err := h.c.GetOperation(context.Background(), op.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.State == v3.OperationStateSuccess {
			return o.Reference.ID
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("operation stayed pending")
	return ""
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t, immediate())
	ctx := context.Background()
	if !strings.HasPrefix(h.sim.APIKey(), "EXO") || len(h.sim.APIKey()) != 27 {
		t.Fatalf("generated key %q does not look like an Exoscale key", h.sim.APIKey())
	}
	ep := h.srv.URL + mount + "/v2"
	for _, tc := range []struct {
		name        string
		key, secret string
		msg         string
	}{
		{"wrong key", "EXO000000000000000000000000", h.sim.APISecret(), msgBadAuth},
		{"wrong secret", h.sim.APIKey(), "not-the-secret", msgBadAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clientFor(t, ep, tc.key, tc.secret).ListInstances(ctx)
			wantStatus(t, err, v3.ErrForbidden, tc.msg)
			if strings.Contains(err.Error(), tc.secret) {
				t.Fatal("error leaks the secret")
			}
		})
	}
	t.Run("query args are signed", func(t *testing.T) {
		if _, err := h.c.ListInstances(ctx, v3.ListInstancesWithLabels("a=b"), v3.ListInstancesWithIPAddress("1.2.3.4")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing header", func(t *testing.T) {
		resp, err := http.Get(ep + "/instance")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status = %d, want 401", resp.StatusCode)
		}
	})
	t.Run("expired", func(t *testing.T) {
		// The server's clock runs 11 minutes ahead: egoscale's 10-minute
		// signature has expired when it arrives.
		skewed, err := New(Options{APIKey: h.sim.APIKey(), APISecret: h.sim.APISecret(),
			Now: func() time.Time { return time.Now().Add(11 * time.Minute) }})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(skewed)
		defer srv.Close()
		_, err = clientFor(t, srv.URL+"/v2", h.sim.APIKey(), h.sim.APISecret()).ListBlockStorageVolumes(ctx)
		wantStatus(t, err, v3.ErrForbidden, msgExpired)
	})
}

func TestFaultInjection(t *testing.T) {
	h := newHarness(t, immediate())
	ctx := context.Background()
	ctl := h.sim.Control()
	t.Run("5xx", func(t *testing.T) {
		if _, err := ctl.AddFault(simFault("GET /v2/instance", 503, 1)); err != nil {
			t.Fatal(err)
		}
		_, err := h.c.ListInstances(ctx)
		wantStatus(t, err, v3.ErrServiceUnavailable, "Service Unavailable")
		if _, err := h.c.ListInstances(ctx); err != nil {
			t.Fatalf("fault limited to one call: %v", err)
		}
	})
	t.Run("429", func(t *testing.T) {
		f := simFault("GET /v2/block-storage", 0, 1)
		f.RateLimit = true
		if _, err := ctl.AddFault(f); err != nil {
			t.Fatal(err)
		}
		_, err := h.c.ListBlockStorageVolumes(ctx)
		wantStatus(t, err, v3.ErrTooManyRequests, "slow down")
	})
	t.Run("5xx retried by the default client", func(t *testing.T) {
		if _, err := ctl.AddFault(simFault("GET /v2/private-network", 502, 1)); err != nil {
			t.Fatal(err)
		}
		// egoscale's default HTTP client (go-retryablehttp) retries once after ~1 s.
		c, err := v3.NewClient(credentials.NewStaticCredentials(h.sim.APIKey(), h.sim.APISecret()),
			v3.ClientOptWithEndpoint(v3.Endpoint(h.srv.URL+mount+"/v2")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListPrivateNetworks(ctx); err != nil {
			t.Fatalf("retried call failed: %v", err)
		}
	})
	t.Run("latency", func(t *testing.T) {
		f := simFault("GET /v2/security-group", 0, 1)
		f.Latency = simctl.Duration(150 * time.Millisecond)
		if _, err := ctl.AddFault(f); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := h.c.ListSecurityGroups(ctx); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 150*time.Millisecond {
			t.Fatalf("elapsed %v, want ≥ 150ms", el)
		}
	})
	t.Run("dropped connection", func(t *testing.T) {
		// No Times limit: net/http silently retries an idempotent request
		// once when a reused connection closes without an answer.
		f := simFault("GET /v2/instance-type", 0, 0)
		f.Drop = 1
		fid, err := ctl.AddFault(f)
		if err != nil {
			t.Fatal(err)
		}
		defer ctl.RemoveFault(fid)
		if _, err := h.c.ListInstanceTypes(ctx); err == nil || errors.Is(err, v3.ErrServiceUnavailable) {
			t.Fatalf("error = %v, want a transport error", err)
		}
	})
	t.Run("counters", func(t *testing.T) {
		ctl.ResetCounters()
		for range 3 {
			if _, err := h.c.ListInstances(ctx); err != nil {
				t.Fatal(err)
			}
		}
		id := createInstance(t, h.c, "counted", nil)
		if _, err := h.c.GetInstance(ctx, id); err != nil {
			t.Fatal(err)
		}
		got := ctl.Counters()
		if got["GET /v2/instance"] != 3 || got["POST /v2/instance"] != 1 || got["GET /v2/instance/{id}"] != 1 {
			t.Fatalf("counters = %v", got)
		}
	})
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	sim1, err := New(Options{DataDir: dir, ImmediateOperations: true})
	if err != nil {
		t.Fatal(err)
	}
	srv1 := httptest.NewServer(sim1)
	c1 := clientFor(t, srv1.URL+"/v2", sim1.APIKey(), sim1.APISecret())
	sg := done(t)(c1.CreateSecurityGroup(ctx, v3.CreateSecurityGroupRequest{Name: "agentvdc-acme"}))
	done(t)(c1.AddRuleToSecurityGroup(ctx, sg, v3.AddRuleToSecurityGroupRequest{FlowDirection: "ingress", Protocol: "tcp", StartPort: 22, EndPort: 22, Network: "0.0.0.0/0"}))
	pnOp, err := c1.CreatePrivateNetwork(ctx, v3.CreatePrivateNetworkRequest{Name: "agentvdc-acme", Labels: v3.Labels{"agentvdc.io/customer": "acme"}})
	pn := doneOp(t, pnOp, err)
	inst := createInstance(t, c1, "acme", v3.Labels{"agentvdc.io/customer": "acme"}, sg)
	vol := done(t)(c1.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "data", Size: 20}))
	done(t)(c1.AttachBlockStorageVolumeToInstance(ctx, vol, v3.AttachBlockStorageVolumeToInstanceRequest{Instance: &v3.InstanceTarget{ID: inst}}))
	before := snapshot(t, c1)
	oldPN, _ := c1.GetPrivateNetwork(ctx, pn)
	srv1.Close()
	if err := sim1.Close(); err != nil {
		t.Fatal(err)
	}

	sim2, err := New(Options{DataDir: dir, ImmediateOperations: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sim2.Close()
	if sim2.APIKey() != sim1.APIKey() || sim2.APISecret() != sim1.APISecret() {
		t.Fatal("generated credentials changed across restart")
	}
	srv2 := httptest.NewServer(sim2)
	defer srv2.Close()
	c2 := clientFor(t, srv2.URL+"/v2", sim2.APIKey(), sim2.APISecret())
	after := snapshot(t, c2)
	if before != after {
		t.Fatalf("state changed across restart:\nbefore %s\nafter  %s", before, after)
	}
	if o, err := c2.GetOperation(ctx, pnOp.ID); err != nil || o.State != v3.OperationStateSuccess {
		t.Fatalf("operation after restart = %+v, %v", o, err)
	}
	// Counters continue: the next network gets a fresh VNI.
	pn2 := done(t)(c2.CreatePrivateNetwork(ctx, v3.CreatePrivateNetworkRequest{Name: "second"}))
	newPN, _ := c2.GetPrivateNetwork(ctx, pn2)
	if newPN.Vni <= oldPN.Vni {
		t.Fatalf("VNI %d reused after restart (old %d)", newPN.Vni, oldPN.Vni)
	}
}

// snapshot renders every list as comparable text.
func snapshot(t *testing.T, c *v3.Client) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	ins, err := c.ListInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ins.Instances {
		b.WriteString(string(i.ID) + i.Name + string(i.State) + i.PublicIP.String() + i.MACAddress + i.CreatedAT.String() + labelsString(i.Labels) + ";")
	}
	vols, err := c.ListBlockStorageVolumes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols.BlockStorageVolumes {
		b.WriteString(string(v.ID) + v.Name + string(v.State) + string(v.Instance.ID) + ";")
	}
	pns, err := c.ListPrivateNetworks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pns.PrivateNetworks {
		b.WriteString(string(p.ID) + p.Name + labelsString(p.Labels) + ";")
	}
	sgs, err := c.ListSecurityGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range sgs.SecurityGroups {
		b.WriteString(string(g.ID) + g.Name)
		for _, r := range g.Rules {
			b.WriteString(string(r.ID) + r.Network)
		}
		b.WriteString(";")
	}
	return b.String()
}

func labelsString(l v3.Labels) string {
	var parts []string
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(sortStrings(parts), ",")
}

// typeSize resolves the instance's type reference as the exo CLI does.
func typeSize(t *testing.T, c *v3.Client, in *v3.Instance) v3.InstanceTypeSize {
	t.Helper()
	it, err := c.GetInstanceType(context.Background(), in.InstanceType.ID)
	if err != nil {
		t.Fatal(err)
	}
	return it.Size
}

func TestEnvPointsTheClientAtTheSim(t *testing.T) {
	h := newHarness(t, immediate())
	env := h.sim.Env(h.srv.URL + mount + "/")
	for k, v := range env {
		t.Setenv(k, v)
	}
	c, err := v3.NewClient(credentials.NewEnvCredentials(),
		v3.ClientOptWithEndpoint(v3.Endpoint(env["EXOSCALE_API_ENDPOINT"])),
		v3.ClientOptWithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListInstances(context.Background()); err != nil {
		t.Fatal(err)
	}
	if env["EXOSCALE_ZONE"] != "de-fra-1" || env["EXOSCALE_API_ENDPOINT"] != h.srv.URL+mount+"/v2" {
		t.Fatalf("env = %v", env)
	}
}

func TestConcurrentSecurityGroupNames(t *testing.T) {
	h := newHarness(t, immediate())
	ctx := context.Background()
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := h.c.CreateSecurityGroup(ctx, v3.CreateSecurityGroupRequest{Name: "agentvdc-race"})
			errs <- err
		}()
	}
	ok, conflicts := 0, 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, v3.ErrConflict):
			conflicts++
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("ok=%d conflicts=%d, want 1 and %d", ok, conflicts, n-1)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		msg  string
	}{
		{"unknown zone", Options{Zone: "mars-1"}, "unknown zone"},
		{"key without secret", Options{APIKey: "EXOabc"}, "together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error = %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestWriteBehindPersistsWithoutClose(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Options{DataDir: dir, ImmediateOperations: true})
	id := done(t)(h.c.CreateBlockStorageVolume(context.Background(), v3.CreateBlockStorageVolumeRequest{Name: "v", Size: 10}))
	time.Sleep(2 * saveDelay)
	// A second simulator on the same dir (as after a crash) sees the volume.
	other, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	other.mu.RLock()
	_, found := other.st.Volumes[string(id)]
	other.mu.RUnlock()
	if !found {
		t.Fatalf("volume %s not persisted within %v", id, 2*saveDelay)
	}
}

func TestUnknownEndpoints(t *testing.T) {
	h := newHarness(t, immediate())
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", mount + "/v2/no-such-thing", http.StatusNotFound},
		{"GET", mount + "/mars-1/v2/instance", http.StatusNotFound},
		{"PATCH", mount + "/v2/instance", http.StatusMethodNotAllowed},
		{"GET", mount + "/_sim/nothing", http.StatusNotFound},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, h.srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}
