package opennebula

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
	"github.com/agentvdc/agentvdc/reconciler/clouds/opennebula/onesim"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

type env struct {
	sim  *onesim.Server
	p    *Provider
	ctrl *goca.Controller // direct client, for objects the adapter does not own
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t testing.TB, mod func(*Config)) *env {
	t.Helper()
	sim, err := onesim.New(onesim.Options{Seed: 7, Probe: reachAll})
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
	user, pass := sim.Credentials()
	logs := &syncBuffer{}
	cfg := Config{
		XMLRPCURL: srv.URL + "/RPC2", FlowURL: srv.URL + "/flow", User: user, Password: pass,
		HTTPClient: srv.Client(), Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RequestTimeout: 5 * time.Second, Retry: backoff.Policy{Attempts: 8, Base: time.Millisecond, Max: 20 * time.Millisecond},
		PollInterval: 5 * time.Millisecond, WaitTimeout: 10 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctrl := goca.NewGenericController(
		goca.NewClient(goca.NewConfig(user, pass, srv.URL+"/RPC2"), srv.Client()),
		goca.NewFlowClient(goca.NewFlowConfig(user, pass, srv.URL+"/flow"), srv.Client()))
	return &env{sim: sim, p: p, ctrl: ctrl, logs: logs}
}

// policiesJSON is what expansion writes: encoding/json of the policy
// array (so ">" is \u003e).
const testPolicies = `[{"type":"CHANGE","adjust":2,"expression":"CPU \u003e 80","period":60,"period_number":3,"cooldown":300},` +
	`{"type":"CHANGE","adjust":-2,"expression":"CPU \u003c 30","period":60,"period_number":3,"cooldown":300}]`

// desired is one customer's OpenNebula resources as the catalogue gives
// them, in creation order.
func desired(c string) []plan.Resource {
	n := "agentvdc-" + c
	labels := map[string]string{plan.LabelManagedBy: plan.ManagedByValue, plan.LabelCustomer: c, "team": "data"}
	r := func(k plan.Kind, name string, attrs map[string]string) plan.Resource {
		return plan.Resource{Kind: k, Name: name, Customer: c, Attrs: attrs, Labels: maps.Clone(labels)}
	}
	user := r(plan.ONEUser, n+"-admin", map[string]string{"group": n, "auth_driver": "core"})
	user.Sensitive = map[string]string{plan.SensitivePassword: "pw-" + c + "-Zq81"}
	return []plan.Resource{
		r(plan.ONEGroup, n, map[string]string{}),
		r(plan.ONECluster, n, map[string]string{}),
		user,
		r(plan.ONEVDC, n, map[string]string{"group": n, "cluster": n}),
		r(plan.ONEHost, n+"-srv-1", map[string]string{"cluster": n, "im_mad": "lxc", "vm_mad": "lxc"}),
		r(plan.ONEVNet, n+"-net", map[string]string{"cluster": n, "vn_mad": "bridge", "bridge": "vdc1", "ar_ip": "10.64.0.130", "ar_size": "120"}),
		r(plan.ONEDatastore, n+"-images", map[string]string{"cluster": n, "type": "image", "ds_mad": "fs", "tm_mad": "shared", "bridge_list": n + "-srv-1", "limit_mb": "51200"}),
		r(plan.ONEDatastore, n+"-system", map[string]string{"cluster": n, "type": "system", "ds_mad": "", "tm_mad": "shared", "bridge_list": "", "limit_mb": "51200"}),
		r(plan.ONEImage, n+"-os", map[string]string{"datastore": n + "-images", "marketplace": plan.ONEMarketplace, "app": plan.ONEImageApp, "app_version": plan.ONEImageAppVersion}),
		r(plan.ONETemplate, n+"-data", map[string]string{"cpu": "2", "memory_mb": "4096", "vnet": n + "-net", "ip": "10.64.0.130", "datastore": n + "-system", "image": n + "-os", "services": "minio,neo4j,qdrant"}),
		r(plan.ONETemplate, n+"-worker", map[string]string{"cpu": "1", "memory_mb": "2048", "vnet": n + "-net", "ip": "", "datastore": n + "-system", "image": n + "-os", "services": ""}),
		r(plan.ONEVM, n+"-data", map[string]string{"template": n + "-data"}),
		r(plan.ONEFlowTemplate, n+"-workers", map[string]string{"role": "workers", "vm_template": n + "-worker", "min_vms": "1", "max_vms": "4", "cooldown": "300", "policies": testPolicies}),
		r(plan.ONEFlowService, n+"-workers", map[string]string{"flow_template": n + "-workers", "min_vms": "1", "max_vms": "4", "policies": testPolicies}),
	}
}

// ids is a Lookup over created resources.
type ids struct {
	mu sync.Mutex
	m  map[plan.Address]string
}

func newIDs() *ids { return &ids{m: map[plan.Address]string{}} }

func (i *ids) set(r plan.Resource) {
	i.mu.Lock()
	i.m[r.Address()] = r.ID
	i.mu.Unlock()
}

// lookup answers ids, and for a hetzner_server's public_ip output (the
// address its host is registered by) a fixed address per server name.
func (i *ids) lookup(a plan.Address) (string, bool) {
	if srv, key, ok := plan.SplitOutputRef(a); ok {
		if srv.Kind != plan.HetznerServer || key != plan.OutputPublicIP {
			return "", false
		}
		return serverIP(srv.Name), true
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	id, ok := i.m[a]
	return id, ok
}

// serverIP is a stable public IPv4 (in 100.64.0.0/10) for a server name.
func serverIP(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	return fmt.Sprintf("100.%d.%d.%d", 64+(v>>16)&63, (v>>8)&255, v&255)
}

// reachAll is a front-end that reaches every host (8 cores, 32 GiB).
func reachAll(string, string, string) onesim.HostProbe {
	return onesim.HostProbe{Cores: 8, MemoryMB: 32 << 10}
}

func createAll(t testing.TB, p *Provider, rs []plan.Resource, ix *ids) map[plan.Address]plan.Resource {
	t.Helper()
	out := map[plan.Address]plan.Resource{}
	for _, r := range rs {
		got, err := p.Create(context.Background(), r, ix.lookup)
		if err != nil {
			t.Fatalf("create %s: %v", r.Address(), err)
		}
		if got.ID == "" {
			t.Fatalf("create %s: no id", r.Address())
		}
		ix.set(got)
		out[r.Address()] = got
	}
	return out
}

func observe(t testing.TB, p *Provider) map[plan.Address]plan.Resource {
	t.Helper()
	rs, err := p.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[plan.Address]plan.Resource{}
	for _, r := range rs {
		if _, dup := out[r.Address()]; dup {
			t.Errorf("observed %s twice", r.Address())
		}
		out[r.Address()] = r
	}
	return out
}

// comparable strips the autoscaler-owned attribute, which desired
// resources do not carry.
func comparable(attrs map[string]string) map[string]string {
	a := maps.Clone(attrs)
	delete(a, attrCardinality)
	return a
}

// TestRoundTrip: desired → Create → Observe gives the desired attributes,
// labels and customer for every kind, and the ids Create returned.
func TestRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	ix := newIDs()
	var all []plan.Resource
	for _, c := range []string{"acme", "globex"} {
		all = append(all, desired(c)...)
	}
	made := createAll(t, e.p, all, ix)
	seen := observe(t, e.p)
	if len(seen) != len(all) {
		t.Errorf("observed %d resources, want %d", len(seen), len(all))
	}
	kinds := map[plan.Kind]bool{}
	for _, d := range all {
		o, ok := seen[d.Address()]
		if !ok {
			t.Errorf("%s not observed", d.Address())
			continue
		}
		kinds[d.Kind] = true
		if !maps.Equal(comparable(o.Attrs), d.Attrs) {
			t.Errorf("%s attrs:\n observed %v\n desired  %v", d.Address(), o.Attrs, d.Attrs)
		}
		if !maps.Equal(o.Labels, d.Labels) {
			t.Errorf("%s labels: observed %v, desired %v", d.Address(), o.Labels, d.Labels)
		}
		if o.Customer != d.Customer || o.ID != made[d.Address()].ID {
			t.Errorf("%s: observed customer %q id %q, created id %q", d.Address(), o.Customer, o.ID, made[d.Address()].ID)
		}
		if !maps.Equal(made[d.Address()].Attrs, o.Attrs) {
			t.Errorf("%s: Create returned %v, Observe sees %v", d.Address(), made[d.Address()].Attrs, o.Attrs)
		}
		if d.Kind == plan.ONEFlowService && o.Attrs[attrCardinality] != d.Attrs["min_vms"] {
			t.Errorf("%s: cardinality %q, want min_vms %q", d.Address(), o.Attrs[attrCardinality], d.Attrs["min_vms"])
		}
	}
	if len(kinds) != 12 {
		t.Errorf("round trip covered %d kinds, want 12", len(kinds))
	}
	// The user's password is the Sensitive one: it authenticates.
	u := goca.NewClient(goca.NewConfig("agentvdc-acme-admin", "pw-acme-Zq81", e.p.cfg.XMLRPCURL), nil)
	if _, err := goca.NewController(u).SystemVersion(); err != nil {
		t.Errorf("admin user cannot log in with its password: %v", err)
	}
}

// TestIdempotentCreate: creating everything again adopts every resource
// (same ids, nothing new), also for kinds whose names may repeat.
func TestIdempotentCreate(t *testing.T) {
	e := newEnv(t, nil)
	ix := newIDs()
	rs := desired("acme")
	first := createAll(t, e.p, rs, ix)
	before := observe(t, e.p)
	e.sim.Control().ResetCounters()
	mark := len(e.logs.String())
	second := createAll(t, e.p, rs, ix)
	for a, r := range first {
		if second[a].ID != r.ID {
			t.Errorf("%s: second create id %s, first %s", a, second[a].ID, r.ID)
		}
	}
	after := observe(t, e.p)
	if len(after) != len(before) {
		t.Errorf("second create changed the count: %d → %d", len(before), len(after))
	}
	c := e.sim.Control()
	if n := c.Total("one.template.instantiate") + c.Total("POST /flow/service_template") + c.Total("POST /flow/service_template/{id}/action"); n != 0 {
		t.Errorf("second create made %d VM/flow creates, want 0", n)
	}
	// Issue 11: the log says "adopted", once per resource, never "created"
	// for something that already existed.
	secondHalf := e.logs.String()[mark:]
	if n := strings.Count(secondHalf, "msg=created "); n != 0 {
		t.Errorf("the second create logged %d resources as created:\n%s", n, secondHalf)
	}
	if got := strings.Count(secondHalf, "msg=\"adopted existing resource\""); got != len(rs) {
		t.Errorf("logged %d adoptions, want one per resource (%d)", got, len(rs))
	}
	if n := c.Total("one.vdc.addgroup") + c.Total("one.vdc.addcluster"); n != 0 {
		t.Errorf("second create re-added VDC members %d times", n)
	}
}

// TestHalfCreatedAdopted: a group allocated before a crash (no marks yet)
// is finished by Create; a user half-created gets its password.
func TestHalfCreatedAdopted(t *testing.T) {
	e := newEnv(t, nil)
	gid, err := e.ctrl.Groups().Create("agentvdc-acme")
	if err != nil {
		t.Fatal(err)
	}
	ix := newIDs()
	rs := desired("acme")
	g, err := e.p.Create(context.Background(), rs[0], ix.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if g.ID != strconv.Itoa(gid) {
		t.Errorf("adopted id %s, want %d", g.ID, gid)
	}
	ix.set(g)
	if _, err := e.ctrl.Users().Create("agentvdc-acme-admin", "someoneelses", "core", []int{1}); err != nil {
		t.Fatal(err)
	}
	u, err := e.p.Create(context.Background(), rs[2], ix.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if u.Attrs["group"] != "agentvdc-acme" {
		t.Errorf("finished user group %q", u.Attrs["group"])
	}
	cl := goca.NewClient(goca.NewConfig("agentvdc-acme-admin", "pw-acme-Zq81", e.p.cfg.XMLRPCURL), nil)
	if _, err := goca.NewController(cl).SystemVersion(); err != nil {
		t.Errorf("finished user cannot log in with the desired password: %v", err)
	}
	seen := observe(t, e.p)
	if len(seen) != 2 {
		t.Errorf("observed %d, want group and user", len(seen))
	}
}

// TestUnownedInvisibleAndRefused: objects made directly (without marks or
// with someone else's) are not observed, and Update/Delete refuse them.
func TestUnownedInvisibleAndRefused(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	gid, err := e.ctrl.Groups().Create("tenant-x")
	if err != nil {
		t.Fatal(err)
	}
	foreign := `AGENTVDC_MANAGED_BY="someone-else"` + "\n" + `AGENTVDC_CUSTOMER="acme"`
	dsID, err := e.ctrl.Datastores().Create("NAME=\"agentvdc-acme-images\"\nDS_MAD=fs\nTM_MAD=shared\n"+foreign, -1)
	if err != nil {
		t.Fatal(err)
	}
	tid, err := e.ctrl.Templates().Create("NAME=\"plain\"\nCPU=1\nMEMORY=512")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctrl.Hosts().Create("kvm1", "kvm", "kvm", -1); err != nil {
		t.Fatal(err)
	}
	vmID, err := e.ctrl.Template(tid).Instantiate("agentvdc-acme-data", false, "", false)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Doc flowDoc `json:"DOCUMENT"`
	}
	body := map[string]any{"name": "agentvdc-acme-workers", "description": "not ours", "roles": []any{map[string]any{"name": "workers", "vm_template": tid}}}
	if err := e.p.flow(ctx, "test", "POST", "service_template", body, &st, false); err != nil {
		t.Fatal(err)
	}
	if got := observe(t, e.p); len(got) != 0 {
		t.Fatalf("observed unowned resources: %v", got)
	}
	owned := map[string]string{plan.LabelManagedBy: plan.ManagedByValue, plan.LabelCustomer: "acme"}
	cases := []plan.Resource{
		{Kind: plan.ONEGroup, Name: "tenant-x", ID: strconv.Itoa(gid)},
		{Kind: plan.ONEDatastore, Name: "agentvdc-acme-images", ID: strconv.Itoa(dsID), Attrs: map[string]string{"limit_mb": "1"}},
		{Kind: plan.ONEVM, Name: "agentvdc-acme-data", ID: strconv.Itoa(vmID)},
		{Kind: plan.ONEFlowTemplate, Name: "agentvdc-acme-workers", ID: strconv.Itoa(int(st.Doc.ID))},
	}
	for _, r := range cases {
		r.Customer = "acme"
		// Claimed labels do not help: the live object is checked.
		r.Labels = owned
		if err := e.p.Delete(ctx, r); !errors.Is(err, reconciler.ErrNotOwned) {
			t.Errorf("delete %s: %v, want ErrNotOwned", r.Address(), err)
		}
		after := r
		after.Attrs = maps.Clone(r.Attrs)
		if err := func() error { _, err := e.p.Update(ctx, r, after, nil); return err }(); !errors.Is(err, reconciler.ErrNotOwned) {
			t.Errorf("update %s: %v, want ErrNotOwned", r.Address(), err)
		}
		// Without labels the adapter refuses before any call.
		r.Labels = nil
		if err := e.p.Delete(ctx, r); !errors.Is(err, reconciler.ErrNotOwned) {
			t.Errorf("delete unlabeled %s: %v", r.Address(), err)
		}
	}
	// Still there.
	if _, err := e.ctrl.Group(gid).Info(false); err != nil {
		t.Errorf("unowned group touched: %v", err)
	}
	if _, err := e.ctrl.VM(vmID).Info(false); err != nil {
		t.Errorf("unowned vm touched: %v", err)
	}
	// A create whose name is taken by a foreign object is refused.
	d := desired("acme")[6] // agentvdc-acme-images
	ix := newIDs()
	ix.m[plan.Address{Kind: plan.ONECluster, Name: "agentvdc-acme"}] = "0"
	if _, err := e.p.Create(ctx, d, ix.lookup); !errors.Is(err, reconciler.ErrNotOwned) {
		t.Errorf("create over a foreign datastore: %v, want ErrNotOwned", err)
	}
}

func TestUpdateInPlace(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ix := newIDs()
	rs := desired("acme")
	createAll(t, e.p, rs, ix)
	seen := observe(t, e.p)
	svcBefore := seen[rs[13].Address()]
	svcID, _ := strconv.Atoi(svcBefore.ID)
	// The autoscaler (OneFlow) has grown the role to 3.
	if err := e.ctrl.Service(svcID).Scale("workers", 3, false); err != nil {
		t.Fatal(err)
	}
	seen = observe(t, e.p)

	newPolicies := `[{"type":"CHANGE","adjust":1,"expression":"CPU \u003e 70","period":30,"period_number":2,"cooldown":120}]`
	changes := map[int]map[string]string{
		6:  {"limit_mb": "102400", "bridge_list": ""},
		7:  {"limit_mb": "102400"},
		9:  {"cpu": "4", "memory_mb": "8192", "services": "minio,qdrant"},
		12: {"min_vms": "2", "max_vms": "6", "cooldown": "120", "policies": newPolicies},
		13: {"min_vms": "2", "max_vms": "2", "policies": newPolicies},
	}
	for i, ch := range changes {
		before := seen[rs[i].Address()]
		after := rs[i]
		after.Attrs = maps.Clone(after.Attrs)
		maps.Copy(after.Attrs, ch)
		after.Labels["team"] = "search"
		got, err := e.p.Update(ctx, before, after, ix.lookup)
		if err != nil {
			t.Fatalf("update %s: %v", after.Address(), err)
		}
		ix.set(got)
		rs[i] = after
	}
	seen = observe(t, e.p)
	for i := range changes {
		o := seen[rs[i].Address()]
		if !maps.Equal(comparable(o.Attrs), rs[i].Attrs) {
			t.Errorf("%s after update:\n observed %v\n desired  %v", rs[i].Address(), o.Attrs, rs[i].Attrs)
		}
		if rs[i].Kind != plan.ONEFlowService && o.Labels["team"] != "search" {
			t.Errorf("%s labels after update: %v", rs[i].Address(), o.Labels)
		}
	}
	svc := seen[rs[13].Address()]
	if svc.ID == svcBefore.ID {
		t.Errorf("flow service was not replaced (id %s)", svc.ID)
	}
	if svc.Attrs[attrCardinality] != "2" {
		t.Errorf("replaced service cardinality %s, want 3 clamped to max 2", svc.Attrs[attrCardinality])
	}
	if n := len(seen); n != len(rs) {
		t.Errorf("observed %d resources after updates, want %d (no leftover service)", n, len(rs))
	}
	// A non-U attribute is refused.
	before := seen[rs[5].Address()]
	after := rs[5]
	after.Attrs = maps.Clone(after.Attrs)
	after.Attrs["ar_size"] = "100"
	if _, err := e.p.Update(ctx, before, after, ix.lookup); err == nil || !strings.Contains(err.Error(), "ar_size") {
		t.Errorf("update of ar_size: %v, want a refusal naming ar_size", err)
	}
}

func TestDeleteAll(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ix := newIDs()
	rs := desired("acme")
	createAll(t, e.p, rs, ix)
	seen := observe(t, e.p)
	for i := len(rs) - 1; i >= 0; i-- {
		if err := e.p.Delete(ctx, seen[rs[i].Address()]); err != nil {
			t.Fatalf("delete %s: %v", rs[i].Address(), err)
		}
	}
	if got := observe(t, e.p); len(got) != 0 {
		t.Errorf("left after delete: %v", got)
	}
	// Deleting what is gone succeeds.
	for _, r := range rs {
		if err := e.p.Delete(ctx, seen[r.Address()]); err != nil {
			t.Errorf("second delete %s: %v", r.Address(), err)
		}
	}
}

// TestObserveOneCallPerKind counts the API calls of one Observe.
func TestObserveOneCallPerKind(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pageSize int
		pages    int64 // per paginated pool
	}{
		{"whole pools", 0, 1},
		{"pages of 4", 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.PageSize = tc.pageSize })
			ix := newIDs()
			for i := range 5 {
				createAll(t, e.p, desired(fmt.Sprintf("c%d", i)), ix)
			}
			c := e.sim.Control()
			c.ResetCounters()
			got := observe(t, e.p)
			if len(got) != 5*14 {
				t.Errorf("observed %d, want 70", len(got))
			}
			single := []string{"one.grouppool.info", "one.clusterpool.info", "one.userpool.info", "one.vdcpool.info",
				"one.hostpool.info", "one.datastorepool.info", "one.imagepool.info", "GET /flow/service_template", "GET /flow/service"}
			for _, k := range single {
				if n := c.Total(k); n != 1 {
					t.Errorf("%s: %d calls, want 1", k, n)
				}
			}
			// vnets: 5; templates: 10; VMs: 5 data + 5 workers (filtered
			// server-side they still count: marks are inherited).
			paged := map[string]int{"one.vnpool.info": 5, "one.templatepool.info": 10, "one.vmpool.info": 10}
			var total int64 = int64(len(single))
			for k, n := range paged {
				want := tc.pages
				if tc.pageSize > 0 {
					want = int64(n/tc.pageSize + 1)
				}
				if got := c.Total(k); got != want {
					t.Errorf("%s: %d calls, want %d", k, got, want)
				}
				total += want
			}
			if got := sum(c.Counters()); got != total {
				t.Errorf("Observe made %d calls, want %d: %v", got, total, c.Counters())
			}
		})
	}
}

// TestFaults: 10 % 5xx everywhere plus latency, then timeouts and dropped
// connections on pools: create, observe and delete still succeed.
func TestFaults(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond; c.Retry.Attempts = 10 })
	ctx := context.Background()
	c := e.sim.Control()
	if _, err := c.AddFault(simctl.Fault{Pattern: "*", ErrorRate: 0.1, Status: 503, Latency: simctl.Duration(2 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	ix := newIDs()
	var all []plan.Resource
	for _, cust := range []string{"a", "b", "c"} {
		all = append(all, desired(cust)...)
	}
	createAll(t, e.p, all, ix)
	if _, err := c.AddFault(simctl.Fault{Pattern: "one.grouppool.info", Timeout: true, Times: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddFault(simctl.Fault{Pattern: "GET /flow/service", Drop: 1, Times: 1}); err != nil {
		t.Fatal(err)
	}
	seen := observe(t, e.p)
	if len(seen) != len(all) {
		t.Fatalf("observed %d under faults, want %d", len(seen), len(all))
	}
	for i := len(all) - 1; i >= 0; i-- {
		if err := e.p.Delete(ctx, seen[all[i].Address()]); err != nil {
			t.Fatalf("delete %s under faults: %v", all[i].Address(), err)
		}
	}
	c.ClearFaults()
	if got := observe(t, e.p); len(got) != 0 {
		t.Errorf("left after delete under faults: %d", len(got))
	}
	if !strings.Contains(e.logs.String(), "retrying OpenNebula call") {
		t.Error("no retry was logged: the faults did not fire")
	}
	t.Logf("API calls with faults: %d", sum(c.Counters()))
}

// TestNoRetry: authentication failures and ALLOCATE are not retried.
func TestNoRetry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Password = "wrong-password" })
	_, err := e.p.Observe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "AUTHENTICATION") {
		t.Fatalf("observe with a bad password: %v", err)
	}
	if n := e.sim.Control().Total("one.grouppool.info"); n != 1 {
		t.Errorf("grouppool called %d times, want 1 (no retry on AUTHENTICATION)", n)
	}
	if strings.Contains(err.Error(), "wrong-password") || strings.Contains(e.logs.String(), "wrong-password") {
		t.Error("password leaked into the error or the log")
	}
}

// TestSecretsNeverPrinted: a failing user create reports neither the
// password in its error nor in the log.
func TestSecretsNeverPrinted(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Retry.Attempts = 3 })
	ix := newIDs()
	rs := desired("acme")
	createAll(t, e.p, rs[:2], ix)
	if _, err := e.sim.Control().AddFault(simctl.Fault{Pattern: "one.user.allocate", ErrorRate: 1, Status: 502}); err != nil {
		t.Fatal(err)
	}
	_, err := e.p.Create(context.Background(), rs[2], ix.lookup)
	if err == nil {
		t.Fatal("create succeeded against a failing endpoint")
	}
	pw := rs[2].Sensitive[plan.SensitivePassword]
	if strings.Contains(err.Error(), pw) || strings.Contains(e.logs.String(), pw) {
		t.Errorf("password in error or log: %v", err)
	}
	if n := e.sim.Control().Total("one.user.allocate"); n != 3 {
		t.Errorf("user.allocate attempts %d, want 3 (502 is retried)", n)
	}
	bad := rs[2]
	bad.Sensitive = map[string]string{plan.SensitivePassword: "has space"}
	if _, err := e.p.Create(context.Background(), bad, ix.lookup); err == nil || strings.Contains(err.Error(), "has space") {
		t.Errorf("invalid password: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	ix := newIDs()
	made := createAll(t, e.p, desired("acme"), ix)
	hid, _ := strconv.Atoi(made[plan.Address{Kind: plan.ONEHost, Name: "agentvdc-acme-srv-1"}].ID)
	did, _ := strconv.Atoi(made[plan.Address{Kind: plan.ONEDatastore, Name: "agentvdc-acme-system"}].ID)
	if _, err := e.ctrl.Hosts().Create("unmanaged", "kvm", "kvm", -1); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetHostCPU(hid, 85); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetDatastoreUsed(did, 40); err != nil {
		t.Fatal(err)
	}
	c := e.sim.Control()
	c.ResetCounters()
	cpu, err := e.p.HostCPU(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	use, err := e.p.DatastoreUsage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cpu) != 1 || cpu["agentvdc-acme-srv-1"] < 84.9 || cpu["agentvdc-acme-srv-1"] > 85.1 {
		t.Errorf("host cpu %v, want agentvdc-acme-srv-1 ≈ 85", cpu)
	}
	if sum(c.Counters()) != 2 || c.Total("one.hostpool.info") != 1 || c.Total("one.datastorepool.info") != 1 {
		t.Errorf("metrics calls: %v", c.Counters())
	}
	ds, err := e.ctrl.Datastore(did).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	// USED_MB/TOTAL_MB as oned reports it (40 % set)
	wantPct := 100 * float64(ds.UsedMB) / float64(ds.TotalMB)
	if len(use) != 2 || use["agentvdc-acme-system"] != wantPct || wantPct < 39.9 || wantPct > 40.1 {
		t.Errorf("datastore usage %v, want agentvdc-acme-system = %.1f (≈ 40)", use, wantPct)
	}

}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := Config{XMLRPCURL: "http://127.0.0.1:1/RPC2", FlowURL: "http://127.0.0.1:1", User: "u", Password: "p"}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no xmlrpc", func(c *Config) { c.XMLRPCURL = "" }},
		{"bad flow url", func(c *Config) { c.FlowURL = "ftp://x" }},
		{"no password", func(c *Config) { c.Password = "" }},
		{"colon in user", func(c *Config) { c.User = "a:b" }},
		{"negative page", func(c *Config) { c.PageSize = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			if _, err := New(context.Background(), c); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := New(context.Background(), ok); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// sum counts every call (Total's glob "*" does not cross the "/" of
// OneFlow keys).
func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
