package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/agents/embed"
)

// Learning is the learning agent. One Run reads the query log from its
// cursor on and
//   - finds gaps: queries whose best hit covers less than GapCoverage of
//     the query terms (or that found nothing), with the terms the corpus
//     does not contain at all;
//   - learns expansions from reformulations: when a gap query is followed
//     within ReformulationWindow by a successful one, each missing term of
//     the first is expanded with the new terms of the second;
//   - learns expansions from pseudo-relevance feedback: for gap queries
//     asked at least twice, the highest-IDF terms of the top hits;
//   - re-weights what users ask about: terms asked often get a boost
//     (1 + 0.15·log2(count), at most 1.6) in the query path;
//   - writes the gap report (GapReportPath, Markdown) and keeps it in
//     state.
type Learning struct {
	*Deps
	GapReportPath       func(customer string) string // "" or nil: no file
	ReformulationWindow time.Duration                // default 5 minutes
	MaxEntries          int                          // log entries per run, default 50000
}

// Learning report counts.
const (
	CountQueries    = "queries_read"
	CountGaps       = "gaps"
	CountExpansions = "expansions"
	CountBoosts     = "boosts"
	CountLogPruned  = "query_log_pruned"
)

type queryStat struct {
	Query    string   `json:"query"`
	Count    int      `json:"count"`
	Gaps     int      `json:"gaps"`
	Coverage float64  `json:"coverage"`
	Missing  []string `json:"missing,omitempty"`
	Terms    []string `json:"terms"`
	LastGap  bool     `json:"last_gap"`
}

// GapReport is the learning agent's per-customer report.
type GapReport struct {
	Customer   string                 `json:"customer"`
	Generated  time.Time              `json:"generated"`
	Queries    int                    `json:"queries_total"`
	Gaps       []queryStat            `json:"gaps"`
	Expansions map[string][]Expansion `json:"expansions"`
	TopTerms   []string               `json:"top_terms"`
}

func normQuery(q string) string { return strings.Join(embed.Terms(q), " ") }

// Run implements one learning run: read the query log from the cursor,
// aggregate the new queries, persist term counts and boosts, learn
// expansions from reformulations and from feedback on repeated gaps, and
// write the gap report.
func (a *Learning) Run(ctx context.Context, customer string) (Report, error) {
	rep := newReport("learning", customer, a.now())
	defer func() { rep.Duration = time.Since(rep.Started) }()
	if err := ValidateCustomer(customer); err != nil {
		return rep, err
	}
	maxE := a.MaxEntries
	if maxE <= 0 {
		maxE = 50000
	}
	cursorB, _ := a.State.Get(ctx, customer, bucketLearn, "cursor")
	entries, last, err := QueryLog(ctx, a.State, customer, string(cursorB), maxE)
	if err != nil {
		return rep, err
	}
	rep.Counts[CountQueries] = len(entries)
	lb := &learnBatch{a: a, customer: customer, qstats: map[string]*queryStat{}, termCount: map[string]int{}, reform: map[string]map[string]int{}}
	var pe QueryLogEntry
	if ok, err := getJSON(ctx, a.State, customer, bucketLearn, "last", &pe); err != nil {
		return rep, err
	} else if ok {
		lb.prev = &pe
	}
	if err := lb.aggregate(ctx, entries); err != nil {
		return rep, err
	}
	boosts, err := lb.persistCounts(ctx)
	if err != nil {
		return rep, err
	}
	rep.Counts[CountBoosts] = boosts
	// Pseudo-relevance feedback for repeated gaps.
	feedback := map[string]map[string]int{}
	for _, s := range lb.qstats {
		if s.Gaps < 2 || len(s.Missing) == 0 {
			continue
		}
		if err := a.feedback(ctx, customer, s, feedback); err != nil {
			return rep, err
		}
	}
	n, err := a.storeExpansions(ctx, customer, lb.reform, feedback)
	if err != nil {
		return rep, err
	}
	rep.Counts[CountExpansions] = n
	// The report covers every query seen so far.
	gr, err := a.report(ctx, customer)
	if err != nil {
		return rep, err
	}
	rep.Counts[CountGaps] = len(gr.Gaps)
	err = a.State.Update(ctx, customer, func(w StateWriter) error {
		if err := w.Put(bucketLearn, "cursor", []byte(last)); err != nil {
			return err
		}
		if lb.prev != nil {
			if err := putJSON(w, bucketLearn, "last", lb.prev); err != nil {
				return err
			}
		}
		return putJSON(w, bucketLearn, "gapreport", gr)
	})
	if err != nil {
		return rep, err
	}
	if n, err := a.pruneQueryLog(ctx, customer, last); err != nil {
		return rep, err
	} else if n > 0 {
		rep.Counts[CountLogPruned] = n
	}
	if p, err := a.writeGapReport(customer, gr); err != nil {
		return rep, err
	} else if p != "" {
		rep.Notes = append(rep.Notes, "gap report: "+p)
	}
	return rep, nil
}

// learnBatch aggregates one run's new query-log entries.
type learnBatch struct {
	a         *Learning
	customer  string
	qstats    map[string]*queryStat     // normalised query → its statistics
	termCount map[string]int            // term → new occurrences
	reform    map[string]map[string]int // missing term → new term → count
	prev      *QueryLogEntry            // the entry before the next one
}

func (lb *learnBatch) stat(ctx context.Context, nq string) (*queryStat, error) {
	if s := lb.qstats[nq]; s != nil {
		return s, nil
	}
	s := &queryStat{}
	if _, err := getJSON(ctx, lb.a.State, lb.customer, bucketLearn, "q:"+nq, s); err != nil {
		return nil, err
	}
	lb.qstats[nq] = s
	return s, nil
}

// aggregate counts each entry into its query's statistics and the term
// counts, and learns a reformulation when a gap is followed, within the
// window, by a query that succeeds.
func (lb *learnBatch) aggregate(ctx context.Context, entries []QueryLogEntry) error {
	window := lb.a.ReformulationWindow
	if window <= 0 {
		window = 5 * time.Minute
	}
	for i := range entries {
		e := entries[i]
		nq := normQuery(e.Query)
		if nq == "" {
			continue
		}
		s, err := lb.stat(ctx, nq)
		if err != nil {
			return err
		}
		s.Query, s.Terms = e.Query, e.Terms
		s.Count++
		s.Coverage, s.Missing = e.Coverage, e.Missing
		s.LastGap = e.Gap
		if e.Gap {
			s.Gaps++
		}
		for _, t := range e.Terms {
			lb.termCount[t]++
		}
		if p := lb.prev; p != nil && p.Gap && !e.Gap && e.At.Sub(p.At) <= window && e.At.After(p.At) {
			learnReformulation(lb.reform, *p, e)
		}
		lb.prev = &entries[i]
	}
	return nil
}

// persistCounts adds the new term counts to the stored ones, stores a
// boost for every term asked at least twice and the query statistics; it
// returns how many boosts it stored.
func (lb *learnBatch) persistCounts(ctx context.Context) (int, error) {
	boosts := 0
	err := lb.a.State.Update(ctx, lb.customer, func(w StateWriter) error {
		for t, n := range lb.termCount {
			c := atoiDefault(string(w.Get(bucketLearn, "t:"+t)), 0) + n
			if err := w.Put(bucketLearn, "t:"+t, []byte(strconv.Itoa(c))); err != nil {
				return err
			}
			if c >= 2 {
				b := math.Min(1.6, 1+0.15*math.Log2(float64(c)))
				boosts++
				if err := w.Put(bucketLearn, "boost:"+t, []byte(strconv.FormatFloat(b, 'f', 3, 64))); err != nil {
					return err
				}
			}
		}
		for nq, s := range lb.qstats {
			if err := putJSON(w, bucketLearn, "q:"+nq, s); err != nil {
				return err
			}
		}
		return nil
	})
	return boosts, err
}

// writeGapReport writes the report as Markdown where GapReportPath says,
// and returns that path ("" when there is none).
func (a *Learning) writeGapReport(customer string, gr GapReport) (string, error) {
	if a.GapReportPath == nil {
		return "", nil
	}
	p := a.GapReportPath(customer)
	if p == "" {
		return "", nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("gap report dir: %w", err)
	}
	if err := os.WriteFile(p, []byte(gr.Markdown()), 0o600); err != nil {
		return "", fmt.Errorf("write gap report: %w", err)
	}
	return p, nil
}

// learnReformulation: the missing (or uncovered) terms of gap query g are
// expanded with the terms the successful follow-up s added.
func learnReformulation(reform map[string]map[string]int, g, s QueryLogEntry) {
	in := map[string]bool{}
	for _, t := range g.Terms {
		in[t] = true
	}
	kept := map[string]bool{}
	for _, t := range s.Terms {
		kept[t] = true
	}
	// The problem terms: those the corpus lacks and those the user
	// dropped when reformulating.
	src := append([]string{}, g.Missing...)
	for _, t := range g.Terms {
		if !kept[t] && !slices.Contains(src, t) {
			src = append(src, t)
		}
	}
	for _, m := range src {
		for _, t := range s.Terms {
			if in[t] {
				continue
			}
			if reform[m] == nil {
				reform[m] = map[string]int{}
			}
			reform[m][t]++
		}
	}
}

// feedback runs the gap query without learning and takes the top hits'
// most distinctive terms as expansions of its missing terms.
func (a *Learning) feedback(ctx context.Context, customer string, s *queryStat, out map[string]map[string]int) error {
	srch := &Searcher{Deps: a.Deps, NoLearning: true, NoLog: true}
	res, err := srch.Query(ctx, customer, s.Query, 3)
	if err != nil || len(res.Hits) == 0 {
		return nil //nolint:nilerr // no index or no hits: nothing to learn
	}
	st := a.stats(ctx, customer)
	tf := map[string]int{}
	for _, h := range res.Hits {
		for _, t := range embed.Terms(h.Snippet) {
			tf[t]++
		}
	}
	in := map[string]bool{}
	for _, t := range s.Terms {
		in[t] = true
	}
	type cand struct {
		t string
		w float64
	}
	var cs []cand
	for t, n := range tf {
		if in[t] || len(t) < 3 {
			continue
		}
		b, _ := a.State.Get(ctx, customer, bucketDF, dfKey(embed.TermIndex(t)))
		df := getUvarint(b)
		if df == 0 {
			continue
		}
		cs = append(cs, cand{t, float64(n) * embed.IDF(df, st.Chunks)})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].w > cs[j].w || cs[i].w == cs[j].w && cs[i].t < cs[j].t })
	for _, m := range s.Missing {
		for i := 0; i < len(cs) && i < 3; i++ {
			if out[m] == nil {
				out[m] = map[string]int{}
			}
			out[m][cs[i].t]++
		}
	}
	return nil
}

func (a *Learning) storeExpansions(ctx context.Context, customer string, reform, feedback map[string]map[string]int) (int, error) {
	total := 0
	err := a.State.Update(ctx, customer, func(w StateWriter) error {
		terms := map[string]bool{}
		for t := range reform {
			terms[t] = true
		}
		for t := range feedback {
			terms[t] = true
		}
		for t := range terms {
			var exps []Expansion
			if b := w.Get(bucketLearn, "exp:"+t); b != nil {
				if err := json.Unmarshal(b, &exps); err != nil {
					return fmt.Errorf("decode expansions: %w", err)
				}
			}
			byTerm := map[string]*Expansion{}
			for i := range exps {
				byTerm[exps[i].Term] = &exps[i]
			}
			merge := func(src map[string]int, source string) {
				for u, c := range src {
					e := byTerm[u]
					if e == nil {
						exps = append(exps, Expansion{Term: u, Source: source})
						e = &exps[len(exps)-1]
						for i := range exps {
							byTerm[exps[i].Term] = &exps[i]
						}
					}
					e.Count += c
					if source == "reformulation" {
						e.Source = source
					}
				}
			}
			merge(feedback[t], "feedback")
			merge(reform[t], "reformulation")
			for i := range exps {
				base := 0.3
				if exps[i].Source == "reformulation" {
					base = 0.6
				}
				exps[i].Weight = round(math.Min(1, base+0.1*float64(exps[i].Count-1)))
			}
			sort.Slice(exps, func(i, j int) bool {
				if exps[i].Weight != exps[j].Weight {
					return exps[i].Weight > exps[j].Weight
				}
				return exps[i].Term < exps[j].Term
			})
			if len(exps) > 5 {
				exps = exps[:5]
			}
			total += len(exps)
			if err := putJSON(w, bucketLearn, "exp:"+t, exps); err != nil {
				return err
			}
		}
		return nil
	})
	return total, err
}

func (a *Learning) report(ctx context.Context, customer string) (GapReport, error) {
	gr := GapReport{Customer: customer, Generated: a.now(), Expansions: map[string][]Expansion{}, Gaps: []queryStat{}}
	type tc struct {
		t string
		n int
	}
	var terms []tc
	err := a.State.Scan(ctx, customer, bucketLearn, "", func(k string, v []byte) (bool, error) {
		switch {
		case strings.HasPrefix(k, "q:"):
			var s queryStat
			if err := json.Unmarshal(v, &s); err != nil {
				return false, fmt.Errorf("decode query stat: %w", err)
			}
			gr.Queries += s.Count
			if s.Gaps > 0 && s.LastGap {
				gr.Gaps = append(gr.Gaps, s)
			}
		case strings.HasPrefix(k, "exp:"):
			var e []Expansion
			if err := json.Unmarshal(v, &e); err != nil {
				return false, fmt.Errorf("decode expansions: %w", err)
			}
			gr.Expansions[strings.TrimPrefix(k, "exp:")] = e
		case strings.HasPrefix(k, "t:"):
			terms = append(terms, tc{strings.TrimPrefix(k, "t:"), atoiDefault(string(v), 0)})
		}
		return true, nil
	})
	sort.Slice(gr.Gaps, func(i, j int) bool {
		if gr.Gaps[i].Gaps != gr.Gaps[j].Gaps {
			return gr.Gaps[i].Gaps > gr.Gaps[j].Gaps
		}
		return gr.Gaps[i].Query < gr.Gaps[j].Query
	})
	sort.Slice(terms, func(i, j int) bool {
		return terms[i].n > terms[j].n || terms[i].n == terms[j].n && terms[i].t < terms[j].t
	})
	for i := 0; i < len(terms) && i < 20; i++ {
		gr.TopTerms = append(gr.TopTerms, fmt.Sprintf("%s (%d)", terms[i].t, terms[i].n))
	}
	return gr, err
}

// Markdown renders the gap report.
func (g GapReport) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Knowledge gaps: %s\n\nGenerated %s from %d queries.\n\n", g.Customer, g.Generated.Format(time.RFC3339), g.Queries)
	b.WriteString("## Queries the data does not answer well\n\n")
	if len(g.Gaps) == 0 {
		b.WriteString("None.\n")
	} else {
		b.WriteString("| query | asked | gaps | coverage | terms not in the data |\n|---|---|---|---|---|\n")
		for _, s := range g.Gaps {
			fmt.Fprintf(&b, "| %s | %d | %d | %.2f | %s |\n", strings.ReplaceAll(s.Query, "|", "/"), s.Count, s.Gaps, s.Coverage, strings.Join(s.Missing, ", "))
		}
	}
	b.WriteString("\n## Learned expansions\n\n")
	keys := make([]string, 0, len(g.Expansions))
	for k := range g.Expansions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		b.WriteString("None.\n")
	}
	for _, k := range keys {
		var parts []string
		for _, e := range g.Expansions[k] {
			parts = append(parts, fmt.Sprintf("%s (%.2f, %s)", e.Term, e.Weight, e.Source))
		}
		fmt.Fprintf(&b, "- %s → %s\n", k, strings.Join(parts, ", "))
	}
	b.WriteString("\n## Most asked-about terms\n\n")
	for _, t := range g.TopTerms {
		fmt.Fprintf(&b, "- %s\n", t)
	}
	return b.String()
}

// LoadGapReport returns the last gap report, ErrNotFound if none.
func LoadGapReport(ctx context.Context, s State, customer string) (GapReport, error) {
	var gr GapReport
	ok, err := getJSON(ctx, s, customer, bucketLearn, "gapreport", &gr)
	if err == nil && !ok {
		err = fmt.Errorf("gap report of %s: %w", customer, ErrNotFound)
	}
	return gr, err
}

// QueryLogRetention is how long a logged query is kept once the learning
// agent has read it: what it learned lives on in the per-query statistics
// and expansions, and the log stays bounded.
const QueryLogRetention = 7 * 24 * time.Hour

// pruneQueryLog deletes the entries up to the cursor (read by this or an
// earlier run) that are older than QueryLogRetention, and returns how
// many it deleted.
func (a *Learning) pruneQueryLog(ctx context.Context, customer, cursor string) (int, error) {
	if cursor == "" {
		return 0, nil
	}
	// Keys start with the zero-padded UnixNano of the query's time.
	cutoff := fmt.Sprintf("%020d", a.now().Add(-QueryLogRetention).UnixNano())
	var old []string
	err := a.State.Scan(ctx, customer, bucketQueryLog, "", func(k string, _ []byte) (bool, error) {
		if k > cursor || k >= cutoff {
			return false, nil
		}
		old = append(old, k)
		return true, nil
	})
	if err != nil || len(old) == 0 {
		return 0, err
	}
	for i := 0; i < len(old); i += 1000 {
		batch := old[i:min(i+1000, len(old))]
		if err := a.State.Update(ctx, customer, func(w StateWriter) error {
			for _, k := range batch {
				if err := w.Delete(bucketQueryLog, k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return i, err
		}
	}
	return len(old), nil
}
