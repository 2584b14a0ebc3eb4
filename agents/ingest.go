package agents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/agents/embed"
	"github.com/agentvdc/agentvdc/agents/extract"
)

// IngestLimits bound one ingest run and one file.
type IngestLimits struct {
	MaxObjects   int   // objects extracted per run (default 256)
	MaxBytes     int64 // bytes read per run (default 128 MiB)
	MaxListed    int   // objects examined (listed and compared) per run (default 20000)
	MaxFileBytes int64 // larger files are quarantined unread (default 32 MiB)
	Extract      extract.Limits
	Chunk        ChunkOptions
}

func (l IngestLimits) withDefaults() IngestLimits {
	if l.MaxObjects <= 0 {
		l.MaxObjects = 256
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 128 << 20
	}
	if l.MaxListed <= 0 {
		l.MaxListed = 20000
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 32 << 20
	}
	if l.Extract.MaxBytes <= 0 || l.Extract.MaxBytes > l.MaxFileBytes {
		l.Extract.MaxBytes = l.MaxFileBytes
	}
	return l
}

// Ingest is the ingest agent: one Run examines the customer's objects from
// its cursor on, and extracts, chunks, embeds and upserts what is new or
// changed, within IngestLimits. Objects are compared by ETag, then by
// content hash (SHA-256), so an identical re-upload costs one read at most.
// Objects gone from the store lose their vectors and graph nodes. Files
// that cannot be extracted are quarantined with the reason; they are
// retried only when they change.
type Ingest struct {
	*Deps
	Limits IngestLimits
}

// batch collects the points of several objects so that one run writes
// them with few transactions.
type batch struct {
	p     prepared
	also  []func(StateWriter) error
	avgdl float64
}

// flush writes the batch: one upsert per 256 points and one state
// transaction with the statistics and every object's record.
func (a *Ingest) flush(ctx context.Context, customer string, b *batch) error {
	if len(b.also) == 0 && len(b.p.pts) == 0 {
		return nil
	}
	also := b.also
	err := a.commit(ctx, customer, b.p, func(w StateWriter) error {
		for _, f := range also {
			if err := f(w); err != nil {
				return err
			}
		}
		return nil
	})
	b.p, b.also = prepared{}, nil
	return err
}

// batchPoints is when a batch is flushed during a run.
const batchPoints = 1024

// objectRecord is what the ingest agent remembers per object.
type objectRecord struct {
	ETag    string    `json:"etag"`
	Hash    string    `json:"sha256,omitempty"`
	Size    int64     `json:"size"`
	Chunks  int       `json:"chunks"`
	Status  string    `json:"status"` // "indexed" | "quarantined"
	MIME    string    `json:"mime,omitempty"`
	Indexed time.Time `json:"indexed"`
}

// Counts keys of the ingest report.
const (
	CountExamined    = "examined"
	CountIndexed     = "indexed"
	CountUnchanged   = "unchanged"
	CountSameContent = "same_content"
	CountDeleted     = "deleted"
	CountQuarantined = "quarantined"
	CountChunks      = "chunks"
	CountBytes       = "bytes"
	CountPasses      = "passes_completed"
	CountReset       = "collection_reset"
)

// Run implements one ingest run.
func (a *Ingest) Run(ctx context.Context, customer string) (Report, error) {
	rep := newReport("ingest", customer, a.now())
	defer func() { rep.Duration = time.Since(rep.Started) }()
	if err := ValidateCustomer(customer); err != nil {
		return rep, err
	}
	lim := a.Limits.withDefaults()
	log := a.log().With(LogAgent, "ingest", LogCustomer, customer)
	cfg, err := a.CollectionConfig(ctx, customer)
	if err != nil {
		return rep, err
	}
	info, err := a.Vectors.EnsureCollection(ctx, customer, cfg)
	if err != nil {
		return rep, fmt.Errorf("ensure collection: %w", err)
	}
	if info.Created || info.Reset {
		// New or re-configured collection: forget what was indexed so
		// every object is embedded again with the current embedder.
		if err := a.State.Update(ctx, customer, func(w StateWriter) error {
			for _, b := range []string{bucketIngest, bucketObjects, bucketDF, bucketStats} {
				if err := w.DeleteBucket(b); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return rep, err
		}
		if info.Reset {
			rep.Counts[CountReset] = 1
			log.Info("collection config changed, re-embedding", "previous", info.Previous.Embedder, "now", cfg.Embedder)
		}
	}
	cursorB, _ := a.State.Get(ctx, customer, bucketIngest, "cursor")
	cursor := string(cursorB)
	budgetObjects, budgetBytes := lim.MaxObjects, lim.MaxBytes
	b := &batch{avgdl: a.avgdl(ctx, customer)}
	examined := 0
	stopped := false
	for !stopped && examined < lim.MaxListed {
		page, err := a.Objects.List(ctx, customer, ListOptions{StartAfter: cursor, Limit: min(1000, lim.MaxListed-examined)})
		if err != nil {
			return rep, fmt.Errorf("list objects: %w", err)
		}
		seen := map[string]bool{}
		from := cursor
		for _, o := range page.Objects {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			rec, known, err := a.record(ctx, customer, o.Key)
			if err != nil {
				return rep, err
			}
			if known && rec.ETag == o.ETag {
				rep.Counts[CountUnchanged]++
			} else {
				if budgetObjects <= 0 || (budgetBytes < min(o.Size, lim.MaxFileBytes) && budgetBytes < lim.MaxBytes) {
					stopped = true
					break
				}
				budgetObjects--
				budgetBytes -= min(o.Size, lim.MaxFileBytes)
				if err := a.process(ctx, customer, o, rec, known, lim, b, &rep, log); err != nil {
					return rep, err
				}
				if len(b.p.pts) >= batchPoints {
					if err := a.flush(ctx, customer, b); err != nil {
						return rep, err
					}
				}
			}
			seen[o.Key] = true
			cursor = o.Key
			examined++
			rep.Counts[CountExamined]++
		}
		if err := a.flush(ctx, customer, b); err != nil {
			return rep, err
		}
		end := cursor
		last := !stopped && page.Next == ""
		if last {
			end = "" // up to the end of the key space
		}
		if err := a.deleteVanished(ctx, customer, from, end, seen, &rep, log); err != nil {
			return rep, err
		}
		if last {
			cursor = ""
			rep.Counts[CountPasses]++
			break
		}
	}
	if err := a.State.Update(ctx, customer, func(w StateWriter) error {
		return w.Put(bucketIngest, "cursor", []byte(cursor))
	}); err != nil {
		return rep, err
	}
	log.Debug("ingest run", "report", rep.String())
	return rep, nil
}

func (a *Ingest) record(ctx context.Context, customer, key string) (objectRecord, bool, error) {
	var rec objectRecord
	ok, err := getJSON(ctx, a.State, customer, bucketObjects, key, &rec)
	return rec, ok, err
}

// deleteVanished removes the index of every recorded object with a key in
// (from, to] (to == "": no upper bound) that the listing did not return.
func (a *Ingest) deleteVanished(ctx context.Context, customer, from, to string, seen map[string]bool, rep *Report, log *slog.Logger) error {
	var gone []string
	err := a.State.Scan(ctx, customer, bucketObjects, from, func(k string, _ []byte) (bool, error) {
		if k == from {
			return true, nil
		}
		if to != "" && k > to {
			return false, nil
		}
		if !seen[k] {
			gone = append(gone, k)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, k := range gone {
		if err := a.unindex(ctx, customer, k, true); err != nil {
			return err
		}
		if err := a.Graph.DeleteByDocument(ctx, customer, k); err != nil {
			return fmt.Errorf("delete graph of %q: %w", k, err)
		}
		if err := a.State.Update(ctx, customer, func(w StateWriter) error {
			for _, b := range []string{bucketObjects, bucketQuarantine, bucketDirty} {
				if err := w.Delete(b, k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		rep.Counts[CountDeleted]++
		log.Info("object deleted, index removed", LogObject, k)
	}
	return nil
}

// unindex deletes the document's points and, when counted, takes them out
// of the term statistics (points left behind by an interrupted run were
// never counted).
func (a *Ingest) unindex(ctx context.Context, customer, key string, counted bool) error {
	f := Filter{Must: []Match{{Key: "document", Value: key}}}
	dec := map[uint32]int{}
	chunks, length := 0, 0
	off := ""
	for {
		pts, next, err := a.Vectors.Scroll(ctx, customer, ScrollOptions{Filter: f, Offset: off, Limit: 256, WithVectors: true})
		if err != nil {
			return fmt.Errorf("scroll %q: %w", key, err)
		}
		for _, p := range pts {
			chunks++
			length += atoiDefault(p.Payload["length"], 0)
			for _, idx := range p.Sparse.Indices {
				dec[idx]++
			}
		}
		if next == "" {
			break
		}
		off = next
	}
	if chunks == 0 {
		return nil
	}
	if err := a.Vectors.DeleteByDocument(ctx, customer, key); err != nil {
		return fmt.Errorf("delete points of %q: %w", key, err)
	}
	if !counted {
		return nil
	}
	return a.State.Update(ctx, customer, func(w StateWriter) error {
		for _, idx := range sortedIdx(dec) {
			k := dfKey(idx)
			v := getUvarint(w.Get(bucketDF, k)) - dec[idx]
			var err error
			if v <= 0 {
				err = w.Delete(bucketDF, k)
			} else {
				err = w.Put(bucketDF, k, putUvarint(v))
			}
			if err != nil {
				return err
			}
		}
		st := readStats(w.Get)
		if err := w.Put(bucketStats, "chunks", putUvarint(st.Chunks-chunks)); err != nil {
			return err
		}
		return w.Put(bucketStats, "length", putUvarint(st.Length-length))
	})
}

func sortedIdx(m map[uint32]int) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func atoiDefault(s string, d int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return d
}

func (a *Ingest) quarantine(ctx context.Context, customer string, o ObjectInfo, counted bool, mime, reason string, cause error, rep *Report, log *slog.Logger) error {
	if err := a.unindex(ctx, customer, o.Key, counted); err != nil {
		return err
	}
	q := QuarantineEntry{Key: o.Key, ETag: o.ETag, Size: o.Size, MIME: mime, Reason: reason, At: a.now()}
	if cause != nil {
		q.Error = cause.Error()
	}
	rep.Counts[CountQuarantined]++
	if rep.Quarantined == nil {
		rep.Quarantined = map[string]int{}
	}
	rep.Quarantined[reason]++
	log.Warn("object quarantined", LogObject, o.Key, LogReason, reason, "error", q.Error)
	return a.State.Update(ctx, customer, func(w StateWriter) error {
		if err := putJSON(w, bucketQuarantine, o.Key, q); err != nil {
			return err
		}
		return putJSON(w, bucketObjects, o.Key, objectRecord{ETag: o.ETag, Size: o.Size, Status: "quarantined", MIME: mime, Indexed: a.now()})
	})
}

// process ingests one new or changed object.
func (a *Ingest) process(ctx context.Context, customer string, o ObjectInfo, rec objectRecord, known bool, lim IngestLimits, b *batch, rep *Report, log *slog.Logger) error {
	counted := known && rec.Status == "indexed" // its points are in the statistics
	if o.Size > lim.MaxFileBytes {
		return a.quarantine(ctx, customer, o, counted, "", string(extract.ReasonTooLarge),
			fmt.Errorf("%d bytes, limit %d", o.Size, lim.MaxFileBytes), rep, log)
	}
	rc, info, err := a.Objects.Get(ctx, customer, o.Key)
	if errors.Is(err, ErrNotFound) {
		return nil // deleted meanwhile; the next pass cleans up
	}
	if err != nil {
		return fmt.Errorf("get %q: %w", o.Key, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, lim.MaxFileBytes+1))
	rc.Close()
	if err != nil {
		return fmt.Errorf("read %q: %w", o.Key, err)
	}
	rep.Counts[CountBytes] += len(data)
	if int64(len(data)) > lim.MaxFileBytes {
		return a.quarantine(ctx, customer, o, counted, "", string(extract.ReasonTooLarge), fmt.Errorf("more than %d bytes", lim.MaxFileBytes), rep, log)
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	if info.ETag != "" {
		o.ETag = info.ETag
	}
	if known && rec.Hash == hash && rec.Status == "indexed" {
		rec.ETag, rec.Size = o.ETag, o.Size
		rep.Counts[CountSameContent]++
		return a.State.Update(ctx, customer, func(w StateWriter) error { return putJSON(w, bucketObjects, o.Key, rec) })
	}
	doc, err := a.extractor().Extract(ctx, o.Key, data, lim.Extract)
	if err != nil {
		var xe *extract.Error
		if errors.As(err, &xe) {
			return a.quarantine(ctx, customer, o, counted, xe.MIME, string(xe.Reason), xe.Err, rep, log)
		}
		return a.quarantine(ctx, customer, o, counted, "", "error", err, rep, log)
	}
	chunks := ChunkDocument(doc, lim.Chunk)
	if err := a.unindex(ctx, customer, o.Key, counted); err != nil {
		return err
	}
	first := len(b.p.pts)
	if err := a.prepare(ctx, customer, o.Key, hash, doc, chunks, b.avgdl, &b.p); err != nil {
		return err
	}
	n := len(b.p.pts) - first
	b.also = append(b.also, func(w StateWriter) error {
		if err := w.Delete(bucketQuarantine, o.Key); err != nil {
			return err
		}
		if err := w.Put(bucketDirty, o.Key, nil); err != nil {
			return err
		}
		return putJSON(w, bucketObjects, o.Key, objectRecord{ETag: o.ETag, Hash: hash, Size: o.Size, Chunks: n, Status: "indexed", MIME: doc.MIME, Indexed: a.now()})
	})
	rep.Counts[CountIndexed]++
	rep.Counts[CountChunks] += n
	log.Debug("object indexed", LogObject, o.Key, "chunks", n, "mime", doc.MIME)
	return nil
}

// indexText is the text a dense embedder gets for a chunk: its section
// path (document title first) and body.
func indexText(c Chunk) string {
	if c.Section == "" {
		return c.Text
	}
	return c.Section + "\n" + c.Text
}

// Field weights of the sparse (BM25F) chunk vector: every chunk carries its
// document's context (title and section path) as fields weighted above the
// body, and the first chunk (the document's opening section) is weighted
// above later body text.
const (
	WeightTitle     = 2.0
	WeightHeadings  = 1.5
	WeightFirstBody = 1.5
	WeightBody      = 1.0
)

// chunkFields splits a chunk into its BM25F fields.
func chunkFields(title string, i int, c Chunk) []embed.Field {
	headings := c.Section
	if title != "" {
		if rest, ok := strings.CutPrefix(headings, title); ok {
			headings = strings.TrimPrefix(rest, " > ")
		}
	}
	body := WeightBody
	if i == 0 {
		body = WeightFirstBody
	}
	return []embed.Field{{Text: title, Weight: WeightTitle}, {Text: headings, Weight: WeightHeadings}, {Text: c.Text, Weight: body}}
}

// prepared are a document's points and their statistics.
type prepared struct {
	pts   []Point
	inc   map[uint32]int
	total int
}

// prepare embeds the chunks of one document.
func (a *Ingest) prepare(ctx context.Context, customer, key, hash string, doc extract.Document, chunks []Chunk, avgdl float64, into *prepared) error {
	if into.inc == nil {
		into.inc = map[uint32]int{}
	}
	first := len(into.pts)
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = indexText(c)
		feats, n := a.Sparse.DocFields(chunkFields(doc.Title, i, c), avgdl)
		idx, val := embed.Vector(feats)
		var norm float64
		for j, x := range idx {
			into.inc[x]++
			norm += float64(val[j]) * float64(val[j])
		}
		into.total += n
		into.pts = append(into.pts, Point{
			ID: PointID(customer, key, i), Document: key, Chunk: i, Text: c.Text,
			Payload: map[string]string{"section": c.Section, "title": doc.Title, "mime": doc.MIME, "hash": hash, "length": strconv.Itoa(n),
				"norm": strconv.FormatFloat(math.Sqrt(norm), 'g', 8, 64)},
			Sparse: SparseVector{Indices: idx, Values: val},
		})
	}
	if a.Dense != nil && len(texts) > 0 {
		vecs, err := a.Dense.Embed(ctx, texts)
		if err != nil {
			return fmt.Errorf("dense embedding of %q: %w", key, err)
		}
		for i := range texts {
			into.pts[first+i].Dense = vecs[i]
		}
	}
	return nil
}

// commit upserts prepared points and adds them to the statistics.
func (a *Ingest) commit(ctx context.Context, customer string, p prepared, also func(StateWriter) error) error {
	for start := 0; start < len(p.pts); start += 256 {
		if err := a.Vectors.Upsert(ctx, customer, p.pts[start:min(start+256, len(p.pts))]); err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
	}
	return a.State.Update(ctx, customer, func(w StateWriter) error {
		// In key order: bbolt inserts into a node in memory, so random
		// order costs a memmove per key (quadratic in a big batch).
		for _, idx := range sortedIdx(p.inc) {
			k := dfKey(idx)
			if err := w.Put(bucketDF, k, putUvarint(getUvarint(w.Get(bucketDF, k))+p.inc[idx])); err != nil {
				return err
			}
		}
		st := readStats(w.Get)
		if err := w.Put(bucketStats, "chunks", putUvarint(st.Chunks+len(p.pts))); err != nil {
			return err
		}
		if err := w.Put(bucketStats, "length", putUvarint(st.Length+p.total)); err != nil {
			return err
		}
		if also != nil {
			return also(w)
		}
		return nil
	})
}

func (a *Ingest) avgdl(ctx context.Context, customer string) float64 {
	if d := a.stats(ctx, customer).avgdl(); d > 0 {
		return d
	}
	return 120
}

// KeyedDocument is an extracted document and the key it is indexed under.
type KeyedDocument struct {
	Key string
	Doc extract.Document
}

// IndexDocuments indexes already-extracted documents in one batch (points
// upserted 256 at a time, one statistics update), bypassing the object
// store and the per-object records: for bulk loads of text that does not
// live in the dump folder, and for benchmarks. The keys must not be
// indexed already (their statistics would count twice).
func (a *Ingest) IndexDocuments(ctx context.Context, customer string, docs []KeyedDocument) (int, error) {
	if err := ValidateCustomer(customer); err != nil {
		return 0, err
	}
	lim := a.Limits.withDefaults()
	cfg, err := a.CollectionConfig(ctx, customer)
	if err != nil {
		return 0, err
	}
	if _, err := a.Vectors.EnsureCollection(ctx, customer, cfg); err != nil {
		return 0, fmt.Errorf("ensure collection: %w", err)
	}
	avgdl := a.avgdl(ctx, customer)
	var p prepared
	for _, d := range docs {
		if err := ValidateKey(d.Key); err != nil {
			return 0, err
		}
		if err := a.prepare(ctx, customer, d.Key, "", d.Doc, ChunkDocument(d.Doc, lim.Chunk), avgdl, &p); err != nil {
			return 0, err
		}
	}
	return len(p.pts), a.commit(ctx, customer, p, nil)
}

// ObjectStatus is the ingest agent's record of one object, for listings.
type ObjectStatus struct {
	Key    string `json:"key"`
	Status string `json:"status"`
	Chunks int    `json:"chunks"`
	MIME   string `json:"mime,omitempty"`
}

// IndexedObjects lists what the ingest agent has recorded, in key order.
func IndexedObjects(ctx context.Context, s State, customer string) ([]ObjectStatus, error) {
	var out []ObjectStatus
	err := s.Scan(ctx, customer, bucketObjects, "", func(k string, v []byte) (bool, error) {
		var r objectRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return false, fmt.Errorf("decode object record: %w", err)
		}
		out = append(out, ObjectStatus{Key: k, Status: r.Status, Chunks: r.Chunks, MIME: r.MIME})
		return true, nil
	})
	return out, err
}
