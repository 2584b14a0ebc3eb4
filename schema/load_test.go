package schema

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the expected diagnostics of testdata/bad")

func newLoader(t testing.TB) *Loader {
	t.Helper()
	l, err := NewLoader()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func render(res *Result) string {
	var b strings.Builder
	for _, d := range res.Diagnostics {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestBadCorpus loads every case of testdata/bad and compares the exact
// diagnostics (file:line:col: field: message (hint)) with the case's want.txt.
func TestBadCorpus(t *testing.T) {
	dirs, err := filepath.Glob("../testdata/bad/*/customers")
	if err != nil || len(dirs) < 25 {
		t.Fatalf("want at least 25 bad cases, found %d (%v)", len(dirs), err)
	}
	l := newLoader(t)
	for _, dir := range dirs {
		name := filepath.Base(filepath.Dir(dir))
		t.Run(name, func(t *testing.T) {
			files, err := ReadDir(dir, "customers")
			if err != nil {
				t.Fatal(err)
			}
			res := l.Load(files)
			if res.OK() {
				t.Fatalf("case %s loaded without errors", name)
			}
			got := render(res)
			wantFile := filepath.Join(filepath.Dir(dir), "want.txt")
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test ./schema -run TestBadCorpus -update)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// Inputs that cannot live in the repository as plain files.
func TestHostileFilesMadeAtRuntime(t *testing.T) {
	l := newLoader(t)
	dir := t.TempDir()
	good := []byte("name: acme\ndisplayName: Acme\nowner: a@b.example\ntier: pro\n")
	if err := os.WriteFile(filepath.Join(dir, "real.txt"), good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "real.txt"), filepath.Join(dir, "acme.yaml")); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("# padding\n"), MaxFileSize/10+1)
	if err := os.WriteFile(filepath.Join(dir, "huge.yaml"), append(good, big...), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := ReadDir(dir, "customers")
	if err != nil {
		t.Fatal(err)
	}
	res := l.Load(files)
	want := []string{
		"customers/acme.yaml:1:1: symbolic links are refused (hint: commit the customer file itself, not a link to it)",
		fmt.Sprintf("customers/huge.yaml:1:1: file is %d bytes, over the 1 MiB limit (hint: a customer file is a few hundred bytes; check that the right file was committed)", len(good)+len(big)),
		`customers/real.txt:1:1: not a customer file: "real.txt" is not YAML (hint: customer files are NAME.yaml; move other files out of the customers directory)`,
	}
	if got := strings.Split(strings.TrimSpace(render(res)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range files {
		if f.Path == "customers/huge.yaml" && f.Data != nil {
			t.Error("a file over the limit was read into memory")
		}
	}
}

func TestExamplesAreValidAndDefaulted(t *testing.T) {
	l := newLoader(t)
	files, err := ReadDir("../customers", "customers")
	if err != nil {
		t.Fatal(err)
	}
	res := l.Load(files)
	if !res.OK() {
		t.Fatalf("examples invalid:\n%s", res.Error())
	}
	tiers := map[Tier]bool{}
	byName := map[string]Customer{}
	for _, c := range res.Customers {
		tiers[c.Tier] = true
		byName[c.Name] = c
	}
	for _, tier := range []Tier{TierCasual, TierPro, TierEnterprise} {
		if !tiers[tier] {
			t.Errorf("no example customer of tier %s", tier)
		}
	}
	// dune-labs.yaml has only the required fields: everything else is a default.
	d := byName["dune-labs"]
	checks := []struct {
		name      string
		got, want any
	}{
		{"region", d.Region, "fsn1"},
		{"placement", d.Placement, Placement{HetznerLocation: "fsn1", ExoscaleZone: "de-fra-1", ListPriceUSD: 25,
			Billing: TierBilling{IncludedServerHours: 730, IncludedStorageGB: 50, OverageServerHourUSD: 0.04, OverageStorageGBMonthUSD: 0.10}}},
		{"serverType", d.Compute.ServerType, "ccx13"},
		{"servers", [2]int{d.Compute.MinServers, d.Compute.MaxServers}, [2]int{1, 4}},
		{"storage", [2]int{d.Storage.InitialGB, d.Storage.MaxGB}, [2]int{50, 500}},
		{"cpu", d.Compute.Autoscale.CPUPercent, 80},
		{"step", d.Compute.Autoscale.Step, 2},
		{"used", d.Storage.Autoscale.UsedPercent, 80},
		{"stepGB", d.Storage.Autoscale.StepGB, 50},
		{"ingest", d.Agents.Ingest.Duration, 5 * time.Second},
		{"relationship", d.Agents.Relationship.Duration, time.Hour},
		{"learning", d.Agents.Learning.Duration, 2 * time.Hour},
		{"protection", d.Protection.DeletionProtection, true},
		{"services", d.Services, Services{Qdrant: true, Neo4j: true, MinIO: true}},
		{"hash", len(d.Source.Hash), 64},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("dune-labs %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestTierDefaults(t *testing.T) {
	l := newLoader(t)
	tests := []struct {
		tier                 string
		serverType           string
		minS, maxS, gb, maxG int
	}{
		{"casual", "cx22", 1, 1, 10, 50},
		{"pro", "ccx13", 1, 4, 50, 500},
		{"enterprise", "ccx33", 2, 8, 200, 2000},
	}
	for _, tt := range tests {
		data := fmt.Sprintf("name: t-%s\ndisplayName: x\nowner: a@b.example\ntier: %s\n", tt.tier, tt.tier)
		res := l.Load([]File{{Path: "customers/t-" + tt.tier + ".yaml", Data: []byte(data)}})
		if !res.OK() {
			t.Fatalf("%s: %s", tt.tier, res.Error())
		}
		c := res.Customers[0]
		if c.Compute.ServerType != tt.serverType || c.Compute.MinServers != tt.minS || c.Compute.MaxServers != tt.maxS || c.Storage.InitialGB != tt.gb || c.Storage.MaxGB != tt.maxG {
			t.Errorf("%s defaults: %+v %+v", tt.tier, c.Compute, c.Storage)
		}
	}
}

func TestOverridesWithinBounds(t *testing.T) {
	l := newLoader(t)
	data := "name: acme\ndisplayName: x\nowner: a@b.example\ntier: enterprise\ncompute:\n  serverType: ccx53\n  minServers: 3\n  maxServers: 32\nstorage:\n  initialGB: 10000\n  maxGB: 10000\n"
	res := l.Load([]File{{Path: "customers/acme.yaml", Data: []byte(data)}})
	if !res.OK() {
		t.Fatal(res.Error())
	}
	c := res.Customers[0]
	if c.Compute.ServerType != "ccx53" || c.Compute.MaxServers != 32 || c.Storage.InitialGB != 10000 {
		t.Errorf("overrides not kept: %+v %+v", c.Compute, c.Storage)
	}
}

func TestCacheEvaluatesUnchangedFileOnce(t *testing.T) {
	l := newLoader(t)
	files := []File{
		{Path: "customers/acme.yaml", Data: []byte("name: acme\ndisplayName: x\nowner: a@b.example\ntier: pro\n")},
		{Path: "customers/bad.yaml", Data: []byte("name: bad\ndisplayName: x\nowner: a@b.example\ntier: gold\n")},
	}
	first := l.Load(files)
	second := l.Load(files)
	if got := l.Evaluations(); got != 2 {
		t.Errorf("evaluations after two loads of two files = %d, want 2", got)
	}
	if render(first) != render(second) || len(second.Customers) != 1 {
		t.Error("cached result differs from the first")
	}
	files[0].Data = append(files[0].Data, []byte("suspended: true\n")...)
	third := l.Load(files)
	if got := l.Evaluations(); got != 3 {
		t.Errorf("a changed file must be evaluated again: evaluations = %d, want 3", got)
	}
	if !third.Customers[0].Suspended {
		t.Error("changed file's new value not seen")
	}
}

// TestReadmeInStepWithSchema fails when a field is added to or removed from
// the schema without the customers/README.md table following.
func TestReadmeInStepWithSchema(t *testing.T) {
	l := newLoader(t)
	readme, err := os.ReadFile("../customers/README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-zA-Z0-9.]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	inSchema := map[string]bool{}
	for _, f := range l.Fields() {
		inSchema[f] = true
		if !documented[f] {
			t.Errorf("schema field %s is not in the customers/README.md table", f)
		}
	}
	var extra []string
	for f := range documented {
		if !inSchema[f] {
			extra = append(extra, f)
		}
	}
	sort.Strings(extra)
	for _, f := range extra {
		t.Errorf("customers/README.md documents %s, which the schema does not have", f)
	}
}

func TestNewFileIsValidForEveryTierAndRegion(t *testing.T) {
	l := newLoader(t)
	for _, tier := range []string{"casual", "pro", "enterprise"} {
		for region := range l.Regions() {
			out, err := l.NewFile(NewFileOptions{Name: "new-cust", Tier: tier, Region: region})
			if err != nil {
				t.Fatalf("%s/%s: %v", tier, region, err)
			}
			if !bytes.Contains(out, []byte("# ")) || !bytes.Contains(out, []byte("tier: "+tier)) {
				t.Errorf("%s/%s: not a commented file:\n%s", tier, region, out)
			}
		}
	}
	if _, err := l.NewFile(NewFileOptions{Name: "Bad_Name", Tier: "pro"}); err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("bad name accepted: %v", err)
	}
	if _, err := l.NewFile(NewFileOptions{Name: "acme", Tier: "gold"}); err == nil || !strings.Contains(err.Error(), "casual, pro, enterprise") {
		t.Errorf("bad tier: %v", err)
	}
}

// TestRegionsMapToBlockStorageZones: every region's zone has Block
// Storage, and a schema mapping a region elsewhere is refused by name.
func TestRegionsMapToBlockStorageZones(t *testing.T) {
	l := newLoader(t)
	if got := strings.Join(l.BlockStorageZones(), ","); got != "at-vie-1,ch-gva-2,de-fra-1" {
		t.Fatalf("block storage zones = %s", got)
	}
	want := map[string]string{"fsn1": "de-fra-1", "nbg1": "de-fra-1", "hel1": "de-fra-1"}
	for region, p := range l.Regions() {
		if p.ExoscaleZone != want[region] || p.HetznerLocation != region {
			t.Errorf("region %s = %+v, want zone %s", region, p, want[region])
		}
	}
	bad := strings.Replace(cueSource, `nbg1: {hetznerLocation: "nbg1", exoscaleZone: "de-fra-1"}`,
		`nbg1: {hetznerLocation: "nbg1", exoscaleZone: "de-muc-1"}`, 1)
	if bad == cueSource {
		t.Fatal("the schema's nbg1 line moved: update this test")
	}
	_, err := compileLoader(bad)
	if err == nil || err.Error() != `schema #Regions: region nbg1 maps to Exoscale zone "de-muc-1", which has no Block Storage (zones with it: at-vie-1, ch-gva-2, de-fra-1)` {
		t.Fatalf("region without block storage: %v", err)
	}
}
