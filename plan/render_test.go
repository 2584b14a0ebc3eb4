package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenPlan is a plan with every kind of action: an edited customer
// (server type in place, autoscaled servers left alone, a label added), a
// new one, a protected customer removed from git (blocked), an
// unprotected one removed with --allow-delete, and a volume shrink error.
func goldenPlan(t *testing.T) *Plan {
	t.Helper()
	ex := examples(t)
	acme, blue, casa, dune := ex["acme-analytics"], ex["bluebird-books"], ex["casa-verde"], ex["dune-labs"]
	old := renamed(casa, "old-shop")
	old.Protection.DeletionProtection = false

	acme3 := acme
	acme3.Compute.MinServers = 3 // the autoscaler ran it up to 3 servers
	obs := converged(acme3, blue, casa, old)
	setAttr(obs, ExoBlockVolume, "agentvdc-casa-verde-data", "size_gb", "40")
	setAttr(obs, ONEDatastore, "agentvdc-casa-verde-images", "limit_mb", "40960")
	setAttr(obs, ONEDatastore, "agentvdc-casa-verde-system", "limit_mb", "40960")

	acme.Compute.ServerType = "ccx43"
	acme.Labels = map[string]string{"cost-center": "cc-4711", "contract": "enterprise-2026", "team": "data"}
	casa.Storage.MaxGB = 30
	p, err := Build(Input{
		Commit: "0123456789abcdef0123456789abcdef01234567", Customers: []schema.Customer{acme, casa, dune},
		Observed: obs, ObservedAtAll: testNow.Add(-42e9), Now: testNow, Prices: testPrices(),
		Options: Options{AllowDelete: true, MaxDeleteFraction: 0.6},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got %q\nwant %q\n(run go test ./plan -run Golden -update after checking)", name, i+1, g, w)
			}
		}
	}
}

func TestGoldenRenderers(t *testing.T) {
	p := goldenPlan(t)
	var txt, col, md, js bytes.Buffer
	if err := RenderText(&txt, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderText(&col, p, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if err := RenderMarkdown(&md, p, MarkdownOptions{FullPlanURL: "https://ci.example/plan.json"}); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "plan.txt.golden", txt.Bytes())
	checkGolden(t, "plan-color.txt.golden", col.Bytes())
	checkGolden(t, "plan.md.golden", md.Bytes())
	checkGolden(t, "plan.json.golden", js.Bytes())

	if strings.Contains(txt.String(), "\x1b[") || !strings.Contains(col.String(), "\x1b[31m") {
		t.Error("colour used without being asked, or not used when asked")
	}
	// The markdown flags destructive changes before the details.
	s := md.String()
	if w, d := strings.Index(s, "#### ⚠️ Destructive changes"), strings.Index(s, "#### Details"); w < 0 || d < 0 || w > d {
		t.Error("destructive changes are not listed before the details")
	}
	if tbl, w := strings.Index(s, "| customer |"), strings.Index(s, "#### ⚠️"); tbl < 0 || tbl > w {
		t.Error("summary table is not first")
	}
}

// The JSON is the plan: decoding it gives the same plan back.
func TestJSONRoundTrip(t *testing.T) {
	p := goldenPlan(t)
	var b bytes.Buffer
	if err := RenderJSON(&b, p); err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	if err := RenderJSON(&b2, &back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), b2.Bytes()) {
		t.Fatal("JSON does not round-trip")
	}
	var raw map[string]any
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil || raw["format_version"] != "1.0" {
		t.Fatalf("format_version %v (%v)", raw["format_version"], err)
	}
	// Every field of the JSON is documented in docs/plan-json.md.
	doc, err := os.ReadFile("../docs/plan-json.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	collectKeys(raw, keys)
	for k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/plan-json.md does not document %q", k)
		}
	}
}

var attrOrLabelMap = regexp.MustCompile(`^(attrs|labels|observed_at|hetzner_server_monthly)$`)

func collectKeys(v any, keys map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			keys[k] = true
			if attrOrLabelMap.MatchString(k) {
				continue // values are data, not fields
			}
			collectKeys(vv, keys)
		}
	case []any:
		for _, vv := range x {
			collectKeys(vv, keys)
		}
	}
}

func TestGoldenRefusedMarkdown(t *testing.T) {
	p, err := Build(Input{Commit: "feedface", Now: testNow, Invalid: []schema.Diagnostic{
		{File: "customers/acme.yaml", Line: 7, Column: 3, Field: "compute.maxServers", Message: "above the tier limit of 8", Hint: "use at most 8"},
		{File: "customers/zed.yaml", Line: 1, Column: 1, Field: "name", Message: "must equal the file name"},
	}})
	if err == nil {
		t.Fatal("no error")
	}
	var md, txt bytes.Buffer
	if err := RenderMarkdown(&md, p, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderText(&txt, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "plan-refused.md.golden", md.Bytes())
	checkGolden(t, "plan-refused.txt.golden", txt.Bytes())
}

func TestMarkdownCap(t *testing.T) {
	cs := fleet(t, 500)
	p, err := Build(Input{Commit: "c0ffee", Customers: cs, Now: testNow, Prices: testPrices()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		max  int
		full bool
	}{{0, false}, {DefaultMarkdownMaxChars, false}, {5000, false}, {10_000_000, true}} {
		var b bytes.Buffer
		if err := RenderMarkdown(&b, p, MarkdownOptions{MaxChars: tt.max, FullPlanURL: "https://ci.example/plan.json"}); err != nil {
			t.Fatal(err)
		}
		limit := tt.max
		if limit == 0 {
			limit = DefaultMarkdownMaxChars
		}
		s := b.String()
		if len(s) > limit {
			t.Fatalf("cap %d: %d characters", limit, len(s))
		}
		shown := strings.Count(s, "<details>")
		m := regexp.MustCompile(`Details of (\d+) customer\(s\) \((\d+) action\(s\)\) were omitted.*https://ci\.example/plan\.json`).FindStringSubmatch(s)
		if tt.full {
			if m != nil || shown != 500 {
				t.Fatalf("uncapped: %d details, omission note %v", shown, m)
			}
			continue
		}
		if m == nil {
			t.Fatalf("cap %d: no omission note", limit)
		}
		omitted, _ := strconv.Atoi(m[1])
		if shown+omitted != 500 || shown == 0 && limit >= DefaultMarkdownMaxChars {
			t.Errorf("cap %d: %d shown + %d omitted != 500", limit, shown, omitted)
		}
		if !strings.Contains(s, "**Plan: ") || !strings.Contains(s, "Monthly cost:") {
			t.Errorf("cap %d: headline missing", limit)
		}
	}
	if err := RenderMarkdown(&bytes.Buffer{}, p, MarkdownOptions{MaxChars: 100}); err == nil {
		t.Error("a cap below the minimum is accepted")
	}
}

// Destructive changes come first even when the cap cuts the rest.
func TestMarkdownDestructiveFirstUnderCap(t *testing.T) {
	cs := fleet(t, 300)
	for i := range cs {
		cs[i].Protection.DeletionProtection = false
	}
	obs := converged(cs[:30]...)
	p, err := Build(Input{Customers: append(cs[1:30:30], cs[30:]...), Observed: obs, Now: testNow, Options: Options{AllowDelete: true}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := RenderMarkdown(&b, p, MarkdownOptions{MaxChars: 8000}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	row := strings.Index(s, "| ⚠️ `cust-10000` |")
	if row < 0 || row > strings.Index(s, "| `cust-10030` |") && strings.Contains(s, "| `cust-10030` |") {
		t.Fatalf("the deleted customer is not the first row:\n%.1500s", s)
	}
	if !strings.Contains(s, "- ⚠️ `cust-10000`: 21 delete(s)") || !strings.Contains(s, "  - **delete** `opennebula_flow_service.agentvdc-cust-10000-workers`") {
		t.Error("destructive list lacks the first delete")
	}
}
