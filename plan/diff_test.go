package plan

import (
	"reflect"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/schema"
)

func summary(acts []Action) []string {
	var out []string
	for _, a := range acts {
		s := string(a.Action) + " " + a.Address
		if a.Blocked {
			s += " [blocked]"
		}
		out = append(out, s)
	}
	return out
}

func setAttr(rs []Resource, k Kind, name, key, v string) {
	for i := range rs {
		if rs[i].Kind == k && rs[i].Name == name {
			rs[i].Attrs[key] = v
			return
		}
	}
	panic("no " + string(k) + "." + name)
}

func TestConvergedPlansEmpty(t *testing.T) {
	for name, c := range examples(t) {
		obs := converged(c)
		if acts := Diff(Expand(c, addrsOf(c.Name), obs), obs, DiffOptions{}); len(acts) != 0 {
			t.Errorf("%s: converged customer plans %v", name, summary(acts))
		}
		all := Diff(Expand(c, addrsOf(c.Name), obs), obs, DiffOptions{IncludeNoOp: true})
		if len(all) != len(obs) {
			t.Errorf("%s: %d no-op actions for %d resources", name, len(all), len(obs))
		}
		for _, a := range all {
			if a.Action != ActionNoOp || a.After.ID == "" || a.Before.ID != a.After.ID {
				t.Errorf("%s: %s %s ids %q/%q", name, a.Action, a.Address, a.Before.ID, a.After.ID)
			}
		}
	}
}

// Provider spellings of the same values are not drift.
func TestProviderDefaultsNormalised(t *testing.T) {
	c := example(t, "acme-analytics")
	obs := converged(c)
	base := "agentvdc-acme-analytics"
	setAttr(obs, HetznerFirewall, base, "rules", "in udp 51820 ::/0,0.0.0.0/0; in tcp 22 0.0.0.0/0,::/0;IN ICMP - ::/0,0.0.0.0/0")
	setAttr(obs, ExoSecurityGroup, base, "rules", "IN UDP 51820 0.0.0.0/0")
	setAttr(obs, ONEFlowTemplate, base+"-workers", "cooldown", "5m0s")
	setAttr(obs, ONEFlowTemplate, base+"-workers", "policies",
		`[ {"adjust":2,"type":"CHANGE","expression":"CPU > 80","period":60,"period_number":3,"cooldown":300},
		   {"cooldown":300,"type":"CHANGE","adjust":-2,"expression":"CPU < 30","period":60,"period_number":3} ]`)
	setAttr(obs, ONEFlowService, base+"-workers", "cardinality", "17")
	setAttr(obs, ONETemplate, base+"-data", "services", "qdrant, neo4j,minio")
	setAttr(obs, ExoInstance, base+"-storage", "zone", "DE-FRA-1")
	setAttr(obs, ExoBlockVolume, base+"-data", "size_gb", "200.0")
	setAttr(obs, HetznerServer, base+"-srv-1", "private_ip", "10.0.1.11/32")
	if acts := Diff(Expand(c, addrsOf(c.Name), obs), obs, DiffOptions{}); len(acts) != 0 {
		t.Fatalf("normalised values plan %v: %v", summary(acts), acts[0].Changes)
	}
}

func TestDiffActions(t *testing.T) {
	c := example(t, "bluebird-books")
	base := "agentvdc-bluebird-books"
	tests := []struct {
		name    string
		mutate  func(obs []Resource) []Resource
		want    []string
		reasons []string
	}{
		{"server type in place", func(o []Resource) []Resource {
			setAttr(o, HetznerServer, base+"-srv-1", "server_type", "ccx23")
			return o
		}, []string{"update hetzner_server." + base + "-srv-1"}, []string{"server_type ccx23 → ccx13 (in place)"}},
		{"image forces replacement and cascades to the host", func(o []Resource) []Resource {
			setAttr(o, HetznerServer, base+"-srv-1", "image", "ubuntu-22.04")
			return o
		}, []string{"replace hetzner_server." + base + "-srv-1", "replace opennebula_host." + base + "-srv-1"},
			[]string{"image ubuntu-22.04 → ubuntu-24.04 (forces replacement)", "replaced because hetzner_server." + base + "-srv-1 is replaced"}},
		{"label drift is an update", func(o []Resource) []Resource {
			for i := range o {
				if o[i].Kind == ONEVNet {
					o[i].Labels["owner"] = "someone"
					delete(o[i].Labels, LabelProtected)
				}
			}
			return o
		}, []string{"update opennebula_vnet." + base + "-net"}, []string{"labels agentvdc.io/protected, owner (in place)"}},
		{"missing resource is created", func(o []Resource) []Resource {
			var out []Resource
			for _, r := range o {
				if r.Kind != ONEVM {
					out = append(out, r)
				}
			}
			return out
		}, []string{"create opennebula_vm." + base + "-data"}, []string{"missing in the cloud"}},
		{"extra resource is deleted", func(o []Resource) []Resource {
			return append(o, Resource{Kind: ONETemplate, Name: base + "-old", Customer: c.Name, ID: "9", Attrs: map[string]string{}})
		}, []string{"delete opennebula_template." + base + "-old"}, []string{"no longer desired"}},
		{"duplicate is deleted, lower id kept", func(o []Resource) []Resource {
			d := find(t, o, ONEUser, base+"-admin")
			d.ID = "zz-dup"
			return append(o, d)
		}, []string{"delete opennebula_user." + base + "-admin"}, []string{"duplicate of opennebula_user." + base + "-admin (id id-" + base + "-admin-opennebula_user)"}},
		{"flow service cardinality is not drift", func(o []Resource) []Resource {
			setAttr(o, ONEFlowService, base+"-workers", "cardinality", "99")
			return o
		}, nil, nil},
		{"volume grown by the autoscaler is not drift", func(o []Resource) []Resource {
			setAttr(o, ExoBlockVolume, base+"-data", "size_gb", "100")
			setAttr(o, ONEDatastore, base+"-images", "limit_mb", "102400")
			setAttr(o, ONEDatastore, base+"-system", "limit_mb", "102400")
			return o
		}, nil, nil},
		{"datastore limit follows the grown volume", func(o []Resource) []Resource {
			setAttr(o, ExoBlockVolume, base+"-data", "size_gb", "100")
			return o
		}, []string{"update opennebula_datastore." + base + "-images", "update opennebula_datastore." + base + "-system"},
			[]string{"limit_mb 51200 → 102400 (in place)", "limit_mb 51200 → 102400 (in place)"}},
		{"volume above maxGB is a blocked shrink", func(o []Resource) []Resource {
			setAttr(o, ExoBlockVolume, base+"-data", "size_gb", "800")
			setAttr(o, ONEDatastore, base+"-images", "limit_mb", "819200")
			setAttr(o, ONEDatastore, base+"-system", "limit_mb", "819200")
			return o
		}, []string{"update exoscale_block_volume." + base + "-data [blocked]", "update opennebula_datastore." + base + "-images",
			"update opennebula_datastore." + base + "-system"},
			[]string{"size_gb 800 → 500 (in place)", "limit_mb 819200 → 512000 (in place)", "limit_mb 819200 → 512000 (in place)"}},
		{"storage instance replaced: volume re-attached, never replaced", func(o []Resource) []Resource {
			setAttr(o, ExoInstance, base+"-storage", "template", "Linux Debian 12")
			return o
		}, []string{
			"replace exoscale_instance." + base + "-storage",
			"update exoscale_block_volume." + base + "-data",
			"replace hetzner_server." + base + "-srv-1",
			"replace opennebula_host." + base + "-srv-1",
			"replace opennebula_datastore." + base + "-images",
			"replace opennebula_datastore." + base + "-system",
			"replace opennebula_image." + base + "-os",
			"replace opennebula_template." + base + "-data",
			"replace opennebula_template." + base + "-worker",
			"replace opennebula_vm." + base + "-data",
			"replace opennebula_flow_template." + base + "-workers",
			"replace opennebula_flow_service." + base + "-workers",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := tt.mutate(converged(c))
			acts := Diff(Expand(c, addrsOf(c.Name), obs), obs, DiffOptions{})
			if got := summary(acts); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("actions\n got %q\nwant %q", got, tt.want)
			}
			for i, r := range tt.reasons {
				if acts[i].Reason != r {
					t.Errorf("reason %d = %q, want %q", i, acts[i].Reason, r)
				}
			}
		})
	}
}

func TestDiffChangesCarryBeforeAndAfter(t *testing.T) {
	c := example(t, "casa-verde")
	obs := converged(c)
	setAttr(obs, HetznerServer, "agentvdc-casa-verde-srv-1", "server_type", "cx32")
	setAttr(obs, ONETemplate, "agentvdc-casa-verde-worker", "memory_mb", "512")
	acts := Diff(Expand(c, addrsOf(c.Name), obs), obs, DiffOptions{})
	want := [][]Change{
		{{Key: "server_type", Before: "cx32", After: "cx22", InPlace: true}},
		{{Key: "memory_mb", Before: "512", After: "1024", InPlace: true}},
	}
	if len(acts) != 2 {
		t.Fatalf("actions %v", summary(acts))
	}
	for i := range want {
		if !reflect.DeepEqual(acts[i].Changes, want[i]) {
			t.Errorf("%s changes = %+v, want %+v", acts[i].Address, acts[i].Changes, want[i])
		}
		if acts[i].Before == nil || acts[i].After == nil || acts[i].Before.ID == "" || acts[i].After.ID != acts[i].Before.ID {
			t.Errorf("%s: before/after resources missing or ids differ", acts[i].Address)
		}
	}
}

func TestAutoscalerServerCount(t *testing.T) {
	c := example(t, "bluebird-books") // min 1, max 4
	tests := []struct {
		name     string
		observed int
		want     []string
	}{
		{"3 observed within 1..4: nothing", 3, nil},
		{"6 observed above max 4: highest two go, hosts first", 6, []string{
			"delete opennebula_host.agentvdc-bluebird-books-srv-6",
			"delete opennebula_host.agentvdc-bluebird-books-srv-5",
			"delete hetzner_server.agentvdc-bluebird-books-srv-6",
			"delete hetzner_server.agentvdc-bluebird-books-srv-5",
			"update opennebula_datastore.agentvdc-bluebird-books-images", // bridge_list follows the hosts
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := c
			cc.Compute.MinServers, cc.Compute.MaxServers = 1, 6
			obs := converged(withServers(cc, tt.observed))
			acts := Diff(Expand(c, addrsOf(c.Name), obs), obs, DiffOptions{})
			if got := summary(acts); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for _, a := range acts {
				if a.Kind == ONEDatastore {
					if a.Reason != "bridge_list changed (in place)" {
						t.Errorf("datastore reason %q", a.Reason)
					}
					continue
				}
				if a.Reason != "scale-in: 4 servers desired" {
					t.Errorf("reason %q", a.Reason)
				}
			}
		})
	}
}

// withServers returns c pinned to n servers (for building observed state).
func withServers(c schema.Customer, n int) schema.Customer {
	c.Compute.MinServers, c.Compute.MaxServers = n, n
	return c
}

func TestOrderingParentsFirstChildrenFirst(t *testing.T) {
	c := example(t, "acme-analytics")
	creates := Diff(Expand(c, addrsOf(c.Name), nil), nil, DiffOptions{})
	pos := map[string]int{}
	for i, a := range creates {
		if a.Action != ActionCreate {
			t.Fatalf("%s is %s", a.Address, a.Action)
		}
		pos[a.Address] = i
	}
	for i, a := range creates {
		for _, d := range a.After.DependsOn {
			if pos[d.String()] >= i {
				t.Errorf("create %s before its parent %s", a.Address, d)
			}
		}
	}
	// The customer leaves git: deletes come children first.
	obs := converged(c)
	deletes := Diff(nil, obs, DiffOptions{})
	dpos := map[string]int{}
	for i, a := range deletes {
		if a.Action != ActionDelete || a.Reason != "not in git any more" {
			t.Fatalf("%s is %s (%s)", a.Address, a.Action, a.Reason)
		}
		dpos[a.Address] = i
	}
	for _, a := range creates {
		for _, d := range a.After.DependsOn {
			if dpos[d.String()] <= dpos[a.Address] {
				t.Errorf("delete %s before its child %s", d, a.Address)
			}
		}
	}
	if len(deletes) != len(creates) {
		t.Errorf("%d deletes for %d resources", len(deletes), len(creates))
	}
}

func TestStepsSplitReplaces(t *testing.T) {
	c := example(t, "bluebird-books")
	cc := c
	cc.Compute.MinServers, cc.Compute.MaxServers = 5, 5
	obs := converged(cc) // 5 servers: srv-5 goes (max 4)
	base := "agentvdc-bluebird-books"
	setAttr(obs, HetznerServer, base+"-srv-1", "location", "nbg1") // replace srv-1 and its host
	setAttr(obs, HetznerServer, base+"-srv-2", "server_type", "cx22")
	acts := Diff(Expand(c, addrsOf(c.Name), obs), obs, DiffOptions{})
	var got []string
	for _, s := range Steps(acts) {
		got = append(got, string(s.Op)+" "+s.Address)
		if acts[s.Index].Address != s.Address {
			t.Errorf("step index %d points at %s, not %s", s.Index, acts[s.Index].Address, s.Address)
		}
	}
	want := []string{
		"delete opennebula_host." + base + "-srv-5",
		"delete opennebula_host." + base + "-srv-1",
		"delete hetzner_server." + base + "-srv-5",
		"delete hetzner_server." + base + "-srv-1",
		"create hetzner_server." + base + "-srv-1",
		"update hetzner_server." + base + "-srv-2",
		"create opennebula_host." + base + "-srv-1",
		"update opennebula_datastore." + base + "-images", // bridge_list without srv-5
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("steps\n got %q\nwant %q", got, want)
	}
	for _, a := range acts {
		if a.Action == ActionReplace && a.ReplaceMode != DeleteThenCreate {
			t.Errorf("%s: replace mode %q", a.Address, a.ReplaceMode)
		}
	}
}

func TestNormalise(t *testing.T) {
	tests := []struct{ key, in, want string }{
		{"cooldown", "300", "300"}, {"cooldown", "5m", "300"}, {"cooldown", " 300 ", "300"},
		{"size_gb", "050", "50"}, {"size_gb", "50.0", "50"}, {"size_gb", "lots", "lots"},
		{"services", "qdrant,minio", "minio,qdrant"}, {"services", "", ""},
		{"zone", "DE-FRA-1", "de-fra-1"}, {"private_ip", "10.0.1.11/32", "10.0.1.11"},
		{"rules", "in tcp 22 ::/0,0.0.0.0/0", "in tcp 22 0.0.0.0/0,::/0"},
		{"policies", "[]", "[]"}, {"policies", "null", "[]"}, {"policies", "{bad", "{bad"},
		{"template", " Linux Ubuntu 24.04 LTS 64-bit ", "Linux Ubuntu 24.04 LTS 64-bit"},
	}
	for _, tt := range tests {
		if got := Normalise(tt.key, tt.in); got != tt.want {
			t.Errorf("Normalise(%q, %q) = %q, want %q", tt.key, tt.in, got, tt.want)
		}
	}
}

func TestDiffManyCustomersGroupedAndSorted(t *testing.T) {
	cs := fleet(t, 5)
	var desired []Resource
	for _, c := range cs {
		desired = append(desired, Expand(c, addrsOf(c.Name), nil)...)
	}
	acts := Diff(desired, nil, DiffOptions{})
	last, seen := "", map[string]bool{}
	for _, a := range acts {
		if a.Customer != last {
			if seen[a.Customer] || a.Customer < last {
				t.Fatalf("customer %s out of order after %s", a.Customer, last)
			}
			seen[a.Customer] = true
			last = a.Customer
		}
	}
	if len(seen) != 5 || !strings.HasPrefix(last, "cust-") {
		t.Fatalf("customers %v", seen)
	}
}
