package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/agentvdc/agentvdc/plan"
)

// fleet builds the observed resources of n customers, about 25 each, in
// the shapes of plan's catalogue.
func fleet(n int) map[plan.Kind][]plan.Resource {
	out := map[plan.Kind][]plan.Resource{}
	add := func(k plan.Kind, c, name, id string, attrs map[string]string) {
		out[k] = append(out[k], plan.Resource{
			Kind: k, Name: name, Customer: c, ID: id, Attrs: attrs,
			Labels: map[string]string{plan.LabelManagedBy: plan.ManagedByValue, plan.LabelCustomer: c, "team": "data"},
		})
	}
	for i := range n {
		c := fmt.Sprintf("cust%04d", i)
		p := "agentvdc-" + c
		id := func(j int) string { return fmt.Sprint(100000 + i*40 + j) }
		add(plan.HetznerNetwork, c, p, id(0), map[string]string{"ip_range": "10.0.0.0/16", "subnet": "10.0.1.0/24", "network_zone": "eu-central"})
		add(plan.HetznerFirewall, c, p, id(1), map[string]string{"rules": "in icmp - 0.0.0.0/0,::/0;in tcp 22 0.0.0.0/0,::/0;in udp 51820 0.0.0.0/0,::/0"})
		for s := 1; s <= 4; s++ {
			add(plan.HetznerServer, c, fmt.Sprintf("%s-srv-%d", p, s), id(1+s), map[string]string{"server_type": "cx32", "image": "ubuntu-24.04", "location": "fsn1", "network": p, "firewall": p, "private_ip": fmt.Sprintf("10.0.1.%d", 10+s), "bootstrap": "3fa9c2d1"})
			add(plan.ONEHost, c, fmt.Sprintf("%s-srv-%d", p, s), id(30+s), map[string]string{"cluster": p, "im_mad": "kvm", "vm_mad": "kvm"})
		}
		add(plan.ExoPrivateNetwork, c, p, id(8), map[string]string{"zone": "ch-gva-2", "start_ip": "172.16.0.10", "end_ip": "172.16.0.250", "netmask": "255.255.255.0"})
		add(plan.ExoSecurityGroup, c, p, id(9), map[string]string{"rules": "in tcp 22 0.0.0.0/0;in udp 51820 0.0.0.0/0"})
		add(plan.ExoInstance, c, p+"-storage", id(10), map[string]string{"zone": "ch-gva-2", "instance_type": "standard.medium", "template": "Linux Ubuntu 24.04 LTS 64-bit", "disk_gb": "50", "private_network": p, "private_ip": "172.16.0.10", "security_group": p, "bootstrap": "77c1e0aa"})
		add(plan.ExoBlockVolume, c, p+"-data", id(11), map[string]string{"zone": "ch-gva-2", "size_gb": "200", "instance": p + "-storage"})
		add(plan.ONEGroup, c, p, id(12), nil)
		add(plan.ONECluster, c, p, id(13), nil)
		add(plan.ONEUser, c, p+"-admin", id(14), map[string]string{"group": p, "auth_driver": "core"})
		add(plan.ONEVDC, c, p, id(15), map[string]string{"group": p, "cluster": p})
		add(plan.ONEVNet, c, p+"-net", id(16), map[string]string{"cluster": p, "vn_mad": "bridge", "bridge": "br0", "ar_ip": "10.0.2.10", "ar_size": "200"})
		add(plan.ONEDatastore, c, p+"-nfs", id(17), map[string]string{"cluster": p, "ds_mad": "fs", "tm_mad": "shared", "nfs_server": "172.16.0.10", "nfs_path": "/export/agentvdc", "limit_mb": "204800"})
		add(plan.ONETemplate, c, p+"-data", id(18), map[string]string{"cpu": "2", "memory_mb": "4096", "vnet": p + "-net", "datastore": p + "-nfs", "services": "minio,neo4j,qdrant"})
		add(plan.ONETemplate, c, p+"-worker", id(19), map[string]string{"cpu": "1", "memory_mb": "2048", "vnet": p + "-net", "datastore": p + "-nfs", "services": ""})
		add(plan.ONEVM, c, p+"-data", id(20), map[string]string{"template": p + "-data"})
		pol := `[{"type":"CHANGE","adjust":2,"expression":"CPU > 80","period":60,"period_number":3,"cooldown":300}]`
		add(plan.ONEFlowTemplate, c, p+"-workers", id(21), map[string]string{"role": "workers", "vm_template": p + "-worker", "min_vms": "1", "max_vms": "8", "cooldown": "300", "policies": pol})
		add(plan.ONEFlowService, c, p+"-workers", id(22), map[string]string{"flow_template": p + "-workers", "min_vms": "1", "max_vms": "8", "policies": pol, "cardinality": "2"})
	}
	return out
}

func putFleet(t testing.TB, s *Store, f map[plan.Kind][]plan.Resource, at time.Time) {
	t.Helper()
	for k, rs := range f {
		if err := s.PutObserved(k, rs, at); err != nil {
			t.Fatal(err)
		}
	}
}

func TestObservedRoundTrip(t *testing.T) {
	s := openTest(t, Options{})
	at := time.Date(2025, 3, 1, 12, 0, 0, 5, time.UTC)
	f := fleet(3)
	// Sensitive must not be stored; DependsOn must survive.
	f[plan.HetznerServer][0].Sensitive = map[string]string{"user_data": "#cloud-config secret"}
	f[plan.HetznerServer][0].DependsOn = []plan.Address{{Kind: plan.HetznerNetwork, Name: "agentvdc-cust0000"}}
	// Outputs (the storage node's public address) must survive too.
	f[plan.HetznerServer][1].Outputs = map[string]string{"public_ip": "203.0.113.7"}
	putFleet(t, s, f, at)

	got, fetched, err := s.Observed()
	if err != nil {
		t.Fatal(err)
	}
	var want []plan.Resource
	for _, rs := range f {
		for _, r := range rs {
			r.Sensitive = nil
			want = append(want, r)
		}
	}
	plan.SortResources(want)
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Observed (-want +got):\n%s", d)
	}
	if len(fetched) != len(f) {
		t.Errorf("fetch times for %d kinds, want %d", len(fetched), len(f))
	}
	for k, ft := range fetched {
		if !ft.Equal(at) {
			t.Errorf("fetched[%s] = %s, want %s", k, ft, at)
		}
	}
	servers, sat, err := s.ObservedKind(plan.HetznerServer)
	if err != nil || len(servers) != 12 || !sat.Equal(at) {
		t.Errorf("ObservedKind = %d resources at %s, %v", len(servers), sat, err)
	}
	if _, _, err := s.ObservedKind(plan.ONEVM + "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ObservedKind of a kind never stored: %v", err)
	}
}

func TestPutObservedReplacesOneKind(t *testing.T) {
	s := openTest(t, Options{})
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f := fleet(2)
	putFleet(t, s, f, t0)
	t1 := t0.Add(time.Minute)
	only := f[plan.HetznerServer][:1]
	if err := s.PutObserved(plan.HetznerServer, only, t1); err != nil {
		t.Fatal(err)
	}
	servers, at, err := s.ObservedKind(plan.HetznerServer)
	if err != nil || len(servers) != 1 || servers[0].Name != only[0].Name || !at.Equal(t1) {
		t.Errorf("servers after replace: %v at %s, %v", servers, at, err)
	}
	nets, at, err := s.ObservedKind(plan.HetznerNetwork)
	if err != nil || len(nets) != 2 || !at.Equal(t0) {
		t.Errorf("other kind touched: %d at %s, %v", len(nets), at, err)
	}
	// An empty set is stored as fetched and empty.
	if err := s.PutObserved(plan.HetznerServer, nil, t1); err != nil {
		t.Fatal(err)
	}
	_, fetched, _ := s.Observed()
	if rs, _, _ := s.ObservedKind(plan.HetznerServer); len(rs) != 0 || !fetched[plan.HetznerServer].Equal(t1) {
		t.Errorf("empty set: %d resources, fetched %s", len(rs), fetched[plan.HetznerServer])
	}
}

func TestPutObservedRejectsBadInput(t *testing.T) {
	s := openTest(t, Options{})
	now := time.Now()
	srv := func(name, id string) plan.Resource {
		return plan.Resource{Kind: plan.HetznerServer, Name: name, ID: id}
	}
	for _, tc := range []struct {
		name string
		kind plan.Kind
		rs   []plan.Resource
		at   time.Time
		want string
	}{
		{"unknown kind", "aws_instance", nil, now, `unknown resource kind "aws_instance"`},
		{"kind mismatch", plan.HetznerServer, []plan.Resource{{Kind: plan.HetznerNetwork, Name: "n"}}, now, `has kind "hetzner_network"`},
		{"empty name", plan.HetznerServer, []plan.Resource{srv("", "1")}, now, "empty name"},
		{"NUL in name", plan.HetznerServer, []plan.Resource{srv("a\x00b", "1")}, now, "NUL"},
		{"duplicate", plan.HetznerServer, []plan.Resource{srv("a", "1"), srv("b", "2"), srv("a", "1")}, now, `"a" with id "1" appears twice`},
		{"zero time", plan.HetznerServer, nil, time.Time{}, "fetch time is zero"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.PutObserved(tc.kind, tc.rs, tc.at)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v; want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
	// Same name, different ids (a duplicate in the cloud) are both kept.
	if err := s.PutObserved(plan.HetznerServer, []plan.Resource{srv("a", "2"), srv("a", "1")}, now); err != nil {
		t.Fatal(err)
	}
	rs, _, _ := s.ObservedKind(plan.HetznerServer)
	if len(rs) != 2 || rs[0].ID != "1" || rs[1].ID != "2" {
		t.Errorf("duplicates by name: %+v", rs)
	}
}

func TestObservedFingerprint(t *testing.T) {
	s := openTest(t, Options{})
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	empty, err := s.ObservedFingerprint()
	if err != nil || !strings.HasPrefix(empty, "sha256:") || len(empty) != len("sha256:")+64 {
		t.Fatalf("fingerprint = %q, %v", empty, err)
	}
	f := fleet(2)
	putFleet(t, s, f, t0)
	base, _ := s.ObservedFingerprint()
	if base == empty {
		t.Fatal("fingerprint did not move when resources were stored")
	}
	fp := func() string {
		t.Helper()
		v, err := s.ObservedFingerprint()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Refetching the same state (reordered, later) does not move it.
	servers := append([]plan.Resource{}, f[plan.HetznerServer]...)
	servers[0], servers[len(servers)-1] = servers[len(servers)-1], servers[0]
	if err := s.PutObserved(plan.HetznerServer, servers, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := fp(); got != base {
		t.Error("fingerprint moved on a refetch of identical resources")
	}
	// Any attribute, label or id change moves it; restoring restores it.
	for _, mutate := range []func(r *plan.Resource){
		func(r *plan.Resource) { r.Attrs = map[string]string{"server_type": "cx42"} },
		func(r *plan.Resource) { r.Labels = nil },
		func(r *plan.Resource) { r.ID = "999" },
	} {
		changed := append([]plan.Resource{}, f[plan.HetznerServer]...)
		mutate(&changed[1])
		if err := s.PutObserved(plan.HetznerServer, changed, t0); err != nil {
			t.Fatal(err)
		}
		if fp() == base {
			t.Error("fingerprint did not move on a change")
		}
		if err := s.PutObserved(plan.HetznerServer, f[plan.HetznerServer], t0); err != nil {
			t.Fatal(err)
		}
		if fp() != base {
			t.Error("fingerprint not restored")
		}
	}
	// Same content in another store: same fingerprint.
	other := openTest(t, Options{})
	// Fetching a kind and finding nothing does not move an empty cache.
	if err := other.PutObserved(plan.ONEVM, nil, t0); err != nil {
		t.Fatal(err)
	}
	if o, _ := other.ObservedFingerprint(); o != empty {
		t.Error("fingerprint moved when an empty kind was stored")
	}
	putFleet(t, other, fleet(2), t0.Add(24*time.Hour))
	if o, _ := other.ObservedFingerprint(); o != base {
		t.Error("fingerprint differs between two stores with the same resources")
	}
	// Emptying a kind moves it.
	if err := s.PutObserved(plan.ONEVM, nil, t0); err != nil {
		t.Fatal(err)
	}
	if fp() == base {
		t.Error("fingerprint did not move when a kind was emptied")
	}
}

func TestDecodeResourceRejectsCorruptRecords(t *testing.T) {
	good := encodeResource(nil, fleet(1)[plan.HetznerServer][0])
	d := newDecoder()
	if _, err := d.decodeResource(good); err != nil {
		t.Fatal(err)
	}
	for i := range len(good) {
		if _, err := d.decodeResource(good[:i]); err == nil {
			t.Errorf("truncated record of %d/%d bytes decoded", i, len(good))
		}
	}
	if _, err := d.decodeResource(append(append([]byte{}, good...), 0)); err == nil {
		t.Error("record with a trailing byte decoded")
	}
	huge := []byte{recordVersion, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, err := d.decodeResource(huge); err == nil {
		t.Error("record with a huge map count decoded")
	}
}

func FuzzDecodeResource(f *testing.F) {
	for _, rs := range fleet(1) {
		f.Add(encodeResource(nil, rs[0]))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := newDecoder().decodeResource(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to a record that decodes the same.
		again, err := newDecoder().decodeResource(encodeResource(nil, r))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(r, again, cmpopts.EquateEmpty()); d != "" {
			t.Fatal(d)
		}
	})
}

func TestPutObservedKindsIsOneSnapshot(t *testing.T) {
	s := openTest(t, Options{})
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f := fleet(3)
	if err := s.PutObservedKinds(f, at); err != nil {
		t.Fatal(err)
	}
	other := openTest(t, Options{})
	putFleet(t, other, f, at)
	a, _ := s.ObservedFingerprint()
	b, _ := other.ObservedFingerprint()
	if a != b {
		t.Error("PutObservedKinds and PutObserved per kind disagree")
	}
	// One bad kind: nothing of the batch is stored.
	bad := map[plan.Kind][]plan.Resource{
		plan.HetznerServer:  nil,
		plan.HetznerNetwork: {{Kind: plan.HetznerServer, Name: "wrong"}},
	}
	if err := s.PutObservedKinds(bad, at.Add(time.Hour)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad batch: %v", err)
	}
	if rs, when, _ := s.ObservedKind(plan.HetznerServer); len(rs) != 12 || !when.Equal(at) {
		t.Errorf("a rejected batch changed the cache: %d servers at %s", len(rs), when)
	}
	if err := s.PutObservedKinds(f, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero fetch time: %v", err)
	}
}
