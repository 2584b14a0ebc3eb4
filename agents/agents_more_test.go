package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/embed"
	"github.com/agentvdc/agentvdc/agents/extract"
	"github.com/agentvdc/agentvdc/agents/internal/docgen"
)

func ctx() context.Context { return context.Background() }

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func count(t testing.TB, e *env, customer string, f agents.Filter) int {
	t.Helper()
	n, err := e.stores.Vectors.Count(ctx(), customer, f)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func docFilter(key string) agents.Filter {
	return agents.Filter{Must: []agents.Match{{Key: "document", Value: key}}}
}

func TestIngestIncremental(t *testing.T) {
	e := newEnv(t)
	const c = "acme-corp"
	e.upload(t, c, "leave.md", readCorpus(t, "hr-annual-leave.md"))
	e.upload(t, c, "about.txt", readCorpus(t, "corp-about.txt"))
	e.upload(t, c, "board.html", readCorpus(t, "corp-board.html"))
	ing := &agents.Ingest{Deps: e.deps}
	rel := &agents.Relationship{Deps: e.deps}

	rep, err := ing.Run(ctx(), c)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[agents.CountIndexed] != 3 || rep.Counts[agents.CountPasses] != 1 {
		t.Fatalf("first run %v", rep.Counts)
	}
	chunks := count(t, e, c, agents.Filter{})
	if _, err := rel.Run(ctx(), c); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		change func(t *testing.T)
		want   map[string]int
	}{
		{"nothing changed", func(t *testing.T) {}, map[string]int{agents.CountUnchanged: 3}},
		{"identical re-upload", func(t *testing.T) { e.upload(t, c, "leave.md", readCorpus(t, "hr-annual-leave.md")) },
			map[string]int{agents.CountUnchanged: 3}},
		{"touched in the dump folder (new mtime, same bytes)", func(t *testing.T) {
			dir, _ := e.stores.Objects.ObjectsPath(c)
			future := time.Now().Add(time.Hour)
			if err := os.Chtimes(filepath.Join(dir, "about.txt"), future, future); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{agents.CountUnchanged: 2, agents.CountSameContent: 1}},
		{"content changed", func(t *testing.T) {
			e.upload(t, c, "board.html", []byte("<html><body><h1>Board</h1><p>The board now meets monthly in Lisbon.</p></body></html>"))
		}, map[string]int{agents.CountUnchanged: 2, agents.CountIndexed: 1}},
		{"deleted", func(t *testing.T) {
			if err := e.stores.Objects.Delete(ctx(), c, "about.txt"); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{agents.CountUnchanged: 2, agents.CountDeleted: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.change(t)
			rep, err := ing.Run(ctx(), c)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{agents.CountUnchanged, agents.CountSameContent, agents.CountIndexed, agents.CountDeleted, agents.CountQuarantined} {
				if rep.Counts[k] != tc.want[k] {
					t.Errorf("%s = %d, want %d (report %v)", k, rep.Counts[k], tc.want[k], rep.Counts)
				}
			}
		})
	}
	if n := count(t, e, c, docFilter("about.txt")); n != 0 {
		t.Fatalf("deleted object still has %d points", n)
	}
	if n := count(t, e, c, docFilter("board.html")); n != 1 {
		t.Fatalf("changed object has %d points, want 1", n)
	}
	if got := count(t, e, c, agents.Filter{}); got >= chunks {
		t.Fatalf("points %d, want fewer than before (%d)", got, chunks)
	}
	if _, err := e.stores.Graph.Node(ctx(), c, agents.NodeRef{Label: agents.LabelDocument, Key: "about.txt"}); !errors.Is(err, agents.ErrNotFound) {
		t.Fatalf("deleted object's graph node survived: %v", err)
	}
	res, err := (&agents.Searcher{Deps: e.deps, NoLog: true}).Query(ctx(), c, "board meets monthly in Lisbon", 3)
	if err != nil || len(res.Hits) == 0 || res.Hits[0].Document != "board.html" {
		t.Fatalf("changed content not searchable: %+v, %v", res.Hits, err)
	}
}

func TestIngestBoundedWork(t *testing.T) {
	e := newEnv(t)
	const c = "bulk-co"
	n := e.uploadCorpus(t, c)
	ing := &agents.Ingest{Deps: e.deps, Limits: agents.IngestLimits{MaxObjects: 10}}
	runs, indexed := 0, 0
	for {
		rep, err := ing.Run(ctx(), c)
		if err != nil {
			t.Fatal(err)
		}
		runs++
		if rep.Counts[agents.CountIndexed] > 10 {
			t.Fatalf("run indexed %d > MaxObjects 10", rep.Counts[agents.CountIndexed])
		}
		indexed += rep.Counts[agents.CountIndexed]
		if rep.Counts[agents.CountPasses] > 0 {
			break
		}
		if runs > 20 {
			t.Fatal("no progress")
		}
	}
	if indexed != n || runs != (n+9)/10 {
		t.Fatalf("indexed %d of %d in %d runs, want %d runs", indexed, n, runs, (n+9)/10)
	}
	// A byte budget smaller than one file still makes progress.
	e2 := newEnv(t)
	e2.uploadCorpus(t, c)
	ing2 := &agents.Ingest{Deps: e2.deps, Limits: agents.IngestLimits{MaxBytes: 1}}
	rep, err := ing2.Run(ctx(), c)
	if err != nil || rep.Counts[agents.CountIndexed] != 1 {
		t.Fatalf("byte-bounded run %v, %v; want exactly one object", rep.Counts, err)
	}
}

func TestHostileInputsQuarantined(t *testing.T) {
	e := newEnv(t)
	const c = "hostile-co"
	junk := make([]byte, 256<<10)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range junk {
		junk[i] = byte(r.UintN(256))
	}
	good := readCorpus(t, "corp-about.txt")
	pdf := readCorpus(t, "it-backup.pdf")
	e.upload(t, c, "corrupt.pdf", pdf[:len(pdf)/3])
	e.upload(t, c, "bomb.docx", docgen.ZipBombDOCX(100<<20, false))
	e.upload(t, c, "bomb-honest.docx", docgen.ZipBombDOCX(100<<20, true))
	e.upload(t, c, "junk.bin", junk)
	e.upload(t, c, "encrypted.pdf", docgen.EncryptedPDF())
	e.upload(t, c, "good.txt", good)
	// The 100 MB file is dropped into the dump folder directly as a sparse file.
	dir, _ := e.stores.Objects.ObjectsPath(c)
	f, err := os.Create(filepath.Join(dir, "huge.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(100 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()

	start := time.Now()
	rep, err := (&agents.Ingest{Deps: e.deps}).Run(ctx(), c)
	if err != nil {
		t.Fatalf("ingest failed on hostile input: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("hostile inputs took %v", d)
	}
	if rep.Counts[agents.CountIndexed] != 1 || rep.Counts[agents.CountQuarantined] != 6 {
		t.Fatalf("report %v, want 1 indexed and 6 quarantined", rep.Counts)
	}
	qs, err := agents.Quarantine(ctx(), e.stores.State, c)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, q := range qs {
		got[q.Key] = q.Reason
	}
	want := map[string]extract.Reason{
		"corrupt.pdf": extract.ReasonCorrupt, "bomb.docx": extract.ReasonZipBomb, "bomb-honest.docx": extract.ReasonZipBomb,
		"junk.bin": extract.ReasonUnsupported, "encrypted.pdf": extract.ReasonEncrypted, "huge.txt": extract.ReasonTooLarge,
	}
	for k, r := range want {
		if got[k] != string(r) {
			t.Errorf("%s quarantined as %q, want %q", k, got[k], r)
		}
	}
	// Quarantined files are not retried until they change.
	rep, err = (&agents.Ingest{Deps: e.deps}).Run(ctx(), c)
	if err != nil || rep.Counts[agents.CountQuarantined] != 0 || rep.Counts[agents.CountUnchanged] != 7 {
		t.Fatalf("second run %v, %v", rep.Counts, err)
	}
	// A fixed file leaves the quarantine.
	e.upload(t, c, "corrupt.pdf", pdf)
	if _, err := (&agents.Ingest{Deps: e.deps}).Run(ctx(), c); err != nil {
		t.Fatal(err)
	}
	qs, _ = agents.Quarantine(ctx(), e.stores.State, c)
	for _, q := range qs {
		if q.Key == "corrupt.pdf" {
			t.Fatal("repaired file still quarantined")
		}
	}
}

func TestRelationshipGraph(t *testing.T) {
	e := newEnv(t)
	const c = "lumen-freight"
	e.uploadCorpus(t, c)
	e.ingestAll(t, c)
	rel := &agents.Relationship{Deps: e.deps}
	rep, err := rel.Run(ctx(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("relationship: %v", rep.Counts)
	g := e.stores.Graph
	c1, err := g.Counts(ctx(), c)
	if err != nil {
		t.Fatal(err)
	}
	find := func(from, typ, to string) agents.Edge {
		t.Helper()
		nbs, err := g.Neighbours(ctx(), c, agents.NodeRef{Label: agents.LabelEntity, Key: from}, agents.NeighbourOptions{Depth: 1, Limit: 500, Types: []string{typ}})
		if err != nil {
			t.Fatalf("neighbours of %q: %v", from, err)
		}
		for _, nb := range nbs {
			if nb.Node.Key == to && nb.Via.From.Key == from {
				return nb.Via
			}
		}
		t.Errorf("no edge %s -%s-> %s (have %d %s neighbours)", from, typ, to, len(nbs), typ)
		return agents.Edge{}
	}
	for _, tc := range []struct{ from, typ, to string }{
		{"maria keller", agents.RelLeads, "lumen freight"},
		{"tomasz nowak", agents.RelLeads, "baltic cold chain"},
		{"tobias renner", agents.RelWorksFor, "lumen freight"},
		{"jonas berg", agents.RelWorksFor, "nordlicht systems"},
		{"lumen freight", agents.RelAcquired, "baltic cold chain"},
		{"lumen freight", agents.RelLocatedIn, "hamburg"},
		{"lumen freight", agents.RelPartnerOf, "nordlicht systems"},
		{"rotterdam express", agents.RelIsA, "carrier"},
		{"alpine haulage", agents.RelIsA, "carrier"},
	} {
		e := find(tc.from, tc.typ, tc.to)
		if e.Type != "" && (e.Confidence <= 0 || e.Confidence > 1 || len(e.Evidence) == 0 || e.Count < 1) {
			t.Errorf("edge %s-%s->%s lacks confidence/evidence: %+v", tc.from, tc.typ, tc.to, e)
		}
	}
	acq := find("lumen freight", agents.RelAcquired, "baltic cold chain")
	if acq.Count < 2 || acq.Confidence <= 0.8 {
		t.Errorf("acquisition stated twice should be stronger: %+v", acq)
	}
	// Co-occurrence edges carry NPMI and need two co-occurrences.
	if c1.Edges[agents.RelRelatedTo] == 0 {
		t.Error("no RELATED_TO edges")
	}
	ents, err := g.Nodes(ctx(), c, agents.LabelEntity, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		nbs, _ := g.Neighbours(ctx(), c, en.Ref(), agents.NeighbourOptions{Depth: 1, Limit: 1000, Types: []string{agents.RelRelatedTo}})
		for _, nb := range nbs {
			if nb.Via.Count < 2 || nb.Via.Props["npmi"] == "" || len(nb.Via.Evidence) < 2 {
				t.Fatalf("RELATED_TO edge without 2 co-occurrences/npmi/evidence: %+v", nb.Via)
			}
		}
	}
	// Structure: every chunk is PART_OF its document.
	if c1.Edges[agents.RelPartOf] != c1.Nodes[agents.LabelChunk] || c1.Nodes[agents.LabelDocument] != 62 {
		t.Errorf("structure counts %+v", c1)
	}
	// Canonical merge: "Lumen Freight GmbH" and "Lumen Freight" are one entity.
	if _, err := g.Node(ctx(), c, agents.NodeRef{Label: agents.LabelEntity, Key: "lumen freight gmbh"}); !errors.Is(err, agents.ErrNotFound) {
		t.Errorf("legal-form variant not merged: %v", err)
	}
	// A rerun does not duplicate anything.
	if _, err := rel.Run(ctx(), c); err != nil {
		t.Fatal(err)
	}
	c2, _ := g.Counts(ctx(), c)
	if fmt.Sprint(c1) != fmt.Sprint(c2) {
		t.Fatalf("rerun changed the graph: %v -> %v", c1, c2)
	}
	// The query path returns graph neighbours with a why.
	res, err := (&agents.Searcher{Deps: e.deps, NoLog: true}).Query(ctx(), c, "Baltic Cold Chain", 5)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, gh := range res.Graph {
		if gh.Relation == agents.RelAcquired && strings.Contains(gh.Why, "Lumen Freight ACQUIRED Baltic Cold Chain") {
			found = true
		}
	}
	if !found {
		t.Fatalf("query graph hits lack the acquisition: %+v", res.Graph)
	}
}

func TestSimilarLinks(t *testing.T) {
	e := newEnv(t)
	const c = "sim-co"
	text := "The cold store in Gdansk keeps frozen fish below minus 18 degrees and ships it to Warsaw every night."
	e.upload(t, c, "a.txt", []byte(text))
	e.upload(t, c, "b.txt", []byte(text+" Trucks leave at midnight."))
	e.upload(t, c, "c.txt", []byte("Password rules require fourteen characters and an authenticator app."))
	e.ingestAll(t, c)
	rep, err := (&agents.Relationship{Deps: e.deps}).Run(ctx(), c)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[agents.CountSimilar] != 2 { // a->b and b->a
		t.Fatalf("similar edges %d, want 2 (%v)", rep.Counts[agents.CountSimilar], rep.Counts)
	}
	a := agents.NodeRef{Label: agents.LabelChunk, Key: agents.PointID(c, "a.txt", 0)}
	nbs, err := e.stores.Graph.Neighbours(ctx(), c, a, agents.NeighbourOptions{Types: []string{agents.RelSimilar}})
	if err != nil || len(nbs) != 1 || nbs[0].Node.Props["document"] != "b.txt" || nbs[0].Via.Confidence < 0.45 {
		t.Fatalf("similar neighbours of a: %+v, %v", nbs, err)
	}
	// Dirty marks are consumed: a rerun computes no new similarity work.
	rep, err = (&agents.Relationship{Deps: e.deps}).Run(ctx(), c)
	if err != nil || rep.Counts[agents.CountSimilar] != 0 {
		t.Fatalf("rerun recomputed similarity: %v, %v", rep.Counts, err)
	}
}

func mrrOf(t *testing.T, s *agents.Searcher, c string, qs []string, rel []string) float64 {
	t.Helper()
	var sum float64
	for _, q := range qs {
		res, err := s.Query(ctx(), c, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		if r := rankOf(res.Hits, rel); r > 0 {
			sum += 1 / float64(r)
		}
	}
	return sum / float64(len(qs))
}

func TestLearningImprovesVocabularyMismatch(t *testing.T) {
	e := newEnv(t)
	const c = "lumen-freight"
	e.uploadCorpus(t, c)
	e.ingestAll(t, c)
	l := loadQueries(t)
	plain := &agents.Searcher{Deps: e.deps, NoLog: true}
	var before, after float64
	n := 0
	for _, lc := range l.Learning {
		before += mrrOf(t, plain, c, lc.Variants, lc.Relevant) * float64(len(lc.Variants))
		n += len(lc.Variants)
	}
	before /= float64(n)
	// Users ask, fail, rephrase and succeed - twice per case.
	logging := &agents.Searcher{Deps: e.deps}
	for round := 0; round < 2; round++ {
		for _, lc := range l.Learning {
			g, err := logging.Query(ctx(), c, lc.Gap, 5)
			if err != nil {
				t.Fatal(err)
			}
			if !g.Gap || len(g.Missing) == 0 {
				t.Fatalf("%q should be a gap with missing terms: %+v", lc.Gap, g)
			}
			r, err := logging.Query(ctx(), c, lc.Reformulation, 5)
			if err != nil {
				t.Fatal(err)
			}
			if r.Gap {
				t.Fatalf("reformulation %q is a gap too", lc.Reformulation)
			}
			e.clock.t = e.clock.t.Add(30 * time.Minute) // the next user comes later
		}
	}
	learn := &agents.Learning{Deps: e.deps, GapReportPath: e.stores.GapReportPath}
	rep, err := learn.Run(ctx(), c)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[agents.CountQueries] != 4*len(l.Learning) || rep.Counts[agents.CountExpansions] == 0 || rep.Counts[agents.CountGaps] != len(l.Learning) {
		t.Fatalf("learning report %v", rep.Counts)
	}
	learned := &agents.Searcher{Deps: e.deps, NoLog: true}
	for _, lc := range l.Learning {
		after += mrrOf(t, learned, c, lc.Variants, lc.Relevant) * float64(len(lc.Variants))
	}
	after /= float64(n)
	t.Logf("vocabulary-mismatch class (%d variant queries): MRR before learning %.3f, after %.3f", n, before, after)
	if after < before+0.25 || after < 0.8 {
		t.Fatalf("learning did not improve the class enough: MRR %.3f -> %.3f", before, after)
	}
	// The labelled queries do not get worse.
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
	m := evaluate(t, learned, c, qs)
	if m.recall5 < 0.9 {
		t.Fatalf("labelled queries after learning: recall@5 %.3f", m.recall5)
	}
	report, err := os.ReadFile(e.stores.GapReportPath(c))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"holiday entitlement", "holiday → ", "reformulation", "# Knowledge gaps: lumen-freight"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("gap report lacks %q:\n%s", want, report)
		}
	}
	// A second run with no new queries learns nothing new and keeps state.
	rep, err = learn.Run(ctx(), c)
	if err != nil || rep.Counts[agents.CountQueries] != 0 {
		t.Fatalf("second learning run %v, %v", rep.Counts, err)
	}
	res, _ := learned.Query(ctx(), c, "holiday request", 3)
	if len(res.Expansions) == 0 || !strings.Contains(strings.Join(res.Hits[0].Why, " "), "learned expansions") {
		t.Fatalf("query does not explain the expansion: %+v", res)
	}
}

func TestIsolation(t *testing.T) {
	e := newEnv(t)
	e.upload(t, "alpha-co", "secret-plan.txt", []byte("Project Zephyr: Alpha Co plans to acquire Gamma Widgets for 9 million euros. Zephyr is confidential. Zephyr launches in Oslo."))
	e.upload(t, "beta-co", "menu.txt", []byte("The Beta canteen serves soup on Mondays and fish on Fridays."))
	for _, c := range []string{"alpha-co", "beta-co"} {
		e.ingestAll(t, c)
		if _, err := (&agents.Relationship{Deps: e.deps}).Run(ctx(), c); err != nil {
			t.Fatal(err)
		}
	}
	s := &agents.Searcher{Deps: e.deps}
	res, err := s.Query(ctx(), "beta-co", "Project Zephyr acquire Gamma Widgets", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range res.Hits {
		if h.Document == "secret-plan.txt" {
			t.Fatal("beta-co found alpha-co's document")
		}
	}
	if len(res.Graph) != 0 {
		t.Fatalf("beta-co sees graph neighbours: %+v", res.Graph)
	}
	if _, err := e.stores.Graph.Node(ctx(), "beta-co", agents.NodeRef{Label: agents.LabelEntity, Key: "gamma widgets"}); !errors.Is(err, agents.ErrNotFound) {
		t.Fatalf("beta-co reads alpha-co's entity: %v", err)
	}
	if _, err := e.stores.Objects.Stat(ctx(), "beta-co", "secret-plan.txt"); !errors.Is(err, agents.ErrNotFound) {
		t.Fatalf("beta-co stats alpha-co's object: %v", err)
	}
	// alpha-co does find it, and beta-co's query went to beta-co's log only.
	res, err = s.Query(ctx(), "alpha-co", "Project Zephyr", 3)
	if err != nil || len(res.Hits) == 0 || res.Hits[0].Document != "secret-plan.txt" {
		t.Fatalf("alpha-co search: %+v, %v", res.Hits, err)
	}
	logA, _, err := agents.QueryLog(ctx(), e.stores.State, "alpha-co", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range logA {
		if strings.Contains(q.Query, "Gamma") {
			t.Fatal("beta-co's query landed in alpha-co's log")
		}
	}
	if _, err := s.Query(ctx(), "../alpha-co", "x", 3); !errors.Is(err, agents.ErrInvalidCustomer) {
		t.Fatalf("path-like customer accepted: %v", err)
	}
}

// hashEmbedder is an OpenAI-compatible /v1/embeddings server computing
// deterministic bag-of-words vectors (dim dimensions), so the real client
// runs against real HTTP.
func hashEmbedder(t testing.TB, dim int, calls *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model string   `json:"model"`
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		calls.Add(int64(len(req.Input)))
		type item struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		out := make([]item, len(req.Input))
		for i, s := range req.Input {
			v := make([]float32, dim)
			for _, t := range embed.Terms(s) {
				h := fnv.New32a()
				h.Write([]byte(req.Model + t))
				v[h.Sum32()%uint32(dim)]++
			}
			var n float64
			for _, x := range v {
				n += float64(x * x)
			}
			if n == 0 {
				v[0] = 1
				n = 1
			}
			for j := range v {
				v[j] /= float32(math.Sqrt(n))
			}
			out[i] = item{i, v}
		}
		json.NewEncoder(w).Encode(map[string]any{"data": out, "model": req.Model})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDenseHybridAndReembed(t *testing.T) {
	var calls atomic.Int64
	srv := hashEmbedder(t, 64, &calls)
	e := newEnv(t)
	const c = "dense-co"
	e.deps.Dense = &embed.Client{BaseURL: srv.URL, Model: "toy-a"}
	for _, f := range []string{"hr-annual-leave.md", "it-backup.pdf", "corp-about.txt", "ops-cold-chain.pdf"} {
		e.upload(t, c, f, readCorpus(t, f))
	}
	e.ingestAll(t, c)
	cfg, err := e.stores.Vectors.Config(ctx(), c)
	if err != nil || cfg.DenseDim != 64 || cfg.Embedder != "hash-bm25f-v2+openai:toy-a" {
		t.Fatalf("collection config %+v, %v", cfg, err)
	}
	n1 := count(t, e, c, agents.Filter{})
	res, err := (&agents.Searcher{Deps: e.deps, NoLog: true}).Query(ctx(), c, "how long are snapshots kept", 3)
	if err != nil || len(res.Hits) == 0 || res.Hits[0].Document != "it-backup.pdf" {
		t.Fatalf("hybrid query: %+v, %v", res.Hits, err)
	}
	if !strings.Contains(strings.Join(res.Hits[0].Why, " "), "RRF") {
		t.Fatalf("hybrid hit does not say it was fused: %v", res.Hits[0].Why)
	}
	// Switching the model re-embeds everything.
	e.deps.Dense = &embed.Client{BaseURL: srv.URL, Model: "toy-b"}
	before := calls.Load()
	rep := e.ingestAll(t, c)
	if rep.Counts[agents.CountReset] != 1 || rep.Counts[agents.CountIndexed] != 4 {
		t.Fatalf("model change report %v", rep.Counts)
	}
	if calls.Load()-before < int64(n1) {
		t.Fatalf("re-embedding made %d embedding calls for %d chunks", calls.Load()-before, n1)
	}
	cfg, _ = e.stores.Vectors.Config(ctx(), c)
	if cfg.Embedder != "hash-bm25f-v2+openai:toy-b" || count(t, e, c, agents.Filter{}) != n1 {
		t.Fatalf("after re-embed: %+v, %d points", cfg, count(t, e, c, agents.Filter{}))
	}
}

func TestChunkDocument(t *testing.T) {
	long := strings.Repeat("word ", 500)
	doc := extract.Document{Title: "T", Elements: []extract.Element{
		{Kind: extract.KindParagraph, Text: "intro text"},
		{Kind: extract.KindHeading, Level: 1, Text: "Section A"},
		{Kind: extract.KindParagraph, Text: long},
		{Kind: extract.KindHeading, Level: 1, Text: "Table"},
		{Kind: extract.KindTableRow, Text: "a | b | c"},
		{Kind: extract.KindTableRow, Text: "d | e | f"},
	}}
	cs := agents.ChunkDocument(doc, agents.ChunkOptions{Target: 100, Max: 150, Overlap: 20})
	if cs[0].Text != "intro text" || cs[0].Section != "T" {
		t.Fatalf("first chunk %+v", cs[0])
	}
	var words int
	for _, c := range cs {
		n := len(strings.Fields(c.Text))
		if n > 150 {
			t.Fatalf("chunk of %d words > Max", n)
		}
		if c.Section == "T > Section A" {
			words += n
		}
	}
	if words <= 500 {
		t.Fatalf("long paragraph chunks carry %d words, want overlap beyond 500", words)
	}
	last := cs[len(cs)-1]
	if last.Section != "T > Table" || last.Text != "a | b | c\nd | e | f" {
		t.Fatalf("table chunk %+v", last)
	}
}

func TestEntities(t *testing.T) {
	text := "Maria Keller, CEO of Lumen Freight GmbH, met Dr. Helmut Brandes in Hamburg on 2 February 2026. Contact dpo@lumenfreight.example or https://lumenfreight.example/privacy about the €27 million deal."
	got := map[string]string{}
	for _, m := range agents.Entities(text) {
		got[m.Key] = m.Kind
	}
	want := map[string]string{
		"maria keller": agents.KindPerson, "lumen freight": agents.KindOrg, "helmut brandes": agents.KindPerson,
		"hamburg": agents.KindPlace, "2 february 2026": agents.KindDate, "dpo@lumenfreight.example": agents.KindEmail,
		"https://lumenfreight.example/privacy": agents.KindURL, "€27 million": agents.KindAmount,
	}
	for k, kind := range want {
		if got[k] != kind {
			t.Errorf("entity %q kind %q, want %q (all: %v)", k, got[k], kind, got)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"Acme Corp.", "acme"}, {"ACME Corporation", "acme"}, {"Lumen Freight GmbH", "lumen freight"}, {"Acme's", "acme"}, {"  New   York ", "new york"},
	} {
		if got := agents.CanonicalKey(tc.in); got != tc.want {
			t.Errorf("CanonicalKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEntitiesNoConjunctionsOrPlaceholders(t *testing.T) {
	text := "Although Git stores snapshots, it is fast. Because Acme Logistics pays $1,200 we agreed. " +
		"Replace the match with $1 and ${2}. While Maria Keller was away, the price was $3.50 per unit."
	got := map[string]string{}
	for _, m := range agents.Entities(text) {
		got[m.Key] = m.Kind
	}
	for _, bad := range []string{"although git", "because acme logistics", "$1", "$2", "while maria keller"} {
		if _, ok := got[bad]; ok {
			t.Errorf("entity %q extracted (all: %v)", bad, got)
		}
	}
	for k, kind := range map[string]string{"acme logistics": agents.KindOrg, "maria keller": agents.KindPerson, "$1,200": agents.KindAmount, "$3.50": agents.KindAmount} {
		if got[k] != kind {
			t.Errorf("entity %q kind %q, want %q (all: %v)", k, got[k], kind, got)
		}
	}
}
