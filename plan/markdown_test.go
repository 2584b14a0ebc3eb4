package plan

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
	"golang.org/x/net/html"

	"github.com/agentvdc/agentvdc/schema"
)

// gfmHTML renders markdown as GitHub does (CommonMark + GFM tables,
// strikethrough, autolinks, task lists; raw HTML such as <details> kept)
// and parses the result.
func gfmHTML(t *testing.T, md []byte) (string, *html.Node) {
	t.Helper()
	gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
	var out bytes.Buffer
	if err := gm.Convert(md, &out); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), doc
}

func elements(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// text is what a reader sees of n: its text, entities decoded once.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

var entity = regexp.MustCompile(`&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);`)

// checkGFM asserts what a reviewer sees on GitHub: code shows its text
// (no entity or backslash escapes left in it), every table header cell
// has a name, and the header names the commit.
func checkGFM(t *testing.T, name string, md []byte) (string, *html.Node) {
	t.Helper()
	out, doc := gfmHTML(t, md)
	for _, c := range elements(doc, "code") {
		if s := text(c); entity.MatchString(s) {
			t.Errorf("%s: code shows an escaped entity: %q", name, s)
		} else if strings.Contains(s, `\|`) || strings.Contains(s, "\\`") {
			t.Errorf("%s: code shows a markdown escape: %q", name, s)
		}
	}
	for _, th := range elements(doc, "th") {
		if strings.TrimSpace(text(th)) == "" {
			t.Errorf("%s: empty table header cell", name)
		}
	}
	for _, p := range elements(doc, "p") {
		if s := text(p); entity.MatchString(s) {
			t.Errorf("%s: text shows an escaped entity: %q", name, s)
		}
	}
	return out, doc
}

// TestMarkdownOnGitHub renders the golden plan's comment as GitHub would.
func TestMarkdownOnGitHub(t *testing.T) {
	p := goldenPlan(t)
	var md bytes.Buffer
	if err := RenderMarkdown(&md, p, MarkdownOptions{FullPlanURL: "https://ci.example/plan.json", Branch: "feature/more-servers"}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "plan-branch.md.golden", md.Bytes())
	_, doc := checkGFM(t, "plan", md.Bytes())

	// The header names the short commit and the branch.
	h3 := elements(doc, "h3")
	if len(h3) == 0 || text(h3[0]) != "agentvdc plan: 0123456789ab on feature/more-servers" {
		t.Fatalf("header: %v", h3)
	}
	// One table, with a named column for every cell, destructive rows first.
	rows := elements(doc, "tr")
	if len(rows) < 3 || len(elements(rows[0], "th")) != len(elements(rows[1], "td")) {
		t.Fatalf("table rows: %d", len(rows))
	}
	if first := text(elements(rows[1], "td")[0]); !strings.Contains(first, "bluebird-books") {
		t.Errorf("first row is %q, not the deleted (destructive) customer", first)
	}
	// The destructive list comes before the details.
	h4 := elements(doc, "h4")
	if len(h4) != 2 || !strings.Contains(text(h4[0]), "Destructive changes") || text(h4[1]) != "Details" {
		t.Fatalf("sections: %v", h4)
	}

	// Each customer's details are a real diff block.
	diffs := map[string]string{}
	for _, d := range elements(doc, "details") {
		sum := elements(d, "summary")
		codes := elements(d, "code")
		var block string
		for _, c := range codes {
			for _, a := range c.Attr {
				if a.Key == "class" && a.Val == "language-diff" {
					block = text(c)
				}
			}
		}
		if len(sum) == 0 || block == "" {
			t.Fatalf("details without a summary or a diff block")
		}
		name := text(elements(sum[0], "code")[0])
		diffs[name] = block
		for _, line := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
			if line == "" || !strings.ContainsRune("+-!", rune(line[0])) {
				t.Errorf("%s: diff line %q does not start with +, - or !", name, line)
			}
		}
	}
	// Created resources list their key attributes.
	dune := diffs["dune-labs"]
	for _, want := range []string{
		"+ hetzner_server.agentvdc-dune-labs-srv-1: new customer\n",
		"+     server_type = \"ccx13\"\n",
		"+     location    = \"fsn1\"\n",
		"+     image       = \"ubuntu-24.04\"\n",
		"+     size_gb  = \"50\"\n",
	} {
		if !strings.Contains(dune, want) {
			t.Errorf("dune-labs diff lacks %q:\n%s", want, dune)
		}
	}
	if strings.Contains(dune, "bootstrap") {
		t.Error("created resources show the bootstrap hash")
	}
	// Updates: each changed attribute's before (-) and after (+).
	acme := diffs["acme-analytics"]
	for _, want := range []string{
		"! hetzner_server.agentvdc-acme-analytics-srv-1: server_type ccx33 → ccx43; labels team (in place)\n" +
			"-     server_type = \"ccx33\"\n+     server_type = \"ccx43\"\n-     labels.team = \"\"\n+     labels.team = \"data\"\n",
	} {
		if !strings.Contains(acme, want) {
			t.Errorf("acme-analytics diff lacks %q:\n%s", want, acme)
		}
	}
	// Destructive first: the deleted customers' details come first.
	var order []string
	for _, d := range elements(doc, "details") {
		order = append(order, text(elements(elements(d, "summary")[0], "code")[0]))
	}
	if len(order) != 5 || order[0] != "bluebird-books" || order[1] != "old-shop" {
		t.Errorf("details order %v: destructive customers are not first", order)
	}
}

// A plan of an uncommitted working tree names the commit under it, never
// the working-tree label.
func TestMarkdownWorktreeHeader(t *testing.T) {
	p, err := Build(Input{Commit: "worktree-0123456789ab", Now: testNow, Customers: []schema.Customer{examples(t)["dune-labs"]}, Prices: testPrices()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		o    MarkdownOptions
		want string
	}{
		{MarkdownOptions{BaseCommit: "fedcba9876543210fedcba9876543210fedcba98", Branch: "main"}, "agentvdc plan: fedcba987654 + uncommitted changes on main"},
		{MarkdownOptions{BaseCommit: "fedcba9876543210fedcba9876543210fedcba98", WorktreeClean: true}, "agentvdc plan: fedcba987654"},
		{MarkdownOptions{}, "agentvdc plan: uncommitted files (no git commit)"},
	} {
		var md bytes.Buffer
		if err := RenderMarkdown(&md, p, tt.o); err != nil {
			t.Fatal(err)
		}
		_, doc := checkGFM(t, "worktree", md.Bytes())
		if got := text(elements(doc, "h3")[0]); got != tt.want {
			t.Errorf("header %q, want %q", got, tt.want)
		}
		if strings.Contains(md.String(), "worktree-") {
			t.Error("the working-tree label is shown")
		}
	}
}

// Text with markdown and HTML characters shows as written: raw in code,
// escaped outside it.
func TestMarkdownEscaping(t *testing.T) {
	p, err := Build(Input{Commit: "feedface", Now: testNow, Invalid: []schema.Diagnostic{
		{File: "customers/acme.yaml", Line: 7, Column: 3, Field: "compute.minServers", Message: "invalid value 0 (out of bound >=1): want 1 <= min && min <= max", Hint: "a | b, `x`"},
	}})
	if err == nil {
		t.Fatal("no error")
	}
	p.Warnings = []string{"prices <cached> & 2_000 *servers* [old]"}
	var md bytes.Buffer
	if err := RenderMarkdown(&md, p, MarkdownOptions{Branch: "fix/<b>&"}); err != nil {
		t.Fatal(err)
	}
	_, doc := checkGFM(t, "escaping", md.Bytes())
	var codes []string
	for _, c := range elements(doc, "code") {
		codes = append(codes, text(c))
	}
	want := "customers/acme.yaml:7:3: compute.minServers: invalid value 0 (out of bound >=1): want 1 <= min && min <= max (hint: a | b, `x`)"
	found := false
	for _, c := range codes {
		found = found || c == want
	}
	if !found {
		t.Errorf("the diagnostic's code span is not its text:\n%q\nwant %q", codes, want)
	}
	if h := text(elements(doc, "h3")[0]); h != "agentvdc plan: feedface on fix/<b>&" {
		t.Errorf("header %q", h)
	}
	var notes []string
	for _, bq := range elements(doc, "blockquote") {
		notes = append(notes, strings.TrimSpace(text(bq)))
	}
	if !strings.Contains(strings.Join(notes, "\n"), "prices <cached> & 2_000 *servers* [old]") {
		t.Errorf("the warning does not read as written: %q", notes)
	}
	if len(elements(doc, "em")) > 0 || len(elements(doc, "b")) > 0 {
		t.Error("text from the plan became markup")
	}
}

func TestMDCode(t *testing.T) {
	for in, want := range map[string]string{
		"plain":   "`plain`",
		"a`b":     "``a`b``",
		"`x`":     "`` `x` ``",
		"a\nb":    "`a b`",
		"1 <= 2":  "`1 <= 2`",
		"a ``` b": "````a ``` b````",
	} {
		if got := mdCode(in, false); got != want {
			t.Errorf("mdCode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := mdCode("a|b", true); got != "`a\\|b`" {
		t.Errorf("in a table: %q", got)
	}
}

func TestBranchOfRef(t *testing.T) {
	for ref, want := range map[string]string{
		"main": "main", "feature/x": "feature/x", "refs/heads/feature/x": "feature/x", "origin/dev": "dev",
		"refs/remotes/origin/dev": "dev", "HEAD": "", "": "", "0123456789ab": "", "0123456789abcdef0123456789abcdef01234567": "",
		"refs/tags/v1": "",
	} {
		if got := BranchOfRef(ref); got != want {
			t.Errorf("BranchOfRef(%q) = %q, want %q", ref, got, want)
		}
	}
}
