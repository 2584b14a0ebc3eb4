package evaluate

import (
	"math"
	"sort"
	"strings"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/embed"
)

// BM25 is the baseline: plain BM25 over whole documents (every element's
// text concatenated, one field, no chunks, no feedback), with the same
// tokeniser, stop words and stemmer as the system and Anserini's default
// parameters k1 = 0.9, b = 0.4.
type BM25 struct {
	K1, B float64
	ids   []string
	tf    []map[string]int
	dl    []int
	df    map[string]int
	avgdl float64
}

// NewBM25 indexes docs.
func NewBM25(docs []agents.KeyedDocument) *BM25 {
	x := &BM25{K1: 0.9, B: 0.4, df: map[string]int{}}
	total := 0
	for _, d := range docs {
		var b strings.Builder
		b.WriteString(d.Doc.Title)
		for _, e := range d.Doc.Elements {
			b.WriteByte('\n')
			b.WriteString(e.Text)
		}
		terms := embed.Terms(b.String())
		tf := map[string]int{}
		for _, t := range terms {
			tf[t]++
		}
		for t := range tf {
			x.df[t]++
		}
		x.ids = append(x.ids, DocID(d.Key))
		x.tf = append(x.tf, tf)
		x.dl = append(x.dl, len(terms))
		total += len(terms)
	}
	if len(docs) > 0 {
		x.avgdl = float64(total) / float64(len(docs))
	}
	return x
}

// Rank returns the ids of the k best documents for q (ties by id).
func (x *BM25) Rank(q string, k int) []string {
	type sc struct {
		id string
		s  float64
	}
	var out []sc
	qt := map[string]bool{}
	for _, t := range embed.Terms(q) {
		qt[t] = true
	}
	n := len(x.ids)
	for i := range x.ids {
		s := 0.0
		for t := range qt {
			f := float64(x.tf[i][t])
			if f == 0 {
				continue
			}
			df := float64(x.df[t])
			idf := math.Log(1 + (float64(n)-df+0.5)/(df+0.5))
			s += idf * f * (x.K1 + 1) / (f + x.K1*(1-x.B+x.B*float64(x.dl[i])/x.avgdl))
		}
		if s > 0 {
			out = append(out, sc{x.ids[i], s})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].s != out[j].s {
			return out[i].s > out[j].s
		}
		return out[i].id < out[j].id
	})
	ids := make([]string, 0, k)
	for i := 0; i < len(out) && i < k; i++ {
		ids = append(ids, out[i].id)
	}
	return ids
}

// RankAll ranks every query.
func (x *BM25) RankAll(qs []Query, k int) [][]string {
	out := make([][]string, len(qs))
	for i, q := range qs {
		out[i] = x.Rank(q.Text, k)
	}
	return out
}
