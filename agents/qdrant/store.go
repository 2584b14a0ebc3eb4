package qdrant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/google/uuid"
	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Names of the vectors and reserved payload keys in every collection.
const (
	DenseVector  = "dense"
	SparseVector = "sparse"

	keyDocument = "document"
	keyChunk    = "chunk"
	keyText     = "text"

	metaEmbedder  = "agentvdc.embedder"
	metaDenseDim  = "agentvdc.dense_dim"
	metaSparse    = "agentvdc.sparse"
	metaSparseIDF = "agentvdc.sparse_idf"
	metaFormat    = "agentvdc.format"
	formatVersion = 1

	defaultScrollLimit = 256
)

// Config configures a Store.
type Config struct {
	Host   string // gRPC host
	Port   int    // gRPC port (Qdrant's default is 6334)
	APIKey string
	UseTLS bool
	// CollectionPrefix is prepended to the customer name (default
	// "vdc-chunks-"): lower-case letters, digits, '-' and '_', at most 64.
	CollectionPrefix string
	// SparseIDF creates sparse vectors with `modifier: idf` (see the
	// package documentation).
	SparseIDF bool
	// Dialer, when set, makes the gRPC connection (e.g. through the
	// customer's WireGuard tunnel); nil dials Host:Port directly.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)
	Logger *slog.Logger
}

// Store is an agents.VectorStore on Qdrant.
type Store struct {
	cfg    Config
	client *qc.Client
	log    *slog.Logger
	owned  bool
}

var _ agents.VectorStore = (*Store)(nil)

// New connects to Qdrant (gRPC connections are made lazily).
func New(cfg Config) (*Store, error) {
	if cfg.Host == "" || cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("qdrant: %w: host and port 1-65535 are required", agents.ErrInvalidArgument)
	}
	qcfg := &qc.Config{Host: cfg.Host, Port: cfg.Port, APIKey: cfg.APIKey, UseTLS: cfg.UseTLS, SkipCompatibilityCheck: true}
	if cfg.Dialer != nil {
		qcfg.GrpcOptions = append(qcfg.GrpcOptions, grpc.WithContextDialer(cfg.Dialer))
	}
	c, err := qc.NewClient(qcfg)
	if err != nil {
		return nil, fmt.Errorf("qdrant: connect %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	s, err := NewFromClient(c, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// NewFromClient uses an existing client (Host, Port, APIKey and UseTLS of
// cfg are ignored). Close does not close it.
func NewFromClient(c *qc.Client, cfg Config) (*Store, error) {
	if cfg.CollectionPrefix == "" {
		cfg.CollectionPrefix = "vdc-chunks-"
	}
	if err := validPrefix(cfg.CollectionPrefix); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{cfg: cfg, client: c, log: log}, nil
}

// Close closes the client if New made it.
func (s *Store) Close() error {
	if s.owned {
		return s.client.Close()
	}
	return nil
}

func validPrefix(p string) error {
	if len(p) > 64 {
		return fmt.Errorf("qdrant: %w: collection prefix longer than 64", agents.ErrInvalidArgument)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("qdrant: %w: collection prefix %q may hold only a-z, 0-9, '-' and '_'", agents.ErrInvalidArgument, p)
		}
	}
	return nil
}

// Collection returns the collection name of customer.
func (s *Store) Collection(customer string) (string, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return "", err
	}
	return s.cfg.CollectionPrefix + customer, nil
}

// wrap maps gRPC codes onto the agents sentinel errors.
func wrap(op, customer string, err error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("qdrant: %s for %s: %w: %w", op, customer, agents.ErrNotFound, err)
	case codes.InvalidArgument:
		return fmt.Errorf("qdrant: %s for %s: %w: %w", op, customer, agents.ErrInvalidArgument, err)
	}
	return fmt.Errorf("qdrant: %s for %s: %w", op, customer, err)
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

// EnsureCollection implements agents.VectorStore.
func (s *Store) EnsureCollection(ctx context.Context, customer string, cfg agents.CollectionConfig) (agents.CollectionInfo, error) {
	name, err := s.Collection(customer)
	if err != nil {
		return agents.CollectionInfo{}, err
	}
	if cfg.Embedder == "" || cfg.DenseDim < 0 || cfg.DenseDim > 65536 || (cfg.DenseDim == 0 && !cfg.Sparse) {
		return agents.CollectionInfo{}, fmt.Errorf("qdrant: %w: collection config %+v needs an embedder name and dense (1-65536) or sparse vectors", agents.ErrInvalidArgument, cfg)
	}
	prev, idf, err := s.config(ctx, customer, name)
	switch {
	case errors.Is(err, agents.ErrNotFound):
		created, err := s.create(ctx, customer, name, cfg)
		if err != nil {
			return agents.CollectionInfo{}, err
		}
		if !created { // lost a race with another creator: check what it made
			return s.EnsureCollection(ctx, customer, cfg)
		}
		return agents.CollectionInfo{Config: cfg, Created: true}, nil
	case err != nil:
		return agents.CollectionInfo{}, err
	case prev == cfg && idf == s.cfg.SparseIDF:
		return agents.CollectionInfo{Config: cfg, Previous: prev}, nil
	}
	s.log.Info("vector collection config changed; recreating", "customer", customer, "collection", name,
		"old_embedder", prev.Embedder, "new_embedder", cfg.Embedder, "old_dim", prev.DenseDim, "new_dim", cfg.DenseDim)
	if err := s.drop(ctx, customer, name); err != nil {
		return agents.CollectionInfo{}, err
	}
	if _, err := s.create(ctx, customer, name, cfg); err != nil {
		return agents.CollectionInfo{}, err
	}
	return agents.CollectionInfo{Config: cfg, Reset: true, Previous: prev}, nil
}

// create makes the collection and its payload index; created is false when
// it already existed.
func (s *Store) create(ctx context.Context, customer, name string, cfg agents.CollectionConfig) (created bool, err error) {
	req := &qc.CreateCollection{
		CollectionName: name,
		Metadata: qc.NewValueMap(map[string]any{
			metaEmbedder: cfg.Embedder, metaDenseDim: cfg.DenseDim, metaSparse: cfg.Sparse,
			metaSparseIDF: s.cfg.SparseIDF, metaFormat: formatVersion,
		}),
	}
	if cfg.DenseDim > 0 {
		req.VectorsConfig = qc.NewVectorsConfigMap(map[string]*qc.VectorParams{
			DenseVector: {Size: uint64(cfg.DenseDim), Distance: qc.Distance_Cosine},
		})
	}
	if cfg.Sparse {
		p := &qc.SparseVectorParams{}
		if s.cfg.SparseIDF {
			p.Modifier = qc.Modifier_Idf.Enum()
		}
		req.SparseVectorsConfig = qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{SparseVector: p})
	}
	if err := s.client.CreateCollection(ctx, req); err != nil {
		if status.Code(err) == codes.AlreadyExists {
			return false, nil
		}
		return false, wrap("create collection", customer, err)
	}
	_, err = s.client.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{
		CollectionName: name, FieldName: keyDocument, FieldType: qc.FieldType_FieldTypeKeyword.Enum(), Wait: qc.PtrOf(true),
	})
	if err != nil {
		return true, wrap("create payload index", customer, err)
	}
	s.log.Info("vector collection created", "customer", customer, "collection", name, "embedder", cfg.Embedder, "dense_dim", cfg.DenseDim)
	return true, nil
}

// Config implements agents.VectorStore.
func (s *Store) Config(ctx context.Context, customer string) (agents.CollectionConfig, error) {
	name, err := s.Collection(customer)
	if err != nil {
		return agents.CollectionConfig{}, err
	}
	cfg, _, err := s.config(ctx, customer, name)
	return cfg, err
}

// config reads the recorded config and the idf flag from the metadata.
func (s *Store) config(ctx context.Context, customer, name string) (agents.CollectionConfig, bool, error) {
	info, err := s.client.GetCollectionInfo(ctx, name)
	if err != nil {
		return agents.CollectionConfig{}, false, wrap("read collection", customer, err)
	}
	md := info.GetConfig().GetMetadata()
	if md[metaFormat] == nil || md[metaEmbedder] == nil {
		return agents.CollectionConfig{}, false, fmt.Errorf("qdrant: collection %s has no agentvdc metadata (made outside agentvdc, or Qdrant older than 1.16); refusing to use or drop it", name)
	}
	if f := md[metaFormat].GetIntegerValue(); f != formatVersion {
		return agents.CollectionConfig{}, false, fmt.Errorf("qdrant: collection %s has metadata format %d, this build knows %d", name, f, formatVersion)
	}
	return agents.CollectionConfig{
		Embedder: md[metaEmbedder].GetStringValue(),
		DenseDim: int(md[metaDenseDim].GetIntegerValue()),
		Sparse:   md[metaSparse].GetBoolValue(),
	}, md[metaSparseIDF].GetBoolValue(), nil
}

// Drop implements agents.VectorStore.
func (s *Store) Drop(ctx context.Context, customer string) error {
	name, err := s.Collection(customer)
	if err != nil {
		return err
	}
	return s.drop(ctx, customer, name)
}

func (s *Store) drop(ctx context.Context, customer, name string) error {
	// The client's DeleteCollection turns "did not exist" into an error;
	// the raw call tells the cases apart.
	if _, err := s.client.GetCollectionsClient().Delete(ctx, &qc.DeleteCollection{CollectionName: name}); err != nil {
		return wrap("drop collection", customer, err)
	}
	return nil
}

// Upsert implements agents.VectorStore.
func (s *Store) Upsert(ctx context.Context, customer string, points []agents.Point) error {
	name, err := s.Collection(customer)
	if err != nil {
		return err
	}
	cfg, _, err := s.config(ctx, customer, name)
	if err != nil {
		return err
	}
	structs := make([]*qc.PointStruct, 0, len(points))
	for i, p := range points {
		ps, err := toStruct(customer, cfg, p)
		if err != nil {
			return fmt.Errorf("qdrant: upsert for %s: point %d (%s#%d): %w", customer, i, p.Document, p.Chunk, err)
		}
		structs = append(structs, ps)
	}
	if len(structs) == 0 {
		return nil
	}
	if _, err := s.client.Upsert(ctx, &qc.UpsertPoints{CollectionName: name, Wait: qc.PtrOf(true), Points: structs}); err != nil {
		return wrap("upsert", customer, err)
	}
	return nil
}

func toStruct(customer string, cfg agents.CollectionConfig, p agents.Point) (*qc.PointStruct, error) {
	switch {
	case p.Document == "":
		return nil, fmt.Errorf("%w: empty document", agents.ErrInvalidArgument)
	case p.Chunk < 0:
		return nil, fmt.Errorf("%w: negative chunk", agents.ErrInvalidArgument)
	case p.ID != agents.PointID(customer, p.Document, p.Chunk):
		return nil, fmt.Errorf("%w: id %q is not the point id of this customer, document and chunk", agents.ErrInvalidArgument, p.ID)
	}
	if err := p.Sparse.Validate(); err != nil {
		return nil, err
	}
	vecs := map[string]*qc.Vector{}
	if cfg.DenseDim > 0 {
		if len(p.Dense) != cfg.DenseDim {
			return nil, fmt.Errorf("%w: dense vector has %d dimensions, the collection %d", agents.ErrInvalidArgument, len(p.Dense), cfg.DenseDim)
		}
		vecs[DenseVector] = qc.NewVectorDense(p.Dense)
	} else if p.Dense != nil {
		return nil, fmt.Errorf("%w: dense vector given but the collection has none", agents.ErrInvalidArgument)
	}
	if cfg.Sparse {
		vecs[SparseVector] = qc.NewVectorSparse(p.Sparse.Indices, p.Sparse.Values)
	} else if len(p.Sparse.Indices) > 0 {
		return nil, fmt.Errorf("%w: sparse vector given but the collection has none", agents.ErrInvalidArgument)
	}
	payload := make(map[string]*qc.Value, len(p.Payload)+3)
	for k, v := range p.Payload {
		switch k {
		case keyDocument, keyChunk, keyText, "":
			return nil, fmt.Errorf("%w: payload key %q is reserved", agents.ErrInvalidArgument, k)
		}
		payload[k] = qc.NewValueString(v)
	}
	payload[keyDocument] = qc.NewValueString(p.Document)
	payload[keyChunk] = qc.NewValueInt(int64(p.Chunk))
	payload[keyText] = qc.NewValueString(p.Text)
	return &qc.PointStruct{Id: qc.NewIDUUID(p.ID), Vectors: qc.NewVectorsMap(vecs), Payload: payload}, nil
}

func toFilter(f agents.Filter) *qc.Filter {
	if len(f.Must) == 0 && len(f.MustNot) == 0 {
		return nil
	}
	out := &qc.Filter{}
	for _, m := range f.Must {
		out.Must = append(out.Must, qc.NewMatchKeyword(m.Key, m.Value))
	}
	for _, m := range f.MustNot {
		out.MustNot = append(out.MustNot, qc.NewMatchKeyword(m.Key, m.Value))
	}
	return out
}

func fromPayload(id string, pl map[string]*qc.Value, vecs *qc.VectorsOutput) agents.Point {
	p := agents.Point{ID: id}
	for k, v := range pl {
		switch k {
		case keyDocument:
			p.Document = v.GetStringValue()
		case keyChunk:
			p.Chunk = int(v.GetIntegerValue())
		case keyText:
			p.Text = v.GetStringValue()
		default:
			if p.Payload == nil {
				p.Payload = map[string]string{}
			}
			switch x := v.GetKind().(type) {
			case *qc.Value_StringValue:
				p.Payload[k] = x.StringValue
			case *qc.Value_IntegerValue:
				p.Payload[k] = strconv.FormatInt(x.IntegerValue, 10)
			case *qc.Value_DoubleValue:
				p.Payload[k] = strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
			case *qc.Value_BoolValue:
				p.Payload[k] = strconv.FormatBool(x.BoolValue)
			}
		}
	}
	named := vecs.GetVectors().GetVectors()
	if d := named[DenseVector].GetDense(); d != nil {
		p.Dense = d.GetData()
	}
	if sp := named[SparseVector].GetSparse(); sp != nil {
		p.Sparse = agents.SparseVector{Indices: sp.GetIndices(), Values: sp.GetValues()}
	}
	return p
}

// DeleteByDocument implements agents.VectorStore.
func (s *Store) DeleteByDocument(ctx context.Context, customer, document string) error {
	name, err := s.Collection(customer)
	if err != nil {
		return err
	}
	_, err = s.client.Delete(ctx, &qc.DeletePoints{
		CollectionName: name, Wait: qc.PtrOf(true),
		Points: qc.NewPointsSelectorFilter(&qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(keyDocument, document)}}),
	})
	if err != nil && !isNotFound(err) {
		return wrap("delete document", customer, err)
	}
	return nil
}

// Count implements agents.VectorStore.
func (s *Store) Count(ctx context.Context, customer string, f agents.Filter) (int, error) {
	name, err := s.Collection(customer)
	if err != nil {
		return 0, err
	}
	n, err := s.client.Count(ctx, &qc.CountPoints{CollectionName: name, Filter: toFilter(f), Exact: qc.PtrOf(true)})
	if err != nil {
		if isNotFound(err) {
			return 0, nil
		}
		return 0, wrap("count", customer, err)
	}
	return int(n), nil
}

// Scroll implements agents.VectorStore.
func (s *Store) Scroll(ctx context.Context, customer string, opts agents.ScrollOptions) ([]agents.Point, string, error) {
	name, err := s.Collection(customer)
	if err != nil {
		return nil, "", err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultScrollLimit
	}
	req := &qc.ScrollPoints{CollectionName: name, Filter: toFilter(opts.Filter), Limit: qc.PtrOf(uint32(limit)),
		WithPayload: qc.NewWithPayload(true), WithVectors: qc.NewWithVectors(opts.WithVectors)}
	if opts.Offset != "" {
		if _, err := uuid.Parse(opts.Offset); err != nil {
			return nil, "", fmt.Errorf("qdrant: scroll for %s: %w: offset %q is not a point id", customer, agents.ErrInvalidArgument, opts.Offset)
		}
		req.Offset = qc.NewIDUUID(opts.Offset)
	}
	res, next, err := s.client.ScrollAndOffset(ctx, req)
	if err != nil {
		if isNotFound(err) {
			return nil, "", nil
		}
		return nil, "", wrap("scroll", customer, err)
	}
	out := make([]agents.Point, 0, len(res))
	for _, r := range res {
		out = append(out, fromPayload(r.GetId().GetUuid(), r.GetPayload(), r.GetVectors()))
	}
	return out, next.GetUuid(), nil
}

// Search implements agents.VectorStore.
func (s *Store) Search(ctx context.Context, customer string, q agents.SearchQuery) ([]agents.Hit, error) {
	name, err := s.Collection(customer)
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, fmt.Errorf("qdrant: search for %s: %w: limit must be > 0", customer, agents.ErrInvalidArgument)
	}
	if err := q.Sparse.Validate(); err != nil {
		return nil, fmt.Errorf("qdrant: search for %s: %w", customer, err)
	}
	hasSparse, hasDense := len(q.Sparse.Indices) > 0, len(q.Dense) > 0
	if !hasSparse && !hasDense {
		return nil, fmt.Errorf("qdrant: search for %s: %w: a sparse or dense query vector is required", customer, agents.ErrInvalidArgument)
	}
	filter := toFilter(q.Filter)
	var threshold *float32
	if q.ScoreThreshold != 0 {
		threshold = qc.PtrOf(q.ScoreThreshold)
	}
	sparseQ := func() *qc.Query { return qc.NewQuerySparse(q.Sparse.Indices, q.Sparse.Values) }
	denseQ := func() *qc.Query { return qc.NewQueryDense(q.Dense) }
	req := &qc.QueryPoints{CollectionName: name, Limit: qc.PtrOf(uint64(q.Limit)), WithPayload: qc.NewWithPayload(true), Filter: filter}
	switch {
	case hasSparse && hasDense:
		n := qc.PtrOf(uint64(q.Limit * agents.PrefetchFactor))
		req.Prefetch = []*qc.PrefetchQuery{
			{Query: sparseQ(), Using: qc.PtrOf(SparseVector), Filter: filter, ScoreThreshold: threshold, Limit: n},
			{Query: denseQ(), Using: qc.PtrOf(DenseVector), Filter: filter, ScoreThreshold: threshold, Limit: n},
		}
		req.Query = qc.NewQueryRRF(&qc.Rrf{K: qc.PtrOf(uint32(agents.RRFK))})
	case hasSparse:
		req.Query, req.Using, req.ScoreThreshold = sparseQ(), qc.PtrOf(SparseVector), threshold
	default:
		req.Query, req.Using, req.ScoreThreshold = denseQ(), qc.PtrOf(DenseVector), threshold
	}
	res, err := s.client.Query(ctx, req)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, wrap("search", customer, err)
	}
	hits := make([]agents.Hit, 0, len(res))
	for _, r := range res {
		hits = append(hits, agents.Hit{Point: fromPayload(r.GetId().GetUuid(), r.GetPayload(), nil), Score: r.GetScore()})
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Point.ID < hits[j].Point.ID
	})
	return hits, nil
}

// Health asks Qdrant's health check RPC (the same service /healthz
// reports on HTTP).
func (s *Store) Health(ctx context.Context) error {
	if _, err := s.client.HealthCheck(ctx); err != nil {
		return fmt.Errorf("qdrant: health check: %w", err)
	}
	return nil
}
