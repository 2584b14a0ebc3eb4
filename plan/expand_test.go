package plan

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/schema"
)

func kindCounts(rs []Resource) map[Kind]int {
	m := map[Kind]int{}
	for _, r := range rs {
		m[r.Kind]++
	}
	return m
}

func find(t *testing.T, rs []Resource, k Kind, name string) Resource {
	t.Helper()
	for _, r := range rs {
		if r.Kind == k && r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s.%s in %d resources", k, name, len(rs))
	return Resource{}
}

func TestExpandPerTier(t *testing.T) {
	tests := []struct {
		customer     string
		servers      int
		serverType   string
		location     string
		zone         string
		instanceType string
		sizeGB       string
		minVMs       string
		maxVMs       string
		dataCPU      string
		extraLabels  map[string]string
	}{
		{"casa-verde", 1, "cx22", "nbg1", "de-fra-1", "standard.small", "10", "1", "2", "1", nil},
		{"bluebird-books", 1, "ccx13", "fsn1", "de-fra-1", "standard.small", "50", "1", "8", "1", nil},
		{"dune-labs", 1, "ccx13", "fsn1", "de-fra-1", "standard.small", "50", "1", "8", "1", nil},
		{"acme-analytics", 2, "ccx33", "hel1", "de-fra-1", "standard.medium", "200", "2", "32", "4",
			map[string]string{"cost-center": "cc-4711", "contract": "enterprise-2026"}},
	}
	for _, tt := range tests {
		t.Run(tt.customer, func(t *testing.T) {
			c := example(t, tt.customer)
			rs := Expand(c, addrsOf(c.Name), nil)
			base := "agentvdc-" + tt.customer
			want := map[Kind]int{
				HetznerNetwork: 1, HetznerFirewall: 1, HetznerServer: tt.servers,
				ExoPrivateNetwork: 1, ExoSecurityGroup: 1, ExoInstance: 1, ExoBlockVolume: 1,
				ONEGroup: 1, ONECluster: 1, ONEUser: 1, ONEVDC: 1, ONEHost: tt.servers, ONEVNet: 1,
				ONEDatastore: 2, ONEImage: 1, ONETemplate: 2, ONEVM: 1, ONEFlowTemplate: 1, ONEFlowService: 1,
			}
			if got := kindCounts(rs); !reflect.DeepEqual(got, want) {
				t.Fatalf("kinds = %v, want %v", got, want)
			}
			for n := 1; n <= tt.servers; n++ {
				s := find(t, rs, HetznerServer, base+"-srv-"+strconv.Itoa(n))
				wantAttrs := map[string]string{"server_type": tt.serverType, "image": "ubuntu-24.04", "location": tt.location,
					"network": base, "firewall": base, "private_ip": "10.0.1." + strconv.Itoa(10+n),
					"bootstrap": ServerBootstrapFor(tt.customer, n, addrsOf(tt.customer)).Hash()}
				if !reflect.DeepEqual(s.Attrs, wantAttrs) {
					t.Errorf("server %d attrs = %v, want %v", n, s.Attrs, wantAttrs)
				}
				h := find(t, rs, ONEHost, s.Name)
				if !reflect.DeepEqual(h.DependsOn, []Address{{ONECluster, base}, {HetznerServer, s.Name}}) {
					t.Errorf("host deps = %v", h.DependsOn)
				}
			}
			inst := find(t, rs, ExoInstance, base+"-storage")
			if inst.Attrs["instance_type"] != tt.instanceType || inst.Attrs["zone"] != tt.zone || inst.Attrs["private_ip"] != "172.16.0.10" {
				t.Errorf("instance attrs = %v", inst.Attrs)
			}
			vol := find(t, rs, ExoBlockVolume, base+"-data")
			if vol.Attrs["size_gb"] != tt.sizeGB || vol.Attrs["instance"] != base+"-storage" {
				t.Errorf("volume attrs = %v", vol.Attrs)
			}
			size, _ := strconv.Atoi(tt.sizeGB)
			for _, name := range []string{base + "-images", base + "-system"} {
				ds := find(t, rs, ONEDatastore, name)
				if ds.Attrs["limit_mb"] != strconv.Itoa(size*1024) || ds.Attrs["tm_mad"] != "shared" || ds.Attrs["cluster"] != base {
					t.Errorf("datastore %s attrs = %v", name, ds.Attrs)
				}
			}
			data := find(t, rs, ONETemplate, base+"-data")
			if data.Attrs["cpu"] != tt.dataCPU || data.Attrs["services"] != "minio,neo4j,qdrant" {
				t.Errorf("data template attrs = %v", data.Attrs)
			}
			ft := find(t, rs, ONEFlowTemplate, base+"-workers")
			wantPol := `[{"type":"CHANGE","adjust":2,"expression":"CPU > 80","period":60,"period_number":3,"cooldown":300},` +
				`{"type":"CHANGE","adjust":-2,"expression":"CPU < 30","period":60,"period_number":3,"cooldown":300}]`
			if ft.Attrs["policies"] != wantPol || ft.Attrs["min_vms"] != tt.minVMs || ft.Attrs["max_vms"] != tt.maxVMs ||
				ft.Attrs["cooldown"] != "300" || ft.Attrs["role"] != "workers" || ft.Attrs["vm_template"] != base+"-worker" {
				t.Errorf("flow template attrs = %v", ft.Attrs)
			}
			fs := find(t, rs, ONEFlowService, base+"-workers")
			if fs.Attrs["policies"] != wantPol || fs.Attrs["flow_template"] != base+"-workers" {
				t.Errorf("flow service attrs = %v", fs.Attrs)
			}
			for _, r := range rs {
				if r.Customer != tt.customer || r.ID != "" || len(r.Sensitive) != 0 {
					t.Errorf("%s: customer %q id %q sensitive %d", r.Address(), r.Customer, r.ID, len(r.Sensitive))
				}
				if r.Labels[LabelManagedBy] != "agentvdc" || r.Labels[LabelCustomer] != tt.customer || r.Labels[LabelProtected] != "true" {
					t.Errorf("%s: labels %v", r.Address(), r.Labels)
				}
				for k, v := range tt.extraLabels {
					if r.Labels[k] != v {
						t.Errorf("%s: label %s = %q, want %q", r.Address(), k, r.Labels[k], v)
					}
				}
				if len(r.Labels) != 3+len(tt.extraLabels) {
					t.Errorf("%s: %d labels, want %d", r.Address(), len(r.Labels), 3+len(tt.extraLabels))
				}
				if r.Name != base && len(r.Name) <= len(base) {
					t.Errorf("%s: name does not start with %s", r.Address(), base)
				}
			}
		})
	}
}

// Every dependency exists and comes earlier in Kinds, so the creation
// order of Kinds is a topological order of the dependency graph.
func TestExpandDependenciesAreParents(t *testing.T) {
	for name, c := range examples(t) {
		rs := Expand(c, addrsOf(c.Name), nil)
		at := map[Address]int{}
		for i, r := range rs {
			at[r.Address()] = i
		}
		for i, r := range rs {
			for _, d := range r.DependsOn {
				j, ok := at[d]
				if !ok {
					t.Errorf("%s: %s depends on missing %s", name, r.Address(), d)
					continue
				}
				if kindRank(d.Kind) >= kindRank(r.Kind) || j >= i {
					t.Errorf("%s: %s depends on %s which is not earlier", name, r.Address(), d)
				}
			}
		}
		want := map[Kind][]Kind{
			HetznerServer: {HetznerNetwork, HetznerFirewall, ExoInstance}, ExoInstance: {ExoPrivateNetwork, ExoSecurityGroup},
			ExoBlockVolume: {ExoInstance}, ONEUser: {ONEGroup}, ONEVDC: {ONEGroup, ONECluster}, ONEVNet: {ONECluster},
			ONEDatastore: {ONECluster, ExoInstance, ExoBlockVolume}, ONEVM: {ONETemplate}, ONEFlowTemplate: {ONETemplate},
			ONEFlowService: {ONEFlowTemplate}, ONETemplate: {ONEVNet, ONEDatastore, ONEImage}, ONEImage: {ONEDatastore},
		}
		for _, r := range rs {
			var got []Kind
			for _, d := range r.DependsOn {
				got = append(got, d.Kind)
			}
			if w, ok := want[r.Kind]; ok && !reflect.DeepEqual(got, w) {
				t.Errorf("%s: depends on kinds %v, want %v", r.Address(), got, w)
			}
		}
	}
}

func TestExpandIsDeterministic(t *testing.T) {
	c := example(t, "acme-analytics")
	a, b := Expand(c, addrsOf(c.Name), nil), Expand(c, addrsOf(c.Name), nil)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two expansions differ")
	}
	a[0].Labels["x"] = "y"
	if _, ok := a[1].Labels["x"]; ok {
		t.Fatal("resources share their label map")
	}
}

func servers(observedSlots ...int) func(c schema.Customer) []Resource {
	return func(c schema.Customer) []Resource {
		var out []Resource
		for _, n := range observedSlots {
			out = append(out, Resource{Kind: HetznerServer, Name: ServerName(c.Name, n), Customer: c.Name})
		}
		return out
	}
}

func TestExpandServerCount(t *testing.T) {
	c := example(t, "bluebird-books") // min 1, max 4
	other := Resource{Kind: HetznerServer, Name: ServerName("someone-else", 9), Customer: "someone-else"}
	tests := []struct {
		name     string
		min, max int
		observed []int
		want     []int
	}{
		{"new customer gets min", 1, 4, nil, []int{1}},
		{"within bounds kept", 1, 4, []int{1, 2, 3}, []int{1, 2, 3}},
		{"above max: highest removed", 1, 4, []int{1, 2, 3, 4, 5, 6}, []int{1, 2, 3, 4}},
		{"below raised min: filled", 3, 4, []int{1}, []int{1, 2, 3}},
		{"gaps kept, no churn", 1, 4, []int{1, 3}, []int{1, 3}},
		{"gap filled from below", 3, 4, []int{2, 5}, []int{1, 2, 5}},
		{"max lowered keeps the lowest", 1, 2, []int{5, 2, 7}, []int{2, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := c
			cc.Compute.MinServers, cc.Compute.MaxServers = tt.min, tt.max
			obs := append(servers(tt.observed...)(cc), other)
			var got []int
			hosts := 0
			for _, r := range Expand(cc, addrsOf(cc.Name), obs) {
				if r.Kind == HetznerServer {
					n, ok := ServerSlot(cc.Name, r.Name)
					if !ok {
						t.Fatalf("bad server name %q", r.Name)
					}
					got = append(got, n)
				}
				if r.Kind == ONEHost {
					hosts++
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("servers = %v, want %v", got, tt.want)
			}
			if hosts != len(tt.want) {
				t.Errorf("%d hosts for %d servers", hosts, len(tt.want))
			}
		})
	}
}

func TestExpandVolumeSize(t *testing.T) {
	c := example(t, "bluebird-books") // initial 50, max 500
	tests := []struct {
		observed string
		want     string
	}{
		{"", "50"}, {"30", "50"}, {"50", "50"}, {"100", "100"}, {"500", "500"}, {"800", "500"}, {"junk", "50"},
	}
	for _, tt := range tests {
		var obs []Resource
		if tt.observed != "" {
			obs = []Resource{{Kind: ExoBlockVolume, Name: "agentvdc-bluebird-books-data", Customer: c.Name, Attrs: map[string]string{"size_gb": tt.observed}}}
		}
		rs := Expand(c, addrsOf(c.Name), obs)
		vol := find(t, rs, ExoBlockVolume, "agentvdc-bluebird-books-data")
		ds := find(t, rs, ONEDatastore, "agentvdc-bluebird-books-system")
		if vol.Attrs["size_gb"] != tt.want {
			t.Errorf("observed %q: size_gb = %s, want %s", tt.observed, vol.Attrs["size_gb"], tt.want)
		}
		w, _ := strconv.Atoi(tt.want)
		if ds.Attrs["limit_mb"] != strconv.Itoa(w*1024) {
			t.Errorf("observed %q: limit_mb = %s", tt.observed, ds.Attrs["limit_mb"])
		}
	}
}

func TestServerSlot(t *testing.T) {
	tests := []struct {
		name string
		n    int
		ok   bool
	}{
		{"agentvdc-acme-srv-1", 1, true}, {"agentvdc-acme-srv-12", 12, true}, {"agentvdc-acme-srv-0", 0, false},
		{"agentvdc-acme-srv-01", 0, false}, {"agentvdc-acme-srv-", 0, false}, {"agentvdc-acme-srv-x", 0, false},
		{"agentvdc-acme-x-srv-1", 0, false}, {"agentvdc-acme", 0, false},
	}
	for _, tt := range tests {
		n, ok := ServerSlot("acme", tt.name)
		if n != tt.n || ok != tt.ok {
			t.Errorf("ServerSlot(%q) = %d, %v; want %d, %v", tt.name, n, ok, tt.n, tt.ok)
		}
	}
}

func TestExpandProtectionLabelAndServices(t *testing.T) {
	c := example(t, "casa-verde")
	c.Protection.DeletionProtection = false
	c.Services = schema.Services{Qdrant: true}
	rs := Expand(c, addrsOf(c.Name), nil)
	for _, r := range rs {
		if r.Labels[LabelProtected] != "false" {
			t.Fatalf("%s: protected label %q", r.Address(), r.Labels[LabelProtected])
		}
	}
	if s := find(t, rs, ONETemplate, "agentvdc-casa-verde-data").Attrs["services"]; s != "qdrant" {
		t.Errorf("services = %q", s)
	}
}

func TestExpandScaledFollowsTargetsWithinBounds(t *testing.T) {
	c := example(t, "dune-labs") // pro defaults: servers 1..4, 50..500 GB
	count := func(rs []Resource, k Kind) (n int, size string) {
		for _, r := range rs {
			if r.Kind == k {
				n++
				size = r.Attrs["size_gb"]
			}
		}
		return n, size
	}
	tests := []struct {
		sc          Scale
		servers     int
		hosts       int
		volume      string
		description string
	}{
		{Scale{}, 1, 1, "50", "no target: observed count (none) clamped to min"},
		{Scale{Servers: 3, VolumeGB: 100}, 3, 3, "100", "scale out and grow"},
		{Scale{Servers: 9, VolumeGB: 900}, 4, 4, "500", "targets above the bounds are clamped"},
		{Scale{VolumeGB: 20}, 1, 1, "50", "a smaller volume target never shrinks"},
	}
	for _, tt := range tests {
		rs := ExpandScaled(c, addrsOf(c.Name), nil, tt.sc)
		if n, _ := count(rs, HetznerServer); n != tt.servers {
			t.Errorf("%s: %d servers, want %d", tt.description, n, tt.servers)
		}
		if n, _ := count(rs, ONEHost); n != tt.hosts {
			t.Errorf("%s: %d hosts, want %d", tt.description, n, tt.hosts)
		}
		if _, size := count(rs, ExoBlockVolume); size != tt.volume {
			t.Errorf("%s: volume %s GB, want %s", tt.description, size, tt.volume)
		}
	}
}

// TestOnlyWireGuardIsPublic: the storage node answers nothing but WireGuard
// on its public address; the servers add only SSH (the front-end drives
// and monitors the hosts over it) and ICMP. No data service port is ever
// opened to the internet.
func TestOnlyWireGuardIsPublic(t *testing.T) {
	for name, c := range examples(t) {
		rs := Expand(c, addrsOf(name), nil)
		base := "agentvdc-" + name
		if got := find(t, rs, ExoSecurityGroup, base).Attrs["rules"]; got != "in udp 51820 0.0.0.0/0" {
			t.Errorf("%s: storage node security group %q: want WireGuard only", name, got)
		}
		fw := find(t, rs, HetznerFirewall, base).Attrs["rules"]
		for _, rule := range strings.Split(fw, ";") {
			switch f := strings.Fields(rule); {
			case len(f) == 4 && f[0] == "in" && f[1] == "udp" && f[2] == "51820":
			case len(f) == 4 && f[0] == "in" && f[1] == "tcp" && f[2] == "22":
			case len(f) == 4 && f[0] == "in" && f[1] == "icmp":
			default:
				t.Errorf("%s: server firewall opens %q to the internet", name, rule)
			}
		}
	}
}

func TestNoPasswordLogins(t *testing.T) {
	srvPriv, _ := testKey(t, "srv-1")
	_, stPub := testKey(t, "storage")
	server, err := RenderServerUserData(ServerBootstrapFor("acme", 1, addrsOf("acme")), ServerSecrets{WireGuardPrivateKey: srvPriv,
		StoragePublicKey: stPub, StorageEndpoint: "203.0.113.7", FrontendSSHKey: testFrontendKey()})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := storageSecrets(t)
	storage, err := RenderStorageUserData(StorageBootstrapFor("acme", addrsOf("acme")), s)
	if err != nil {
		t.Fatal(err)
	}
	for name, ud := range map[string][]byte{"server": server, "storage": storage} {
		if !strings.Contains(string(ud), "\nssh_pwauth: false\n") {
			t.Errorf("%s user data does not turn password logins off", name)
		}
	}
}
