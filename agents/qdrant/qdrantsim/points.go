package qdrantsim

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// pointKey returns a key whose byte order is Qdrant's id order (integers
// first, numerically; then UUIDs as 128-bit integers, which is the order of
// their canonical hex form) and the canonical id.
func pointKey(id *qdrant.PointId) (string, *qdrant.PointId, error) {
	switch v := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Num:
		return fmt.Sprintf("0%020d", v.Num), qdrant.NewIDNum(v.Num), nil
	case *qdrant.PointId_Uuid:
		u, err := uuid.Parse(v.Uuid)
		if err != nil {
			return "", nil, status.Errorf(codes.InvalidArgument, "Unable to parse UUID: %s", v.Uuid)
		}
		return "1" + u.String(), qdrant.NewIDUUID(u.String()), nil
	default:
		return "", nil, status.Error(codes.InvalidArgument, "Validation error in body: [id: point id is required]")
	}
}

func (ps *pointsService) Upsert(_ context.Context, req *qdrant.UpsertPoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	if req.UpdateFilter != nil || req.UpdateMode != nil {
		return nil, status.Error(codes.Unimplemented, "qdrantsim: conditional upserts (update_filter, update_mode) are not simulated")
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	// Validate the whole batch before changing anything: Qdrant rejects a
	// batch with one bad point as a whole.
	batch := make([]*point, 0, len(req.GetPoints()))
	for i, in := range req.GetPoints() {
		p, err := c.newPoint(in)
		if err != nil {
			return nil, fmt.Errorf("point %d: %w", i, err)
		}
		batch = append(batch, p)
	}
	for _, p := range batch {
		c.put(p)
	}
	return &qdrant.PointsOperationResponse{Result: ps.s.nextOp(), Time: since(start)}, nil
}

func (c *collection) newPoint(in *qdrant.PointStruct) (*point, error) {
	key, id, err := pointKey(in.GetId())
	if err != nil {
		return nil, err
	}
	p := &point{key: key, id: id, payload: map[string]*qdrant.Value{}, dense: map[string][]float32{}, sparse: map[string]sparseVec{}}
	for k, v := range in.GetPayload() {
		p.payload[k] = proto.Clone(v).(*qdrant.Value)
	}
	vecs := map[string]*qdrant.Vector{}
	switch v := in.GetVectors().GetVectorsOptions().(type) {
	case *qdrant.Vectors_Vector:
		vecs[""] = v.Vector
	case *qdrant.Vectors_Vectors:
		for n, vec := range v.Vectors.GetVectors() {
			vecs[n] = vec
		}
	}
	for name, vec := range vecs {
		dense, sparse, isSparse, err := vectorData(vec)
		if err != nil {
			return nil, err
		}
		if isSparse {
			if _, ok := c.sparse[name]; !ok {
				return nil, badInput("Not existing vector name error: %s", name)
			}
			sv, err := newSparse(sparse.GetIndices(), sparse.GetValues())
			if err != nil {
				return nil, err
			}
			p.sparse[name] = sv
			continue
		}
		params, ok := c.dense[name]
		if !ok {
			if name == "" {
				return nil, badInput("Not existing vector name error: (default vector); this collection has named vectors")
			}
			return nil, badInput("Not existing vector name error: %s", name)
		}
		if err := checkDim(params, dense); err != nil {
			return nil, err
		}
		p.dense[name] = prepareDense(params.GetDistance(), dense)
	}
	if _, unnamed := c.dense[""]; unnamed && len(p.dense) == 0 {
		return nil, badInput("Vector dimension error: expected dim: %d, got 0", c.dense[""].GetSize())
	}
	return p, nil
}

// vectorData unpacks a Vector in both its current (oneof) and deprecated
// (Data + Indices) encodings.
func vectorData(v *qdrant.Vector) (dense []float32, sparse *qdrant.SparseVector, isSparse bool, err error) {
	switch x := v.GetVector().(type) {
	case *qdrant.Vector_Dense:
		return x.Dense.GetData(), nil, false, nil
	case *qdrant.Vector_Sparse:
		return nil, x.Sparse, true, nil
	case nil:
		//nolint:staticcheck // the deprecated fields are still on the wire.
		if v.GetIndices() != nil {
			return nil, &qdrant.SparseVector{Indices: v.GetIndices().GetData(), Values: v.GetData()}, true, nil
		}
		return v.GetData(), nil, false, nil
	default:
		return nil, nil, false, status.Errorf(codes.Unimplemented, "qdrantsim: vector kind %T is not simulated (no inference, no multivectors)", x)
	}
}

func checkDim(p *qdrant.VectorParams, v []float32) error {
	if uint64(len(v)) != p.GetSize() {
		return badInput("Vector dimension error: expected dim: %d, got %d", p.GetSize(), len(v))
	}
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return badInput("vector contains NaN or infinite values")
		}
	}
	return nil
}

// prepareDense copies v, normalising it for Cosine as Qdrant does on insert.
func prepareDense(d qdrant.Distance, v []float32) []float32 {
	out := append([]float32(nil), v...)
	if d == qdrant.Distance_Cosine {
		normalize(out)
	}
	return out
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	n := float32(math.Sqrt(s))
	for i := range v {
		v[i] /= n
	}
}

func newSparse(idx []uint32, val []float32) (sparseVec, error) {
	if len(idx) != len(val) {
		return sparseVec{}, status.Errorf(codes.InvalidArgument, "Validation error in body: [indices: must be the same length as values (%d != %d)]", len(idx), len(val))
	}
	sv := sparseVec{idx: append([]uint32(nil), idx...), val: append([]float32(nil), val...)}
	sort.Sort(bySparseIndex(sv))
	for i := 1; i < len(sv.idx); i++ {
		if sv.idx[i] == sv.idx[i-1] {
			return sparseVec{}, status.Errorf(codes.InvalidArgument, "Validation error in body: [indices: must be unique, %d repeats]", sv.idx[i])
		}
	}
	for _, x := range sv.val {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return sparseVec{}, badInput("sparse vector contains NaN or infinite values")
		}
	}
	return sv, nil
}

type bySparseIndex sparseVec

func (b bySparseIndex) Len() int           { return len(b.idx) }
func (b bySparseIndex) Less(i, j int) bool { return b.idx[i] < b.idx[j] }
func (b bySparseIndex) Swap(i, j int) {
	b.idx[i], b.idx[j] = b.idx[j], b.idx[i]
	b.val[i], b.val[j] = b.val[j], b.val[i]
}

// put replaces a point (payload and vectors), keeping idf statistics right.
func (c *collection) put(p *point) {
	if old, ok := c.points[p.key]; ok {
		c.unindex(old)
	} else {
		c.sorted = nil
	}
	c.points[p.key] = p
	for name, sv := range p.sparse {
		c.nSparse[name]++
		for _, i := range sv.idx {
			c.df[name][i]++
		}
	}
}

func (c *collection) remove(key string) bool {
	p, ok := c.points[key]
	if !ok {
		return false
	}
	c.unindex(p)
	delete(c.points, key)
	c.sorted = nil
	return true
}

func (c *collection) unindex(p *point) {
	for name, sv := range p.sparse {
		c.nSparse[name]--
		for _, i := range sv.idx {
			if c.df[name][i]--; c.df[name][i] == 0 {
				delete(c.df[name], i)
			}
		}
	}
}

// keys returns the point keys in id order.
func (c *collection) keys() []string {
	if c.sorted == nil {
		c.sorted = make([]string, 0, len(c.points))
		for k := range c.points {
			c.sorted = append(c.sorted, k)
		}
		sort.Strings(c.sorted)
	}
	return c.sorted
}

func (ps *pointsService) Delete(_ context.Context, req *qdrant.DeletePoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	switch sel := req.GetPoints().GetPointsSelectorOneOf().(type) {
	case *qdrant.PointsSelector_Points:
		keys := make([]string, 0, len(sel.Points.GetIds()))
		for _, id := range sel.Points.GetIds() {
			k, _, err := pointKey(id)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		for _, k := range keys {
			c.remove(k)
		}
	case *qdrant.PointsSelector_Filter:
		var doomed []string
		for _, k := range c.keys() {
			ok, err := matchFilter(sel.Filter, c.points[k])
			if err != nil {
				return nil, err
			}
			if ok {
				doomed = append(doomed, k)
			}
		}
		for _, k := range doomed {
			c.remove(k)
		}
	default:
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [points: a points selector (ids or filter) is required]")
	}
	return &qdrant.PointsOperationResponse{Result: ps.s.nextOp(), Time: since(start)}, nil
}

func (ps *pointsService) Get(_ context.Context, req *qdrant.GetPoints) (*qdrant.GetResponse, error) {
	start := time.Now()
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	out := []*qdrant.RetrievedPoint{}
	seen := map[string]bool{}
	for _, id := range req.GetIds() {
		k, _, err := pointKey(id)
		if err != nil {
			return nil, err
		}
		p, ok := c.points[k]
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, c.retrieved(p, req.GetWithPayload(), true, req.WithVectors))
	}
	return &qdrant.GetResponse{Result: out, Time: since(start)}, nil
}

func (ps *pointsService) Scroll(_ context.Context, req *qdrant.ScrollPoints) (*qdrant.ScrollResponse, error) {
	start := time.Now()
	if req.OrderBy != nil {
		return nil, status.Error(codes.Unimplemented, "qdrantsim: scroll order_by is not simulated")
	}
	limit := uint32(10)
	if req.Limit != nil {
		limit = req.GetLimit()
	}
	if limit == 0 {
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [limit: value 0 invalid, must be 1 or larger]")
	}
	ps.s.mu.Lock() // keys() may rebuild its cache
	defer ps.s.mu.Unlock()
	c, err := ps.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	from := ""
	if req.Offset != nil {
		if from, _, err = pointKey(req.GetOffset()); err != nil {
			return nil, err
		}
	}
	keys := c.keys()
	i := sort.SearchStrings(keys, from)
	resp := &qdrant.ScrollResponse{Result: []*qdrant.RetrievedPoint{}}
	for ; i < len(keys); i++ {
		p := c.points[keys[i]]
		ok, err := matchFilter(req.GetFilter(), p)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if uint32(len(resp.Result)) == limit {
			resp.NextPageOffset = proto.Clone(p.id).(*qdrant.PointId)
			break
		}
		resp.Result = append(resp.Result, c.retrieved(p, req.GetWithPayload(), true, req.WithVectors))
	}
	resp.Time = since(start)
	return resp, nil
}

func (ps *pointsService) Count(_ context.Context, req *qdrant.CountPoints) (*qdrant.CountResponse, error) {
	start := time.Now()
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	n := uint64(0)
	for _, p := range c.points {
		ok, err := matchFilter(req.GetFilter(), p)
		if err != nil {
			return nil, err
		}
		if ok {
			n++
		}
	}
	return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: n}, Time: since(start)}, nil
}

func (ps *pointsService) CreateFieldIndex(_ context.Context, req *qdrant.CreateFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	if req.GetFieldName() == "" {
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [field_name: must not be empty]")
	}
	if req.FieldType == nil {
		return nil, badInput("field_type is required to create a payload index on %q", req.GetFieldName())
	}
	ft := req.GetFieldType()
	if _, ok := qdrant.FieldType_name[int32(ft)]; !ok {
		return nil, badInput("unknown field type %d", ft)
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	info := &qdrant.PayloadSchemaInfo{DataType: qdrant.PayloadSchemaType(int32(ft) + 1)}
	if req.FieldIndexParams != nil {
		info.Params = proto.Clone(req.FieldIndexParams).(*qdrant.PayloadIndexParams)
	}
	c.schema[req.GetFieldName()] = info
	return &qdrant.PointsOperationResponse{Result: ps.s.nextOp(), Time: since(start)}, nil
}

func (ps *pointsService) DeleteFieldIndex(_ context.Context, req *qdrant.DeleteFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	delete(c.schema, req.GetFieldName())
	return &qdrant.PointsOperationResponse{Result: ps.s.nextOp(), Time: since(start)}, nil
}

// retrieved renders a point. defaultPayload applies when sel is nil.
func (c *collection) retrieved(p *point, sel *qdrant.WithPayloadSelector, defaultPayload bool, vsel *qdrant.WithVectorsSelector) *qdrant.RetrievedPoint {
	return &qdrant.RetrievedPoint{
		Id:      proto.Clone(p.id).(*qdrant.PointId),
		Payload: selectPayload(p.payload, sel, defaultPayload),
		Vectors: c.selectVectors(p, vsel),
	}
}

func selectPayload(pl map[string]*qdrant.Value, sel *qdrant.WithPayloadSelector, def bool) map[string]*qdrant.Value {
	keep := func(string) bool { return def }
	switch s := sel.GetSelectorOptions().(type) {
	case *qdrant.WithPayloadSelector_Enable:
		keep = func(string) bool { return s.Enable }
	case *qdrant.WithPayloadSelector_Include:
		set := map[string]bool{}
		for _, f := range s.Include.GetFields() {
			set[f] = true
		}
		keep = func(k string) bool { return set[k] }
	case *qdrant.WithPayloadSelector_Exclude:
		set := map[string]bool{}
		for _, f := range s.Exclude.GetFields() {
			set[f] = true
		}
		keep = func(k string) bool { return !set[k] }
	}
	out := map[string]*qdrant.Value{}
	for k, v := range pl {
		if keep(k) {
			out[k] = proto.Clone(v).(*qdrant.Value)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (c *collection) selectVectors(p *point, sel *qdrant.WithVectorsSelector) *qdrant.VectorsOutput {
	want := func(string) bool { return false }
	switch s := sel.GetSelectorOptions().(type) {
	case *qdrant.WithVectorsSelector_Enable:
		want = func(string) bool { return s.Enable }
	case *qdrant.WithVectorsSelector_Include:
		set := map[string]bool{}
		for _, n := range s.Include.GetNames() {
			set[n] = true
		}
		want = func(n string) bool { return set[n] }
	}
	if v, ok := p.dense[""]; ok {
		if !want("") {
			return nil
		}
		return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vector{Vector: &qdrant.VectorOutput{
			Vector: &qdrant.VectorOutput_Dense{Dense: &qdrant.DenseVector{Data: append([]float32(nil), v...)}},
		}}}
	}
	named := map[string]*qdrant.VectorOutput{}
	for n, v := range p.dense {
		if want(n) {
			named[n] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Dense{Dense: &qdrant.DenseVector{Data: append([]float32(nil), v...)}}}
		}
	}
	for n, sv := range p.sparse {
		if want(n) {
			named[n] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Sparse{Sparse: &qdrant.SparseVector{
				Indices: append([]uint32(nil), sv.idx...), Values: append([]float32(nil), sv.val...),
			}}}
		}
	}
	if len(named) == 0 {
		return nil
	}
	return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vectors{Vectors: &qdrant.NamedVectorsOutput{Vectors: named}}}
}
