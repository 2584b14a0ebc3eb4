package agents

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/agents/embed"
)

// QueryFormatVersion is the version of the JSON form of QueryResult.
const QueryFormatVersion = "1.0"

// Searcher answers queries: hybrid chunk hits (sparse BM25, plus dense when
// configured, fused with RRF) and the graph neighbourhood of entities the
// query names. Every query is logged for the learning agent.
type Searcher struct {
	*Deps
	// NoLearning ignores learned expansions and weights (for comparisons).
	NoLearning bool
	// NoLog does not write the query log.
	NoLog bool
	// Feedback turns pseudo-relevance feedback (RM3) on. It is off by
	// default: on both evaluation corpora it lowered MRR (see
	// agents/evaluate), so it is not "where it helps" yet.
	Feedback bool
}

// Ranking constants. Chunks are searched with Limit max(CandidateFactor·k,
// MinCandidates); a document's score is its best chunk's score plus
// DocSecond times the second best and DocThird times the third (chunk
// evidence beyond the first counts, but a long document cannot win on
// length alone).
const (
	CandidateFactor = 4
	MinCandidates   = 100
	DocSecond       = 0.5
	DocThird        = 0.25
)

// RM3 pseudo-relevance feedback (Lavrenko and Croft's relevance model,
// interpolated with the query as in Anserini's RM3): the best chunk of each
// of the FeedbackDocs best documents is a feedback document; P(t|D) is its
// term frequency over its length, weighted by the document's share of the
// feedback scores; the FeedbackTerms most probable terms not in the query
// (present in at least two chunks and in at most half of them) are added
// with total weight (1-FeedbackLambda)/FeedbackLambda relative to the
// query's own terms, and the search is run again.
const (
	FeedbackDocs   = 5
	FeedbackTerms  = 10
	FeedbackLambda = 0.7
)

// DocumentHit is one document in the ranking: its aggregated score and the
// chunks that contributed.
type DocumentHit struct {
	Document string   `json:"document"`
	Title    string   `json:"title,omitempty"`
	Score    float64  `json:"score"`
	Chunks   []int    `json:"chunks"`
	Why      []string `json:"why"`
}

// QueryHit is one chunk result.
type QueryHit struct {
	Document string   `json:"document"`
	Chunk    int      `json:"chunk"`
	Section  string   `json:"section,omitempty"`
	Snippet  string   `json:"snippet"`
	Score    float64  `json:"score"`
	Why      []string `json:"why"`
}

// GraphHit is one graph neighbour of an entity named in the query.
type GraphHit struct {
	Entity     string  `json:"entity"`
	Relation   string  `json:"relation"`
	Direction  string  `json:"direction"` // "out" (entity -> node) or "in"
	Node       string  `json:"node"`
	Label      string  `json:"label"`
	Document   string  `json:"document,omitempty"`
	Confidence float64 `json:"confidence"`
	Why        string  `json:"why"`
}

// QueryResult is the answer to one query.
type QueryResult struct {
	FormatVersion string     `json:"format_version"`
	Customer      string     `json:"customer"`
	Query         string     `json:"query"`
	Hits          []QueryHit `json:"hits"`
	// Documents ranks documents by their aggregated chunk scores (format
	// added within 1.0, additive); Hits are ordered by it.
	Documents  []DocumentHit `json:"documents"`
	Feedback   []string      `json:"feedback_terms,omitempty"`
	Graph      []GraphHit    `json:"graph"`
	Expansions []string      `json:"expansions,omitempty"`
	Missing    []string      `json:"missing_terms,omitempty"`
	Coverage   float64       `json:"coverage"`
	Gap        bool          `json:"gap"`
	TookMS     float64       `json:"took_ms"`
}

// QueryLogEntry is one logged query.
type QueryLogEntry struct {
	At       time.Time `json:"at"`
	Query    string    `json:"query"`
	Terms    []string  `json:"terms"`
	Missing  []string  `json:"missing,omitempty"`
	Best     float64   `json:"best"`
	Coverage float64   `json:"coverage"`
	TopDocs  []string  `json:"top_docs,omitempty"`
	Gap      bool      `json:"gap"`
}

// Expansion is a learned query expansion: asking for the key term also
// searches Term with Weight (relative to the original term).
type Expansion struct {
	Term   string  `json:"term"`
	Weight float64 `json:"weight"`
	Source string  `json:"source"` // "reformulation" | "feedback"
	Count  int     `json:"count"`
}

// MaxQueryBytes bounds a query: every query is logged for the learning
// agent, and a question longer than this is a pasted document.
const MaxQueryBytes = 2048

// GapCoverage: a query whose best hit contains less than this share of the
// query terms is a gap; so is a query that finds nothing or names a term
// the data does not contain.
const GapCoverage = 0.5

type qfeat struct {
	embed.Feature
	origin string // "" original, else "expanded from X"
}

// Query runs text for customer and returns up to k hits: the query's terms
// and learned expansions weighed by IDF, one sparse (and, with a dense
// embedder, dense) search, optional RM3 feedback, hits aggregated into
// documents, each hit explained, plus graph hits; the query is logged
// for the learning agent.
func (s *Searcher) Query(ctx context.Context, customer, text string, k int) (QueryResult, error) {
	start := time.Now()
	res := QueryResult{FormatVersion: QueryFormatVersion, Customer: customer, Query: text, Hits: []QueryHit{}, Documents: []DocumentHit{}, Graph: []GraphHit{}}
	if err := ValidateCustomer(customer); err != nil {
		return res, err
	}
	if k <= 0 || k > 1000 {
		return res, fmt.Errorf("%w: k must be 1..1000", ErrInvalidArgument)
	}
	if strings.TrimSpace(text) == "" {
		return res, fmt.Errorf("%w: empty query", ErrInvalidArgument)
	}
	if len(text) > MaxQueryBytes {
		return res, fmt.Errorf("%w: the query is %d bytes, at most %d are searched (ask a question, not a document)", ErrInvalidArgument, len(text), MaxQueryBytes)
	}
	cfg, err := s.Vectors.Config(ctx, customer)
	if err != nil {
		return res, fmt.Errorf("customer %s has no index yet (run the ingest agent): %w", customer, err)
	}
	terms := embed.Terms(text)
	feats := []qfeat{}
	for _, f := range s.Sparse.Query(text) {
		feats = append(feats, qfeat{Feature: f})
	}
	boosts := map[string]float64{}
	if !s.NoLearning {
		learned, exps, b, err := s.learned(ctx, customer, terms)
		if err != nil {
			return res, err
		}
		feats, res.Expansions, boosts = append(feats, learned...), exps, b
	}
	st := s.stats(ctx, customer)
	sparse, missing := s.weigh(ctx, customer, feats, boosts, st)
	res.Missing = missing
	q := SearchQuery{Sparse: sparse, Limit: min(1000, max(CandidateFactor*k, MinCandidates))}
	if s.Dense != nil && cfg.DenseDim > 0 {
		v, err := s.Dense.Embed(ctx, []string{text})
		if err != nil {
			return res, fmt.Errorf("embed query: %w", err)
		}
		q.Dense = v[0]
	}
	hits, err := s.search(ctx, customer, &q, terms, st, &res)
	if err != nil {
		return res, err
	}
	docs, order := aggregate(hits, k)
	expOf := map[string]string{}
	for _, f := range feats {
		if f.origin != "" {
			expOf[f.Term[2:]] = f.origin
		}
	}
	for i, h := range order {
		if i == k {
			break
		}
		why, coverage := explain(h, uniq(terms), expOf, res.Feedback, len(q.Dense) > 0)
		if i == 0 {
			res.Coverage = coverage
		}
		res.Hits = append(res.Hits, QueryHit{Document: h.Point.Document, Chunk: h.Point.Chunk, Section: h.Point.Payload["section"],
			Snippet: snippet(h.Point.Text, 240), Score: round(float64(h.Score)), Why: why})
	}
	res.Documents = docs
	res.Gap = len(res.Hits) == 0 || res.Coverage < GapCoverage || len(res.Missing) > 0
	res.Graph, err = s.graphHits(ctx, customer, text)
	if err != nil {
		return res, err
	}
	res.TookMS = round(float64(time.Since(start).Microseconds()) / 1000)
	if !s.NoLog {
		if err := s.logQuery(ctx, customer, res, terms); err != nil {
			return res, err
		}
	}
	return res, nil
}

// learned returns the learning agent's expansions of the query's terms as
// extra features (each remembering the term it expands), their
// descriptions, and the learned per-term boosts.
func (s *Searcher) learned(ctx context.Context, customer string, terms []string) ([]qfeat, []string, map[string]float64, error) {
	var feats []qfeat
	var descs []string
	boosts := map[string]float64{}
	seen := map[string]bool{}
	for _, t := range terms {
		seen[t] = true
	}
	for _, t := range uniq(terms) {
		var exps []Expansion
		if _, err := getJSON(ctx, s.State, customer, bucketLearn, "exp:"+t, &exps); err != nil {
			return nil, nil, nil, err
		}
		for _, e := range exps {
			if seen[e.Term] {
				continue
			}
			seen[e.Term] = true
			feats = append(feats, qfeat{Feature: embed.Feature{Index: embed.TermIndex(e.Term), Weight: float32(e.Weight), Term: "w:" + e.Term}, origin: t})
			descs = append(descs, t+"→"+e.Term)
		}
		if b, err := s.State.Get(ctx, customer, bucketLearn, "boost:"+t); err == nil {
			if f, err := strconv.ParseFloat(string(b), 64); err == nil {
				boosts[t] = f
			}
		}
	}
	return feats, descs, boosts, nil
}

// weigh turns the features into the sparse query vector (IDF × weight ×
// learned boost, features of one index summed) and names the query's own
// terms the data does not contain.
func (s *Searcher) weigh(ctx context.Context, customer string, feats []qfeat, boosts map[string]float64, st corpusStats) (SparseVector, []string) {
	var idx []uint32
	var val []float32
	sort.Slice(feats, func(i, j int) bool { return feats[i].Index < feats[j].Index })
	missing := map[string]bool{}
	for _, f := range feats {
		b, _ := s.State.Get(ctx, customer, bucketDF, dfKey(f.Index))
		df := getUvarint(b)
		if df == 0 {
			if strings.HasPrefix(f.Term, "w:") && f.origin == "" {
				missing[f.Term[2:]] = true
			}
			continue
		}
		w := embed.IDF(df, st.Chunks) * float64(f.Weight)
		if strings.HasPrefix(f.Term, "w:") {
			if bo, ok := boosts[f.Term[2:]]; ok {
				w *= bo
			}
		}
		if n := len(idx); n > 0 && idx[n-1] == f.Index {
			val[n-1] += float32(w)
			continue
		}
		idx = append(idx, f.Index)
		val = append(val, float32(w))
	}
	var names []string
	for m := range missing {
		names = append(names, m)
	}
	sort.Strings(names)
	return SparseVector{Indices: idx, Values: val}, names
}

// search runs q and, with feedback on and a sparse-only query, searches
// again with the RM3-expanded vector (recorded in q and res.Feedback).
func (s *Searcher) search(ctx context.Context, customer string, q *SearchQuery, terms []string, st corpusStats, res *QueryResult) ([]Hit, error) {
	if len(q.Sparse.Indices) == 0 && len(q.Dense) == 0 {
		return nil, nil
	}
	hits, err := s.Vectors.Search(ctx, customer, *q)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if !s.Feedback || len(q.Dense) > 0 || len(hits) == 0 {
		return hits, nil
	}
	fq, fb := s.feedback(ctx, customer, q.Sparse, terms, hits, st)
	if len(fb) == 0 {
		return hits, nil
	}
	q.Sparse = fq
	hits, err = s.Vectors.Search(ctx, customer, *q)
	if err != nil {
		return nil, fmt.Errorf("search with feedback: %w", err)
	}
	res.Feedback = fb
	return hits, nil
}

// explain says why a hit matched (its query terms, learned expansions,
// feedback terms and how it was scored) and which share of the query's
// terms it covers, directly or through an expansion.
func explain(h Hit, terms []string, expOf map[string]string, feedback []string, fused bool) ([]string, float64) {
	ht := map[string]bool{}
	for _, t := range embed.Terms(h.Point.Payload["title"] + " " + h.Point.Payload["section"] + " " + h.Point.Text) {
		ht[t] = true
	}
	var matched, expanded, fbm []string
	covered := map[string]bool{}
	for _, t := range terms {
		if ht[t] {
			matched = append(matched, t)
			covered[t] = true
		}
	}
	for e, orig := range expOf {
		if ht[e] {
			expanded = append(expanded, orig+"→"+e)
			covered[orig] = true
		}
	}
	for _, t := range feedback {
		if ht[t] {
			fbm = append(fbm, t)
		}
	}
	sort.Strings(expanded)
	var why []string
	if len(matched) > 0 {
		why = append(why, "matched terms: "+strings.Join(matched, ", "))
	}
	if len(expanded) > 0 {
		why = append(why, "learned expansions: "+strings.Join(expanded, ", "))
	}
	if len(fbm) > 0 {
		why = append(why, "feedback terms (RM3): "+strings.Join(fbm, ", "))
	}
	if fused {
		why = append(why, "rank fused (RRF) from sparse BM25 and dense similarity")
	} else {
		why = append(why, fmt.Sprintf("BM25F score %.2f", h.Score))
	}
	var coverage float64
	if len(terms) > 0 {
		coverage = float64(len(covered)) / float64(len(terms))
	}
	return why, coverage
}

func round(f float64) float64 { return math.Round(f*1000) / 1000 }

func uniq(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func snippet(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndexByte(s[:n], ' ')
	if cut < n/2 {
		cut = n
	}
	return strings.ToValidUTF8(s[:cut], "") + " …"
}

// graphHits finds entities named in the query (word n-grams up to four
// words, by canonical key) and returns their neighbours.
func (s *Searcher) graphHits(ctx context.Context, customer, text string) ([]GraphHit, error) {
	words := strings.Fields(text)
	found, said := map[string]bool{}, map[string]bool{}
	var out []GraphHit
	for n := 4; n >= 1; n-- {
		for i := 0; i+n <= len(words); i++ {
			key := CanonicalKey(strings.Join(words[i:i+n], " "))
			if key == "" || found[key] || (n == 1 && len(key) < 4) {
				continue
			}
			var cands []Node
			if node, err := s.Graph.Node(ctx, customer, NodeRef{Label: LabelEntity, Key: key}); err == nil {
				cands = append(cands, node)
			} else if len(key) >= 4 {
				// "Acme" names "Acme Logistics": entities whose key
				// starts with the words.
				ns, err := s.Graph.Nodes(ctx, customer, LabelEntity, key+" ", 3)
				if err != nil {
					return nil, fmt.Errorf("entity lookup: %w", err)
				}
				for _, n := range ns {
					if strings.HasPrefix(n.Key, key+" ") {
						cands = append(cands, n)
					}
				}
			}
			for _, node := range cands {
				if found[node.Key] {
					continue
				}
				found[node.Key] = true
				found[key] = true
				hits, err := s.neighbourHits(ctx, customer, node)
				if err != nil {
					return nil, err
				}
				for _, h := range hits {
					// Two entities of the query that are linked see the
					// same edge from both ends: say it once.
					if !said[h.Why] {
						said[h.Why] = true
						out = append(out, h)
					}
				}
			}
		}
	}
	return out, nil
}

func (s *Searcher) neighbourHits(ctx context.Context, customer string, node Node) ([]GraphHit, error) {
	var out []GraphHit
	ref := node.Ref()
	key := node.Key
	nbs, err := s.Graph.Neighbours(ctx, customer, ref, NeighbourOptions{Depth: 1, Limit: 8})
	if err != nil {
		return nil, fmt.Errorf("neighbours of %q: %w", key, err)
	}
	name := node.Props["name"]
	if name == "" {
		name = key
	}
	for _, nb := range nbs {
		dir := "out"
		if nb.Via.To == ref {
			dir = "in"
		}
		disp := nb.Node.Props["name"]
		if nb.Node.Label == LabelChunk {
			disp = "chunk " + nb.Node.Props["document"] + " #" + nb.Node.Props["chunk"]
		}
		if disp == "" {
			disp = nb.Node.Key
		}
		why := fmt.Sprintf("%s %s %s (confidence %.2f", name, nb.Via.Type, disp, nb.Via.Confidence)
		if dir == "in" {
			why = fmt.Sprintf("%s %s %s (confidence %.2f", disp, nb.Via.Type, name, nb.Via.Confidence)
		}
		if nb.Via.Count > 0 {
			why += fmt.Sprintf(", %d observations", nb.Via.Count)
		}
		if p := nb.Via.Props["pattern"]; p != "" {
			why += ", pattern " + strconv.Quote(p)
		}
		why += ")"
		out = append(out, GraphHit{Entity: name, Relation: nb.Via.Type, Direction: dir, Node: disp, Label: nb.Node.Label,
			Document: nb.Node.Props["document"], Confidence: round(nb.Via.Confidence), Why: why})
	}
	return out, nil
}

func (s *Searcher) logQuery(ctx context.Context, customer string, res QueryResult, terms []string) error {
	e := QueryLogEntry{At: s.now(), Query: res.Query, Terms: uniq(terms), Missing: res.Missing, Coverage: res.Coverage, Gap: res.Gap}
	if len(res.Hits) > 0 {
		e.Best = res.Hits[0].Score
	}
	for i, h := range res.Hits {
		if i == 5 {
			break
		}
		e.TopDocs = append(e.TopDocs, h.Document)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	key := fmt.Sprintf("%020d-%s", e.At.UnixNano(), hex.EncodeToString(rnd[:]))
	return s.State.Update(ctx, customer, func(w StateWriter) error { return putJSON(w, bucketQueryLog, key, e) })
}

// QueryLog returns logged queries with keys > after, oldest first, and the
// last key read.
func QueryLog(ctx context.Context, st State, customer, after string, limit int) ([]QueryLogEntry, string, error) {
	var out []QueryLogEntry
	last := after
	err := st.Scan(ctx, customer, bucketQueryLog, after, func(k string, v []byte) (bool, error) {
		if k == after {
			return true, nil
		}
		if limit > 0 && len(out) >= limit {
			return false, nil
		}
		var e QueryLogEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return false, fmt.Errorf("decode query log: %w", err)
		}
		out = append(out, e)
		last = k
		return true, nil
	})
	return out, last, err
}

// aggregate ranks documents by their chunks' scores (best + DocSecond ·
// second + DocThird · third) and returns the k best documents and the
// chunk hits in document order (best chunk first within a document).
func aggregate(hits []Hit, k int) ([]DocumentHit, []Hit) {
	type agg struct {
		doc  string
		hits []Hit
		s    float64
	}
	by := map[string]*agg{}
	var all []*agg
	for _, h := range hits { // best first
		a := by[h.Point.Document]
		if a == nil {
			a = &agg{doc: h.Point.Document}
			by[h.Point.Document] = a
			all = append(all, a)
		}
		switch len(a.hits) {
		case 0:
			a.s += float64(h.Score)
		case 1:
			a.s += DocSecond * float64(h.Score)
		case 2:
			a.s += DocThird * float64(h.Score)
		}
		a.hits = append(a.hits, h)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].s != all[j].s {
			return all[i].s > all[j].s
		}
		return all[i].doc < all[j].doc
	})
	docs := []DocumentHit{}
	var order []Hit
	for i, a := range all {
		if i < k {
			d := DocumentHit{Document: a.doc, Title: a.hits[0].Point.Payload["title"], Score: round(a.s)}
			for _, h := range a.hits {
				d.Chunks = append(d.Chunks, h.Point.Chunk)
			}
			d.Why = []string{fmt.Sprintf("best chunk #%d scored %.2f; %d matching chunks", a.hits[0].Point.Chunk, a.hits[0].Score, len(a.hits))}
			docs = append(docs, d)
		}
		order = append(order, a.hits...)
	}
	return docs, order
}

// feedback builds the RM3 query from the first search's hits. It returns
// the new sparse query and the feedback terms (none: keep the query).
func (s *Searcher) feedback(ctx context.Context, customer string, q SparseVector, terms []string, hits []Hit, st corpusStats) (SparseVector, []string) {
	docs, order := aggregate(hits, FeedbackDocs)
	if len(docs) < 2 {
		return q, nil
	}
	best := map[string]Hit{}
	for _, h := range order {
		if _, ok := best[h.Point.Document]; !ok {
			best[h.Point.Document] = h
		}
	}
	var total float64
	for _, d := range docs {
		total += d.Score
	}
	if total <= 0 {
		return q, nil
	}
	inQuery := map[string]bool{}
	for _, t := range terms {
		inQuery[t] = true
	}
	rel := map[string]float64{}
	for _, d := range docs {
		h := best[d.Document]
		ts := embed.Terms(h.Point.Payload["section"] + "\n" + h.Point.Text)
		if len(ts) == 0 {
			continue
		}
		w := d.Score / total / float64(len(ts))
		for _, t := range ts {
			if !inQuery[t] && len(t) > 2 {
				rel[t] += w
			}
		}
	}
	type cand struct {
		t string
		p float64
	}
	cands := make([]cand, 0, len(rel))
	for t, p := range rel {
		cands = append(cands, cand{t, p})
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].p != cands[j].p {
			return cands[i].p > cands[j].p
		}
		return cands[i].t < cands[j].t
	})
	var picked []cand
	var mass float64
	for _, c := range cands {
		if len(picked) == FeedbackTerms || len(picked) > 0 && c.p < picked[0].p/20 {
			break
		}
		b, _ := s.State.Get(ctx, customer, bucketDF, dfKey(embed.TermIndex(c.t)))
		df := getUvarint(b)
		if df < 2 || df*2 > st.Chunks {
			continue
		}
		picked = append(picked, c)
		mass += c.p
	}
	if len(picked) == 0 || mass <= 0 {
		return q, nil
	}
	unit := len(uniq(terms))
	scale := (1 - FeedbackLambda) / FeedbackLambda * float64(unit)
	w := map[uint32]float32{}
	for i, x := range q.Indices {
		w[x] = q.Values[i]
	}
	out := make([]string, 0, len(picked))
	for _, c := range picked {
		x := embed.TermIndex(c.t)
		b, _ := s.State.Get(ctx, customer, bucketDF, dfKey(x))
		w[x] += float32(embed.IDF(getUvarint(b), st.Chunks) * scale * c.p / mass)
		out = append(out, c.t)
	}
	var nq SparseVector
	for x := range w {
		nq.Indices = append(nq.Indices, x)
	}
	slices.Sort(nq.Indices)
	for _, x := range nq.Indices {
		nq.Values = append(nq.Values, w[x])
	}
	return nq, out
}
