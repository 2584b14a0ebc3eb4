package agents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Isolation model
//
// Every store method takes ctx and the customer name as its first two
// arguments. A single store value serves every customer; the customer name is
// the only scope and there is no method that reads or writes across
// customers. Implementations must validate the name with ValidateCustomer and
// keep the data of different customers in separate namespaces (a directory, a
// bucket, a bbolt bucket, a Qdrant collection, a Neo4j property that is part
// of every uniqueness key). The conformance suite in agents/storetest writes
// the same keys for two customers and proves neither can see, change or
// delete the other's data.

// Errors shared by every store implementation. Implementations wrap them with
// %w so callers test with errors.Is.
var (
	// ErrNotFound: the object, collection or node does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidCustomer: the customer name is not a DNS label of 3-32
	// characters [a-z0-9-].
	ErrInvalidCustomer = errors.New("invalid customer name")
	// ErrInvalidKey: an object key is empty, too long, not UTF-8, absolute,
	// or contains "." / ".." segments, backslashes or control characters.
	ErrInvalidKey = errors.New("invalid object key")
	// ErrInvalidArgument: any other malformed argument (unknown label or
	// relationship type, wrong vector dimension, bad sparse vector, ...).
	ErrInvalidArgument = errors.New("invalid argument")
)

// ValidateCustomer reports whether name is a valid customer name: a DNS label
// of 3 to 32 characters from [a-z0-9-] that starts and ends with a letter or
// digit. The error wraps ErrInvalidCustomer and quotes the name.
func ValidateCustomer(name string) error {
	if len(name) < 3 || len(name) > 32 {
		return fmt.Errorf("%w %q: must be 3-32 characters", ErrInvalidCustomer, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(name)-1:
		default:
			return fmt.Errorf("%w %q: only a-z, 0-9 and inner '-' are allowed", ErrInvalidCustomer, name)
		}
	}
	return nil
}

// MaxKeyLen is the longest object key accepted (S3's limit).
const MaxKeyLen = 1024

// ValidateKey reports whether key is a safe object key: 1..MaxKeyLen bytes of
// UTF-8, '/'-separated segments, none empty, "." or "..", no leading '/', no
// backslash and no control characters. Every ObjectStore enforces it, so a
// key can never escape the customer's namespace on a file system.
func ValidateKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: length must be 1-%d bytes", ErrInvalidKey, MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalidKey)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("%w %q: control character or backslash", ErrInvalidKey, key)
		}
		// Bidi overrides (U+202E shows "txt.exe" as "exe.txt"), zero-width
		// and other invisible format characters make a name read as
		// another: refused as the customer loader refuses them.
		if unicode.Is(unicode.Cf, r) || (r >= 0x80 && r <= 0x9f) {
			return fmt.Errorf("%w %q: invisible or direction-changing character U+%04X", ErrInvalidKey, key, r)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "", ".", "..":
			return fmt.Errorf("%w %q: empty, '.' or '..' path segment", ErrInvalidKey, key)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Objects

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string
	ETag    string    // opaque; changes whenever the content changes
	Size    int64     // bytes
	ModTime time.Time // last modification, UTC
}

// ListOptions selects a page of objects. Keys are returned in ascending byte
// order (S3 order).
type ListOptions struct {
	Prefix     string // only keys with this prefix
	StartAfter string // only keys strictly greater than this one
	Limit      int    // page size; <= 0 means DefaultListLimit
}

// DefaultListLimit is the page size when ListOptions.Limit is not set.
const DefaultListLimit = 1000

// ObjectPage is one page of a listing.
type ObjectPage struct {
	Objects []ObjectInfo
	// Next is the StartAfter value for the next page, or "" when this was
	// the last page.
	Next string
}

// ObjectStore is the customer's dump folder: the bucket end customers upload
// into and the ingest agent reads from.
type ObjectStore interface {
	// List returns one page of objects in ascending key order. An unknown
	// customer (nothing ever stored) yields an empty page, not an error.
	List(ctx context.Context, customer string, opts ListOptions) (ObjectPage, error)
	// Stat returns the object's metadata, ErrNotFound if it does not exist.
	Stat(ctx context.Context, customer, key string) (ObjectInfo, error)
	// Get opens the object for reading; the caller closes the reader.
	// ErrNotFound if it does not exist.
	Get(ctx context.Context, customer, key string) (io.ReadCloser, ObjectInfo, error)
	// Put stores r under key, replacing any existing object atomically
	// (readers see the old or the new content, never a mix). size is the
	// number of bytes r yields, or -1 if unknown.
	Put(ctx context.Context, customer, key string, r io.Reader, size int64) (ObjectInfo, error)
	// Delete removes the object. Deleting a missing object is not an error.
	Delete(ctx context.Context, customer, key string) error
}

// ---------------------------------------------------------------------------
// Vectors

// CollectionConfig is what a customer's vector collection was built with.
// It is recorded with the collection; a different config means every point
// must be re-embedded.
type CollectionConfig struct {
	Embedder string // embedder name and version, e.g. "hash-bm25-v1"
	DenseDim int    // dimension of dense vectors (cosine distance); 0 = no dense vectors
	Sparse   bool   // whether points carry a sparse vector
}

// CollectionInfo is the result of EnsureCollection.
type CollectionInfo struct {
	Config CollectionConfig // the config now in force (the one passed in)
	// Created is true when the collection did not exist before the call.
	Created bool
	// Reset is true when the collection existed with a different config:
	// it has been dropped and recreated empty, so the caller must re-embed.
	Reset bool
	// Previous is the config recorded before the call (zero if Created).
	Previous CollectionConfig
}

// SparseVector is a sparse vector: Indices strictly ascending, same length
// as Values. An empty vector is allowed.
type SparseVector struct {
	Indices []uint32
	Values  []float32
}

// Validate checks the SparseVector invariants.
func (s SparseVector) Validate() error {
	if len(s.Indices) != len(s.Values) {
		return fmt.Errorf("%w: sparse vector has %d indices and %d values", ErrInvalidArgument, len(s.Indices), len(s.Values))
	}
	for i := 1; i < len(s.Indices); i++ {
		if s.Indices[i] <= s.Indices[i-1] {
			return fmt.Errorf("%w: sparse indices must be strictly ascending", ErrInvalidArgument)
		}
	}
	return nil
}

// Point is one chunk in the vector store.
type Point struct {
	// ID is PointID(customer, Document, Chunk); stores reject other ids.
	ID       string
	Document string // object key of the source document (payload key "document")
	Chunk    int    // chunk number within the document, from 0 (payload key "chunk")
	Text     string // chunk text (payload key "text")
	// Payload holds further string attributes (e.g. "hash", "mime",
	// "title"). The keys "document", "chunk" and "text" are reserved.
	Payload map[string]string
	Sparse  SparseVector
	Dense   []float32 // len == DenseDim when the collection has dense vectors, else nil
}

// PointNamespace is the UUID namespace of point ids.
var pointNamespace = uuid.MustParse("6f1d2c1e-8a47-5e1b-9a55-0a6e7c2b9d10")

// PointID is the deterministic point id (UUIDv5) of chunk number chunk of
// document in customer's collection. Re-ingesting a document therefore
// overwrites its points instead of duplicating them.
func PointID(customer, document string, chunk int) string {
	return uuid.NewSHA1(pointNamespace, []byte(customer+"\x00"+document+"\x00"+strconv.Itoa(chunk))).String()
}

// Match is one filter condition: the payload value at Key equals Value.
// Key may be "document" or any Payload key.
type Match struct {
	Key   string
	Value string
}

// Filter restricts points: all Must conditions hold and no MustNot
// condition holds. The zero Filter matches every point.
type Filter struct {
	Must    []Match
	MustNot []Match
}

// RRFK is the reciprocal-rank-fusion constant. A hybrid result's score is
// the sum over the sparse and dense result lists of 1/(RRFK + pos), pos being
// the 0-based position of the point in that list (as Qdrant computes it).
const RRFK = 60

// SearchQuery is a similarity search.
type SearchQuery struct {
	// Sparse scores by dot product; Dense by cosine similarity. At least
	// one must be non-empty. With both, each is searched separately
	// (Limit*PrefetchFactor candidates each) and the lists are fused with
	// RRF; the result's Score is then the fused score.
	Sparse SparseVector
	Dense  []float32
	Filter Filter
	Limit  int // maximum number of hits; must be > 0
	// ScoreThreshold drops candidates whose sparse dot product or dense
	// cosine is below it (applied per list, before fusion). 0 = none.
	ScoreThreshold float32
}

// PrefetchFactor: in a hybrid search each list contributes up to
// Limit*PrefetchFactor candidates to the fusion.
const PrefetchFactor = 4

// Hit is one search result, best first. Vectors are not returned.
type Hit struct {
	Point Point
	Score float32
}

// ScrollOptions pages through points in ascending id order.
type ScrollOptions struct {
	Filter      Filter
	Offset      string // first id to return (inclusive), "" = from the start
	Limit       int    // <= 0 means 256
	WithVectors bool
}

// VectorStore holds one chunk collection per customer.
type VectorStore interface {
	// EnsureCollection creates the customer's collection with cfg, or
	// checks the recorded config: equal → nothing changes; different → the
	// collection is dropped and recreated empty (Reset) so the caller
	// re-embeds everything.
	EnsureCollection(ctx context.Context, customer string, cfg CollectionConfig) (CollectionInfo, error)
	// Config returns the recorded config, ErrNotFound if there is no
	// collection.
	Config(ctx context.Context, customer string) (CollectionConfig, error)
	// Upsert inserts or replaces points by ID. Every point is validated
	// (ID == PointID(customer, Document, Chunk), dense dimension, sparse
	// invariants) before anything is written. ErrNotFound without a
	// collection.
	Upsert(ctx context.Context, customer string, points []Point) error
	// DeleteByDocument removes every point of document.
	DeleteByDocument(ctx context.Context, customer, document string) error
	// Count returns the number of points matching f (0 without collection).
	Count(ctx context.Context, customer string, f Filter) (int, error)
	// Scroll returns up to Limit points from Offset on and the offset of
	// the next page ("" at the end).
	Scroll(ctx context.Context, customer string, opts ScrollOptions) ([]Point, string, error)
	// Search returns the best hits; ties are broken by ascending ID. A
	// missing collection yields no hits.
	Search(ctx context.Context, customer string, q SearchQuery) ([]Hit, error)
	// Drop deletes the customer's collection and all its points.
	Drop(ctx context.Context, customer string) error
}

// ---------------------------------------------------------------------------
// Graph

// Node labels. Labels cannot be query parameters in Cypher, so only these
// are accepted.
const (
	LabelDocument = "Document"
	LabelChunk    = "Chunk"
	LabelEntity   = "Entity"
)

// Relationship types (a whitelist, for the same reason).
const (
	RelPartOf    = "PART_OF"    // Chunk -> Document
	RelNextChunk = "NEXT_CHUNK" // Chunk -> next Chunk of the same document
	RelHasEntity = "HAS_ENTITY" // Chunk -> Entity
	RelRelatedTo = "RELATED_TO" // Entity -> Entity, co-occurrence (NPMI)
	RelSimilar   = "SIMILAR"    // Chunk -> Chunk, high vector similarity
	RelIsA       = "IS_A"       // Entity -> Entity, "Y such as X"
	RelWorksFor  = "WORKS_FOR"  // Entity(person) -> Entity(org)
	RelLeads     = "LEADS"      // Entity(person) -> Entity(org), "X, CEO of Y"
	RelAcquired  = "ACQUIRED"   // Entity(org) -> Entity(org)
	RelLocatedIn = "LOCATED_IN" // Entity -> Entity(place)
	RelPartnerOf = "PARTNER_OF" // Entity(org) -> Entity(org)
)

// ValidLabel reports whether l is a whitelisted node label.
func ValidLabel(l string) bool {
	switch l {
	case LabelDocument, LabelChunk, LabelEntity:
		return true
	}
	return false
}

// RelTypes lists every whitelisted relationship type.
func RelTypes() []string {
	return []string{RelPartOf, RelNextChunk, RelHasEntity, RelRelatedTo, RelSimilar,
		RelIsA, RelWorksFor, RelLeads, RelAcquired, RelLocatedIn, RelPartnerOf}
}

// ValidRelType reports whether t is a whitelisted relationship type.
func ValidRelType(t string) bool {
	for _, r := range RelTypes() {
		if r == t {
			return true
		}
	}
	return false
}

// NodeRef identifies a node: (Label, Key) is unique per customer.
type NodeRef struct {
	Label string
	Key   string
}

// Node is a graph node. Props with the key "document" tie the node to a
// source document (see DeleteByDocument).
type Node struct {
	Label string
	Key   string
	Props map[string]string
}

// Ref returns the node's identity.
func (n Node) Ref() NodeRef { return NodeRef{Label: n.Label, Key: n.Key} }

// Edge is a directed relationship. (From, Type, To) is unique: merging it
// again replaces Confidence, Count, Evidence and Props.
type Edge struct {
	Type       string
	From, To   NodeRef
	Confidence float64  // 0..1
	Count      int      // supporting observations (e.g. co-occurrences)
	Evidence   []string // chunk point ids supporting the edge (at most 20 kept)
	Props      map[string]string
}

// MaxEvidence is the most evidence ids stored on an edge; stores keep the
// first MaxEvidence.
const MaxEvidence = 20

// NeighbourOptions bounds a traversal.
type NeighbourOptions struct {
	Depth int      // hops, 1..3 (values outside are clamped)
	Limit int      // maximum neighbours; <= 0 means 50
	Types []string // only follow these relationship types; empty = all
}

// Neighbour is a node reached from the start node.
type Neighbour struct {
	Node  Node
	Depth int // shortest number of hops from the start
	// Via is the highest-confidence edge (ties: lowest Type, then From
	// key, then To key) joining Node to a node at Depth-1 on a shortest
	// path (the start node when Depth == 1).
	Via Edge
}

// GraphCounts counts nodes per label and edges per type.
type GraphCounts struct {
	Nodes map[string]int
	Edges map[string]int
}

// GraphStore is the customer's knowledge graph.
type GraphStore interface {
	// MergeNodes creates or updates nodes by (Label, Key): given props are
	// set, other existing props are kept. Unknown labels or empty keys fail
	// with ErrInvalidArgument before anything is written.
	MergeNodes(ctx context.Context, customer string, nodes []Node) error
	// MergeEdges creates or updates edges by (From, Type, To). Unknown types
	// fail with ErrInvalidArgument before anything is written; an edge
	// whose endpoint node does not exist fails with ErrNotFound (edges
	// before it may have been written).
	MergeEdges(ctx context.Context, customer string, edges []Edge) error
	// Node returns one node, ErrNotFound if missing.
	Node(ctx context.Context, customer string, ref NodeRef) (Node, error)
	// Nodes lists nodes of label with key > afterKey, ascending by key.
	Nodes(ctx context.Context, customer, label, afterKey string, limit int) ([]Node, error)
	// Neighbours traverses edges in both directions from start, breadth
	// first. Results are ordered by Depth, then Via.Confidence descending,
	// then Label and Key. ErrNotFound if start does not exist.
	Neighbours(ctx context.Context, customer string, start NodeRef, opts NeighbourOptions) ([]Neighbour, error)
	// DeleteByDocument removes every node whose "document" prop equals
	// document, with all their edges, then every Entity node left without
	// any edge.
	DeleteByDocument(ctx context.Context, customer, document string) error
	// Counts returns node counts per label and edge counts per type (labels
	// and types with zero entries may be omitted).
	Counts(ctx context.Context, customer string) (GraphCounts, error)
}
