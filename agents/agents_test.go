package agents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/embedded"
)

const corpusDir = "../testdata/agents/corpus"

type labelled struct {
	Queries []struct {
		ID       string   `json:"id"`
		Query    string   `json:"query"`
		Relevant []string `json:"relevant"`
	} `json:"queries"`
	Learning []struct {
		Gap           string   `json:"gap"`
		Reformulation string   `json:"reformulation"`
		Relevant      []string `json:"relevant"`
		Variants      []string `json:"variants"`
	} `json:"learning"`
}

func loadQueries(t testing.TB) labelled {
	t.Helper()
	b, err := os.ReadFile("../testdata/agents/queries.json")
	if err != nil {
		t.Fatal(err)
	}
	var l labelled
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// env is a customer's embedded agents setup in a temp dir.
type env struct {
	stores *embedded.Stores
	deps   *agents.Deps
	clock  *fakeClock
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { c.t = c.t.Add(time.Second); return c.t }

func newEnv(t testing.TB) *env {
	t.Helper()
	s := embedded.Open(t.TempDir())
	t.Cleanup(func() { s.Close() })
	clk := &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	d := s.Deps(slog.New(slog.NewTextHandler(io.Discard, nil)))
	d.Now = clk.now
	return &env{stores: s, deps: d, clock: clk}
}

func (e *env) upload(t testing.TB, customer, key string, data []byte) {
	t.Helper()
	if _, err := e.stores.Objects.Put(context.Background(), customer, key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

func (e *env) uploadCorpus(t testing.TB, customer string) int {
	t.Helper()
	ents, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ents {
		b, err := os.ReadFile(filepath.Join(corpusDir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		e.upload(t, customer, f.Name(), b)
	}
	return len(ents)
}

func (e *env) ingestAll(t testing.TB, customer string) agents.Report {
	t.Helper()
	ing := &agents.Ingest{Deps: e.deps}
	total := agents.Report{Counts: map[string]int{}}
	for i := 0; i < 100; i++ {
		rep, err := ing.Run(context.Background(), customer)
		if err != nil {
			t.Fatalf("ingest: %v", err)
		}
		for k, v := range rep.Counts {
			total.Counts[k] += v
		}
		if rep.Counts[agents.CountPasses] > 0 {
			return total
		}
	}
	t.Fatal("ingest never completed a pass")
	return total
}

func docID(key string) string { return strings.TrimSuffix(key, filepath.Ext(key)) }

// rankOf returns the 1-based rank of the first relevant document among the
// hits' distinct documents, 0 if absent.
func rankOf(hits []agents.QueryHit, relevant []string) int {
	rel := map[string]bool{}
	for _, r := range relevant {
		rel[r] = true
	}
	seen := map[string]bool{}
	rank := 0
	for _, h := range hits {
		d := docID(h.Document)
		if seen[d] {
			continue
		}
		seen[d] = true
		rank++
		if rel[d] {
			return rank
		}
	}
	return 0
}

type metrics struct {
	recall5, mrr float64
	misses       []string
}

func evaluate(t testing.TB, s *agents.Searcher, customer string, qs []struct {
	q   string
	rel []string
}) metrics {
	t.Helper()
	var m metrics
	for _, q := range qs {
		res, err := s.Query(context.Background(), customer, q.q, 20)
		if err != nil {
			t.Fatalf("query %q: %v", q.q, err)
		}
		r := rankOf(res.Hits, q.rel)
		if r >= 1 && r <= 5 {
			m.recall5++
		} else {
			top := ""
			if len(res.Hits) > 0 {
				top = res.Hits[0].Document
			}
			m.misses = append(m.misses, q.q+" → "+top)
		}
		if r > 0 {
			m.mrr += 1 / float64(r)
		}
	}
	m.recall5 /= float64(len(qs))
	m.mrr /= float64(len(qs))
	sort.Strings(m.misses)
	return m
}

func TestCorpusRetrieval(t *testing.T) {
	e := newEnv(t)
	const cust = "lumen-freight"
	n := e.uploadCorpus(t, cust)
	if n < 60 {
		t.Fatalf("corpus has %d documents, want >= 60", n)
	}
	rep := e.ingestAll(t, cust)
	if rep.Counts[agents.CountIndexed] != n || rep.Counts[agents.CountQuarantined] != 0 {
		t.Fatalf("ingest report %v, want %d indexed", rep.Counts, n)
	}
	l := loadQueries(t)
	if len(l.Queries) < 40 {
		t.Fatalf("%d queries, want >= 40", len(l.Queries))
	}
	var qs []struct {
		q   string
		rel []string
	}
	for _, q := range l.Queries {
		qs = append(qs, struct {
			q   string
			rel []string
		}{q.Query, q.Relevant})
	}
	m := evaluate(t, &agents.Searcher{Deps: e.deps, NoLog: true}, cust, qs)
	t.Logf("corpus: %d documents, %d chunks; %d queries: recall@5 = %.3f, MRR = %.3f", n, rep.Counts[agents.CountChunks], len(qs), m.recall5, m.mrr)
	for _, miss := range m.misses {
		t.Logf("miss: %s", miss)
	}
	if m.recall5 < 0.9 || m.mrr < 0.75 {
		t.Errorf("retrieval below the floor: recall@5 %.3f (floor 0.90), MRR %.3f (floor 0.75)", m.recall5, m.mrr)
	}
}
