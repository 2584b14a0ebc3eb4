package agents

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/agents/embed"
	"github.com/agentvdc/agentvdc/agents/extract"
)

// DenseEmbedder produces dense vectors (e.g. embed.Client against an
// OpenAI-compatible endpoint).
type DenseEmbedder interface {
	Name() string
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Deps are the stores and embedders the agents and the query path share.
type Deps struct {
	Objects ObjectStore
	Vectors VectorStore
	Graph   GraphStore
	State   State
	Sparse  embed.Sparse
	Dense   DenseEmbedder // optional
	// Extractor reads the text out of dumped files. nil extracts in this
	// process, which only trusted input may use: the daemon and the CLI
	// pass an extract.Sandbox.
	Extractor extract.Extractor
	Log       *slog.Logger // nil: slog.Default()
	Now       func() time.Time
}

func (d *Deps) extractor() extract.Extractor {
	if d.Extractor != nil {
		return d.Extractor
	}
	return extract.InProcess{}
}

func (d *Deps) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// Log attribute keys.
const (
	LogCustomer = "customer"
	LogAgent    = "agent"
	LogObject   = "object"
	LogReason   = "reason"
)

// Report is what one agent run did.
type Report struct {
	Agent    string         `json:"agent"`
	Customer string         `json:"customer"`
	Started  time.Time      `json:"started"`
	Duration time.Duration  `json:"duration_ns"`
	Counts   map[string]int `json:"counts"`
	// Quarantined counts the files the run quarantined, by reason.
	Quarantined map[string]int `json:"quarantined,omitempty"`
	Notes       []string       `json:"notes,omitempty"`
}

func newReport(agent, customer string, now time.Time) Report {
	return Report{Agent: agent, Customer: customer, Started: now, Counts: map[string]int{}}
}

// String renders the report on one line: agent, customer, sorted counts.
func (r Report) String() string {
	keys := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s:", r.Agent, r.Customer)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, r.Counts[k])
	}
	fmt.Fprintf(&b, " (%s)", r.Duration.Round(time.Millisecond))
	return b.String()
}

// State buckets.
const (
	bucketIngest     = "ingest"     // cursor, pass counter
	bucketObjects    = "objects"    // object key -> objectRecord
	bucketDF         = "df"         // 4-byte term index -> uvarint document frequency
	bucketStats      = "stats"      // "chunks", "length"
	bucketQuarantine = "quarantine" // object key -> QuarantineEntry
	bucketDirty      = "reldirty"   // object key -> "" (relationship agent to do)
	bucketQueryLog   = "querylog"   // time key -> QueryLogEntry
	bucketLearn      = "learn"      // "exp:TERM" -> []Expansion, "boost:TERM" -> float, "cursor"
	bucketMeta       = "meta"       // "dense-dim:NAME" -> int
)

// CollectionConfig returns the config the collection must have for the
// configured embedders (probing the dense endpoint once for its dimension).
func (d *Deps) CollectionConfig(ctx context.Context, customer string) (CollectionConfig, error) {
	cfg := CollectionConfig{Embedder: d.Sparse.Name(), Sparse: true}
	if d.Dense == nil {
		return cfg, nil
	}
	cfg.Embedder += "+" + d.Dense.Name()
	key := "dense-dim:" + d.Dense.Name()
	if b, err := d.State.Get(ctx, customer, bucketMeta, key); err == nil {
		if n, err := strconv.Atoi(string(b)); err == nil && n > 0 {
			cfg.DenseDim = n
			return cfg, nil
		}
	}
	v, err := d.Dense.Embed(ctx, []string{"dimension probe"})
	if err != nil {
		return cfg, fmt.Errorf("probe dense embedder: %w", err)
	}
	if len(v) != 1 || len(v[0]) == 0 {
		return cfg, errors.New("probe dense embedder: no vector")
	}
	cfg.DenseDim = len(v[0])
	err = d.State.Update(ctx, customer, func(w StateWriter) error {
		return w.Put(bucketMeta, key, []byte(strconv.Itoa(cfg.DenseDim)))
	})
	return cfg, err
}

func dfKey(idx uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], idx)
	return string(b[:])
}

func getUvarint(b []byte) int {
	if b == nil {
		return 0
	}
	x, n := binary.Uvarint(b)
	if n <= 0 {
		return 0
	}
	return int(x)
}

func putUvarint(x int) []byte {
	if x < 0 {
		x = 0
	}
	return binary.AppendUvarint(nil, uint64(x))
}

// corpusStats are the BM25 collection statistics.
type corpusStats struct {
	Chunks int
	Length int // total length in terms
}

func (s corpusStats) avgdl() float64 {
	if s.Chunks == 0 {
		return 0
	}
	return float64(s.Length) / float64(s.Chunks)
}

func readStats(get func(bucket, key string) []byte) corpusStats {
	return corpusStats{Chunks: getUvarint(get(bucketStats, "chunks")), Length: getUvarint(get(bucketStats, "length"))}
}

func (d *Deps) stats(ctx context.Context, customer string) corpusStats {
	get := func(bucket, key string) []byte {
		b, _ := d.State.Get(ctx, customer, bucket, key)
		return b
	}
	return readStats(get)
}

func getJSON(ctx context.Context, s State, customer, bucket, key string, v any) (bool, error) {
	b, err := s.Get(ctx, customer, bucket, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", bucket, key, err)
	}
	return true, nil
}

func putJSON(w StateWriter, bucket, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.Put(bucket, key, b)
}

// QuarantineEntry records why an object could not be ingested.
type QuarantineEntry struct {
	Key    string    `json:"key"`
	ETag   string    `json:"etag"`
	Size   int64     `json:"size"`
	MIME   string    `json:"mime,omitempty"`
	Reason string    `json:"reason"`
	Error  string    `json:"error"`
	At     time.Time `json:"at"`
}

// Quarantine lists the customer's quarantined objects in key order.
func Quarantine(ctx context.Context, s State, customer string) ([]QuarantineEntry, error) {
	var out []QuarantineEntry
	err := s.Scan(ctx, customer, bucketQuarantine, "", func(_ string, v []byte) (bool, error) {
		var q QuarantineEntry
		if err := json.Unmarshal(v, &q); err != nil {
			return false, fmt.Errorf("decode quarantine entry: %w", err)
		}
		out = append(out, q)
		return true, nil
	})
	return out, err
}
