package qdrant

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/qdrant/qdrantsim"
	"github.com/agentvdc/agentvdc/agents/storetest"
	qc "github.com/qdrant/go-client/qdrant"
)

func qcCreateBare(name string) *qc.CreateCollection {
	return &qc.CreateCollection{CollectionName: name, SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{SparseVector: {}})}
}

// startSim serves a Qdrant simulator on 127.0.0.1 for the test's lifetime.
func startSim(tb testing.TB, apiKey string) (host string, port int) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	addr, stop, err := qdrantsim.Start(ctx, qdrantsim.Options{APIKey: apiKey})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	h, p, _ := net.SplitHostPort(addr)
	port, _ = strconv.Atoi(p)
	return h, port
}

func newStore(tb testing.TB, host string, port int, cfg Config) *Store {
	tb.Helper()
	cfg.Host, cfg.Port = host, port
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// TestConformance runs the shared vector store suite through the real
// go-client against the in-process Qdrant gRPC server.
func TestConformance(t *testing.T) {
	host, port := startSim(t, "conformance-key")
	var n atomic.Int64
	storetest.TestVectorStore(t, func(t *testing.T) agents.VectorStore {
		// Fresh and empty: a collection prefix no other store used.
		return newStore(t, host, port, Config{APIKey: "conformance-key", CollectionPrefix: fmt.Sprintf("t%d-", n.Add(1))})
	})
}

func TestCollectionNamesAndMetadata(t *testing.T) {
	host, port := startSim(t, "")
	s := newStore(t, host, port, Config{})
	ctx := ctxT(t)
	name, err := s.Collection("acme-corp")
	if err != nil || name != "vdc-chunks-acme-corp" {
		t.Fatalf("collection name %q, %v", name, err)
	}
	for _, bad := range []string{"", "A", "../x", "a b"} {
		if _, err := s.Collection(bad); !errors.Is(err, agents.ErrInvalidCustomer) {
			t.Errorf("Collection(%q) = %v", bad, err)
		}
	}
	if _, err := New(Config{Host: host, Port: port, CollectionPrefix: "Bad/Prefix"}); !errors.Is(err, agents.ErrInvalidArgument) {
		t.Fatalf("bad prefix accepted: %v", err)
	}
	cfg := agents.CollectionConfig{Embedder: "hash-bm25-v1", DenseDim: 8, Sparse: true}
	if _, err := s.EnsureCollection(ctx, "acme-corp", cfg); err != nil {
		t.Fatal(err)
	}
	info, err := s.client.GetCollectionInfo(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	md := info.GetConfig().GetMetadata()
	if md[metaEmbedder].GetStringValue() != "hash-bm25-v1" || md[metaDenseDim].GetIntegerValue() != 8 || !md[metaSparse].GetBoolValue() {
		t.Fatalf("metadata %v", md)
	}
	if info.GetPayloadSchema()[keyDocument] == nil {
		t.Fatal("no payload index on document")
	}
	// The same collection opened with the idf modifier is a different
	// config: it must be rebuilt.
	idf := newStore(t, host, port, Config{SparseIDF: true})
	ci, err := idf.EnsureCollection(ctx, "acme-corp", cfg)
	if err != nil || !ci.Reset {
		t.Fatalf("toggling idf: %+v, %v (want Reset)", ci, err)
	}
	// A collection without agentvdc metadata is refused, not dropped.
	if err := s.client.CreateCollection(ctx, qcCreateBare("vdc-chunks-foreign-co")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureCollection(ctx, "foreign-co", cfg); err == nil {
		t.Fatal("foreign collection taken over")
	}
	if ok, _ := s.client.CollectionExists(ctx, "vdc-chunks-foreign-co"); !ok {
		t.Fatal("foreign collection dropped")
	}
}

// TestSparseIDFRanking: with the idf modifier a rare term outweighs a
// common one that has the larger raw weight.
func TestSparseIDFRanking(t *testing.T) {
	host, port := startSim(t, "")
	ctx := ctxT(t)
	cfg := agents.CollectionConfig{Embedder: "e", Sparse: true}
	mk := func(doc string, sv agents.SparseVector) agents.Point {
		return agents.Point{ID: agents.PointID("acme-corp", doc, 0), Document: doc, Sparse: sv}
	}
	// term 1 is in every document, term 2 in one.
	pts := []agents.Point{
		mk("common.txt", agents.SparseVector{Indices: []uint32{1}, Values: []float32{2}}),
		mk("rare.txt", agents.SparseVector{Indices: []uint32{1, 2}, Values: []float32{0.1, 1}}),
		mk("x.txt", agents.SparseVector{Indices: []uint32{1}, Values: []float32{1}}),
		mk("y.txt", agents.SparseVector{Indices: []uint32{1}, Values: []float32{1}}),
	}
	q := agents.SearchQuery{Sparse: agents.SparseVector{Indices: []uint32{1, 2}, Values: []float32{1, 1}}, Limit: 1}
	for _, tc := range []struct {
		idf  bool
		want string
	}{{false, "common.txt"}, {true, "rare.txt"}} {
		s := newStore(t, host, port, Config{SparseIDF: tc.idf, CollectionPrefix: fmt.Sprintf("idf-%v-", tc.idf)})
		if _, err := s.EnsureCollection(ctx, "acme-corp", cfg); err != nil {
			t.Fatal(err)
		}
		if err := s.Upsert(ctx, "acme-corp", pts); err != nil {
			t.Fatal(err)
		}
		hits, err := s.Search(ctx, "acme-corp", q)
		if err != nil || len(hits) != 1 || hits[0].Point.Document != tc.want {
			t.Fatalf("idf=%v: hits %+v, %v, want %s", tc.idf, hits, err, tc.want)
		}
	}
}

func TestWrongAPIKeyIsNotLeaked(t *testing.T) {
	host, port := startSim(t, "right-key")
	s := newStore(t, host, port, Config{APIKey: "wrong-key-value"})
	_, err := s.EnsureCollection(ctxT(t), "acme-corp", agents.CollectionConfig{Embedder: "e", Sparse: true})
	if err == nil {
		t.Fatal("wrong key accepted")
	}
	if s := err.Error(); contains(s, "wrong-key-value") || contains(s, "right-key") {
		t.Fatalf("error leaks a key: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// BenchmarkSearch10k measures adapter query latency (client, gRPC,
// simulator) over 10,000 points with 384-d dense and ~40-term sparse
// vectors, and reports p50/p99.
func BenchmarkSearch10k(b *testing.B) {
	const n, dim, terms, vocab = 10000, 384, 40, 50000
	host, port := startSim(b, "")
	s := newStore(b, host, port, Config{})
	ctx := context.Background()
	const cust = "bench-co"
	if _, err := s.EnsureCollection(ctx, cust, agents.CollectionConfig{Embedder: "bench", DenseDim: dim, Sparse: true}); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sparse := func() agents.SparseVector {
		set := map[uint32]bool{}
		for len(set) < terms {
			set[uint32(rng.ExpFloat64()*vocab/8)%vocab] = true // skewed, like words
		}
		var sv agents.SparseVector
		for i := range set {
			sv.Indices = append(sv.Indices, i)
		}
		sort.Slice(sv.Indices, func(i, j int) bool { return sv.Indices[i] < sv.Indices[j] })
		for range sv.Indices {
			sv.Values = append(sv.Values, float32(rng.Float64()))
		}
		return sv
	}
	dense := func() []float32 {
		v := make([]float32, dim)
		var norm float64
		for i := range v {
			v[i] = float32(rng.NormFloat64())
			norm += float64(v[i] * v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(norm))
		}
		return v
	}
	batch := make([]agents.Point, 0, 500)
	for i := 0; i < n; i++ {
		doc := fmt.Sprintf("doc-%05d.txt", i/10)
		batch = append(batch, agents.Point{ID: agents.PointID(cust, doc, i%10), Document: doc, Chunk: i % 10, Text: "chunk text", Sparse: sparse(), Dense: dense()})
		if len(batch) == cap(batch) {
			if err := s.Upsert(ctx, cust, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for _, mode := range []string{"sparse", "dense", "hybrid"} {
		b.Run(mode, func(b *testing.B) {
			q := agents.SearchQuery{Limit: 10}
			if mode != "dense" {
				q.Sparse = sparse()
				q.Sparse.Indices, q.Sparse.Values = q.Sparse.Indices[:8], q.Sparse.Values[:8]
			}
			if mode != "sparse" {
				q.Dense = dense()
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				hits, err := s.Search(ctx, cust, q)
				lat = append(lat, time.Since(t0))
				if err != nil || len(hits) == 0 {
					b.Fatalf("search: %d hits, %v", len(hits), err)
				}
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
