package embedded

import (
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentvdc/agentvdc/agents"
)

var (
	bucketMeta   = []byte("meta")
	bucketPoints = []byte("points")
	keyConfig    = []byte("config")
)

// Vectors is the embedded VectorStore: one bbolt file per customer
// (ROOT/CUSTOMER/vectors.db) plus an in-memory exact-search index.
type Vectors struct {
	root string
	mu   sync.Mutex
	cols map[string]*collection
}

var _ agents.VectorStore = (*Vectors)(nil)

// NewVectors returns the vector store rooted at root (DATA/agents).
func NewVectors(root string) *Vectors {
	return &Vectors{root: root, cols: map[string]*collection{}}
}

// Close closes every open customer file.
func (v *Vectors) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	var errs []error
	for c, col := range v.cols {
		errs = append(errs, col.db.Close())
		delete(v.cols, c)
	}
	return errors.Join(errs...)
}

type slot struct {
	id      string
	doc     string
	chunk   int
	payload map[string]string
	dense   []float32 // normalised
	// The sparse vector lives only in the postings (one copy in memory);
	// the bbolt record has it for Scroll(WithVectors).
	live bool
}

type posting struct {
	slot int32
	w    float32
}

type collection struct {
	db     *bolt.DB
	mu     sync.RWMutex
	loaded bool
	cfg    *agents.CollectionConfig // nil: no collection
	slots  []slot
	byID   map[string]int32
	post   map[uint32][]posting
	dead   int
}

func openBolt(path string) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create dir: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// col returns the customer's collection; with create=false a customer
// without a file yields nil.
func (v *Vectors) col(customer string, create bool) (*collection, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c, ok := v.cols[customer]; ok {
		return c, nil
	}
	p := filepath.Join(v.root, customer, "vectors.db")
	if !create {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	db, err := openBolt(p)
	if err != nil {
		return nil, err
	}
	c := &collection{db: db}
	if err := c.load(); err != nil {
		db.Close()
		return nil, err
	}
	v.cols[customer] = c
	return c, nil
}

func (c *collection) reset() {
	c.slots = nil
	c.byID = map[string]int32{}
	c.post = map[uint32][]posting{}
	c.dead = 0
}

func (c *collection) load() error {
	c.reset()
	return c.db.View(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMeta)
		if mb == nil || mb.Get(keyConfig) == nil {
			return nil
		}
		var cfg agents.CollectionConfig
		if err := json.Unmarshal(mb.Get(keyConfig), &cfg); err != nil {
			return fmt.Errorf("decode collection config: %w", err)
		}
		c.cfg = &cfg
		pb := tx.Bucket(bucketPoints)
		if pb == nil {
			return nil
		}
		return pb.ForEach(func(k, val []byte) error {
			p, err := decodePoint(val, true)
			if err != nil {
				return fmt.Errorf("decode point %s: %w", k, err)
			}
			c.add(p)
			return nil
		})
	})
}

func normalise(v []float32) []float32 {
	if v == nil {
		return nil
	}
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if n == 0 {
		return out
	}
	inv := 1 / math.Sqrt(n)
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

func (c *collection) remove(id string) {
	i, ok := c.byID[id]
	if !ok {
		return
	}
	c.slots[i] = slot{}
	delete(c.byID, id)
	c.dead++
}

func (c *collection) add(p agents.Point) {
	c.remove(p.ID)
	s := slot{id: p.ID, doc: p.Document, chunk: p.Chunk, payload: p.Payload, dense: normalise(p.Dense), live: true}
	i := int32(len(c.slots))
	c.slots = append(c.slots, s)
	c.byID[p.ID] = i
	for k, idx := range p.Sparse.Indices {
		c.post[idx] = append(c.post[idx], posting{slot: i, w: p.Sparse.Values[k]})
	}
}

// compact rebuilds the slots and postings when more than half are dead.
func (c *collection) compact() {
	if c.dead < 1024 || c.dead*2 < len(c.slots) {
		return
	}
	remap := make([]int32, len(c.slots))
	live := c.slots[:0:0]
	for i, s := range c.slots {
		remap[i] = -1
		if s.live {
			remap[i] = int32(len(live))
			live = append(live, s)
		}
	}
	c.slots = live
	c.byID = make(map[string]int32, len(live))
	for i, s := range live {
		c.byID[s.id] = int32(i)
	}
	for idx, ps := range c.post {
		out := ps[:0]
		for _, p := range ps {
			if n := remap[p.slot]; n >= 0 {
				out = append(out, posting{slot: n, w: p.w})
			}
		}
		if len(out) == 0 {
			delete(c.post, idx)
		} else {
			c.post[idx] = out
		}
	}
	c.dead = 0
}

// EnsureCollection implements agents.VectorStore.
func (v *Vectors) EnsureCollection(ctx context.Context, customer string, cfg agents.CollectionConfig) (agents.CollectionInfo, error) {
	if cfg.DenseDim < 0 || cfg.Embedder == "" {
		return agents.CollectionInfo{}, fmt.Errorf("%w: collection needs an embedder name and a dense dimension >= 0", agents.ErrInvalidArgument)
	}
	c, err := v.col(customer, true)
	if err != nil {
		return agents.CollectionInfo{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	info := agents.CollectionInfo{Config: cfg}
	if c.cfg != nil {
		info.Previous = *c.cfg
		if *c.cfg == cfg {
			return info, nil
		}
		info.Reset = true
	} else {
		info.Created = true
	}
	err = c.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPoints) != nil {
			if err := tx.DeleteBucket(bucketPoints); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucket(bucketPoints); err != nil {
			return err
		}
		mb, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(cfg)
		return mb.Put(keyConfig, b)
	})
	if err != nil {
		return agents.CollectionInfo{}, fmt.Errorf("ensure collection: %w", err)
	}
	c.reset()
	c.cfg = &cfg
	return info, nil
}

// Config implements agents.VectorStore.
func (v *Vectors) Config(ctx context.Context, customer string) (agents.CollectionConfig, error) {
	c, err := v.col(customer, false)
	if err != nil {
		return agents.CollectionConfig{}, err
	}
	if c == nil {
		return agents.CollectionConfig{}, fmt.Errorf("collection of %s: %w", customer, agents.ErrNotFound)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cfg == nil {
		return agents.CollectionConfig{}, fmt.Errorf("collection of %s: %w", customer, agents.ErrNotFound)
	}
	return *c.cfg, nil
}

func validatePoint(customer string, cfg agents.CollectionConfig, p agents.Point) error {
	if p.Document == "" || p.Chunk < 0 {
		return fmt.Errorf("%w: point needs a document and a chunk >= 0", agents.ErrInvalidArgument)
	}
	if p.ID != agents.PointID(customer, p.Document, p.Chunk) {
		return fmt.Errorf("%w: point id %q is not PointID(customer, %q, %d)", agents.ErrInvalidArgument, p.ID, p.Document, p.Chunk)
	}
	if len(p.Dense) != cfg.DenseDim {
		return fmt.Errorf("%w: point %s has a dense vector of %d dimensions, collection has %d", agents.ErrInvalidArgument, p.ID, len(p.Dense), cfg.DenseDim)
	}
	for k := range p.Payload {
		switch k {
		case "document", "chunk", "text":
			return fmt.Errorf("%w: payload key %q is reserved", agents.ErrInvalidArgument, k)
		}
	}
	return p.Sparse.Validate()
}

// Upsert implements agents.VectorStore.
func (v *Vectors) Upsert(ctx context.Context, customer string, points []agents.Point) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := v.col(customer, false)
	if err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("collection of %s: %w", customer, agents.ErrNotFound)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg == nil {
		return fmt.Errorf("collection of %s: %w", customer, agents.ErrNotFound)
	}
	for _, p := range points {
		if err := validatePoint(customer, *c.cfg, p); err != nil {
			return err
		}
	}
	err = c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPoints)
		for _, p := range points {
			if err := b.Put([]byte(p.ID), encodePoint(p)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upsert points: %w", err)
	}
	for _, p := range points {
		c.add(p)
	}
	return nil
}

// DeleteByDocument implements agents.VectorStore.
func (v *Vectors) DeleteByDocument(ctx context.Context, customer, document string) error {
	c, err := v.col(customer, false)
	if err != nil || c == nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg == nil {
		return nil
	}
	var ids []string
	for _, s := range c.slots {
		if s.live && s.doc == document {
			ids = append(ids, s.id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	err = c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPoints)
		for _, id := range ids {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete points of %q: %w", document, err)
	}
	for _, id := range ids {
		c.remove(id)
	}
	c.compact()
	return nil
}

func matches(s *slot, f agents.Filter) bool {
	val := func(k string) (string, bool) {
		if k == "document" {
			return s.doc, true
		}
		x, ok := s.payload[k]
		return x, ok
	}
	for _, m := range f.Must {
		if x, ok := val(m.Key); !ok || x != m.Value {
			return false
		}
	}
	for _, m := range f.MustNot {
		if x, ok := val(m.Key); ok && x == m.Value {
			return false
		}
	}
	return true
}

// Count implements agents.VectorStore.
func (v *Vectors) Count(ctx context.Context, customer string, f agents.Filter) (int, error) {
	c, err := v.col(customer, false)
	if err != nil || c == nil {
		return 0, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := 0
	for i := range c.slots {
		if c.slots[i].live && matches(&c.slots[i], f) {
			n++
		}
	}
	return n, nil
}

// Scroll implements agents.VectorStore.
func (v *Vectors) Scroll(ctx context.Context, customer string, opts agents.ScrollOptions) ([]agents.Point, string, error) {
	c, err := v.col(customer, false)
	if err != nil || c == nil {
		return nil, "", err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = 256
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []agents.Point
	next := ""
	err = c.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPoints)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		for k, val := cur.Seek([]byte(opts.Offset)); k != nil; k, val = cur.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			i, ok := c.byID[string(k)]
			if !ok || !matches(&c.slots[i], opts.Filter) {
				continue
			}
			if len(out) == limit {
				next = string(k)
				return nil
			}
			p, err := decodePoint(val, opts.WithVectors)
			if err != nil {
				return fmt.Errorf("decode point %s: %w", k, err)
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("scroll: %w", err)
	}
	return out, next, nil
}

// Drop implements agents.VectorStore.
func (v *Vectors) Drop(ctx context.Context, customer string) error {
	c, err := v.col(customer, false)
	if err != nil || c == nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err = c.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPoints, bucketMeta} {
			if tx.Bucket(b) != nil {
				if err := tx.DeleteBucket(b); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("drop collection: %w", err)
	}
	c.reset()
	c.cfg = nil
	return nil
}

type scored struct {
	slot  int32
	score float32
	id    string
}

// better orders by score descending, then id ascending.
func better(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.id < b.id
}

// minHeap keeps the k best; the root is the worst of them.
type minHeap []scored

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *minHeap) Pop() any          { o := *h; x := o[len(o)-1]; *h = o[:len(o)-1]; return x }

func topK(k int, offer func(push func(scored))) []scored {
	h := make(minHeap, 0, k+1)
	offer(func(s scored) {
		if len(h) < k {
			heap.Push(&h, s)
		} else if better(s, h[0]) {
			h[0] = s
			heap.Fix(&h, 0)
		}
	})
	sort.Slice(h, func(i, j int) bool { return better(h[i], h[j]) })
	return h
}

func (c *collection) searchSparse(q agents.SparseVector, f agents.Filter, k int, thr float32) []scored {
	// A dense accumulator over slots beats a map once postings are long.
	acc := make([]float32, len(c.slots))
	seen := make([]bool, len(c.slots))
	var touched []int32
	for i, idx := range q.Indices {
		w := q.Values[i]
		for _, p := range c.post[idx] {
			if !seen[p.slot] {
				seen[p.slot] = true
				touched = append(touched, p.slot)
			}
			acc[p.slot] += w * p.w
		}
	}
	return topK(k, func(push func(scored)) {
		for _, sl := range touched {
			sc := acc[sl]
			s := &c.slots[sl]
			if !s.live || (thr != 0 && sc < thr) || !matches(s, f) {
				continue
			}
			push(scored{slot: sl, score: sc, id: s.id})
		}
	})
}

func (c *collection) searchDense(q []float32, f agents.Filter, k int, thr float32) []scored {
	qn := normalise(q)
	return topK(k, func(push func(scored)) {
		for i := range c.slots {
			s := &c.slots[i]
			if !s.live || len(s.dense) != len(qn) || !matches(s, f) {
				continue
			}
			var dot float32
			for j, x := range s.dense {
				dot += x * qn[j]
			}
			if thr != 0 && dot < thr {
				continue
			}
			push(scored{slot: int32(i), score: dot, id: s.id})
		}
	})
}

// Search implements agents.VectorStore.
func (v *Vectors) Search(ctx context.Context, customer string, q agents.SearchQuery) ([]agents.Hit, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("%w: search limit must be > 0", agents.ErrInvalidArgument)
	}
	if len(q.Sparse.Indices) == 0 && len(q.Dense) == 0 {
		return nil, fmt.Errorf("%w: empty query (no sparse or dense vector)", agents.ErrInvalidArgument)
	}
	if err := q.Sparse.Validate(); err != nil {
		return nil, err
	}
	c, err := v.col(customer, false)
	if err != nil || c == nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cfg == nil {
		return nil, nil
	}
	if len(q.Dense) > 0 && len(q.Dense) != c.cfg.DenseDim {
		return nil, fmt.Errorf("%w: query has %d dense dimensions, collection has %d", agents.ErrInvalidArgument, len(q.Dense), c.cfg.DenseDim)
	}
	var res []scored
	switch {
	case len(q.Dense) == 0:
		res = c.searchSparse(q.Sparse, q.Filter, q.Limit, q.ScoreThreshold)
	case len(q.Sparse.Indices) == 0:
		res = c.searchDense(q.Dense, q.Filter, q.Limit, q.ScoreThreshold)
	default:
		n := q.Limit * agents.PrefetchFactor
		res = fuseRRF(q.Limit, c.searchSparse(q.Sparse, q.Filter, n, q.ScoreThreshold), c.searchDense(q.Dense, q.Filter, n, q.ScoreThreshold))
	}
	hits := make([]agents.Hit, 0, len(res))
	err = c.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPoints)
		for _, r := range res {
			val := b.Get([]byte(r.id))
			if val == nil {
				continue
			}
			p, err := decodePoint(val, false)
			if err != nil {
				return err
			}
			hits = append(hits, agents.Hit{Point: p, Score: r.score})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read hits: %w", err)
	}
	return hits, nil
}

// fuseRRF fuses ranked lists: score = Σ 1/(RRFK + position).
func fuseRRF(k int, lists ...[]scored) []scored {
	acc := map[int32]scored{}
	for _, l := range lists {
		for pos, s := range l {
			a := acc[s.slot]
			a.slot, a.id = s.slot, s.id
			a.score += 1 / float32(agents.RRFK+pos)
			acc[s.slot] = a
		}
	}
	return topK(k, func(push func(scored)) {
		for _, s := range acc {
			push(s)
		}
	})
}

// ---------------------------------------------------------------------------
// point encoding: a versioned, length-prefixed binary record.

const pointFormat = 1

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodePoint(p agents.Point) []byte {
	b := make([]byte, 0, 64+len(p.Text)+8*len(p.Sparse.Indices)+4*len(p.Dense))
	b = append(b, pointFormat)
	b = appendString(b, p.ID)
	b = appendString(b, p.Document)
	b = binary.AppendUvarint(b, uint64(p.Chunk))
	b = appendString(b, p.Text)
	keys := make([]string, 0, len(p.Payload))
	for k := range p.Payload {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, p.Payload[k])
	}
	b = binary.AppendUvarint(b, uint64(len(p.Sparse.Indices)))
	for i, idx := range p.Sparse.Indices {
		b = binary.LittleEndian.AppendUint32(b, idx)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p.Sparse.Values[i]))
	}
	b = binary.AppendUvarint(b, uint64(len(p.Dense)))
	for _, x := range p.Dense {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated record")
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errors.New("truncated record")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) str() string { return string(d.bytes(d.uvarint())) }

func (d *decoder) u32() uint32 {
	b := d.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func decodePoint(b []byte, withVectors bool) (agents.Point, error) {
	if len(b) == 0 || b[0] != pointFormat {
		return agents.Point{}, errors.New("unknown point format")
	}
	d := &decoder{b: b[1:]}
	var p agents.Point
	p.ID = d.str()
	p.Document = d.str()
	p.Chunk = int(d.uvarint())
	p.Text = d.str()
	if n := d.uvarint(); n > 0 && d.err == nil {
		p.Payload = make(map[string]string, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			k := d.str()
			p.Payload[k] = d.str()
		}
	}
	if !withVectors {
		return p, d.err
	}
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) {
			return p, errors.New("truncated record")
		}
		p.Sparse.Indices = make([]uint32, n)
		p.Sparse.Values = make([]float32, n)
		for i := range p.Sparse.Indices {
			p.Sparse.Indices[i] = d.u32()
			p.Sparse.Values[i] = math.Float32frombits(d.u32())
		}
	}
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) {
			return p, errors.New("truncated record")
		}
		p.Dense = make([]float32, n)
		for i := range p.Dense {
			p.Dense[i] = math.Float32frombits(d.u32())
		}
	}
	return p, d.err
}
