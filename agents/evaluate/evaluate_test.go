package evaluate

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

// The two labelled corpora.
const (
	ownCorpus   = "../../testdata/agents/corpus"
	godocCorpus = "../../testdata/agents-godoc/corpus"
	godocTSV    = "../../testdata/agents-godoc/queries.tsv"
)

func ownQueries(t testing.TB) []Query {
	t.Helper()
	b, err := os.ReadFile("../../testdata/agents/queries.json")
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Queries []Query `json:"queries"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l.Queries
}

func godocQueries(t testing.TB) []Query {
	t.Helper()
	f, err := os.Open(godocTSV)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	qs, err := ReadTSV(f)
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

func TestScore(t *testing.T) {
	qs := []Query{{Text: "a", Relevant: []string{"x"}}, {Text: "b", Relevant: []string{"y", "z"}}, {Text: "c", Relevant: []string{"w"}}}
	ranked := [][]string{{"x", "q"}, {"q", "q2", "z"}, {"q"}}
	m := Score(qs, ranked, 10)
	if m.Recall1 != 1.0/3 || m.Recall5 != 2.0/3 || m.Recall10 != 2.0/3 {
		t.Errorf("recall %+v", m)
	}
	if want := (1 + 1.0/3) / 3; m.MRR != want {
		t.Errorf("MRR %v, want %v", m.MRR, want)
	}
	// query 2: one of two relevant at position 3: dcg 1/log2(4) = 0.5,
	// ideal 1 + 1/log2(3).
	want := (1 + 0.5/(1+1/1.584962500721156)) / 3
	if d := m.NDCG10 - want; d > 1e-9 || d < -1e-9 {
		t.Errorf("nDCG %v, want %v", m.NDCG10, want)
	}
}

// Margins against the in-run whole-document BM25 baseline (absolute MRR
// points; recall@5 and nDCG@10 must be at least the baseline's minus the
// same margin). On the Go documentation corpus the system must beat the
// baseline by 0.03 MRR. On testdata/agents (short documents, mostly one or
// two chunks, questions written with the documents) whole-document BM25 is
// ahead and the system does NOT beat it: the floor there is "at most 0.03
// MRR below", recorded as what is measured, not as a win.
const (
	MarginMRRGodoc = 0.03
	MarginMRROwn   = -0.03
)

func TestRetrievalBeatsBM25(t *testing.T) {
	for _, c := range []struct {
		name   string
		dir    string
		qs     []Query
		margin float64
		minDoc int
	}{
		{"godoc", godocCorpus, godocQueries(t), MarginMRRGodoc, 100},
		{"agents", ownCorpus, ownQueries(t), MarginMRROwn, 60},
	} {
		t.Run(c.name, func(t *testing.T) {
			if len(c.qs) < 60 && c.name == "godoc" {
				t.Fatalf("%d questions, want >= 60", len(c.qs))
			}
			res, err := Run(context.Background(), c.dir, c.qs, Options{K: 10})
			if err != nil {
				t.Fatal(err)
			}
			if res.Documents < c.minDoc || res.Quarantined != 0 {
				t.Fatalf("%d documents indexed, %d quarantined", res.Documents, res.Quarantined)
			}
			t.Logf("%s: %d docs, %d chunks, %d queries", c.name, res.Documents, res.Chunks, len(c.qs))
			t.Logf("system   %s", line(res.System))
			t.Logf("baseline %s", line(res.Baseline))
			for _, m := range res.Misses {
				t.Logf("miss rank %d: %q want %s top %s", m.Rank, m.Query, m.Want, m.Top)
			}
			slack := min(c.margin, 0)
			if res.System.MRR < res.Baseline.MRR+c.margin || res.System.Recall5 < res.Baseline.Recall5+slack || res.System.NDCG10 < res.Baseline.NDCG10+slack {
				t.Errorf("system misses the margin against BM25 (MRR %+.2f): system %s, baseline %s",
					c.margin, line(res.System), line(res.Baseline))
			}
		})
	}
}

func line(m Metrics) string {
	return formatLine(m)
}
