package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents"
)

// Customers used by the suites.
const (
	CustA = "acme-corp"
	CustB = "beta-labs"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ---------------------------------------------------------------------------
// Objects

// TestObjectStore runs the object store contract against stores made by
// newStore; each call must return a fresh, empty store.
func TestObjectStore(t *testing.T, newStore func(t *testing.T) agents.ObjectStore) {
	t.Run("PutGetStat", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		body := []byte("hello, dump folder")
		info, err := s.Put(ctx, CustA, "docs/a.txt", bytes.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		if info.Key != "docs/a.txt" || info.Size != int64(len(body)) || info.ETag == "" {
			t.Fatalf("Put info = %+v", info)
		}
		st, err := s.Stat(ctx, CustA, "docs/a.txt")
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if st.ETag != info.ETag || st.Size != info.Size || st.ModTime.IsZero() {
			t.Fatalf("Stat = %+v, Put = %+v", st, info)
		}
		if d := time.Since(st.ModTime); d > time.Hour || d < -time.Hour {
			t.Fatalf("ModTime %v is not close to now", st.ModTime)
		}
		rc, gi, err := s.Get(ctx, CustA, "docs/a.txt")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("Get body = %q, %v", got, err)
		}
		if gi.ETag != info.ETag || gi.Size != info.Size {
			t.Fatalf("Get info = %+v", gi)
		}
	})
	t.Run("UnknownSize", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		info, err := s.Put(ctx, CustA, "u.bin", strings.NewReader("12345"), -1)
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		if info.Size != 5 {
			t.Fatalf("Size = %d, want 5", info.Size)
		}
	})
	t.Run("OverwriteChangesETag", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		a, err := s.Put(ctx, CustA, "k", strings.NewReader("one"), 3)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Put(ctx, CustA, "k", strings.NewReader("two!"), 4)
		if err != nil {
			t.Fatal(err)
		}
		if a.ETag == b.ETag || b.Size != 4 {
			t.Fatalf("etag unchanged after overwrite: %+v %+v", a, b)
		}
		c, err := s.Put(ctx, CustA, "k2", strings.NewReader("two!"), 4)
		if err != nil {
			t.Fatal(err)
		}
		if c.ETag != b.ETag {
			t.Fatalf("same content, different etag: %q vs %q", c.ETag, b.ETag)
		}
		rc, _, err := s.Get(ctx, CustA, "k")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != "two!" {
			t.Fatalf("got %q after overwrite", got)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		if _, err := s.Stat(ctx, CustA, "missing"); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("Stat missing: %v, want ErrNotFound", err)
		}
		if _, _, err := s.Get(ctx, CustA, "missing"); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("Get missing: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, CustA, "missing"); err != nil {
			t.Fatalf("Delete missing: %v, want nil", err)
		}
		p, err := s.List(ctx, CustA, agents.ListOptions{})
		if err != nil || len(p.Objects) != 0 || p.Next != "" {
			t.Fatalf("List on empty customer = %+v, %v", p, err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		if _, err := s.Put(ctx, CustA, "d/x", strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, CustA, "d/x"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, CustA, "d/x"); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("Stat after delete: %v", err)
		}
		p, err := s.List(ctx, CustA, agents.ListOptions{})
		if err != nil || len(p.Objects) != 0 {
			t.Fatalf("List after delete = %+v, %v", p, err)
		}
	})
	t.Run("ListPaginationPrefixStartAfter", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		var want []string
		for i := 0; i < 23; i++ {
			k := fmt.Sprintf("in/%02d.txt", i)
			if i%5 == 0 {
				k = fmt.Sprintf("in/sub/%02d.md", i)
			}
			want = append(want, k)
			if _, err := s.Put(ctx, CustA, k, strings.NewReader(k), int64(len(k))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Put(ctx, CustA, "other/z", strings.NewReader("z"), 1); err != nil {
			t.Fatal(err)
		}
		sort.Strings(want)
		var got []string
		after := ""
		pages := 0
		for {
			p, err := s.List(ctx, CustA, agents.ListOptions{Prefix: "in/", StartAfter: after, Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(p.Objects) > 7 {
				t.Fatalf("page of %d > limit 7", len(p.Objects))
			}
			for _, o := range p.Objects {
				got = append(got, o.Key)
				if o.ETag == "" || o.Size != int64(len(o.Key)) || o.ModTime.IsZero() {
					t.Fatalf("listed info incomplete: %+v", o)
				}
			}
			if p.Next == "" {
				break
			}
			after = p.Next
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("listed\n%v\nwant\n%v", got, want)
		}
		p, err := s.List(ctx, CustA, agents.ListOptions{StartAfter: "in/15.txt"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Objects) == 0 || p.Objects[0].Key <= "in/15.txt" {
			t.Fatalf("StartAfter not honoured: %+v", p.Objects)
		}
		if last := p.Objects[len(p.Objects)-1].Key; last != "other/z" {
			t.Fatalf("last key %q, want other/z", last)
		}
	})
	t.Run("InvalidInput", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		for _, k := range []string{"", "../x", "a/../../b", "/abs", "a//b", "a/./b", "a\\b", "nul\x00", ".."} {
			if _, err := s.Put(ctx, CustA, k, strings.NewReader("x"), 1); !errors.Is(err, agents.ErrInvalidKey) {
				t.Errorf("Put key %q: %v, want ErrInvalidKey", k, err)
			}
			if _, err := s.Stat(ctx, CustA, k); !errors.Is(err, agents.ErrInvalidKey) {
				t.Errorf("Stat key %q: %v, want ErrInvalidKey", k, err)
			}
		}
		for _, c := range []string{"", "ab", "UPPER", "-lead", "trail-", "has_underscore", "a/b", "../etc", strings.Repeat("x", 33)} {
			if _, err := s.Put(ctx, c, "k", strings.NewReader("x"), 1); !errors.Is(err, agents.ErrInvalidCustomer) {
				t.Errorf("Put customer %q: %v, want ErrInvalidCustomer", c, err)
			}
			if _, err := s.List(ctx, c, agents.ListOptions{}); !errors.Is(err, agents.ErrInvalidCustomer) {
				t.Errorf("List customer %q: %v, want ErrInvalidCustomer", c, err)
			}
		}
	})
	t.Run("Isolation", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		if _, err := s.Put(ctx, CustA, "secret.txt", strings.NewReader("A's secret"), -1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, CustB, "shared-name.txt", strings.NewReader("B's data"), -1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, CustB, "secret.txt"); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("B can stat A's object: %v", err)
		}
		if _, _, err := s.Get(ctx, CustB, "secret.txt"); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("B can get A's object: %v", err)
		}
		p, err := s.List(ctx, CustB, agents.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Objects) != 1 || p.Objects[0].Key != "shared-name.txt" {
			t.Fatalf("B lists %+v", p.Objects)
		}
		if err := s.Delete(ctx, CustB, "secret.txt"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, CustA, "secret.txt"); err != nil {
			t.Fatalf("B's delete removed A's object: %v", err)
		}
		if _, err := s.Put(ctx, CustB, "secret.txt", strings.NewReader("B overwrites"), -1); err != nil {
			t.Fatal(err)
		}
		rc, _, err := s.Get(ctx, CustA, "secret.txt")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != "A's secret" {
			t.Fatalf("A's object changed by B: %q", got)
		}
	})
}

// ---------------------------------------------------------------------------
// Vectors

func sv(pairs ...float32) agents.SparseVector {
	var s agents.SparseVector
	for i := 0; i+1 < len(pairs); i += 2 {
		s.Indices = append(s.Indices, uint32(pairs[i]))
		s.Values = append(s.Values, pairs[i+1])
	}
	return s
}

func pt(customer, doc string, chunk int, text string, sparse agents.SparseVector, dense []float32, payload map[string]string) agents.Point {
	return agents.Point{ID: agents.PointID(customer, doc, chunk), Document: doc, Chunk: chunk, Text: text, Sparse: sparse, Dense: dense, Payload: payload}
}

func unit(v ...float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	n = math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

func hitDocs(h []agents.Hit) []string {
	out := make([]string, len(h))
	for i, x := range h {
		out[i] = fmt.Sprintf("%s#%d", x.Point.Document, x.Point.Chunk)
	}
	return out
}

// TestVectorStore runs the vector store contract against stores made by
// newStore; each call must return a fresh, empty store.
func TestVectorStore(t *testing.T, newStore func(t *testing.T) agents.VectorStore) {
	cfg := agents.CollectionConfig{Embedder: "test-v1", DenseDim: 4, Sparse: true}
	corpus := func(c string) []agents.Point {
		return []agents.Point{
			pt(c, "a.txt", 0, "alpha beta", sv(1, 1, 2, 1), unit(1, 0, 0, 0), map[string]string{"mime": "text/plain", "lang": "en"}),
			pt(c, "a.txt", 1, "beta gamma", sv(2, 1, 3, 1), unit(0.9, 0.1, 0, 0), map[string]string{"mime": "text/plain"}),
			pt(c, "b.md", 0, "gamma delta", sv(3, 2, 4, 1), unit(0, 1, 0, 0), map[string]string{"mime": "text/markdown"}),
			pt(c, "c.pdf", 0, "delta epsilon", sv(4, 1, 5, 3), unit(0, 0, 1, 0), map[string]string{"mime": "application/pdf"}),
			pt(c, "c.pdf", 1, "epsilon alpha", sv(1, 0.5, 5, 1), unit(0.2, 0, 0.9, 0), map[string]string{"mime": "application/pdf"}),
		}
	}
	setup := func(t *testing.T) (agents.VectorStore, context.Context) {
		s, ctx := newStore(t), ctxT(t)
		if _, err := s.EnsureCollection(ctx, CustA, cfg); err != nil {
			t.Fatalf("EnsureCollection: %v", err)
		}
		if err := s.Upsert(ctx, CustA, corpus(CustA)); err != nil {
			t.Fatalf("Upsert: %v", err)
		}
		return s, ctx
	}
	t.Run("EnsureCollection", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		if _, err := s.Config(ctx, CustA); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("Config before create: %v, want ErrNotFound", err)
		}
		info, err := s.EnsureCollection(ctx, CustA, cfg)
		if err != nil || !info.Created || info.Reset || info.Config != cfg {
			t.Fatalf("first Ensure = %+v, %v", info, err)
		}
		if got, err := s.Config(ctx, CustA); err != nil || got != cfg {
			t.Fatalf("Config = %+v, %v", got, err)
		}
		if err := s.Upsert(ctx, CustA, corpus(CustA)); err != nil {
			t.Fatal(err)
		}
		info, err = s.EnsureCollection(ctx, CustA, cfg)
		if err != nil || info.Created || info.Reset || info.Previous != cfg {
			t.Fatalf("same Ensure = %+v, %v", info, err)
		}
		if n, err := s.Count(ctx, CustA, agents.Filter{}); err != nil || n != 5 {
			t.Fatalf("Count after same Ensure = %d, %v, want 5", n, err)
		}
		cfg2 := agents.CollectionConfig{Embedder: "test-v2", DenseDim: 3, Sparse: true}
		info, err = s.EnsureCollection(ctx, CustA, cfg2)
		if err != nil || info.Created || !info.Reset || info.Previous != cfg || info.Config != cfg2 {
			t.Fatalf("changed Ensure = %+v, %v", info, err)
		}
		if n, err := s.Count(ctx, CustA, agents.Filter{}); err != nil || n != 0 {
			t.Fatalf("Count after reset = %d, %v, want 0", n, err)
		}
		if got, err := s.Config(ctx, CustA); err != nil || got != cfg2 {
			t.Fatalf("Config after reset = %+v, %v", got, err)
		}
	})
	t.Run("UpsertIdempotentCount", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.Upsert(ctx, CustA, corpus(CustA)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Count(ctx, CustA, agents.Filter{}); err != nil || n != 5 {
			t.Fatalf("Count = %d, %v, want 5", n, err)
		}
		n, err := s.Count(ctx, CustA, agents.Filter{Must: []agents.Match{{Key: "document", Value: "c.pdf"}}})
		if err != nil || n != 2 {
			t.Fatalf("Count document=c.pdf = %d, %v, want 2", n, err)
		}
		n, err = s.Count(ctx, CustA, agents.Filter{MustNot: []agents.Match{{Key: "mime", Value: "application/pdf"}}})
		if err != nil || n != 3 {
			t.Fatalf("Count mime!=pdf = %d, %v, want 3", n, err)
		}
		// replacing a point changes its text and payload
		p := pt(CustA, "a.txt", 0, "alpha replaced", sv(1, 1), unit(1, 0, 0, 0), map[string]string{"mime": "text/plain", "v": "2"})
		if err := s.Upsert(ctx, CustA, []agents.Point{p}); err != nil {
			t.Fatal(err)
		}
		pts, _, err := s.Scroll(ctx, CustA, agents.ScrollOptions{Filter: agents.Filter{Must: []agents.Match{{Key: "v", Value: "2"}}}})
		if err != nil || len(pts) != 1 || pts[0].Text != "alpha replaced" || pts[0].ID != p.ID || pts[0].Chunk != 0 || pts[0].Document != "a.txt" {
			t.Fatalf("Scroll v=2 = %+v, %v", pts, err)
		}
		if pts[0].Payload["lang"] != "" {
			t.Fatalf("upsert must replace the payload, old key survived: %+v", pts[0].Payload)
		}
	})
	t.Run("UpsertValidation", func(t *testing.T) {
		s, ctx := setup(t)
		bad := []agents.Point{
			{ID: "not-the-derived-id", Document: "x", Chunk: 0, Sparse: sv(1, 1), Dense: unit(1, 0, 0, 0)},
			pt(CustA, "x", 0, "wrong dim", sv(1, 1), []float32{1, 0}, nil),
			pt(CustA, "x", 0, "unsorted sparse", sv(5, 1, 2, 1), unit(1, 0, 0, 0), nil),
			pt(CustA, "x", 0, "no dense", sv(1, 1), nil, nil),
			pt(CustA, "", 0, "no document", sv(1, 1), unit(1, 0, 0, 0), nil),
		}
		for i, p := range bad {
			good := pt(CustA, "good", 0, "ok", sv(1, 1), unit(1, 0, 0, 0), nil)
			if err := s.Upsert(ctx, CustA, []agents.Point{good, p}); !errors.Is(err, agents.ErrInvalidArgument) {
				t.Errorf("bad point %d: %v, want ErrInvalidArgument", i, err)
			}
		}
		if n, _ := s.Count(ctx, CustA, agents.Filter{Must: []agents.Match{{Key: "document", Value: "good"}}}); n != 0 {
			t.Fatalf("a rejected batch wrote %d points", n)
		}
		if err := s.Upsert(ctx, CustB, corpus(CustB)); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("Upsert without collection: %v, want ErrNotFound", err)
		}
	})
	t.Run("ScrollPagination", func(t *testing.T) {
		s, ctx := setup(t)
		seen := map[string]bool{}
		var ids []string
		off := ""
		for i := 0; i < 10; i++ {
			pts, next, err := s.Scroll(ctx, CustA, agents.ScrollOptions{Offset: off, Limit: 2, WithVectors: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pts {
				if seen[p.ID] {
					t.Fatalf("Scroll returned %s twice", p.ID)
				}
				seen[p.ID] = true
				ids = append(ids, p.ID)
				if len(p.Dense) != 4 || len(p.Sparse.Indices) == 0 {
					t.Fatalf("WithVectors point lacks vectors: %+v", p)
				}
			}
			if next == "" {
				break
			}
			off = next
		}
		if len(seen) != 5 || !sort.StringsAreSorted(ids) {
			t.Fatalf("Scroll saw %d points (want 5) in order %v", len(seen), ids)
		}
		pts, _, err := s.Scroll(ctx, CustA, agents.ScrollOptions{})
		if err != nil || len(pts) != 5 {
			t.Fatalf("Scroll all = %d, %v", len(pts), err)
		}
		for _, p := range pts {
			if p.Dense != nil {
				t.Fatalf("vectors returned without WithVectors")
			}
		}
	})
	t.Run("SearchSparse", func(t *testing.T) {
		s, ctx := setup(t)
		// query term 5 (weight 1) and 4 (weight 1): c.pdf#0 = 1+3=4, c.pdf#1 = 1, b.md#0 = 1
		hits, err := s.Search(ctx, CustA, agents.SearchQuery{Sparse: sv(4, 1, 5, 1), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		got := hitDocs(hits)
		if len(got) != 3 || got[0] != "c.pdf#0" {
			t.Fatalf("sparse hits %v, want c.pdf#0 first of 3", got)
		}
		if math.Abs(float64(hits[0].Score)-4) > 1e-4 {
			t.Fatalf("sparse score %v, want dot product 4", hits[0].Score)
		}
		if hits[0].Point.Text != "delta epsilon" || hits[0].Point.Payload["mime"] != "application/pdf" {
			t.Fatalf("hit lacks text/payload: %+v", hits[0].Point)
		}
		// threshold
		hits, err = s.Search(ctx, CustA, agents.SearchQuery{Sparse: sv(4, 1, 5, 1), Limit: 10, ScoreThreshold: 2})
		if err != nil || len(hits) != 1 {
			t.Fatalf("threshold hits %v, %v", hitDocs(hits), err)
		}
		// limit
		hits, err = s.Search(ctx, CustA, agents.SearchQuery{Sparse: sv(1, 1, 2, 1, 3, 1, 4, 1, 5, 1), Limit: 2})
		if err != nil || len(hits) != 2 {
			t.Fatalf("limit hits %v, %v", hitDocs(hits), err)
		}
		if hits[0].Score < hits[1].Score {
			t.Fatalf("hits not sorted by score: %+v", hits)
		}
	})
	t.Run("SearchFilter", func(t *testing.T) {
		s, ctx := setup(t)
		hits, err := s.Search(ctx, CustA, agents.SearchQuery{Sparse: sv(1, 1, 2, 1, 3, 1, 4, 1, 5, 1), Limit: 10,
			Filter: agents.Filter{Must: []agents.Match{{Key: "mime", Value: "application/pdf"}}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.Point.Document != "c.pdf" {
				t.Fatalf("must filter leaked %s", h.Point.Document)
			}
		}
		if len(hits) != 2 {
			t.Fatalf("must filter hits %v", hitDocs(hits))
		}
		hits, err = s.Search(ctx, CustA, agents.SearchQuery{Sparse: sv(1, 1, 2, 1, 3, 1, 4, 1, 5, 1), Limit: 10,
			Filter: agents.Filter{MustNot: []agents.Match{{Key: "document", Value: "a.txt"}}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.Point.Document == "a.txt" {
				t.Fatalf("must_not filter leaked a.txt")
			}
		}
		if len(hits) != 3 {
			t.Fatalf("must_not hits %v", hitDocs(hits))
		}
	})
	t.Run("SearchDense", func(t *testing.T) {
		s, ctx := setup(t)
		hits, err := s.Search(ctx, CustA, agents.SearchQuery{Dense: unit(0, 0, 1, 0), Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		got := hitDocs(hits)
		if len(got) != 2 || got[0] != "c.pdf#0" || got[1] != "c.pdf#1" {
			t.Fatalf("dense hits %v", got)
		}
		if math.Abs(float64(hits[0].Score)-1) > 1e-3 {
			t.Fatalf("cosine of identical vectors = %v", hits[0].Score)
		}
		hits, err = s.Search(ctx, CustA, agents.SearchQuery{Dense: unit(0, 0, 1, 0), Limit: 10, ScoreThreshold: 0.5})
		if err != nil || len(hits) != 2 {
			t.Fatalf("dense threshold hits %v, %v", hitDocs(hits), err)
		}
		if _, err := s.Search(ctx, CustA, agents.SearchQuery{Dense: []float32{1}, Limit: 2}); !errors.Is(err, agents.ErrInvalidArgument) {
			t.Fatalf("wrong query dimension: %v, want ErrInvalidArgument", err)
		}
		if _, err := s.Search(ctx, CustA, agents.SearchQuery{Limit: 2}); !errors.Is(err, agents.ErrInvalidArgument) {
			t.Fatalf("empty query: %v, want ErrInvalidArgument", err)
		}
	})
	t.Run("SearchHybridRRF", func(t *testing.T) {
		s, ctx := setup(t)
		// sparse ranks: b.md#0 (term 3 w2), a.txt#1 (term 3 w1); dense ranks a.txt#1 high (0.9,0.1)
		q := agents.SearchQuery{Sparse: sv(3, 1), Dense: unit(1, 0.3, 0, 0), Limit: 3}
		hits, err := s.Search(ctx, CustA, q)
		if err != nil {
			t.Fatal(err)
		}
		got := hitDocs(hits)
		// a.txt#1 is 2nd in sparse and 1st or 2nd in dense: fused first.
		if len(got) != 3 || got[0] != "a.txt#1" {
			t.Fatalf("hybrid hits %v, want a.txt#1 first", got)
		}
		maxRRF := float32(2.0 / agents.RRFK)
		for _, h := range hits {
			if h.Score <= 0 || h.Score > maxRRF+1e-6 {
				t.Fatalf("hybrid score %v outside RRF range (0, %v]", h.Score, maxRRF)
			}
		}
		if !(hits[0].Score > hits[1].Score) {
			t.Fatalf("fused scores not descending: %+v", hits)
		}
	})
	t.Run("DeleteByDocument", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.DeleteByDocument(ctx, CustA, "c.pdf"); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Count(ctx, CustA, agents.Filter{}); n != 3 {
			t.Fatalf("Count after delete = %d, want 3", n)
		}
		hits, err := s.Search(ctx, CustA, agents.SearchQuery{Sparse: sv(5, 1), Limit: 10})
		if err != nil || len(hits) != 0 {
			t.Fatalf("deleted document still found: %v, %v", hitDocs(hits), err)
		}
		if err := s.DeleteByDocument(ctx, CustA, "never-existed"); err != nil {
			t.Fatalf("delete unknown document: %v", err)
		}
	})
	t.Run("Drop", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.Drop(ctx, CustA); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Config(ctx, CustA); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("Config after Drop: %v", err)
		}
		if n, err := s.Count(ctx, CustA, agents.Filter{}); err != nil || n != 0 {
			t.Fatalf("Count after Drop = %d, %v", n, err)
		}
		hits, err := s.Search(ctx, CustA, agents.SearchQuery{Sparse: sv(1, 1), Limit: 3})
		if err != nil || len(hits) != 0 {
			t.Fatalf("Search after Drop = %v, %v", hitDocs(hits), err)
		}
	})
	t.Run("InvalidCustomer", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		for _, c := range []string{"", "X", "../a", "a_b_c"} {
			if _, err := s.EnsureCollection(ctx, c, cfg); !errors.Is(err, agents.ErrInvalidCustomer) {
				t.Errorf("Ensure %q: %v", c, err)
			}
			if _, err := s.Search(ctx, c, agents.SearchQuery{Sparse: sv(1, 1), Limit: 1}); !errors.Is(err, agents.ErrInvalidCustomer) {
				t.Errorf("Search %q: %v", c, err)
			}
		}
	})
	t.Run("Isolation", func(t *testing.T) {
		s, ctx := setup(t)
		cfgB := agents.CollectionConfig{Embedder: "other", DenseDim: 0, Sparse: true}
		if _, err := s.EnsureCollection(ctx, CustB, cfgB); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Config(ctx, CustA); got != cfg {
			t.Fatalf("B's collection changed A's config: %+v", got)
		}
		if n, err := s.Count(ctx, CustB, agents.Filter{}); err != nil || n != 0 {
			t.Fatalf("B counts %d points (A's), %v", n, err)
		}
		hits, err := s.Search(ctx, CustB, agents.SearchQuery{Sparse: sv(1, 1, 2, 1, 3, 1, 4, 1, 5, 1), Limit: 10})
		if err != nil || len(hits) != 0 {
			t.Fatalf("B finds A's points: %v, %v", hitDocs(hits), err)
		}
		pts, _, err := s.Scroll(ctx, CustB, agents.ScrollOptions{})
		if err != nil || len(pts) != 0 {
			t.Fatalf("B scrolls A's points: %d, %v", len(pts), err)
		}
		// B writes the same document names; A's points stay.
		bp := pt(CustB, "a.txt", 0, "B's chunk", sv(1, 9), nil, nil)
		if err := s.Upsert(ctx, CustB, []agents.Point{bp}); err != nil {
			t.Fatal(err)
		}
		if bp.ID == agents.PointID(CustA, "a.txt", 0) {
			t.Fatal("point ids of different customers collide")
		}
		// A point carrying A's id is refused for B.
		steal := pt(CustA, "a.txt", 0, "steal", sv(1, 1), nil, nil)
		if err := s.Upsert(ctx, CustB, []agents.Point{steal}); !errors.Is(err, agents.ErrInvalidArgument) {
			t.Fatalf("B upserting A's point id: %v, want ErrInvalidArgument", err)
		}
		if err := s.DeleteByDocument(ctx, CustB, "a.txt"); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Count(ctx, CustA, agents.Filter{Must: []agents.Match{{Key: "document", Value: "a.txt"}}}); n != 2 {
			t.Fatalf("B's delete touched A: A has %d a.txt points, want 2", n)
		}
		if err := s.Drop(ctx, CustB); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Count(ctx, CustA, agents.Filter{}); n != 5 {
			t.Fatalf("B's drop touched A: %d points", n)
		}
		hits, err = s.Search(ctx, CustA, agents.SearchQuery{Sparse: sv(1, 9), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.Point.Text == "B's chunk" {
				t.Fatal("A finds B's point")
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Graph

func ent(key string) agents.NodeRef { return agents.NodeRef{Label: agents.LabelEntity, Key: key} }

// TestGraphStore runs the graph store contract against stores made by
// newStore; each call must return a fresh, empty store.
func TestGraphStore(t *testing.T, newStore func(t *testing.T) agents.GraphStore) {
	build := func(t *testing.T, s agents.GraphStore, ctx context.Context, c string) {
		t.Helper()
		nodes := []agents.Node{
			{Label: agents.LabelDocument, Key: "d1.txt", Props: map[string]string{"document": "d1.txt", "title": "D1"}},
			{Label: agents.LabelChunk, Key: "d1#0", Props: map[string]string{"document": "d1.txt"}},
			{Label: agents.LabelChunk, Key: "d1#1", Props: map[string]string{"document": "d1.txt"}},
			{Label: agents.LabelDocument, Key: "d2.txt", Props: map[string]string{"document": "d2.txt"}},
			{Label: agents.LabelChunk, Key: "d2#0", Props: map[string]string{"document": "d2.txt"}},
			{Label: agents.LabelEntity, Key: "alice smith", Props: map[string]string{"name": "Alice Smith", "kind": "person"}},
			{Label: agents.LabelEntity, Key: "acme corp", Props: map[string]string{"name": "Acme Corp", "kind": "org"}},
			{Label: agents.LabelEntity, Key: "berlin", Props: map[string]string{"name": "Berlin", "kind": "place"}},
			{Label: agents.LabelEntity, Key: "only in d2", Props: map[string]string{"name": "Only In D2"}},
		}
		if err := s.MergeNodes(ctx, c, nodes); err != nil {
			t.Fatalf("MergeNodes: %v", err)
		}
		ch := func(k string) agents.NodeRef { return agents.NodeRef{Label: agents.LabelChunk, Key: k} }
		doc := func(k string) agents.NodeRef { return agents.NodeRef{Label: agents.LabelDocument, Key: k} }
		edges := []agents.Edge{
			{Type: agents.RelPartOf, From: ch("d1#0"), To: doc("d1.txt"), Confidence: 1},
			{Type: agents.RelPartOf, From: ch("d1#1"), To: doc("d1.txt"), Confidence: 1},
			{Type: agents.RelNextChunk, From: ch("d1#0"), To: ch("d1#1"), Confidence: 1},
			{Type: agents.RelPartOf, From: ch("d2#0"), To: doc("d2.txt"), Confidence: 1},
			{Type: agents.RelHasEntity, From: ch("d1#0"), To: ent("alice smith"), Confidence: 0.9, Count: 1, Evidence: []string{"d1#0"}},
			{Type: agents.RelHasEntity, From: ch("d1#0"), To: ent("acme corp"), Confidence: 0.9, Count: 1, Evidence: []string{"d1#0"}},
			{Type: agents.RelHasEntity, From: ch("d2#0"), To: ent("only in d2"), Confidence: 0.9, Count: 1},
			{Type: agents.RelLeads, From: ent("alice smith"), To: ent("acme corp"), Confidence: 0.8, Count: 2, Evidence: []string{"d1#0", "d1#1"}, Props: map[string]string{"pattern": "X, CEO of Y"}},
			{Type: agents.RelRelatedTo, From: ent("acme corp"), To: ent("berlin"), Confidence: 0.4, Count: 3, Evidence: []string{"d1#1"}},
		}
		if err := s.MergeEdges(ctx, c, edges); err != nil {
			t.Fatalf("MergeEdges: %v", err)
		}
	}
	t.Run("MergeIsIdempotent", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		build(t, s, ctx, CustA)
		c1, err := s.Counts(ctx, CustA)
		if err != nil {
			t.Fatal(err)
		}
		build(t, s, ctx, CustA)
		c2, err := s.Counts(ctx, CustA)
		if err != nil {
			t.Fatal(err)
		}
		if c2.Nodes[agents.LabelEntity] != 4 || c2.Nodes[agents.LabelChunk] != 3 || c2.Nodes[agents.LabelDocument] != 2 {
			t.Fatalf("node counts %+v", c2.Nodes)
		}
		if c2.Edges[agents.RelPartOf] != 3 || c2.Edges[agents.RelHasEntity] != 3 || c2.Edges[agents.RelLeads] != 1 || c2.Edges[agents.RelNextChunk] != 1 || c2.Edges[agents.RelRelatedTo] != 1 {
			t.Fatalf("edge counts %+v", c2.Edges)
		}
		if fmt.Sprint(c1) != fmt.Sprint(c2) {
			t.Fatalf("rerun changed counts: %+v -> %+v", c1, c2)
		}
	})
	t.Run("MergeUpdatesProps", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		build(t, s, ctx, CustA)
		if err := s.MergeNodes(ctx, CustA, []agents.Node{{Label: agents.LabelEntity, Key: "alice smith", Props: map[string]string{"title": "CEO"}}}); err != nil {
			t.Fatal(err)
		}
		n, err := s.Node(ctx, CustA, ent("alice smith"))
		if err != nil {
			t.Fatal(err)
		}
		if n.Props["title"] != "CEO" || n.Props["name"] != "Alice Smith" || n.Props["kind"] != "person" {
			t.Fatalf("props after merge %+v (existing props must be kept)", n.Props)
		}
		e := agents.Edge{Type: agents.RelRelatedTo, From: ent("acme corp"), To: ent("berlin"), Confidence: 0.7, Count: 5, Evidence: []string{"x", "y"}}
		if err := s.MergeEdges(ctx, CustA, []agents.Edge{e}); err != nil {
			t.Fatal(err)
		}
		nb, err := s.Neighbours(ctx, CustA, ent("berlin"), agents.NeighbourOptions{Depth: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(nb) != 1 || nb[0].Node.Key != "acme corp" || nb[0].Via.Confidence != 0.7 || nb[0].Via.Count != 5 || strings.Join(nb[0].Via.Evidence, ",") != "x,y" {
			t.Fatalf("edge after re-merge: %+v", nb)
		}
		if nb[0].Via.From != ent("acme corp") || nb[0].Via.To != ent("berlin") || nb[0].Via.Type != agents.RelRelatedTo {
			t.Fatalf("edge direction/type lost: %+v", nb[0].Via)
		}
	})
	t.Run("Neighbours", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		build(t, s, ctx, CustA)
		nb, err := s.Neighbours(ctx, CustA, ent("alice smith"), agents.NeighbourOptions{Depth: 1})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range nb {
			got = append(got, fmt.Sprintf("%s:%s@%d", n.Node.Label, n.Node.Key, n.Depth))
		}
		// ordered by depth, then via confidence desc: chunk (0.9) before acme corp (0.8)
		if strings.Join(got, " ") != "Chunk:d1#0@1 Entity:acme corp@1" {
			t.Fatalf("depth-1 neighbours %v", got)
		}
		if nb[1].Via.Type != agents.RelLeads || nb[1].Via.Props["pattern"] != "X, CEO of Y" || len(nb[1].Via.Evidence) != 2 {
			t.Fatalf("via edge %+v", nb[1].Via)
		}
		if nb[1].Node.Props["name"] != "Acme Corp" {
			t.Fatalf("neighbour node props %+v", nb[1].Node.Props)
		}
		nb, err = s.Neighbours(ctx, CustA, ent("alice smith"), agents.NeighbourOptions{Depth: 2})
		if err != nil {
			t.Fatal(err)
		}
		depth := map[string]int{}
		for _, n := range nb {
			depth[n.Node.Key] = n.Depth
		}
		if depth["berlin"] != 2 || depth["d1.txt"] != 2 || depth["d1#1"] != 2 || depth["acme corp"] != 1 {
			t.Fatalf("depth-2 neighbours %v", depth)
		}
		if _, ok := depth["alice smith"]; ok {
			t.Fatal("start node returned as its own neighbour")
		}
		if _, ok := depth["only in d2"]; ok {
			t.Fatal("unconnected node returned")
		}
		for i := 1; i < len(nb); i++ {
			if nb[i].Depth < nb[i-1].Depth {
				t.Fatalf("not ordered by depth: %+v", nb)
			}
		}
		nb, err = s.Neighbours(ctx, CustA, ent("alice smith"), agents.NeighbourOptions{Depth: 2, Types: []string{agents.RelLeads, agents.RelRelatedTo}})
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, n := range nb {
			got = append(got, n.Node.Key)
		}
		if strings.Join(got, ",") != "acme corp,berlin" {
			t.Fatalf("type-filtered neighbours %v", got)
		}
		nb, err = s.Neighbours(ctx, CustA, ent("alice smith"), agents.NeighbourOptions{Depth: 2, Limit: 2})
		if err != nil || len(nb) != 2 {
			t.Fatalf("limit 2 gave %d, %v", len(nb), err)
		}
		if _, err := s.Neighbours(ctx, CustA, ent("nobody"), agents.NeighbourOptions{Depth: 1}); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("Neighbours of missing node: %v", err)
		}
	})
	t.Run("NodesAndNode", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		build(t, s, ctx, CustA)
		ns, err := s.Nodes(ctx, CustA, agents.LabelEntity, "", 2)
		if err != nil || len(ns) != 2 || ns[0].Key != "acme corp" || ns[1].Key != "alice smith" {
			t.Fatalf("Nodes page 1 = %+v, %v", ns, err)
		}
		ns, err = s.Nodes(ctx, CustA, agents.LabelEntity, "alice smith", 10)
		if err != nil || len(ns) != 2 || ns[0].Key != "berlin" || ns[1].Key != "only in d2" {
			t.Fatalf("Nodes page 2 = %+v, %v", ns, err)
		}
		if _, err := s.Node(ctx, CustA, ent("nobody")); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("Node missing: %v", err)
		}
	})
	t.Run("Validation", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		build(t, s, ctx, CustA)
		if err := s.MergeNodes(ctx, CustA, []agents.Node{{Label: agents.LabelEntity, Key: "fine"}, {Label: "Person`) DETACH DELETE n //", Key: "x"}}); !errors.Is(err, agents.ErrInvalidArgument) {
			t.Fatalf("bad label: %v", err)
		}
		if _, err := s.Node(ctx, CustA, ent("fine")); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("rejected batch wrote a node: %v", err)
		}
		if err := s.MergeNodes(ctx, CustA, []agents.Node{{Label: agents.LabelEntity, Key: ""}}); !errors.Is(err, agents.ErrInvalidArgument) {
			t.Fatalf("empty key: %v", err)
		}
		if err := s.MergeEdges(ctx, CustA, []agents.Edge{{Type: "KNOWS]->() DELETE r //", From: ent("berlin"), To: ent("acme corp")}}); !errors.Is(err, agents.ErrInvalidArgument) {
			t.Fatalf("bad type: %v", err)
		}
		if err := s.MergeEdges(ctx, CustA, []agents.Edge{{Type: agents.RelRelatedTo, From: ent("berlin"), To: ent("nobody"), Confidence: 0.5}}); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("edge to missing node: %v", err)
		}
	})
	t.Run("DeleteByDocument", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		build(t, s, ctx, CustA)
		if err := s.DeleteByDocument(ctx, CustA, "d2.txt"); err != nil {
			t.Fatal(err)
		}
		c, err := s.Counts(ctx, CustA)
		if err != nil {
			t.Fatal(err)
		}
		if c.Nodes[agents.LabelDocument] != 1 || c.Nodes[agents.LabelChunk] != 2 || c.Nodes[agents.LabelEntity] != 3 {
			t.Fatalf("nodes after delete %+v (orphan entity must go, others stay)", c.Nodes)
		}
		if c.Edges[agents.RelPartOf] != 2 || c.Edges[agents.RelHasEntity] != 2 {
			t.Fatalf("edges after delete %+v", c.Edges)
		}
		if _, err := s.Node(ctx, CustA, ent("only in d2")); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("orphan entity survived: %v", err)
		}
		if _, err := s.Node(ctx, CustA, ent("berlin")); err != nil {
			t.Fatalf("connected entity removed: %v", err)
		}
	})
	t.Run("Isolation", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		build(t, s, ctx, CustA)
		if _, err := s.Node(ctx, CustB, ent("alice smith")); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("B reads A's node: %v", err)
		}
		if _, err := s.Neighbours(ctx, CustB, ent("alice smith"), agents.NeighbourOptions{Depth: 2}); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("B traverses A's graph: %v", err)
		}
		if ns, err := s.Nodes(ctx, CustB, agents.LabelEntity, "", 100); err != nil || len(ns) != 0 {
			t.Fatalf("B lists A's nodes: %+v, %v", ns, err)
		}
		if c, err := s.Counts(ctx, CustB); err != nil || c.Nodes[agents.LabelEntity] != 0 || c.Edges[agents.RelLeads] != 0 {
			t.Fatalf("B counts A's graph: %+v, %v", c, err)
		}
		// B cannot attach an edge to A's nodes.
		if err := s.MergeNodes(ctx, CustB, []agents.Node{{Label: agents.LabelEntity, Key: "berlin", Props: map[string]string{"name": "B's Berlin"}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.MergeEdges(ctx, CustB, []agents.Edge{{Type: agents.RelRelatedTo, From: ent("berlin"), To: ent("alice smith"), Confidence: 1}}); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("B linked to A's node: %v", err)
		}
		if n, err := s.Node(ctx, CustA, ent("berlin")); err != nil || n.Props["name"] != "Berlin" {
			t.Fatalf("B's merge changed A's node: %+v, %v", n, err)
		}
		if err := s.DeleteByDocument(ctx, CustB, "d1.txt"); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.Counts(ctx, CustA); c.Nodes[agents.LabelChunk] != 3 {
			t.Fatalf("B's delete touched A: %+v", c.Nodes)
		}
	})
}
