package agents_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/agents"
)

// Floors on the labelled entity sample of the Go documentation corpus
// (testdata/agents-godoc/entities.tsv, 107 mentions judged by hand).
const (
	EntityPrecisionFloor = 0.70 // correct / labelled mentions still extracted
	EntityKeepFloor      = 0.95 // correct labelled mentions still extracted
)

func TestEntityPrecisionGodoc(t *testing.T) {
	f, err := os.Open("../testdata/agents-godoc/entities.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type row struct{ doc, kind, name string }
	label := map[row]bool{}
	docs := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		p := strings.Split(l, "\t")
		if len(p) != 4 || (p[3] != "yes" && p[3] != "no") {
			t.Fatalf("bad line %q", l)
		}
		label[row{p[0], p[1], p[2]}] = p[3] == "yes"
		docs[p[0]] = true
	}
	if len(label) < 100 {
		t.Fatalf("%d labelled entities, want >= 100", len(label))
	}
	got := map[row]bool{}
	for d := range docs {
		b, err := os.ReadFile("../testdata/agents-godoc/corpus/" + d + ".md")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range agents.Entities(string(b)) {
			got[row{d, m.Kind, m.Name}] = true
			if strings.HasPrefix(m.Name, "$") && m.Kind == agents.KindAmount && len(m.Name) == 2 {
				t.Errorf("placeholder %q taken for an amount", m.Name)
			}
			if w := strings.ToLower(strings.Fields(m.Name)[0]); w == "although" || w == "because" || w == "while" || w == "since" || w == "unless" {
				t.Errorf("entity %q starts with a conjunction", m.Name)
			}
		}
	}
	var extracted, correct, good, kept int
	for r, ok := range label {
		if ok {
			good++
		}
		if !got[r] {
			continue
		}
		extracted++
		if ok {
			correct++
			kept++
		}
	}
	prec := float64(correct) / float64(max(extracted, 1))
	keep := float64(kept) / float64(max(good, 1))
	t.Logf("entity sample: %d labelled, %d still extracted, precision %.3f (floor %.2f), correct kept %.3f (floor %.2f)",
		len(label), extracted, prec, EntityPrecisionFloor, keep, EntityKeepFloor)
	if prec < EntityPrecisionFloor || keep < EntityKeepFloor {
		t.Errorf("entity precision %.3f / kept %.3f below the floors %.2f / %.2f", prec, keep, EntityPrecisionFloor, EntityKeepFloor)
	}
}
