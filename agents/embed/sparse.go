package embed

import (
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"unicode"
)

var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be been but by can could did do does for from had has have
		he her hers him his how i if in into is it its just me my no nor not of on or our ours she so such than that the
		their them then there these they this those to too us was we were what when where which while who whom why will
		with would you your yours about also any all am been being both each few more most other over own same some very
		s t don should now shall may might must do does did doing`) {
		m[w] = true
	}
	return m
}()

// Stem applies light English suffix stripping so that "invoices",
// "invoicing" and "invoiced" share a term. It is deliberately conservative.
func Stem(w string) string {
	if len(w) <= 3 {
		return w
	}
	switch {
	case strings.HasSuffix(w, "'s"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		w = w[:len(w)-1]
	}
	switch {
	case strings.HasSuffix(w, "ing") && len(w) > 5:
		w = w[:len(w)-3]
	case strings.HasSuffix(w, "ed") && len(w) > 4 && !strings.HasSuffix(w, "eed"):
		w = w[:len(w)-2]
	}
	if strings.HasSuffix(w, "e") && len(w) > 4 {
		w = w[:len(w)-1]
	}
	return w
}

// Tokens splits text into lower-cased words (letters and digits, inner
// '.', '-', '@' kept for codes, emails and amounts).
func Tokens(text string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, strings.Trim(b.String(), ".-@"))
			b.Reset()
		}
	}
	rs := []rune(text)
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case (r == '.' || r == '-' || r == '@') && b.Len() > 0 && i+1 < len(rs) && (unicode.IsLetter(rs[i+1]) || unicode.IsDigit(rs[i+1])):
			b.WriteRune(r)
		case r == '\'' && b.Len() > 0 && i+1 < len(rs) && rs[i+1] == 's':
			// possessive: drop it
		default:
			flush()
		}
	}
	flush()
	res := out[:0]
	for _, t := range out {
		if t != "" {
			res = append(res, t)
		}
	}
	return res
}

// Terms returns the normalised terms of text: tokens without stop words,
// stemmed. These are the unigram features.
func Terms(text string) []string {
	toks := Tokens(text)
	out := make([]string, 0, len(toks))
	for _, t := range toks {
		if stopwords[t] || len(t) > 64 {
			continue
		}
		out = append(out, Stem(t))
	}
	return out
}

// Feature kinds, used as hash prefixes.
const (
	prefixWord   = "w:"
	prefixBigram = "b:"
	prefixChar   = "c:"
)

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// TermIndex is the sparse index of the unigram term (already normalised
// by Terms).
func TermIndex(term string) uint32 { return hash(prefixWord + term) }

// Sparse is the hashed BM25 embedder.
type Sparse struct {
	// CharNGrams adds character 3-grams of every term (weight 0.3) for
	// typo tolerance.
	CharNGrams bool
	K1, B      float64 // BM25 parameters; zero means 1.2 and 0.75
}

// Name identifies the embedder and its settings; it is recorded with the
// collection so that a change triggers re-embedding. v2: documents are
// embedded from weighted fields (DocFields).
func (s Sparse) Name() string {
	if s.CharNGrams {
		return "hash-bm25f-c3-v2"
	}
	return "hash-bm25f-v2"
}

// Field is one weighted part of a document (BM25F): its term frequencies
// count Weight times before saturation.
type Field struct {
	Text   string
	Weight float64
}

// DocFields is Doc over several fields (BM25F with one shared length
// normalisation): tf(t) = Σ Weight_f · tf_f(t), then saturated with k1 and
// the length normalisation of the summed (unweighted) field lengths.
// Bigrams do not span fields.
func (s Sparse) DocFields(fields []Field, avgdl float64) ([]Feature, int) {
	f := map[string]float64{}
	n := 0
	for _, fl := range fields {
		if fl.Weight <= 0 || fl.Text == "" {
			continue
		}
		ff, fn := s.features(fl.Text)
		for t, tf := range ff {
			f[t] += tf * fl.Weight
		}
		n += fn
	}
	return s.saturate(f, n, avgdl), n
}

func (s Sparse) saturate(f map[string]float64, n int, avgdl float64) []Feature {
	k1, b := s.params()
	norm := 1.0
	if avgdl > 0 {
		norm = 1 - b + b*float64(n)/avgdl
	}
	out := make([]Feature, 0, len(f))
	for term, tf := range f {
		out = append(out, Feature{Index: hash(term), Weight: float32(tf * (k1 + 1) / (tf + k1*norm)), Term: term})
	}
	return merge(out)
}

// Feature is one weighted sparse dimension with the text it came from.
type Feature struct {
	Index  uint32
	Weight float32
	Term   string // "w:term", "b:term term" or "c:gra"
}

// features returns feature → (count, factor) for text.
func (s Sparse) features(text string) (map[string]float64, int) {
	terms := Terms(text)
	f := make(map[string]float64, 2*len(terms))
	for i, t := range terms {
		f[prefixWord+t]++
		if i > 0 {
			f[prefixBigram+terms[i-1]+" "+t] += 1
		}
		if s.CharNGrams && len(t) > 3 {
			p := "#" + t + "#"
			for j := 0; j+3 <= len(p); j++ {
				f[prefixChar+p[j:j+3]] += 0.3
			}
		}
	}
	return f, len(terms)
}

func (s Sparse) params() (k1, b float64) {
	k1, b = s.K1, s.B
	if k1 == 0 {
		k1 = 1.2
	}
	if b == 0 {
		b = 0.75
	}
	return k1, b
}

// Doc returns the document-side vector: BM25 saturated term frequencies
// given the average document length avgdl (in terms; <= 0 means no length
// normalisation). It also returns the document's length in terms.
func (s Sparse) Doc(text string, avgdl float64) ([]Feature, int) {
	f, n := s.features(text)
	return s.saturate(f, n, avgdl), n
}

// Query returns the query-side features with unit weights; the caller
// multiplies in IDF and learned boosts (QueryWeights does it).
func (s Sparse) Query(text string) []Feature {
	f, _ := s.features(text)
	out := make([]Feature, 0, len(f))
	for term, tf := range f {
		w := 1.0
		if strings.HasPrefix(term, prefixChar) {
			w = math.Min(tf, 1) * 0.3
		}
		out = append(out, Feature{Index: hash(term), Weight: float32(w), Term: term})
	}
	return merge(out)
}

// IDF is the BM25 inverse document frequency of a term that occurs in df of
// n documents (always > 0).
func IDF(df, n int) float64 {
	if n <= 0 {
		return 1
	}
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

// merge sorts features by index and sums colliding indices.
func merge(fs []Feature) []Feature {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Index < fs[j].Index })
	out := fs[:0]
	for _, f := range fs {
		if n := len(out); n > 0 && out[n-1].Index == f.Index {
			out[n-1].Weight += f.Weight
			continue
		}
		out = append(out, f)
	}
	return out
}

// Vector splits features into the index and value slices of a sparse
// vector (indices ascending).
func Vector(fs []Feature) ([]uint32, []float32) {
	idx := make([]uint32, len(fs))
	val := make([]float32, len(fs))
	for i, f := range fs {
		idx[i], val[i] = f.Index, f.Weight
	}
	return idx, val
}
