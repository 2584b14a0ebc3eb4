package qdrantsim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// client starts a simulator and returns a real go-client connected to it.
func client(t testing.TB, opts Options) *qdrant.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	addr, stop, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	// The test binary carries no module version, so the client's version
	// check cannot work here; TestHealthCheck covers the reply instead.
	c, err := qdrant.NewClient(&qdrant.Config{Host: host, Port: p, APIKey: opts.APIKey, SkipCompatibilityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func code(err error) codes.Code { return status.Code(err) }

func hybridCollection(t testing.TB, c *qdrant.Client, name string, modifier qdrant.Modifier) {
	t.Helper()
	err := c.CreateCollection(ctxT(t), &qdrant.CreateCollection{
		CollectionName: name,
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			"dense": {Size: 3, Distance: qdrant.Distance_Cosine},
		}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			"sparse": {Modifier: modifier.Enum()},
		}),
		Metadata: qdrant.NewValueMap(map[string]any{"embedder": "hash-v1", "dim": 3}),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func uid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func upsert(t testing.TB, c *qdrant.Client, coll string, n int, dense []float32, idx []uint32, val []float32, payload map[string]any) {
	t.Helper()
	vecs := map[string]*qdrant.Vector{"sparse": qdrant.NewVectorSparse(idx, val)}
	if dense != nil {
		vecs["dense"] = qdrant.NewVectorDense(dense)
	}
	_, err := c.Upsert(ctxT(t), &qdrant.UpsertPoints{CollectionName: coll, Wait: qdrant.PtrOf(true), Points: []*qdrant.PointStruct{{
		Id: qdrant.NewIDUUID(uid(n)), Vectors: qdrant.NewVectorsMap(vecs), Payload: qdrant.NewValueMap(payload),
	}}})
	if err != nil {
		t.Fatal(err)
	}
}

func ids(pts []*qdrant.ScoredPoint) []string {
	out := make([]string, len(pts))
	for i, p := range pts {
		out[i] = p.GetId().GetUuid()
	}
	return out
}

func TestCollectionLifecycle(t *testing.T) {
	c := client(t, Options{})
	ctx := ctxT(t)
	if ok, err := c.CollectionExists(ctx, "c1"); err != nil || ok {
		t.Fatalf("exists before create = %v, %v", ok, err)
	}
	if _, err := c.GetCollectionInfo(ctx, "c1"); code(err) != codes.NotFound {
		t.Fatalf("get missing: %v (code %v), want NotFound", err, code(err))
	}
	hybridCollection(t, c, "c1", qdrant.Modifier_Idf)
	if ok, err := c.CollectionExists(ctx, "c1"); err != nil || !ok {
		t.Fatalf("exists after create = %v, %v", ok, err)
	}
	info, err := c.GetCollectionInfo(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.GetConfig().GetMetadata()["embedder"].GetStringValue(); got != "hash-v1" {
		t.Fatalf("metadata embedder = %q", got)
	}
	if got := info.GetConfig().GetParams().GetVectorsConfig().GetParamsMap().GetMap()["dense"].GetSize(); got != 3 {
		t.Fatalf("dense size = %d", got)
	}
	if got := info.GetConfig().GetParams().GetSparseVectorsConfig().GetMap()["sparse"].GetModifier(); got != qdrant.Modifier_Idf {
		t.Fatalf("sparse modifier = %v", got)
	}
	if err := c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "c1"}); code(err) != codes.AlreadyExists {
		t.Fatalf("second create: %v", err)
	}
	if err := c.UpdateCollection(ctx, &qdrant.UpdateCollection{CollectionName: "c1", Metadata: qdrant.NewValueMap(map[string]any{"embedder": "hash-v2", "dim": nil})}); err != nil {
		t.Fatal(err)
	}
	info, _ = c.GetCollectionInfo(ctx, "c1")
	if md := info.GetConfig().GetMetadata(); md["embedder"].GetStringValue() != "hash-v2" || md["dim"] != nil {
		t.Fatalf("metadata after update = %v", md)
	}
	if _, err := c.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{CollectionName: "c1", FieldName: "document", FieldType: qdrant.FieldType_FieldTypeKeyword.Enum()}); err != nil {
		t.Fatal(err)
	}
	info, _ = c.GetCollectionInfo(ctx, "c1")
	if info.GetPayloadSchema()["document"].GetDataType() != qdrant.PayloadSchemaType_Keyword {
		t.Fatalf("payload schema = %v", info.GetPayloadSchema())
	}
	names, err := c.ListCollections(ctx)
	if err != nil || len(names) != 1 || names[0] != "c1" {
		t.Fatalf("list = %v, %v", names, err)
	}
	if err := c.DeleteCollection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteCollection(ctx, "c1"); err == nil {
		t.Fatal("deleting a missing collection must report failure (result false)")
	}
}

func TestValidationErrors(t *testing.T) {
	c := client(t, Options{})
	ctx := ctxT(t)
	hybridCollection(t, c, "v", qdrant.Modifier_None)
	cases := []struct {
		name string
		pt   *qdrant.PointStruct
	}{
		{"bad uuid", &qdrant.PointStruct{Id: qdrant.NewIDUUID("not-a-uuid"), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"dense": qdrant.NewVectorDense([]float32{1, 0, 0})})}},
		{"wrong dim", &qdrant.PointStruct{Id: qdrant.NewIDUUID(uid(1)), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"dense": qdrant.NewVectorDense([]float32{1, 0})})}},
		{"unknown vector", &qdrant.PointStruct{Id: qdrant.NewIDUUID(uid(1)), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"other": qdrant.NewVectorDense([]float32{1, 0, 0})})}},
		{"sparse length", &qdrant.PointStruct{Id: qdrant.NewIDUUID(uid(1)), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"sparse": qdrant.NewVectorSparse([]uint32{1, 2}, []float32{1})})}},
		{"sparse duplicate", &qdrant.PointStruct{Id: qdrant.NewIDUUID(uid(1)), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"sparse": qdrant.NewVectorSparse([]uint32{2, 2}, []float32{1, 1})})}},
		{"sparse into dense", &qdrant.PointStruct{Id: qdrant.NewIDUUID(uid(1)), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"dense": qdrant.NewVectorSparse([]uint32{2}, []float32{1})})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "v", Points: []*qdrant.PointStruct{tc.pt}})
			if code(err) != codes.InvalidArgument {
				t.Fatalf("err = %v, want InvalidArgument", err)
			}
		})
	}
	if n, _ := c.Count(ctx, &qdrant.CountPoints{CollectionName: "v"}); n != 0 {
		t.Fatalf("rejected upserts stored %d points", n)
	}
	if _, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "missing"}); code(err) != codes.NotFound {
		t.Fatalf("upsert into missing collection: %v", err)
	}
	if err := c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "bad/name"}); code(err) != codes.InvalidArgument {
		t.Fatalf("bad name: %v", err)
	}
}

func TestHealthCheck(t *testing.T) {
	c := client(t, Options{})
	r, err := c.HealthCheck(ctxT(t))
	if err != nil || r.GetVersion() != Version || !qdrant.IsCompatible("1.17.1", r.GetVersion()) {
		t.Fatalf("health = %v, %v", r, err)
	}
}

func TestAPIKey(t *testing.T) {
	c := client(t, Options{APIKey: "s3cret"})
	if _, err := c.ListCollections(ctxT(t)); err != nil {
		t.Fatalf("right key: %v", err)
	}
	addr, stop, err := Start(ctxT(t), Options{APIKey: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	bad, err := qdrant.NewClient(&qdrant.Config{Host: host, Port: p, APIKey: "wrong", SkipCompatibilityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.ListCollections(ctxT(t))
	if code(err) != codes.Unauthenticated {
		t.Fatalf("wrong key: %v", err)
	}
	if err != nil && contains(err.Error(), "wrong") {
		t.Fatalf("error echoes the key: %v", err)
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

func TestScrollCountDeleteFilters(t *testing.T) {
	c := client(t, Options{})
	ctx := ctxT(t)
	hybridCollection(t, c, "s", qdrant.Modifier_None)
	for i := 0; i < 25; i++ {
		upsert(t, c, "s", i, []float32{1, float32(i), 0}, []uint32{uint32(i)}, []float32{1}, map[string]any{
			"document": fmt.Sprintf("doc%d", i%5), "n": i, "tags": []any{"t" + strconv.Itoa(i%3), "all"},
			"meta": map[string]any{"lang": map[bool]string{true: "en", false: "de"}[i%2 == 0]},
		})
	}
	// pagination visits every point once, in id order
	var seen []string
	var off *qdrant.PointId
	for {
		pts, next, err := c.ScrollAndOffset(ctx, &qdrant.ScrollPoints{CollectionName: "s", Limit: qdrant.PtrOf(uint32(7)), Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pts {
			seen = append(seen, p.GetId().GetUuid())
			if p.GetPayload()["document"] == nil {
				t.Fatal("scroll returns payload by default")
			}
		}
		if next == nil {
			break
		}
		off = next
	}
	if len(seen) != 25 || seen[0] != uid(0) || seen[24] != uid(24) {
		t.Fatalf("scrolled %d: %v", len(seen), seen)
	}
	f := func(conds ...*qdrant.Condition) *qdrant.Filter { return &qdrant.Filter{Must: conds} }
	gte, lt := 10.0, 20.0
	table := []struct {
		name   string
		filter *qdrant.Filter
		want   uint64
	}{
		{"none", nil, 25},
		{"keyword", f(qdrant.NewMatch("document", "doc1")), 5},
		{"keywords any", f(qdrant.NewMatchKeywords("document", "doc1", "doc2")), 10},
		{"array value", f(qdrant.NewMatch("tags", "t0")), 9},
		{"nested path", f(qdrant.NewMatch("meta.lang", "en")), 13},
		{"integer", f(qdrant.NewMatchInt("n", 7)), 1},
		{"range", f(qdrant.NewRange("n", &qdrant.Range{Gte: &gte, Lt: &lt})), 10},
		{"must_not", &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatch("document", "doc1")}}, 20},
		{"should", &qdrant.Filter{Should: []*qdrant.Condition{qdrant.NewMatch("document", "doc1"), qdrant.NewMatchInt("n", 0)}}, 6},
		{"has_id", f(qdrant.NewHasID(qdrant.NewIDUUID(uid(3)), qdrant.NewIDUUID(uid(4)))), 2},
		{"is_empty", f(qdrant.NewIsEmpty("missing")), 25},
		{"not is_empty", &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewIsEmpty("tags")}}, 25},
		{"except", f(qdrant.NewMatchExcept("document", "doc1", "doc2", "doc3", "doc4")), 5},
		// doc0 = {0,5,10,15,20}, t0 = {0,3,...,24}, en = even: two of three hold for {0,6,10,12,15,18,20,24}
		{"min_should", &qdrant.Filter{MinShould: &qdrant.MinShould{MinCount: 2, Conditions: []*qdrant.Condition{qdrant.NewMatch("document", "doc0"), qdrant.NewMatch("tags", "t0"), qdrant.NewMatch("meta.lang", "en")}}}, 8},
	}
	for _, tc := range table {
		t.Run(tc.name, func(t *testing.T) {
			n, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: "s", Filter: tc.filter, Exact: qdrant.PtrOf(true)})
			if err != nil || n != tc.want {
				t.Fatalf("count = %d, %v, want %d", n, err, tc.want)
			}
		})
	}
	if _, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: "s", Filter: f(qdrant.NewGeoRadius("loc", 0, 0, 1))}); code(err) != codes.InvalidArgument {
		t.Fatalf("geo filter must be refused, not ignored: %v", err)
	}
	if _, err := c.Delete(ctx, &qdrant.DeletePoints{CollectionName: "s", Points: qdrant.NewPointsSelectorFilter(f(qdrant.NewMatch("document", "doc1")))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, &qdrant.DeletePoints{CollectionName: "s", Points: qdrant.NewPointsSelector(qdrant.NewIDUUID(uid(0)))}); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Count(ctx, &qdrant.CountPoints{CollectionName: "s"}); n != 19 {
		t.Fatalf("after deletes count = %d, want 19", n)
	}
	got, err := c.Get(ctx, &qdrant.GetPoints{CollectionName: "s", Ids: []*qdrant.PointId{qdrant.NewIDUUID(uid(2)), qdrant.NewIDUUID(uid(1))}, WithVectors: qdrant.NewWithVectors(true)})
	if err != nil || len(got) != 1 || got[0].GetVectors().GetVectors().GetVectors()["sparse"].GetSparse().GetIndices()[0] != 2 {
		t.Fatalf("get = %v, %v", got, err)
	}
}

// TestSparseIDF checks the idf modifier against hand-computed values.
// Four points: A{1:1}, B{1:1,2:1}, C{1:1,3:2}, D{9:1}. N=4, df(1)=3, df(2)=1.
// idf(1) = ln((4-3+.5)/(3+.5)+1) = ln(10/7) = 0.356675
// idf(2) = ln((4-1+.5)/(1+.5)+1) = ln(10/3) = 1.203973
// Query {1:1, 2:1}: B = 0.356675+1.203973 = 1.560648, A = C = 0.356675, D no hit.
func TestSparseIDF(t *testing.T) {
	for _, tc := range []struct {
		modifier qdrant.Modifier
		want     map[string]float64
	}{
		{qdrant.Modifier_Idf, map[string]float64{uid(1): 0.356675, uid(2): 1.560648, uid(3): 0.356675}},
		{qdrant.Modifier_None, map[string]float64{uid(1): 1, uid(2): 2, uid(3): 1}},
	} {
		t.Run(tc.modifier.String(), func(t *testing.T) {
			c := client(t, Options{})
			hybridCollection(t, c, "idf", tc.modifier)
			upsert(t, c, "idf", 1, nil, []uint32{1}, []float32{1}, nil)
			upsert(t, c, "idf", 2, nil, []uint32{1, 2}, []float32{1, 1}, nil)
			upsert(t, c, "idf", 3, nil, []uint32{3, 1}, []float32{2, 1}, nil) // unsorted on purpose
			upsert(t, c, "idf", 4, nil, []uint32{9}, []float32{1}, nil)       // no overlap: not a hit
			res, err := c.Query(ctxT(t), &qdrant.QueryPoints{CollectionName: "idf", Query: qdrant.NewQuerySparse([]uint32{1, 2}, []float32{1, 1}), Using: qdrant.PtrOf("sparse")})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 3 || res[0].GetId().GetUuid() != uid(2) {
				t.Fatalf("hits %v", ids(res))
			}
			for _, p := range res {
				if w := tc.want[p.GetId().GetUuid()]; math.Abs(float64(p.GetScore())-w) > 1e-5 {
					t.Errorf("%s score %v, want %v", p.GetId().GetUuid(), p.GetScore(), w)
				}
			}
		})
	}
}

func TestDenseSearchThresholdAndDistances(t *testing.T) {
	c := client(t, Options{})
	ctx := ctxT(t)
	hybridCollection(t, c, "d", qdrant.Modifier_None)
	upsert(t, c, "d", 1, []float32{1, 0, 0}, []uint32{1}, []float32{1}, map[string]any{"k": "a"})
	upsert(t, c, "d", 2, []float32{3, 4, 0}, []uint32{1}, []float32{1}, map[string]any{"k": "b"}) // not normalised: stored normalised
	upsert(t, c, "d", 3, []float32{0, 0, 5}, []uint32{1}, []float32{1}, map[string]any{"k": "a"})
	res, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "d", Query: qdrant.NewQueryDense([]float32{2, 0, 0}), Using: qdrant.PtrOf("dense"), WithPayload: qdrant.NewWithPayload(true)})
	if err != nil {
		t.Fatal(err)
	}
	// cosine: 1, 0.6, 0
	want := []float32{1, 0.6, 0}
	if len(res) != 3 {
		t.Fatalf("hits %v", ids(res))
	}
	for i, p := range res {
		if math.Abs(float64(p.GetScore()-want[i])) > 1e-6 || p.GetId().GetUuid() != uid(i+1) {
			t.Fatalf("hit %d = %s %v, want %s %v", i, p.GetId().GetUuid(), p.GetScore(), uid(i+1), want[i])
		}
	}
	if res[1].GetPayload()["k"].GetStringValue() != "b" {
		t.Fatalf("payload not returned: %v", res[1].GetPayload())
	}
	res, _ = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "d", Query: qdrant.NewQueryDense([]float32{2, 0, 0}), Using: qdrant.PtrOf("dense"), ScoreThreshold: qdrant.PtrOf(float32(0.5))})
	if len(res) != 2 || res[0].GetPayload() != nil {
		t.Fatalf("threshold 0.5 hits %v (payload must be off by default)", ids(res))
	}
	res, _ = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "d", Query: qdrant.NewQueryDense([]float32{2, 0, 0}), Using: qdrant.PtrOf("dense"),
		Filter: &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatch("k", "b")}}, Limit: qdrant.PtrOf(uint64(1))})
	if len(res) != 1 || res[0].GetId().GetUuid() != uid(1) {
		t.Fatalf("filtered limit 1 hits %v", ids(res))
	}
	if _, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "d", Query: qdrant.NewQueryDense([]float32{1, 0}), Using: qdrant.PtrOf("dense")}); code(err) != codes.InvalidArgument {
		t.Fatalf("wrong query dim: %v", err)
	}

	// Euclid: the score is a distance, smaller first, threshold is an upper bound.
	if err := c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "e", VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Euclid})}); err != nil {
		t.Fatal(err)
	}
	for i, v := range [][]float32{{0, 0}, {3, 4}, {1, 0}} {
		if _, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "e", Points: []*qdrant.PointStruct{{Id: qdrant.NewIDNum(uint64(i)), Vectors: qdrant.NewVectors(v...)}}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "e", Query: qdrant.NewQuery(0, 0), ScoreThreshold: qdrant.PtrOf(float32(2))})
	if err != nil || len(res) != 2 || res[0].GetId().GetNum() != 0 || res[1].GetId().GetNum() != 2 || res[1].GetScore() != 1 {
		t.Fatalf("euclid hits %v, %v", res, err)
	}
}

// TestRRF checks fusion against Qdrant's formula 1/((pos+1)/w + k - 1).
func TestRRF(t *testing.T) {
	c := client(t, Options{})
	ctx := ctxT(t)
	hybridCollection(t, c, "h", qdrant.Modifier_None)
	// sparse ranking for query {1:1}: p1 (3) > p2 (2) > p3 (1)
	// dense ranking for (0,0,1):      p3 (1) > p2 (0.6) > p1 (0)
	upsert(t, c, "h", 1, []float32{1, 0, 0}, []uint32{1}, []float32{3}, map[string]any{"document": "x"})
	upsert(t, c, "h", 2, []float32{0, 0.8, 0.6}, []uint32{1}, []float32{2}, map[string]any{"document": "y"})
	upsert(t, c, "h", 3, []float32{0, 0, 1}, []uint32{1}, []float32{1}, map[string]any{"document": "x"})
	prefetch := []*qdrant.PrefetchQuery{
		{Query: qdrant.NewQuerySparse([]uint32{1}, []float32{1}), Using: qdrant.PtrOf("sparse"), Limit: qdrant.PtrOf(uint64(3))},
		{Query: qdrant.NewQueryDense([]float32{0, 0, 1}), Using: qdrant.PtrOf("dense"), Limit: qdrant.PtrOf(uint64(2))},
	}
	cases := []struct {
		name  string
		query *qdrant.Query
		want  map[string]float32
		order []string
	}{
		// k=2: p1 = 1/2; p2 = 1/3 + 1/3; p3 = 1/4 + 1/2 (dense list holds p3, p2 only)
		{"fusion default k", qdrant.NewQueryFusion(qdrant.Fusion_RRF), map[string]float32{uid(1): 0.5, uid(2): 2.0 / 3, uid(3): 0.75}, []string{uid(3), uid(2), uid(1)}},
		// k=60: p1 = 1/60; p2 = 2/61; p3 = 1/62 + 1/60
		{"rrf k60", qdrant.NewQueryRRF(&qdrant.Rrf{K: qdrant.PtrOf(uint32(60))}), map[string]float32{uid(1): 1.0 / 60, uid(2): 2.0 / 61, uid(3): 1.0/62 + 1.0/60}, []string{uid(3), uid(2), uid(1)}},
		// weights 3:1, k=2: p1 = 1/(1/3+1) ; p2 = 1/(2/3+1) + 1/(2+1) ; p3 = 1/(3/3+1) + 1/(1+1)
		{"rrf weighted", qdrant.NewQueryRRF(&qdrant.Rrf{Weights: []float32{3, 1}}), map[string]float32{uid(1): 0.75, uid(2): 0.6 + 1.0/3, uid(3): 1}, []string{uid(3), uid(2), uid(1)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "h", Prefetch: prefetch, Query: tc.query})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ids(res)) != fmt.Sprint(tc.order) {
				t.Fatalf("order %v, want %v", ids(res), tc.order)
			}
			for _, p := range res {
				if w := tc.want[p.GetId().GetUuid()]; math.Abs(float64(p.GetScore()-w)) > 1e-6 {
					t.Errorf("%s = %v, want %v", p.GetId().GetUuid(), p.GetScore(), w)
				}
			}
		})
	}
	// The request filter reaches the prefetches (document=x leaves p1 and p3:
	// sparse p1, p3; dense p3, p1 → both 1/2 + 1/3, tie broken by id), and
	// the threshold applies to fused scores (document=y leaves p2 alone: 1/2 + 1/2).
	fx := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("document", "x")}}
	fy := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("document", "y")}}
	for _, tc := range []struct {
		name      string
		filter    *qdrant.Filter
		threshold *float32
		want      []string
		score     float32
	}{
		{"filter x", fx, nil, []string{uid(1), uid(3)}, 5.0 / 6},
		{"filter y", fy, qdrant.PtrOf(float32(0.99)), []string{uid(2)}, 1},
		{"filter y above", fy, qdrant.PtrOf(float32(1.01)), []string{}, 0},
	} {
		res, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "h", Prefetch: prefetch, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF), Filter: tc.filter, ScoreThreshold: tc.threshold})
		if err != nil || fmt.Sprint(ids(res)) != fmt.Sprint(tc.want) {
			t.Fatalf("%s: hits %v, %v, want %v", tc.name, ids(res), err, tc.want)
		}
		for _, p := range res {
			if math.Abs(float64(p.GetScore()-tc.score)) > 1e-6 {
				t.Fatalf("%s: score %v, want %v", tc.name, p.GetScore(), tc.score)
			}
		}
	}
	if _, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "h", Prefetch: prefetch, Query: qdrant.NewQueryRRF(&qdrant.Rrf{Weights: []float32{1}})}); code(err) != codes.InvalidArgument {
		t.Fatalf("weights/prefetch mismatch: %v", err)
	}
	if _, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "h", Prefetch: prefetch, Query: qdrant.NewQueryFusion(qdrant.Fusion_DBSF)}); code(err) != codes.Unimplemented {
		t.Fatalf("DBSF must be reported as not simulated: %v", err)
	}
	if _, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "h", Query: qdrant.NewQueryDense([]float32{1, 0, 0}), Using: qdrant.PtrOf("sparse")}); code(err) != codes.InvalidArgument {
		t.Fatalf("dense query on sparse vector: %v", err)
	}
}

func TestStopByContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, stop, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepting after ctx cancel")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop() // idempotent
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("unexpected ctx state")
	}
}

func TestBatchAtomicNestedAndSelectors(t *testing.T) {
	c := client(t, Options{})
	ctx := ctxT(t)
	if err := c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "u", VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot})}); err != nil {
		t.Fatal(err)
	}
	good := &qdrant.PointStruct{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1, 2), Payload: qdrant.NewValueMap(map[string]any{
		"a": "x", "b": "y", "items": []any{map[string]any{"sku": "k1", "qty": 1}, map[string]any{"sku": "k2", "qty": 5}},
	})}
	bad := &qdrant.PointStruct{Id: qdrant.NewIDNum(2), Vectors: qdrant.NewVectors(1)}
	if _, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "u", Points: []*qdrant.PointStruct{good, bad}}); code(err) != codes.InvalidArgument {
		t.Fatalf("bad batch: %v", err)
	}
	if n, _ := c.Count(ctx, &qdrant.CountPoints{CollectionName: "u"}); n != 0 {
		t.Fatalf("a rejected batch stored %d points", n)
	}
	if _, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "u", Points: []*qdrant.PointStruct{good}}); err != nil {
		t.Fatal(err)
	}
	// nested: one array element must satisfy the whole inner filter
	nested := func(sku string, qty float64) *qdrant.Filter {
		return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewNestedFilter("items", &qdrant.Filter{Must: []*qdrant.Condition{
			qdrant.NewMatch("sku", sku), qdrant.NewRange("qty", &qdrant.Range{Gte: &qty}),
		}})}}
	}
	if n, _ := c.Count(ctx, &qdrant.CountPoints{CollectionName: "u", Filter: nested("k2", 3)}); n != 1 {
		t.Fatalf("nested k2>=3 = %d", n)
	}
	if n, _ := c.Count(ctx, &qdrant.CountPoints{CollectionName: "u", Filter: nested("k1", 3)}); n != 0 {
		t.Fatalf("nested k1>=3 = %d (conditions must hold on the same element)", n)
	}
	pts, err := c.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: "u", WithPayload: qdrant.NewWithPayloadInclude("a"), WithVectors: qdrant.NewWithVectors(true)})
	if err != nil || len(pts) != 1 {
		t.Fatalf("scroll %v, %v", pts, err)
	}
	if pl := pts[0].GetPayload(); len(pl) != 1 || pl["a"].GetStringValue() != "x" {
		t.Fatalf("include selector payload %v", pl)
	}
	if v := pts[0].GetVectors().GetVector().GetDense().GetData(); len(v) != 2 || v[0] != 1 || v[1] != 2 {
		t.Fatalf("unnamed dense vector %v (Dot must not normalise)", v)
	}
	res, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: "u", Query: qdrant.NewQuery(1, 1), WithPayload: qdrant.NewWithPayloadExclude("items")})
	if err != nil || len(res) != 1 || res[0].GetScore() != 3 || len(res[0].GetPayload()) != 2 {
		t.Fatalf("dot query %v, %v", res, err)
	}
}

// TestConcurrentClients: writers and readers at once (run with -race).
func TestConcurrentClients(t *testing.T) {
	c := client(t, Options{})
	hybridCollection(t, c, "cc", qdrant.Modifier_Idf)
	ctx := ctxT(t)
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		go func(w int) {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				n := w*1000 + i
				_, err = c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "cc", Points: []*qdrant.PointStruct{{
					Id: qdrant.NewIDUUID(uid(n)), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{
						"dense": qdrant.NewVectorDense([]float32{1, float32(i), 1}), "sparse": qdrant.NewVectorSparse([]uint32{uint32(i % 7)}, []float32{1}),
					}),
				}}})
				if err == nil && i%10 == 0 {
					_, err = c.Delete(ctx, &qdrant.DeletePoints{CollectionName: "cc", Points: qdrant.NewPointsSelector(qdrant.NewIDUUID(uid(n)))})
				}
			}
			errs <- err
		}(w)
		go func() {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				_, err = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "cc", Prefetch: []*qdrant.PrefetchQuery{
					{Query: qdrant.NewQuerySparse([]uint32{1, 2}, []float32{1, 1}), Using: qdrant.PtrOf("sparse")},
					{Query: qdrant.NewQueryDense([]float32{1, 1, 1}), Using: qdrant.PtrOf("dense")},
				}, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF)})
				if err == nil {
					_, err = c.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: "cc", Limit: qdrant.PtrOf(uint32(5))})
				}
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: "cc"}); err != nil || n != 4*45 {
		t.Fatalf("count = %d, %v, want %d", n, err, 4*45)
	}
}
