package qdrantsim

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// defaultRRFK is Qdrant's DEFAULT_RRF_K (lib/segment/src/common/reciprocal_rank_fusion.rs).
const defaultRRFK = 2

const defaultLimit = 10

type hit struct {
	p     *point
	score float32
}

// ranking is a result list, best first. lowerBetter marks distance scores
// (Euclid, Manhattan), where the threshold is an upper bound.
type ranking struct {
	hits        []hit
	lowerBetter bool
}

func (ps *pointsService) Query(_ context.Context, req *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
	start := time.Now()
	if req.LookupFrom != nil || req.ShardKeySelector != nil {
		return nil, status.Error(codes.Unimplemented, "qdrantsim: lookup_from and shard keys are not simulated")
	}
	limit := uint64(defaultLimit)
	if req.Limit != nil {
		limit = req.GetLimit()
	}
	if limit == 0 {
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [limit: value 0 invalid, must be 1 or larger]")
	}
	offset := req.GetOffset()
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	r, err := c.query(req.Query, req.GetPrefetch(), req.Using, req.GetFilter(), req.ScoreThreshold, limit+offset)
	if err != nil {
		return nil, err
	}
	return &qdrant.QueryResponse{Result: c.scored(r.hits, offset, req.GetWithPayload(), req.WithVectors), Time: since(start)}, nil
}

// Search is the pre-Query search call, kept for older callers.
func (ps *pointsService) Search(_ context.Context, req *qdrant.SearchPoints) (*qdrant.SearchResponse, error) {
	start := time.Now()
	if req.GetLimit() == 0 {
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [limit: value 0 invalid, must be 1 or larger]")
	}
	var in *qdrant.VectorInput
	if req.SparseIndices != nil {
		in = qdrant.NewVectorInputSparse(req.GetSparseIndices().GetData(), req.GetVector())
	} else {
		in = qdrant.NewVectorInputDense(req.GetVector())
	}
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	offset := req.GetOffset()
	r, err := c.query(qdrant.NewQueryNearest(in), nil, req.VectorName, req.GetFilter(), req.ScoreThreshold, req.GetLimit()+offset)
	if err != nil {
		return nil, err
	}
	return &qdrant.SearchResponse{Result: c.scored(r.hits, offset, req.GetWithPayload(), req.WithVectors), Time: since(start)}, nil
}

func (c *collection) scored(hits []hit, offset uint64, ws *qdrant.WithPayloadSelector, wv *qdrant.WithVectorsSelector) []*qdrant.ScoredPoint {
	out := []*qdrant.ScoredPoint{}
	for i, h := range hits {
		if uint64(i) < offset {
			continue
		}
		out = append(out, &qdrant.ScoredPoint{
			Id:      proto.Clone(h.p.id).(*qdrant.PointId),
			Payload: selectPayload(h.p.payload, ws, false),
			Score:   h.score,
			Version: 0,
			Vectors: c.selectVectors(h.p, wv),
		})
	}
	return out
}

// query runs one (sub)query: prefetches first, then q over their results
// (or over the whole collection), then threshold and limit.
func (c *collection) query(q *qdrant.Query, prefetch []*qdrant.PrefetchQuery, using *string, filter *qdrant.Filter, threshold *float32, limit uint64) (ranking, error) {
	var r ranking
	if len(prefetch) > 0 {
		subs := make([]ranking, len(prefetch))
		for i, pf := range prefetch {
			if pf.LookupFrom != nil {
				return ranking{}, status.Error(codes.Unimplemented, "qdrantsim: lookup_from is not simulated")
			}
			pl := uint64(defaultLimit)
			if pf.Limit != nil {
				pl = pf.GetLimit()
			}
			sub, err := c.query(pf.Query, pf.GetPrefetch(), pf.Using, andFilters(filter, pf.GetFilter()), pf.ScoreThreshold, pl)
			if err != nil {
				return ranking{}, err
			}
			subs[i] = sub
		}
		switch v := q.GetVariant().(type) {
		case *qdrant.Query_Fusion:
			if v.Fusion != qdrant.Fusion_RRF {
				return ranking{}, status.Errorf(codes.Unimplemented, "qdrantsim: fusion %v is not simulated (only RRF)", v.Fusion)
			}
			fused, err := rrf(subs, defaultRRFK, nil)
			if err != nil {
				return ranking{}, err
			}
			r = fused
		case *qdrant.Query_Rrf:
			k := uint32(defaultRRFK)
			if v.Rrf.K != nil {
				k = v.Rrf.GetK()
			}
			if k == 0 {
				return ranking{}, status.Error(codes.InvalidArgument, "Validation error in body: [rrf.k: must be at least 1]")
			}
			fused, err := rrf(subs, k, v.Rrf.GetWeights())
			if err != nil {
				return ranking{}, err
			}
			r = fused
		case *qdrant.Query_Nearest:
			cand := map[string]*point{}
			for _, s := range subs {
				for _, h := range s.hits {
					cand[h.p.key] = h.p
				}
			}
			nr, err := c.nearest(v.Nearest, using, filter, func(yield func(*point) bool) {
				for _, p := range cand {
					if !yield(p) {
						return
					}
				}
			}, limit)
			if err != nil {
				return ranking{}, err
			}
			r = nr
		case nil:
			return ranking{}, badInput("a query is required when prefetches are given")
		default:
			return ranking{}, status.Errorf(codes.Unimplemented, "qdrantsim: query kind %T is not simulated", v)
		}
	} else {
		switch v := q.GetVariant().(type) {
		case *qdrant.Query_Nearest:
			nr, err := c.nearest(v.Nearest, using, filter, c.all, limit)
			if err != nil {
				return ranking{}, err
			}
			r = nr
		case nil:
			// No query: points in id order with score 0, as Qdrant does.
			for p := range c.all {
				ok, err := matchFilter(filter, p)
				if err != nil {
					return ranking{}, err
				}
				if ok {
					r.hits = append(r.hits, hit{p: p})
				}
			}
			slices.SortFunc(r.hits, func(a, b hit) int { return cmp.Compare(a.p.key, b.p.key) })
		case *qdrant.Query_Fusion, *qdrant.Query_Rrf:
			return ranking{}, badInput("fusion needs prefetches")
		default:
			return ranking{}, status.Errorf(codes.Unimplemented, "qdrantsim: query kind %T is not simulated", v)
		}
	}
	if threshold != nil {
		t := *threshold
		kept := r.hits[:0]
		for _, h := range r.hits {
			if (r.lowerBetter && h.score <= t) || (!r.lowerBetter && h.score >= t) {
				kept = append(kept, h)
			}
		}
		r.hits = kept
	}
	if uint64(len(r.hits)) > limit {
		r.hits = r.hits[:limit]
	}
	return r, nil
}

// all yields every point (in map order; callers sort).
func (c *collection) all(yield func(*point) bool) {
	for _, p := range c.points {
		if !yield(p) {
			return
		}
	}
}

func andFilters(a, b *qdrant.Filter) *qdrant.Filter {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewFilterAsCondition(a), qdrant.NewFilterAsCondition(b)}}
}

// nearest scores the candidates against the query vector in the `using`
// space and returns them best first.
func (c *collection) nearest(in *qdrant.VectorInput, using *string, filter *qdrant.Filter, cands func(func(*point) bool), limit uint64) (ranking, error) {
	name := ""
	if using != nil {
		name = *using
	}
	var dense []float32
	var sparse *qdrant.SparseVector
	switch v := in.GetVariant().(type) {
	case *qdrant.VectorInput_Dense:
		dense = v.Dense.GetData()
	case *qdrant.VectorInput_Sparse:
		sparse = v.Sparse
	case *qdrant.VectorInput_Id:
		key, _, err := pointKey(v.Id)
		if err != nil {
			return ranking{}, err
		}
		p, ok := c.points[key]
		if !ok {
			return ranking{}, status.Errorf(codes.NotFound, "Not found: No point with id %s found", key[1:])
		}
		if d, ok := p.dense[name]; ok {
			dense = d
		} else if s, ok := p.sparse[name]; ok {
			sparse = &qdrant.SparseVector{Indices: s.idx, Values: s.val}
		} else {
			return ranking{}, badInput("Not existing vector name error: %s", name)
		}
	default:
		return ranking{}, status.Errorf(codes.Unimplemented, "qdrantsim: query vector kind %T is not simulated (no inference, no multivectors)", v)
	}
	var r ranking
	if sparse != nil {
		params, ok := c.sparse[name]
		if !ok {
			if _, isDense := c.dense[name]; isDense {
				return ranking{}, badInput("Conversion between sparse and regular vectors failed")
			}
			return ranking{}, badInput("Not existing vector name error: %s", name)
		}
		q, err := newSparse(sparse.GetIndices(), sparse.GetValues())
		if err != nil {
			return ranking{}, err
		}
		if params.GetModifier() == qdrant.Modifier_Idf {
			n := float64(c.nSparse[name])
			for i, idx := range q.idx {
				df := float64(c.df[name][idx])
				q.val[i] *= float32(math.Log((n-df+0.5)/(df+0.5) + 1))
			}
		}
		var ferr error
		cands(func(p *point) bool {
			sv, ok := p.sparse[name]
			if !ok {
				return true
			}
			score, overlap := sparseDot(q, sv)
			if !overlap {
				return true
			}
			ok, ferr = matchFilter(filter, p)
			if ferr != nil {
				return false
			}
			if ok {
				r.hits = append(r.hits, hit{p: p, score: score})
			}
			return true
		})
		if ferr != nil {
			return ranking{}, ferr
		}
	} else {
		params, ok := c.dense[name]
		if !ok {
			if _, isSparse := c.sparse[name]; isSparse {
				return ranking{}, badInput("Conversion between sparse and regular vectors failed")
			}
			return ranking{}, badInput("Not existing vector name error: %s", name)
		}
		if err := checkDim(params, dense); err != nil {
			return ranking{}, err
		}
		dist := params.GetDistance()
		q := prepareDense(dist, dense)
		r.lowerBetter = dist == qdrant.Distance_Euclid || dist == qdrant.Distance_Manhattan
		var ferr error
		cands(func(p *point) bool {
			v, ok := p.dense[name]
			if !ok {
				return true
			}
			ok, ferr = matchFilter(filter, p)
			if ferr != nil {
				return false
			}
			if ok {
				r.hits = append(r.hits, hit{p: p, score: denseScore(dist, q, v)})
			}
			return true
		})
		if ferr != nil {
			return ranking{}, ferr
		}
	}
	r.hits = topK(r.hits, limit, r.lowerBetter)
	return r, nil
}

// worse reports whether a ranks after b (score, then id).
func worse(a, b hit, lowerBetter bool) bool {
	if a.score != b.score {
		if lowerBetter {
			return a.score > b.score
		}
		return a.score < b.score
	}
	return a.p.key > b.p.key
}

// topK returns the best k hits sorted (a score threshold applied later only
// removes hits from the tail, so it commutes with this cut), selecting with a bounded heap
// (the worst kept hit at the root) instead of sorting every candidate.
func topK(hits []hit, k uint64, lowerBetter bool) []hit {
	if k == 0 || uint64(len(hits)) <= k {
		sortHits(hits, lowerBetter)
		return hits
	}
	h := make([]hit, 0, k)
	down := func(i int) {
		for {
			l, m := 2*i+1, i
			if l < len(h) && worse(h[l], h[m], lowerBetter) {
				m = l
			}
			if r := l + 1; r < len(h) && worse(h[r], h[m], lowerBetter) {
				m = r
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for _, x := range hits {
		if uint64(len(h)) < k {
			h = append(h, x)
			for i := len(h) - 1; i > 0; {
				parent := (i - 1) / 2
				if !worse(h[i], h[parent], lowerBetter) {
					break
				}
				h[i], h[parent] = h[parent], h[i]
				i = parent
			}
			continue
		}
		if worse(h[0], x, lowerBetter) {
			h[0] = x
			down(0)
		}
	}
	sortHits(h, lowerBetter)
	return h
}

func sortHits(hits []hit, lowerBetter bool) {
	slices.SortFunc(hits, func(a, b hit) int {
		if a.score != b.score {
			if lowerBetter {
				return cmp.Compare(a.score, b.score)
			}
			return cmp.Compare(b.score, a.score)
		}
		return cmp.Compare(a.p.key, b.p.key)
	})
}

func denseScore(d qdrant.Distance, q, v []float32) float32 {
	switch d {
	case qdrant.Distance_Euclid:
		var s float32
		for i := range q {
			x := q[i] - v[i]
			s += x * x
		}
		return float32(math.Sqrt(float64(s)))
	case qdrant.Distance_Manhattan:
		var s float32
		for i := range q {
			s += float32(math.Abs(float64(q[i] - v[i])))
		}
		return s
	default: // Cosine (both sides normalised) and Dot
		return dot(q, v)
	}
}

// sparseDot merges two index-sorted vectors.
func sparseDot(a, b sparseVec) (score float32, overlap bool) {
	i, j := 0, 0
	for i < len(a.idx) && j < len(b.idx) {
		switch {
		case a.idx[i] < b.idx[j]:
			i++
		case a.idx[i] > b.idx[j]:
			j++
		default:
			score += a.val[i] * b.val[j]
			overlap = true
			i++
			j++
		}
	}
	return score, overlap
}

// rrf fuses ranked lists as Qdrant's rrf_scoring does:
// score = sum of 1 / ((pos+1)/weight + k - 1) over the lists holding a point.
func rrf(lists []ranking, k uint32, weights []float32) (ranking, error) {
	if len(weights) > 0 && len(weights) != len(lists) {
		return ranking{}, status.Errorf(codes.InvalidArgument,
			"Validation error: Number of weights in RRF should match number of pre-fetches: got %d, expected %d", len(weights), len(lists))
	}
	acc := map[string]*hit{}
	for li, l := range lists {
		w := float32(1)
		if len(weights) > 0 {
			w = weights[li]
		}
		for pos, h := range l.hits {
			s := float32(0)
			if w > 0 {
				s = 1 / (float32(pos+1)/w + float32(k) - 1)
			}
			if a, ok := acc[h.p.key]; ok {
				a.score += s
			} else {
				acc[h.p.key] = &hit{p: h.p, score: s}
			}
		}
	}
	out := make([]hit, 0, len(acc))
	for _, h := range acc {
		out = append(out, *h)
	}
	sortHits(out, false)
	return ranking{hits: out}, nil
}

// dot is the inner product with four accumulators (the hot loop of dense
// search).
func dot(q, v []float32) float32 {
	v = v[:len(q)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(q); i += 4 {
		s0 += q[i] * v[i]
		s1 += q[i+1] * v[i+1]
		s2 += q[i+2] * v[i+2]
		s3 += q[i+3] * v[i+3]
	}
	for ; i < len(q); i++ {
		s0 += q[i] * v[i]
	}
	return (s0 + s1) + (s2 + s3)
}
