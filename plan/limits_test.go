package plan

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/schema"
)

// TestStorageNodesCanAttach: every tier's storage node is at least
// standard.small, and the example customers plan within every limit.
func TestStorageNodesCanAttach(t *testing.T) {
	for _, tier := range []schema.Tier{schema.TierCasual, schema.TierPro, schema.TierEnterprise} {
		if it := TierSizing(tier).StorageInstanceType; !CanAttachVolumes(it) {
			t.Errorf("tier %s: storage node %s cannot attach Block Storage", tier, it)
		}
	}
	for _, it := range []string{"standard.micro", "standard.tiny", "STANDARD.TINY"} {
		if CanAttachVolumes(it) {
			t.Errorf("%s can attach", it)
		}
	}
	for name, c := range examples(t) {
		if errs := storageLimitErrors(Expand(c, addrsOf(name), nil)); errs != nil {
			t.Errorf("%s: %q", name, errs)
		}
	}
}

func TestBlockStorageZonesMatchTheSchema(t *testing.T) {
	l, err := schema.NewLoader()
	if err != nil {
		t.Fatal(err)
	}
	if got := l.BlockStorageZones(); !reflect.DeepEqual(got, BlockStorageZones()) {
		t.Fatalf("schema #BlockStorageZones %v, plan %v", got, BlockStorageZones())
	}
}

// TestPlanRefusesStorageLimits: a customer whose volume or node breaks an
// Exoscale limit is an error customer, all its actions blocked, with the
// limit named.
func TestPlanRefusesStorageLimits(t *testing.T) {
	base := example(t, "casa-verde")
	for _, tc := range []struct {
		name  string
		edit  func(*schema.Customer)
		scale Scale
		want  string
	}{
		{"below 10 GiB", func(c *schema.Customer) { c.Storage.InitialGB, c.Storage.MaxGB = 5, 5 }, Scale{},
			"exoscale_block_volume.agentvdc-casa-verde-data: 5 GB is below Exoscale Block Storage's minimum volume size of 10 GiB"},
		{"above 10 TiB", func(c *schema.Customer) { c.Storage.MaxGB = 20000 }, Scale{VolumeGB: 10241},
			"exoscale_block_volume.agentvdc-casa-verde-data: 10241 GB is above Exoscale Block Storage's maximum volume size of 10240 GiB (10 TiB)"},
		{"zone without block storage", func(c *schema.Customer) { c.Placement.ExoscaleZone = "de-muc-1" }, Scale{},
			`exoscale_block_volume.agentvdc-casa-verde-data: Exoscale zone "de-muc-1" has no Block Storage (zones with it: at-vie-1, ch-gva-2, de-fra-1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			p, err := Build(Input{Customers: []schema.Customer{c}, Now: testNow, Prices: testPrices(),
				Scale: map[string]Scale{c.Name: tc.scale}})
			if err != nil {
				t.Fatal(err)
			}
			cp := customerPlan(t, p, c.Name)
			if cp.Status != StatusError || !strings.Contains(cp.Blocked, tc.want) {
				t.Fatalf("status %s, blocked %q; want it to contain %q", cp.Status, cp.Blocked, tc.want)
			}
			if len(p.Steps) != 0 || cp.Counts.Blocked != len(p.Actions) || len(p.Actions) == 0 {
				t.Fatalf("steps %d, blocked %d of %d actions", len(p.Steps), cp.Counts.Blocked, len(p.Actions))
			}
		})
	}
}

func TestStorageLimitErrors(t *testing.T) {
	node := Resource{Kind: ExoInstance, Name: "n", Attrs: map[string]string{"instance_type": "standard.tiny"}}
	rs := []Resource{node}
	for i := range MaxVolumesPerInstance + 1 {
		rs = append(rs, Resource{Kind: ExoBlockVolume, Name: "v" + strconv.Itoa(i), Attrs: map[string]string{"zone": "de-fra-1", "size_gb": "10", "instance": "n"}})
	}
	got := storageLimitErrors(rs)
	want := []string{
		"exoscale_instance.n: 6 block volumes attached, above Exoscale's limit of 5 per instance",
		"exoscale_instance.n: instance type standard.tiny cannot attach Block Storage (Exoscale's minimum is standard.small)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("errors %q, want %q", got, want)
	}
	rs[0].Attrs["instance_type"] = "standard.small"
	if got := storageLimitErrors(rs[:MaxVolumesPerInstance+1]); got != nil {
		t.Fatalf("5 volumes on a small node: %q", got)
	}
}

// TestHetznerServerQuota: a plan growing the project past the quota is
// refused before any step; one that stays within, or shrinks, is not.
func TestHetznerServerQuota(t *testing.T) {
	ent := example(t, "acme-analytics") // 2 servers minimum
	pro := example(t, "bluebird-books") // 1 server
	build := func(quota int, obs []Resource, cs ...schema.Customer) (*Plan, error) {
		return Build(Input{Customers: cs, Observed: obs, Now: testNow, Prices: testPrices(),
			Options: Options{HetznerServerQuota: quota}})
	}
	p, err := build(2, nil, ent, pro)
	if !errors.Is(err, ErrQuota) || p == nil {
		t.Fatalf("3 servers under a quota of 2: %v", err)
	}
	want := "the plan would run 3 Hetzner servers (0 now), above the project's server quota of 2 (--hetzner-server-quota)"
	if !strings.Contains(p.Refused, want) || len(p.Steps) != 0 || p.HasChanges() {
		t.Fatalf("refused %q, %d steps", p.Refused, len(p.Steps))
	}
	for _, a := range p.Actions {
		if !a.Blocked || !strings.HasPrefix(a.BlockedReason, "hetzner server quota: ") {
			t.Fatalf("action %s not blocked by the quota: %q", a.Address, a.BlockedReason)
		}
	}
	if _, err := build(3, nil, ent, pro); err != nil {
		t.Fatalf("3 servers under a quota of 3: %v", err)
	}
	if _, err := build(0, nil, ent, pro); err != nil {
		t.Fatalf("no quota: %v", err)
	}
	// Customers outside the scope count: ent runs 2, planning pro alone
	// under a quota of 2 would make 3.
	obs := converged(ent, pro)
	var entOnly []Resource
	for _, r := range obs {
		if r.Customer == ent.Name {
			entOnly = append(entOnly, r)
		}
	}
	in := Input{Customers: []schema.Customer{ent, pro}, Observed: entOnly, Now: testNow, Prices: testPrices(),
		Options: Options{HetznerServerQuota: 2, Targets: []string{pro.Name}}}
	if _, err := Build(in); !errors.Is(err, ErrQuota) {
		t.Fatalf("out-of-scope servers not counted: %v", err)
	}
	// Already above the quota: a plan that does not grow passes.
	if _, err := build(1, obs, ent, pro); err != nil {
		t.Fatalf("converged fleet above the quota, no growth: %v", err)
	}
	if _, err := Build(Input{Now: testNow, Options: Options{HetznerServerQuota: -1}}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("negative quota: %v", err)
	}
}

// TestExoscaleOrganisationQuotas: a plan growing the organisation's block
// volumes or provisioned GB past the configured quota is refused before
// any step.
func TestExoscaleOrganisationQuotas(t *testing.T) {
	ent := example(t, "acme-analytics") // 200 GB
	pro := example(t, "bluebird-books") // 50 GB
	cas := example(t, "casa-verde")     // 10 GB
	build := func(o Options, obs []Resource, sc map[string]Scale) (*Plan, error) {
		return Build(Input{Customers: []schema.Customer{ent, pro, cas}, Observed: obs, Now: testNow, Prices: testPrices(), Options: o, Scale: sc})
	}
	p, err := build(Options{ExoscaleVolumeQuota: 2}, nil, nil)
	if !errors.Is(err, ErrQuota) || !strings.Contains(p.Refused, "the plan would hold 3 Exoscale block volumes (0 now), above the organisation's quota of 2 (--exoscale-volume-quota)") || len(p.Steps) != 0 {
		t.Fatalf("volume quota: %v, refused %q, %d steps", err, p.Refused, len(p.Steps))
	}
	p, err = build(Options{ExoscaleStorageQuotaGB: 259}, nil, nil)
	if !errors.Is(err, ErrQuota) || !strings.Contains(p.Refused, "the plan would provision 260 GB of Exoscale Block Storage (0 GB now), above the organisation's quota of 259 GB") {
		t.Fatalf("GB quota: %v, refused %q", err, p.Refused)
	}
	for _, a := range p.Actions {
		if !a.Blocked {
			t.Fatalf("%s not blocked", a.Address)
		}
	}
	if _, err := build(Options{ExoscaleVolumeQuota: 3, ExoscaleStorageQuotaGB: 260}, nil, nil); err != nil {
		t.Fatalf("within the quotas: %v", err)
	}
	// Growth of a converged fleet counts: the enterprise volume to 300 GB.
	obs := converged(ent, pro, cas)
	if _, err := build(Options{ExoscaleStorageQuotaGB: 300}, obs, map[string]Scale{ent.Name: {VolumeGB: 300}}); !errors.Is(err, ErrQuota) {
		t.Fatalf("growth past the GB quota: %v", err)
	}
	if _, err := build(Options{ExoscaleStorageQuotaGB: 360}, obs, map[string]Scale{ent.Name: {VolumeGB: 300}}); err != nil {
		t.Fatalf("growth within the GB quota: %v", err)
	}
	if _, err := build(Options{ExoscaleVolumeQuota: -1}, nil, nil); !errors.Is(err, ErrBadInput) {
		t.Fatalf("negative quota: %v", err)
	}
}
