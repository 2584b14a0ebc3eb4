package exoscale

import (
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/exoscale/exoscalesim"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
	v3 "github.com/exoscale/egoscale/v3"
)

// TestRoundTrip: desired → Create → Observe gives the desired Attrs,
// Labels and Customer for every kind, in two zones.
func TestRoundTrip(t *testing.T) {
	h := newHarness(t, exoscalesim.Options{}, nil)
	l := newIDs()
	var want []plan.Resource
	created := map[plan.Address]plan.Resource{}
	for _, c := range []struct{ customer, zone string }{{"acme", "de-fra-1"}, {"beta", "at-vie-1"}} {
		ds := desired(c.customer, c.zone)
		for _, r := range h.apply(t, ds, l) {
			created[r.Address()] = r
		}
		want = append(want, ds...)
	}
	obs := h.observe(t)
	if len(obs) != len(want) {
		t.Fatalf("observed %d resources, want %d: %v", len(obs), len(want), maps.Keys(obs))
	}
	for _, d := range want {
		got, ok := obs[d.Address()]
		if !ok {
			t.Fatalf("%s not observed", d.Address())
		}
		if !maps.Equal(got.Attrs, d.Attrs) {
			t.Errorf("%s attrs:\n got  %v\n want %v", d.Address(), got.Attrs, d.Attrs)
		}
		if !labelsEqual(got.Labels, d.Labels) {
			t.Errorf("%s labels:\n got  %v\n want %v", d.Address(), got.Labels, d.Labels)
		}
		if got.Customer != d.Customer || got.ID == "" {
			t.Errorf("%s: customer %q id %q", d.Address(), got.Customer, got.ID)
		}
		// Create returns the resource as observed.
		c := created[d.Address()]
		if c.ID != got.ID || !maps.Equal(c.Attrs, got.Attrs) || !labelsEqual(c.Labels, got.Labels) {
			t.Errorf("%s: create returned %+v, observe %+v", d.Address(), c, got)
		}
	}
	// The user data reached the instance, base64-encoded as the API wants.
	inst := obs[plan.Address{Kind: plan.ExoInstance, Name: "agentvdc-acme-storage"}]
	full, err := h.raw.GetInstance(context.Background(), v3.UUID(inst.ID))
	if err != nil {
		t.Fatal(err)
	}
	ud, err := base64.StdEncoding.DecodeString(full.UserData)
	if err != nil || string(ud) != secretUserData {
		t.Fatalf("user data = %q (%v)", ud, err)
	}
	if full.DiskSize != 50 || full.State != v3.InstanceStateRunning {
		t.Fatalf("instance: disk %d state %s", full.DiskSize, full.State)
	}
	if strings.Contains(h.logs.String(), "wireguard_private_key") || strings.Contains(h.logs.String(), base64.StdEncoding.EncodeToString([]byte(secretUserData))[:20]) {
		t.Fatal("user data appears in the logs")
	}
}

// TestObserveCalls: one list call per kind and zone, security groups once,
// no GET per resource; the catalogues are fetched once.
func TestObserveCalls(t *testing.T) {
	h := newHarness(t, exoscalesim.Options{}, nil)
	l := newIDs()
	for i, c := range []string{"c1", "c2", "c3", "c4"} {
		zone := []string{"de-fra-1", "at-vie-1"}[i%2]
		h.apply(t, desired(c, zone), l)
	}
	ctl := h.sim.Control()
	for round := range 2 {
		ctl.ResetCounters()
		rs, err := h.p.Observe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 16 {
			t.Fatalf("observed %d resources, want 16", len(rs))
		}
		want := map[string]int64{
			"GET /v2/security-group":  1,
			"GET /v2/instance":        2,
			"GET /v2/private-network": 2,
			"GET /v2/block-storage":   2,
		}
		got := ctl.Counters()
		if !maps.Equal(got, want) {
			t.Fatalf("round %d: calls = %v, want %v", round, got, want)
		}
	}
}

// TestIdempotentCreate: a second Create of the same resource, and a
// Create after a "crash" (the resource exists but the caller never
// learned its id), adopt instead of duplicating.
func TestIdempotentCreate(t *testing.T) {
	h := newHarness(t, exoscalesim.Options{}, nil)
	ctx := context.Background()
	l := newIDs()
	first := h.apply(t, desired("acme", "de-fra-1"), l)
	second := h.apply(t, desired("acme", "de-fra-1"), newIDs()) // no ids known: found by name
	for i := range first {
		if first[i].ID != second[i].ID || !maps.Equal(first[i].Attrs, second[i].Attrs) {
			t.Errorf("%s: second create %+v, first %+v", first[i].Address(), second[i], first[i])
		}
	}
	// A crash between the instance's create and its network attach: the
	// instance exists unattached; Create adopts it and attaches.
	fra := h.zone(t, "de-fra-1")
	ds := desired("crash", "de-fra-1")
	h.apply(t, ds[:2], l)
	labels := v3.Labels(owned("crash"))
	labels[plan.LabelBootstrap] = "3f9a1c0d"
	labels[labelDiskGB] = "50"
	types, _ := h.raw.ListInstanceTypes(ctx)
	it, _ := types.FindInstanceTypeByIdOrFamilyAndSize("standard.medium")
	tpls, _ := fra.ListTemplates(ctx)
	tpl, _ := tpls.FindTemplate("Linux Ubuntu 24.04 LTS 64-bit")
	sgID, _ := l.lookup(ds[1].Address())
	op, err := fra.CreateInstance(ctx, v3.CreateInstanceRequest{Name: ds[2].Name, InstanceType: &v3.InstanceType{ID: it.ID},
		Template: &v3.Template{ID: tpl.ID}, DiskSize: 50, Labels: labels, SecurityGroups: []v3.SecurityGroup{{ID: v3.UUID(sgID)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.wait(ctx, fra, "test create", op); err != nil {
		t.Fatal(err)
	}
	got, err := h.p.Create(ctx, ds[2], l.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != string(op.Reference.ID) {
		t.Fatalf("adopted id %s, want %s", got.ID, op.Reference.ID)
	}
	if !maps.Equal(got.Attrs, ds[2].Attrs) {
		t.Fatalf("adopted instance attrs %v, want %v", got.Attrs, ds[2].Attrs)
	}
	list, err := fra.ListInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range list.Instances {
		if in.Name == ds[2].Name {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d instances named %s, want 1", n, ds[2].Name)
	}
}

// TestUnowned: resources made directly without the ownership marks are
// never observed and never touched.
func TestUnowned(t *testing.T) {
	h := newHarness(t, exoscalesim.Options{ImmediateOperations: true}, nil)
	ctx := context.Background()
	fra := h.zone(t, "de-fra-1")
	must := func(op *v3.Operation, err error) v3.UUID {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return op.Reference.ID
	}
	netID := must(fra.CreatePrivateNetwork(ctx, v3.CreatePrivateNetworkRequest{Name: "agentvdc-intruder",
		Labels: v3.Labels{plan.LabelCustomer: "intruder"}})) // customer but no managed-by
	sgID := must(h.raw.CreateSecurityGroup(ctx, v3.CreateSecurityGroupRequest{Name: "web"}))
	types, _ := h.raw.ListInstanceTypes(ctx)
	it, _ := types.FindInstanceTypeByIdOrFamilyAndSize("standard.small")
	tpls, _ := fra.ListTemplates(ctx)
	tpl, _ := tpls.FindTemplate("Linux Debian 12 (Bookworm) 64-bit")
	instID := must(fra.CreateInstance(ctx, v3.CreateInstanceRequest{Name: "agentvdc-intruder-storage",
		InstanceType: &v3.InstanceType{ID: it.ID}, Template: &v3.Template{ID: tpl.ID}, DiskSize: 10,
		Labels: v3.Labels{plan.LabelManagedBy: "someone-else", plan.LabelCustomer: "intruder"}}))
	volID := must(fra.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "agentvdc-intruder-data", Size: 10}))

	if obs := h.observe(t); len(obs) != 0 {
		t.Fatalf("observed unowned resources: %v", obs)
	}
	fake := []plan.Resource{
		{Kind: plan.ExoPrivateNetwork, Name: "agentvdc-intruder", Customer: "intruder", ID: string(netID), Labels: owned("intruder"), Attrs: map[string]string{attrZone: "de-fra-1"}},
		{Kind: plan.ExoSecurityGroup, Name: "web", Customer: "intruder", ID: string(sgID), Labels: owned("intruder"), Attrs: map[string]string{attrRules: ""}},
		{Kind: plan.ExoInstance, Name: "agentvdc-intruder-storage", Customer: "intruder", ID: string(instID), Labels: owned("intruder"), Attrs: map[string]string{attrZone: "de-fra-1", attrInstanceType: "standard.small"}},
		{Kind: plan.ExoBlockVolume, Name: "agentvdc-intruder-data", Customer: "intruder", ID: string(volID), Labels: owned("intruder"), Attrs: map[string]string{attrZone: "de-fra-1", attrSizeGB: "10"}},
	}
	for _, r := range fake {
		// Labels on the request claim ownership: the live resource decides.
		if err := h.p.Delete(ctx, r); !errors.Is(err, reconciler.ErrNotOwned) {
			t.Errorf("delete %s: %v, want ErrNotOwned", r.Address(), err)
		}
		after := r
		after.Attrs = maps.Clone(r.Attrs)
		switch r.Kind {
		case plan.ExoSecurityGroup:
			after.Attrs[attrRules] = "in tcp 80 0.0.0.0/0"
		case plan.ExoInstance:
			after.Attrs[attrInstanceType] = "standard.large"
		case plan.ExoBlockVolume:
			after.Attrs[attrSizeGB] = "20"
		default:
			after.Labels = maps.Clone(r.Labels)
			after.Labels["x"] = "y"
		}
		if _, err := h.p.Update(ctx, r, after, nil); !errors.Is(err, reconciler.ErrNotOwned) {
			t.Errorf("update %s: %v, want ErrNotOwned", r.Address(), err)
		}
	}
	// Create refuses to adopt or shadow an unowned resource with its name.
	ds := desired("intruder", "de-fra-1")
	if _, err := h.p.Create(ctx, ds[0], nil); !errors.Is(err, reconciler.ErrNotOwned) {
		t.Errorf("create over an unowned network: %v, want ErrNotOwned", err)
	}
	// Everything is still there, untouched.
	if _, err := fra.GetPrivateNetwork(ctx, netID); err != nil {
		t.Error(err)
	}
	if g, err := h.raw.GetSecurityGroup(ctx, sgID); err != nil || len(g.Rules) != 0 {
		t.Errorf("security group: %+v %v", g, err)
	}
	if in, err := fra.GetInstance(ctx, instID); err != nil || in.InstanceType.ID != it.ID || in.State != v3.InstanceStateRunning {
		t.Errorf("instance: %+v %v", in, err)
	}
	if v, err := fra.GetBlockStorageVolume(ctx, volID); err != nil || v.Size != 10 {
		t.Errorf("volume: %+v %v", v, err)
	}
}

// TestUpdate covers every "U" attribute, labels, and the refusals.
func TestUpdate(t *testing.T) {
	h := newHarness(t, exoscalesim.Options{}, nil)
	ctx := context.Background()
	l := newIDs()
	ds := desired("acme", "at-vie-1")
	created := h.apply(t, ds, l)
	vie := h.zone(t, "at-vie-1")

	tests := []struct {
		name  string
		index int
		edit  func(r *plan.Resource)
		check func(t *testing.T, got plan.Resource)
	}{
		{"security group rules", 1, func(r *plan.Resource) {
			r.Attrs[attrRules] = "in icmp - 0.0.0.0/0;in tcp 22 10.0.0.0/8,192.168.0.0/16;in udp 51820 0.0.0.0/0"
		}, nil},
		{"instance type", 2, func(r *plan.Resource) { r.Attrs[attrInstanceType] = "standard.large" }, func(t *testing.T, got plan.Resource) {
			in, err := vie.GetInstance(ctx, v3.UUID(got.ID))
			if err != nil {
				t.Fatal(err)
			}
			if in.State != v3.InstanceStateRunning {
				t.Errorf("instance state after scaling = %s, want running", in.State)
			}
		}},
		{"volume grows", 3, func(r *plan.Resource) { r.Attrs[attrSizeGB] = "150" }, nil},
		{"network labels", 0, func(r *plan.Resource) { r.Labels["team"] = "platform" }, nil},
		{"instance labels", 2, func(r *plan.Resource) { r.Labels["tier"] = "pro" }, nil},
	}
	current := map[plan.Address]plan.Resource{}
	for _, r := range created {
		current[r.Address()] = r
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := current[ds[tc.index].Address()]
			after := ds[tc.index]
			after.Attrs = maps.Clone(before.Attrs)
			after.Labels = maps.Clone(before.Labels)
			tc.edit(&after)
			got, err := h.p.Update(ctx, before, after, l.lookup)
			if err != nil {
				t.Fatal(err)
			}
			wantAttrs := maps.Clone(after.Attrs)
			if after.Kind == plan.ExoSecurityGroup {
				specs, _ := parseRules(after.Attrs[attrRules])
				wantAttrs[attrRules] = formatRules(specs)
			}
			obs := h.observe(t)[after.Address()]
			for _, r := range []plan.Resource{got, obs} {
				if !maps.Equal(r.Attrs, wantAttrs) || !labelsEqual(r.Labels, after.Labels) || r.ID != before.ID {
					t.Errorf("after update:\n got  %+v\n want attrs %v labels %v", r, wantAttrs, after.Labels)
				}
			}
			if tc.check != nil {
				tc.check(t, got)
			}
			current[after.Address()] = got
		})
	}

	vol := current[ds[3].Address()]
	shrink := vol
	shrink.Attrs = maps.Clone(vol.Attrs)
	shrink.Attrs[attrSizeGB] = "50"
	if _, err := h.p.Update(ctx, vol, shrink, nil); !errors.Is(err, ErrShrink) {
		t.Fatalf("shrink: %v, want ErrShrink", err)
	}
	inst := current[ds[2].Address()]
	disk := inst
	disk.Attrs = maps.Clone(inst.Attrs)
	disk.Attrs[attrDiskGB] = "80"
	if _, err := h.p.Update(ctx, inst, disk, nil); err == nil || !strings.Contains(err.Error(), "replaced") {
		t.Fatalf("disk change in place: %v, want a replacement error", err)
	}
	if v := h.observe(t)[ds[3].Address()]; v.Attrs[attrSizeGB] != "150" {
		t.Fatalf("volume size after refused shrink = %s", v.Attrs[attrSizeGB])
	}
}

// TestDelete removes children first; a second delete of gone resources
// succeeds.
func TestDelete(t *testing.T) {
	h := newHarness(t, exoscalesim.Options{}, nil)
	ctx := context.Background()
	l := newIDs()
	created := h.apply(t, desired("acme", "de-fra-1"), l)
	keep := h.apply(t, desired("other", "de-fra-1"), l)
	for range 2 {
		for i := len(created) - 1; i >= 0; i-- {
			if err := h.p.Delete(ctx, created[i]); err != nil {
				t.Fatalf("delete %s: %v", created[i].Address(), err)
			}
		}
	}
	obs := h.observe(t)
	if len(obs) != len(keep) {
		t.Fatalf("after delete: %v", maps.Keys(obs))
	}
	for _, r := range keep {
		if _, ok := obs[r.Address()]; !ok {
			t.Fatalf("%s was deleted too", r.Address())
		}
	}
}

// TestFailedOperation: an operation ending in "failure" is an error with
// its reason; the next attempt converges without duplicates.
func TestFailedOperation(t *testing.T) {
	tests := []struct {
		pattern string
		index   int
	}{
		{"POST /v2/private-network", 0},
		{"*", 0}, // the next mutation, whatever it is
		{"POST /v2/security-group/{id}/rules", 1},
		{"POST /v2/instance", 2},
		{"PUT /v2/private-network/{id}:attach", 2},
		{"PUT /v2/block-storage/{id}:attach", 3},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			h := newHarness(t, exoscalesim.Options{}, nil)
			ctx := context.Background()
			l := newIDs()
			ds := desired("acme", "de-fra-1")
			h.apply(t, ds[:tc.index], l)
			if err := h.sim.FailNextOperation(tc.pattern); err != nil {
				t.Fatal(err)
			}
			_, err := h.p.Create(ctx, ds[tc.index], l.lookup)
			if !errors.Is(err, ErrOperationFailed) || !strings.Contains(err.Error(), `"unavailable"`) {
				t.Fatalf("create: %v, want ErrOperationFailed with reason unavailable", err)
			}
			if strings.Contains(err.Error(), "wireguard_private_key") {
				t.Fatal("the error carries user data")
			}
			h.apply(t, ds[tc.index:], l)
			obs := h.observe(t)
			if len(obs) != len(ds) {
				t.Fatalf("observed %d resources, want %d", len(obs), len(ds))
			}
			for _, d := range ds {
				if !maps.Equal(obs[d.Address()].Attrs, d.Attrs) {
					t.Errorf("%s: %v, want %v", d.Address(), obs[d.Address()].Attrs, d.Attrs)
				}
			}
		})
	}
}

// TestFaults: 10 % 5xx on every call plus latency, then a hung request;
// everything converges thanks to the retries.
func TestFaults(t *testing.T) {
	h := newHarness(t, exoscalesim.Options{Seed: 7}, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	ctl := h.sim.Control()
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "*", ErrorRate: 0.1, Status: 503}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "*", Latency: simctl.Duration(3 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	l := newIDs()
	var all []plan.Resource
	for i, c := range []string{"a", "b", "c", "d"} {
		ds := desired(c, []string{"de-fra-1", "at-vie-1"}[i%2])
		h.apply(t, ds, l)
		all = append(all, ds...)
	}
	obs := h.observe(t)
	for _, d := range all {
		if !maps.Equal(obs[d.Address()].Attrs, d.Attrs) {
			t.Errorf("%s: %v, want %v", d.Address(), obs[d.Address()].Attrs, d.Attrs)
		}
	}
	var calls int64
	for _, n := range ctl.Counters() {
		calls += n
	}
	retries := strings.Count(h.logs.String(), "retrying")
	if retries == 0 {
		t.Fatal("no retry was logged: the 5xx faults did not bite")
	}
	// A request that hangs past RequestTimeout is abandoned and retried.
	ctl.ClearFaults()
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "GET /v2/instance", Timeout: true, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if got := h.observe(t); len(got) != len(all) {
		t.Fatalf("observe after a timeout: %d resources", len(got))
	}
	for i := len(all) - 1; i >= 0; i-- {
		r := obs[all[i].Address()]
		if err := h.p.Delete(ctx, r); err != nil {
			t.Fatalf("delete %s: %v", r.Address(), err)
		}
	}
	if got := h.observe(t); len(got) != 0 {
		t.Fatalf("left after delete: %v", maps.Keys(got))
	}
	if strings.Count(h.logs.String(), "retrying") == retries {
		t.Fatal("the hung request was not retried")
	}
	t.Logf("with 10%% 5xx: %d API calls, %d retries (create 4 customers + observe)", calls, retries)
}

// TestRetryGivesUp: a permanent 503 ends in an error after the bounded
// attempts; a 4xx is not retried.
func TestRetryGivesUp(t *testing.T) {
	h := newHarness(t, exoscalesim.Options{}, func(c *Config) { c.Retry.Attempts = 3 })
	ctl := h.sim.Control()
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "GET /v2/security-group", ErrorRate: 1, Status: 503}); err != nil {
		t.Fatal(err)
	}
	ctl.ResetCounters()
	_, err := h.p.Observe(context.Background())
	if !errors.Is(err, v3.ErrServiceUnavailable) {
		t.Fatalf("observe: %v, want 503", err)
	}
	if n := ctl.Total("GET /v2/security-group"); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	ctl.ClearFaults()
	if _, err := ctl.AddFault(simctl.Fault{Pattern: "GET /v2/security-group", ErrorRate: 1, Status: 403}); err != nil {
		t.Fatal(err)
	}
	ctl.ResetCounters()
	if _, err := h.p.Observe(context.Background()); !errors.Is(err, v3.ErrForbidden) {
		t.Fatalf("observe: %v, want 403", err)
	}
	if n := ctl.Total("GET /v2/security-group"); n != 1 {
		t.Fatalf("403 retried: %d attempts", n)
	}
}

// TestCreateRefusals: bad input is a clear error, never a panic, and never
// shows the user data.
func TestCreateRefusals(t *testing.T) {
	h := newHarness(t, exoscalesim.Options{ImmediateOperations: true}, nil)
	ctx := context.Background()
	l := newIDs()
	ds := desired("acme", "de-fra-1")
	h.apply(t, ds[:2], l)
	edit := func(i int, f func(r *plan.Resource)) plan.Resource {
		r := ds[i]
		r.Attrs = maps.Clone(r.Attrs)
		r.Sensitive = maps.Clone(r.Sensitive)
		f(&r)
		return r
	}
	tests := []struct {
		name string
		r    plan.Resource
		want string
	}{
		{"zone not configured", edit(0, func(r *plan.Resource) { r.Attrs[attrZone] = "ch-gva-2" }), "not one of the configured zones"},
		{"bad netmask", edit(0, func(r *plan.Resource) { r.Attrs[attrNetmask] = "255.255.0" }), "not an IPv4 address"},
		{"unknown attribute", edit(0, func(r *plan.Resource) { r.Attrs["colour"] = "blue" }), `unknown attribute "colour"`},
		{"no customer", edit(0, func(r *plan.Resource) { r.Customer = "" }), "customer is empty"},
		{"security group without prefix", edit(1, func(r *plan.Resource) { r.Name = "web" }), "must be"},
		{"bad rule", edit(1, func(r *plan.Resource) { r.Attrs[attrRules] = "in tcp 0 0.0.0.0/0" }), "out of range"},
		{"unknown instance type", edit(2, func(r *plan.Resource) { r.Attrs[attrInstanceType] = "standard.colossal" }), "unknown instance type"},
		{"unknown template", edit(2, func(r *plan.Resource) { r.Attrs[attrTemplate] = "Windows 95" }), "no public template"},
		{"small disk", edit(2, func(r *plan.Resource) { r.Attrs[attrDiskGB] = "5" }), "disk_gb"},
		{"missing network", edit(2, func(r *plan.Resource) { r.Attrs[attrPrivateNetwork] = "agentvdc-nope" }), "does not exist"},
		{"huge user data", edit(2, func(r *plan.Resource) {
			r.Sensitive[plan.SensitiveUserData] = strings.Repeat(secretUserData, 400)
		}), "above the API's"},
		{"volume size", edit(3, func(r *plan.Resource) { r.Attrs[attrSizeGB] = "0" }), "size_gb"},
		{"not exoscale", plan.Resource{Kind: plan.HetznerServer, Name: "x"}, "not an Exoscale kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.p.Create(ctx, tc.r, l.lookup)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "wireguard_private_key") {
				t.Fatal("the error carries user data")
			}
		})
	}
	if n := len(h.observe(t)); n != 2 {
		t.Fatalf("refused creates left resources: %d observed", n)
	}
}

func TestRules(t *testing.T) {
	tests := []struct {
		in, canonical, err string
	}{
		{in: "", canonical: ""},
		{in: "in udp 51820 0.0.0.0/0;in tcp 22 0.0.0.0/0", canonical: "in tcp 22 0.0.0.0/0;in udp 51820 0.0.0.0/0"},
		{in: "in tcp 22 10.0.0.0/8,0.0.0.0/0;in tcp 22 0.0.0.0/0", canonical: "in tcp 22 0.0.0.0/0,10.0.0.0/8"},
		{in: "out tcp 1000-2000 ::/0;in icmp - 0.0.0.0/0;in icmp 8:0 0.0.0.0/0", canonical: "in icmp - 0.0.0.0/0;in icmp 8:0 0.0.0.0/0;out tcp 1000-2000 ::/0"},
		{in: "in tcp 22 sg:agentvdc-acme", canonical: "in tcp 22 sg:agentvdc-acme"},
		{in: "in tcp 22", err: "want"},
		{in: "sideways tcp 22 0.0.0.0/0", err: "direction"},
		{in: "in sctp 22 0.0.0.0/0", err: "unknown protocol"},
		{in: "in tcp 70000 0.0.0.0/0", err: "out of range"},
		{in: "in tcp 30-20 0.0.0.0/0", err: "out of range"},
		{in: "in gre 5 0.0.0.0/0", err: "takes no port"},
		{in: "in icmp x 0.0.0.0/0", err: "TYPE:CODE"},
		{in: "in tcp 22 0.0.0.0", err: "not a CIDR"},
	}
	for _, tc := range tests {
		specs, err := parseRules(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseRules(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseRules(%q): %v", tc.in, err)
			continue
		}
		if got := formatRules(specs); got != tc.canonical {
			t.Errorf("formatRules(parseRules(%q)) = %q, want %q", tc.in, got, tc.canonical)
		}
		// Through the API's shape and back.
		var back []ruleSpec
		for _, s := range specs {
			req := s.request()
			rule := v3.SecurityGroupRule{FlowDirection: v3.SecurityGroupRuleFlowDirection(req.FlowDirection),
				Protocol: v3.SecurityGroupRuleProtocol(req.Protocol), StartPort: req.StartPort, EndPort: req.EndPort, Network: req.Network}
			if req.ICMP != nil {
				rule.ICMP = &v3.SecurityGroupRuleICMP{Type: *req.ICMP.Type, Code: *req.ICMP.Code}
			} else if s.proto == "icmp" {
				rule.ICMP = &v3.SecurityGroupRuleICMP{Type: -1, Code: -1}
			}
			if req.SecurityGroup != nil {
				rule.SecurityGroup = &v3.SecurityGroupResource{Name: req.SecurityGroup.Name}
			}
			back = append(back, specOf(rule))
		}
		if got := formatRules(back); got != tc.canonical {
			t.Errorf("API round trip of %q = %q", tc.in, got)
		}
	}
}

// TestNewConfig: missing credentials are refused; defaults apply.
func TestNewConfig(t *testing.T) {
	if _, err := New(context.Background(), Config{APIKey: "EXOabc"}); err == nil {
		t.Fatal("New without a secret succeeded")
	}
	p, err := New(context.Background(), Config{APIKey: "EXOabc", APISecret: "s3cr3t", Zones: []string{"at-vie-1", "de-fra-1", "at-vie-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Zones(); strings.Join(got, ",") != "at-vie-1,de-fra-1" {
		t.Fatalf("zones = %v", got)
	}
	if p.Cloud() != plan.Exoscale {
		t.Fatal("cloud")
	}
}

// TestOperationTimeout: an operation that stays pending past
// OperationTimeout is an error, returned promptly.
func TestOperationTimeout(t *testing.T) {
	h := newHarness(t, exoscalesim.Options{OperationDelay: time.Hour}, func(c *Config) {
		c.OperationTimeout = 150 * time.Millisecond
	})
	start := time.Now()
	_, err := h.p.Create(context.Background(), desired("slow", "de-fra-1")[0], nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for operation") {
		t.Fatalf("create: %v, want a wait deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("gave up after %s", d)
	}
}

// TestBlockStorageLimitsAreSurfaced: the simulator's Block Storage
// refusals reach the caller at once (a 4xx is not retried), with the
// API's message.
func TestBlockStorageLimitsAreSurfaced(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     exoscalesim.Options
		edit     func([]plan.Resource)
		key      string
		sentinel error
		msg      string
	}{
		{"5 GiB volume", exoscalesim.Options{}, func(rs []plan.Resource) { rs[3].Attrs[attrSizeGB] = "5" },
			"POST /v2/block-storage", v3.ErrBadRequest, "size: 5 GiB is out of range (10 to 10240 GiB)"},
		{"tiny storage node", exoscalesim.Options{}, func(rs []plan.Resource) { rs[2].Attrs[attrInstanceType] = "standard.tiny" },
			"PUT /v2/block-storage/{id}:attach", v3.ErrBadRequest,
			"is of type standard.tiny: attaching a block storage volume needs at least a small instance"},
		{"provisioned quota", exoscalesim.Options{MaxProvisionedGiB: 50}, func([]plan.Resource) {}, // the volume is 100 GiB
			"POST /v2/block-storage", v3.ErrForbidden,
			"quota exceeded: 100 GiB more block storage would bring the organization to 100 GiB, above its quota of 50 GiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, nil)
			rs := desired("acme", "de-fra-1")
			tc.edit(rs)
			l := newIDs()
			h.apply(t, rs[:3], l)
			h.sim.Control().ResetCounters()
			_, err := h.p.Create(context.Background(), rs[3], l.lookup)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("create volume: %v, want %v with %q", err, tc.sentinel, tc.msg)
			}
			if n := h.sim.Control().Total(tc.key); n != 1 {
				t.Fatalf("%d calls to %s, want 1 (not retried)", n, tc.key)
			}
		})
	}
}
