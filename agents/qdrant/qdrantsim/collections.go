package qdrantsim

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// collection is one Qdrant collection held in memory.
type collection struct {
	name string
	// vectorsConfig is kept as sent so Get returns the same shape.
	vectorsConfig *qdrant.VectorsConfig
	// dense maps vector name to its parameters; the unnamed default vector
	// of a VectorsConfig_Params collection is under "".
	dense    map[string]*qdrant.VectorParams
	sparse   map[string]*qdrant.SparseVectorParams
	metadata map[string]*qdrant.Value
	schema   map[string]*qdrant.PayloadSchemaInfo
	points   map[string]*point
	// df[name][index] counts the points whose sparse vector `name` holds
	// index; nSparse[name] counts the points holding that sparse vector.
	// Both feed the idf modifier.
	df      map[string]map[uint32]int
	nSparse map[string]int
	// sorted caches the point keys in id order; nil when stale.
	sorted []string
}

type point struct {
	key     string
	id      *qdrant.PointId
	payload map[string]*qdrant.Value
	dense   map[string][]float32
	sparse  map[string]sparseVec
}

// sparseVec holds indices in ascending order with their values.
type sparseVec struct {
	idx []uint32
	val []float32
}

// forbiddenNameChars are the characters Qdrant rejects in collection names.
const forbiddenNameChars = "<>:\"/\\|?*\x00"

func validateCollectionName(name string) error {
	switch {
	case name == "":
		return status.Error(codes.InvalidArgument, "Validation error in body: [collection_name: value \"\" invalid, must be at least 1 characters]")
	case len(name) > 255:
		return status.Error(codes.InvalidArgument, "Validation error in body: [collection_name: must be at most 255 characters]")
	case strings.ContainsAny(name, forbiddenNameChars):
		return status.Errorf(codes.InvalidArgument, "Validation error in body: [collection_name: collection name cannot contain any of %q]", forbiddenNameChars)
	}
	return nil
}

func (cs *collectionsService) Create(_ context.Context, req *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	name := req.GetCollectionName()
	if err := validateCollectionName(name); err != nil {
		return nil, err
	}
	c := &collection{
		name:     name,
		dense:    map[string]*qdrant.VectorParams{},
		sparse:   map[string]*qdrant.SparseVectorParams{},
		metadata: map[string]*qdrant.Value{},
		schema:   map[string]*qdrant.PayloadSchemaInfo{},
		points:   map[string]*point{},
		df:       map[string]map[uint32]int{},
		nSparse:  map[string]int{},
	}
	if vc := req.GetVectorsConfig(); vc != nil {
		c.vectorsConfig = proto.Clone(vc).(*qdrant.VectorsConfig)
		switch cfg := vc.GetConfig().(type) {
		case *qdrant.VectorsConfig_Params:
			if err := validateVectorParams("", cfg.Params); err != nil {
				return nil, err
			}
			c.dense[""] = proto.Clone(cfg.Params).(*qdrant.VectorParams)
		case *qdrant.VectorsConfig_ParamsMap:
			for n, p := range cfg.ParamsMap.GetMap() {
				if n == "" {
					return nil, badInput("vector name must not be empty")
				}
				if err := validateVectorParams(n, p); err != nil {
					return nil, err
				}
				c.dense[n] = proto.Clone(p).(*qdrant.VectorParams)
			}
		}
	}
	for n, p := range req.GetSparseVectorsConfig().GetMap() {
		if n == "" {
			return nil, badInput("sparse vector name must not be empty")
		}
		if _, clash := c.dense[n]; clash {
			return nil, badInput("vector name %q is used by both a dense and a sparse vector", n)
		}
		c.sparse[n] = proto.Clone(p).(*qdrant.SparseVectorParams)
		c.df[n] = map[uint32]int{}
	}
	for k, v := range req.GetMetadata() {
		c.metadata[k] = proto.Clone(v).(*qdrant.Value)
	}
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	if _, ok := cs.s.collections[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection `%s` already exists!", name)
	}
	cs.s.collections[name] = c
	return &qdrant.CollectionOperationResponse{Result: true, Time: since(start)}, nil
}

func validateVectorParams(name string, p *qdrant.VectorParams) error {
	if p == nil {
		return badInput("vector %q has no parameters", name)
	}
	if p.GetSize() == 0 {
		return status.Errorf(codes.InvalidArgument, "Validation error in body: [vectors_config.size: value 0 invalid, must be from 1 to 65536] (vector %q)", name)
	}
	if p.GetSize() > 65536 {
		return status.Errorf(codes.InvalidArgument, "Validation error in body: [vectors_config.size: value %d invalid, must be from 1 to 65536]", p.GetSize())
	}
	switch p.GetDistance() {
	case qdrant.Distance_Cosine, qdrant.Distance_Dot, qdrant.Distance_Euclid, qdrant.Distance_Manhattan:
	default:
		return badInput("vector %q: unknown distance %v", name, p.GetDistance())
	}
	if p.MultivectorConfig != nil {
		return status.Errorf(codes.Unimplemented, "qdrantsim: multivectors are not simulated (vector %q)", name)
	}
	return nil
}

func (cs *collectionsService) Get(_ context.Context, req *qdrant.GetCollectionInfoRequest) (*qdrant.GetCollectionInfoResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	c, err := cs.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	return &qdrant.GetCollectionInfoResponse{Result: c.info(), Time: since(start)}, nil
}

func (c *collection) info() *qdrant.CollectionInfo {
	n := uint64(len(c.points))
	params := &qdrant.CollectionParams{ShardNumber: 1}
	if c.vectorsConfig != nil {
		params.VectorsConfig = proto.Clone(c.vectorsConfig).(*qdrant.VectorsConfig)
	}
	if len(c.sparse) > 0 {
		m := map[string]*qdrant.SparseVectorParams{}
		for k, v := range c.sparse {
			m[k] = proto.Clone(v).(*qdrant.SparseVectorParams)
		}
		params.SparseVectorsConfig = &qdrant.SparseVectorConfig{Map: m}
	}
	schema := map[string]*qdrant.PayloadSchemaInfo{}
	for field, s := range c.schema {
		cp := proto.Clone(s).(*qdrant.PayloadSchemaInfo)
		cnt := uint64(0)
		for _, p := range c.points {
			if len(payloadValues(p.payload, field)) > 0 {
				cnt++
			}
		}
		cp.Points = &cnt
		schema[field] = cp
	}
	meta := map[string]*qdrant.Value{}
	for k, v := range c.metadata {
		meta[k] = proto.Clone(v).(*qdrant.Value)
	}
	m, ef, fst := uint64(16), uint64(100), uint64(10000)
	return &qdrant.CollectionInfo{
		Status:              qdrant.CollectionStatus_Green,
		OptimizerStatus:     &qdrant.OptimizerStatus{Ok: true},
		SegmentsCount:       1,
		PointsCount:         &n,
		IndexedVectorsCount: &n,
		PayloadSchema:       schema,
		Config: &qdrant.CollectionConfig{
			Params:          params,
			HnswConfig:      &qdrant.HnswConfigDiff{M: &m, EfConstruct: &ef, FullScanThreshold: &fst},
			OptimizerConfig: &qdrant.OptimizersConfigDiff{},
			WalConfig:       &qdrant.WalConfigDiff{},
			Metadata:        meta,
		},
	}
}

func (cs *collectionsService) List(context.Context, *qdrant.ListCollectionsRequest) (*qdrant.ListCollectionsResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	names := make([]string, 0, len(cs.s.collections))
	for n := range cs.s.collections {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*qdrant.CollectionDescription, len(names))
	for i, n := range names {
		out[i] = &qdrant.CollectionDescription{Name: n}
	}
	return &qdrant.ListCollectionsResponse{Collections: out, Time: since(start)}, nil
}

func (cs *collectionsService) CollectionExists(_ context.Context, req *qdrant.CollectionExistsRequest) (*qdrant.CollectionExistsResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	_, ok := cs.s.collections[req.GetCollectionName()]
	return &qdrant.CollectionExistsResponse{Result: &qdrant.CollectionExists{Exists: ok}, Time: since(start)}, nil
}

// Update merges metadata (a null value removes the key) and sparse vector
// parameters; other parameters only tune Qdrant's storage and are accepted
// and ignored, as they change no result.
func (cs *collectionsService) Update(_ context.Context, req *qdrant.UpdateCollection) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	c, err := cs.s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if req.VectorsConfig != nil {
		return nil, status.Error(codes.Unimplemented, "qdrantsim: updating dense vector parameters is not simulated")
	}
	for n, p := range req.GetSparseVectorsConfig().GetMap() {
		old, ok := c.sparse[n]
		if !ok {
			return nil, badInput("Not existing vector name error: %s", n)
		}
		if p.Modifier != nil {
			m := p.GetModifier()
			old.Modifier = &m
		}
		if p.Index != nil {
			old.Index = proto.Clone(p.Index).(*qdrant.SparseIndexConfig)
		}
	}
	for k, v := range req.GetMetadata() {
		if _, isNull := v.GetKind().(*qdrant.Value_NullValue); isNull {
			delete(c.metadata, k)
			continue
		}
		c.metadata[k] = proto.Clone(v).(*qdrant.Value)
	}
	return &qdrant.CollectionOperationResponse{Result: true, Time: since(start)}, nil
}

func (cs *collectionsService) Delete(_ context.Context, req *qdrant.DeleteCollection) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	_, ok := cs.s.collections[req.GetCollectionName()]
	delete(cs.s.collections, req.GetCollectionName())
	// Qdrant answers false, not an error, for a missing collection.
	return &qdrant.CollectionOperationResponse{Result: ok, Time: since(start)}, nil
}
