// Package evaluate measures retrieval quality on a labelled corpus: it
// ingests a directory of documents into a throwaway embedded store, runs
// labelled questions through the agents' query path and scores the ranked
// documents (recall@1/5/10, MRR, nDCG@10) next to a plain whole-document
// BM25 baseline computed over the same extracted text in the same run.
// `vdc eval retrieval` and the corpus tests use it.
package evaluate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/embedded"
	"github.com/agentvdc/agentvdc/agents/extract"
)

// FormatVersion is the version of the JSON form of Result.
const FormatVersion = "1.0"

// Query is one labelled question: the documents that answer it are given
// by id (the object key without its extension).
type Query struct {
	Text     string   `json:"query"`
	Relevant []string `json:"relevant"`
}

// ReadTSV reads "query<TAB>id[,id...]" lines; blank lines and lines that
// start with '#' are skipped.
func ReadTSV(r io.Reader) ([]Query, error) {
	var out []Query
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		q, rel, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(q) == "" || strings.TrimSpace(rel) == "" {
			return nil, fmt.Errorf("line %d: want \"query<TAB>document id[,id...]\"", n)
		}
		var ids []string
		for _, id := range strings.Split(rel, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		out = append(out, Query{Text: strings.TrimSpace(q), Relevant: ids})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no queries")
	}
	return out, nil
}

// Metrics are averages over the queries (binary relevance).
type Metrics struct {
	Queries  int     `json:"queries"`
	Recall1  float64 `json:"recall_at_1"`
	Recall5  float64 `json:"recall_at_5"`
	Recall10 float64 `json:"recall_at_10"`
	MRR      float64 `json:"mrr"`
	NDCG10   float64 `json:"ndcg_at_10"`
}

// DocID is the id of an object key: the key without its extension.
func DocID(key string) string { return strings.TrimSuffix(key, filepath.Ext(key)) }

// Score computes the metrics of ranked document ids per query (ranked[i]
// for qs[i], best first; ids as DocID gives them). Recall@n is the share
// of queries with a relevant document among the first n (success@n: a
// question is answered when one answering document is found); MRR uses the
// first relevant document within k (0 beyond); nDCG@10 the standard log2
// discount against the ideal ordering of all relevant documents.
func Score(qs []Query, ranked [][]string, k int) Metrics {
	m := Metrics{Queries: len(qs)}
	if len(qs) == 0 {
		return m
	}
	for i, q := range qs {
		rel := map[string]bool{}
		for _, r := range q.Relevant {
			rel[r] = true
		}
		var r1, r5, r10 int
		first := 0
		dcg := 0.0
		for pos, d := range ranked[i] {
			if !rel[d] {
				continue
			}
			if first == 0 && pos < k {
				first = pos + 1
			}
			if pos < 1 {
				r1++
			}
			if pos < 5 {
				r5++
			}
			if pos < 10 {
				r10++
				dcg += 1 / math.Log2(float64(pos)+2)
			}
		}
		ideal := 0.0
		for pos := 0; pos < min(10, len(rel)); pos++ {
			ideal += 1 / math.Log2(float64(pos)+2)
		}
		m.Recall1 += hit(r1)
		m.Recall5 += hit(r5)
		m.Recall10 += hit(r10)
		if first > 0 {
			m.MRR += 1 / float64(first)
		}
		if ideal > 0 {
			m.NDCG10 += dcg / ideal
		}
	}
	n := float64(len(qs))
	m.Recall1 /= n
	m.Recall5 /= n
	m.Recall10 /= n
	m.MRR /= n
	m.NDCG10 /= n
	return m
}

// Miss is a query whose relevant document is not first for the system.
type Miss struct {
	Query string `json:"query"`
	Want  string `json:"want"`
	Rank  int    `json:"rank"` // 1-based rank of the first relevant document, 0 = not in the top k
	Top   string `json:"top"`
}

// Result is one evaluation.
type Result struct {
	FormatVersion string  `json:"format_version"`
	Documents     int     `json:"documents"`
	Quarantined   int     `json:"quarantined"`
	Chunks        int     `json:"chunks"`
	K             int     `json:"k"`
	System        Metrics `json:"system"`
	Baseline      Metrics `json:"bm25_baseline"`
	Misses        []Miss  `json:"misses"`
	IngestMS      float64 `json:"ingest_ms"`
}

// Options tune Run.
type Options struct {
	K int // ranked documents scored per query (default 10)
	// Feedback turns on RM3 pseudo-relevance feedback in the query path.
	Feedback bool
}

// Env is an ingested throwaway store.
type Env struct {
	Stores   *embedded.Stores
	Deps     *agents.Deps
	Customer string
	Docs     []agents.KeyedDocument // extracted text of every document, for the baseline
	Report   agents.Report          // summed ingest counts
	tmp      string
}

// Close removes the store.
func (e *Env) Close() error {
	err := e.Stores.Close()
	return errors.Join(err, os.RemoveAll(e.tmp))
}

// Customer is the name the throwaway store ingests under.
const Customer = "eval-corpus"

// Ingest copies every regular file under dir into a new embedded store in
// a temporary directory and runs the ingest agent until one full pass is
// done. The caller closes the Env.
func Ingest(ctx context.Context, dir string) (*Env, error) {
	tmp, err := os.MkdirTemp("", "vdc-eval-*")
	if err != nil {
		return nil, err
	}
	st := embedded.Open(tmp)
	e := &Env{Stores: st, Deps: st.Deps(slog.New(slog.NewTextHandler(io.Discard, nil))), Customer: Customer, tmp: tmp,
		Report: agents.Report{Counts: map[string]int{}}}
	fail := func(err error) (*Env, error) { e.Close(); return nil, err }
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := st.Objects.Put(ctx, Customer, key, strings.NewReader(string(data)), int64(len(data))); err != nil {
			return fmt.Errorf("store %s: %w", key, err)
		}
		doc, err := extract.Extract(ctx, key, data, extract.Limits{})
		if err == nil {
			e.Docs = append(e.Docs, agents.KeyedDocument{Key: key, Doc: doc})
		}
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("read documents: %w", err))
	}
	if len(e.Docs) == 0 {
		return fail(fmt.Errorf("no readable documents under %s", dir))
	}
	ing := &agents.Ingest{Deps: e.Deps, Limits: agents.IngestLimits{MaxObjects: 1 << 20, MaxBytes: 1 << 40}}
	for i := 0; ; i++ {
		rep, err := ing.Run(ctx, Customer)
		if err != nil {
			return fail(fmt.Errorf("ingest: %w", err))
		}
		for k, v := range rep.Counts {
			e.Report.Counts[k] += v
		}
		if rep.Counts[agents.CountPasses] > 0 {
			break
		}
		if i > 1000 {
			return fail(errors.New("ingest never completed a pass"))
		}
	}
	return e, nil
}

// Rank runs every query through s and returns the ranked document ids
// (at most k per query).
func (e *Env) Rank(ctx context.Context, s *agents.Searcher, qs []Query, k int) ([][]string, error) {
	out := make([][]string, len(qs))
	for i, q := range qs {
		res, err := s.Query(ctx, e.Customer, q.Text, k)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", q.Text, err)
		}
		for _, d := range res.Documents {
			if len(out[i]) == k {
				break
			}
			out[i] = append(out[i], DocID(d.Document))
		}
	}
	return out, nil
}

// Run ingests dir, runs qs through the query path (query log off, learned
// state empty) and through the BM25 baseline, and scores both.
func Run(ctx context.Context, dir string, qs []Query, opt Options) (Result, error) {
	k := opt.K
	if k <= 0 {
		k = 10
	}
	start := time.Now()
	e, err := Ingest(ctx, dir)
	if err != nil {
		return Result{}, err
	}
	defer e.Close()
	res := Result{FormatVersion: FormatVersion, K: k, Documents: e.Report.Counts[agents.CountIndexed],
		Quarantined: e.Report.Counts[agents.CountQuarantined], Chunks: e.Report.Counts[agents.CountChunks],
		IngestMS: float64(time.Since(start).Milliseconds())}
	s := &agents.Searcher{Deps: e.Deps, NoLog: true, Feedback: opt.Feedback}
	ranked, err := e.Rank(ctx, s, qs, k)
	if err != nil {
		return res, err
	}
	res.System = Score(qs, ranked, k)
	res.Misses = misses(qs, ranked)
	res.Baseline = Score(qs, NewBM25(e.Docs).RankAll(qs, k), k)
	return res, nil
}

func misses(qs []Query, ranked [][]string) []Miss {
	out := []Miss{}
	for i, q := range qs {
		rel := map[string]bool{}
		for _, r := range q.Relevant {
			rel[r] = true
		}
		m := Miss{Query: q.Text, Want: strings.Join(q.Relevant, ",")}
		for pos, d := range ranked[i] {
			if rel[d] {
				m.Rank = pos + 1
				break
			}
		}
		if m.Rank == 1 {
			continue
		}
		if len(ranked[i]) > 0 {
			m.Top = ranked[i][0]
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Query < out[j].Query })
	return out
}

func hit(n int) float64 {
	if n > 0 {
		return 1
	}
	return 0
}
