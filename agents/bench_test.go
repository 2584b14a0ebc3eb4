package agents_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/extract"
)

func corpusBytes(b *testing.B) (int, int64) {
	ents, err := os.ReadDir(corpusDir)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, e := range ents {
		fi, _ := e.Info()
		total += fi.Size()
	}
	return len(ents), total
}

// BenchmarkIngestCorpus: one op = ingest the 62-document corpus from the
// dump folder into a fresh customer (extract, chunk, embed, upsert).
func BenchmarkIngestCorpus(b *testing.B) {
	n, size := corpusBytes(b)
	b.ReportAllocs()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		c := fmt.Sprintf("bench-%d", i)
		e.uploadCorpus(b, c)
		b.StartTimer()
		start := time.Now()
		e.ingestAll(b, c)
		elapsed += time.Since(start)
	}
	sec := elapsed.Seconds()
	b.ReportMetric(float64(n*b.N)/sec, "docs/s")
	b.ReportMetric(float64(size)*float64(b.N)/sec/1e6, "MB/s")
}

// BenchmarkDropToSearchable: one op = a file written into the dump folder
// of an indexed customer, one ingest run, and the query that finds it.
func BenchmarkDropToSearchable(b *testing.B) {
	e := newEnv(b)
	const c = "drop-co"
	e.uploadCorpus(b, c)
	e.ingestAll(b, c)
	dir, _ := e.stores.Objects.ObjectsPath(c)
	ing := &agents.Ingest{Deps: e.deps}
	s := &agents.Searcher{Deps: e.deps, NoLog: true}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		word := fmt.Sprintf("zqx%dmarker", i)
		body := fmt.Sprintf("Dropped note %d. The shipment code is %s and it left the Hamburg dock today.", i, word)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("drop-%06d.txt", i)), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
		if _, err := ing.Run(ctx(), c); err != nil {
			b.Fatal(err)
		}
		res, err := s.Query(ctx(), c, word, 1)
		if err != nil || len(res.Hits) == 0 || !strings.Contains(res.Hits[0].Snippet, word) {
			b.Fatalf("dropped file not searchable: %+v, %v", res.Hits, err)
		}
	}
}

// synthetic text: Zipf-distributed pseudo-words.
type synth struct {
	vocab []string
	zipf  *rand.Zipf
	r     *rand.Rand
}

func newSynth(seed uint64) *synth {
	r := rand.New(rand.NewPCG(seed, seed+1))
	syl := []string{"ka", "lo", "mi", "ter", "sun", "bra", "vel", "dor", "pi", "zan", "qu", "rex", "tol", "mar", "ne", "gro", "fi", "st", "ul", "wen"}
	vocab := make([]string, 20000)
	for i := range vocab {
		var sb strings.Builder
		for j := 0; j < 2+r.IntN(3); j++ {
			sb.WriteString(syl[r.IntN(len(syl))])
		}
		vocab[i] = fmt.Sprintf("%s%d", sb.String(), i%97)
	}
	return &synth{vocab: vocab, zipf: rand.NewZipf(r, 1.1, 2, uint64(len(vocab)-1)), r: r}
}

func (s *synth) text(words int) string {
	out := make([]string, words)
	for i := range out {
		out[i] = s.vocab[s.zipf.Uint64()]
	}
	return strings.Join(out, " ")
}

func buildIndex(b *testing.B, chunks int) (*env, []string) {
	b.Helper()
	e := newEnv(b)
	const c = "scale-co"
	sy := newSynth(42)
	ing := &agents.Ingest{Deps: e.deps}
	var queries []string
	start := time.Now()
	const batch = 5000
	for done := 0; done < chunks; done += batch {
		docs := make([]agents.KeyedDocument, 0, batch)
		for i := done; i < min(done+batch, chunks); i++ {
			t := sy.text(100)
			docs = append(docs, agents.KeyedDocument{Key: fmt.Sprintf("doc-%07d.txt", i), Doc: extract.Document{
				MIME: "text/plain", Elements: []extract.Element{{Kind: extract.KindParagraph, Text: t}}}})
			if i%(chunks/200) == 0 {
				w := strings.Fields(t)
				queries = append(queries, strings.Join(w[10:14], " "))
			}
		}
		if _, err := ing.IndexDocuments(ctx(), c, docs); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built %d chunks in %v", chunks, time.Since(start).Round(time.Millisecond))
	return e, queries
}

func benchQuery(b *testing.B, chunks int) {
	e, queries := buildIndex(b, chunks)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := &agents.Searcher{Deps: e.deps, NoLog: true}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := queries[i%len(queries)]
		t0 := time.Now()
		res, err := s.Query(ctx(), "scale-co", q, 10)
		lat = append(lat, time.Since(t0))
		if err != nil || len(res.Hits) == 0 {
			b.Fatalf("query %q: %v", q, err)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
}

func BenchmarkQuery10k(b *testing.B)  { benchQuery(b, 10_000) }
func BenchmarkQuery100k(b *testing.B) { benchQuery(b, 100_000) }

// BenchmarkQuery1M builds a 1,000,000-chunk index (minutes, several GB of
// transient allocation); it runs only when selected with -bench, like every
// benchmark, and is skipped with -short.
func BenchmarkQuery1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1M-chunk index: not with -short")
	}
	benchQuery(b, 1_000_000)
}

// BenchmarkIngestSmallDocs: one op = ingest 2,000 small text files (about
// 60 words each) from the dump folder into a fresh customer.
func BenchmarkIngestSmallDocs(b *testing.B) {
	sy := newSynth(11)
	files := make([][]byte, 2000)
	for i := range files {
		files[i] = []byte(sy.text(60) + ".\n")
	}
	b.ReportAllocs()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		c := fmt.Sprintf("small-%d", i)
		for j, f := range files {
			e.upload(b, c, fmt.Sprintf("note-%05d.txt", j), f)
		}
		b.StartTimer()
		start := time.Now()
		e.ingestAll(b, c)
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(len(files)*b.N)/elapsed.Seconds(), "docs/s")
}

// BenchmarkExtractPDF measures extraction of one corpus PDF.
func BenchmarkExtractPDF(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(corpusDir, "it-backup.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := extract.Extract(ctx(), "x.pdf", bytes.Clone(data), extract.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIngestLarge: one op = ingest 8 text files of 1 MB each.
func BenchmarkIngestLarge(b *testing.B) {
	sy := newSynth(7)
	files := make([][]byte, 8)
	var size int64
	for i := range files {
		var sb strings.Builder
		for sb.Len() < 1<<20 {
			sb.WriteString(sy.text(80))
			sb.WriteString(".\n\n")
		}
		files[i] = []byte(sb.String())
		size += int64(len(files[i]))
	}
	b.ReportAllocs()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		c := fmt.Sprintf("large-%d", i)
		for j, f := range files {
			e.upload(b, c, fmt.Sprintf("big-%d.txt", j), f)
		}
		b.StartTimer()
		start := time.Now()
		e.ingestAll(b, c)
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(len(files)*b.N)/elapsed.Seconds(), "docs/s")
	b.ReportMetric(float64(size)*float64(b.N)/elapsed.Seconds()/1e6, "MB/s")
}
