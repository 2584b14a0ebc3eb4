package embed_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/agents/embed"
)

func TestTerms(t *testing.T) {
	tests := []struct{ in, want string }{
		{"The invoices were invoiced", "invoic invoic"},
		{"Contact ada@example.com about v1.2-beta!", "contact ada@example.com v1.2-beta"},
		{"Acme's policies", "acme policy"},
		{"running shipping", "runn shipp"},
	}
	for _, tc := range tests {
		if got := strings.Join(embed.Terms(tc.in), " "); got != tc.want {
			t.Errorf("Terms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func dot(a, b []embed.Feature) float32 {
	m := map[uint32]float32{}
	for _, f := range a {
		m[f.Index] = f.Weight
	}
	var s float32
	for _, f := range b {
		s += m[f.Index] * f.Weight
	}
	return s
}

func TestSparseRanking(t *testing.T) {
	s := embed.Sparse{}
	d1, _ := s.Doc("the vacation policy grants thirty days of paid leave", 10)
	d2, _ := s.Doc("the expense policy covers travel and meals", 10)
	q := s.Query("paid leave policy")
	if !(dot(q, d1) > dot(q, d2)) {
		t.Fatalf("score(d1)=%v <= score(d2)=%v", dot(q, d1), dot(q, d2))
	}
	idx, val := embed.Vector(d1)
	for i := 1; i < len(idx); i++ {
		if idx[i] <= idx[i-1] {
			t.Fatal("indices not strictly ascending")
		}
	}
	if len(idx) != len(val) || len(idx) == 0 {
		t.Fatal("bad vector")
	}
	// char n-grams give typo tolerance
	c := embed.Sparse{CharNGrams: true}
	dc, _ := c.Doc("reimbursement of travel expenses", 5)
	if dot(c.Query("reimbursment"), dc) <= 0 {
		t.Fatal("char n-grams do not match a typo")
	}
	if dot(s.Query("reimbursment"), d2) != 0 {
		t.Fatal("word features matched a typo")
	}
	if embed.IDF(1, 100) <= embed.IDF(50, 100) {
		t.Fatal("IDF not decreasing in df")
	}
}

func TestClient(t *testing.T) {
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/embeddings" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		gotAuth = r.Header.Get("Authorization")
		var req struct {
			Model string   `json:"model"`
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "tiny" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": "bad model"}})
			return
		}
		type d struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		var out []d
		// reverse order to check index handling
		for i := len(req.Input) - 1; i >= 0; i-- {
			out = append(out, d{i, []float32{float32(len(req.Input[i])), 1, 0}})
		}
		json.NewEncoder(w).Encode(map[string]any{"data": out, "model": req.Model})
	}))
	defer srv.Close()
	c := &embed.Client{BaseURL: srv.URL, Model: "tiny", APIKey: "sk-test", Batch: 2}
	vecs, err := c.Embed(context.Background(), []string{"a", "bbb", "cc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 3 || vecs[0][0] != 1 || vecs[1][0] != 3 || vecs[2][0] != 2 {
		t.Fatalf("vecs = %v", vecs)
	}
	if gotAuth != "Bearer sk-test" {
		t.Fatalf("auth header %q", gotAuth)
	}
	bad := &embed.Client{BaseURL: srv.URL, Model: "other", APIKey: "sk-secret"}
	_, err = bad.Embed(context.Background(), []string{"x"})
	if err == nil || !strings.Contains(err.Error(), "bad model") || strings.Contains(err.Error(), "sk-secret") {
		t.Fatalf("error %v", err)
	}
}
