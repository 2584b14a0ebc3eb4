package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/agentvdc/agentvdc/agents"
)

// Graph is the embedded GraphStore: one bbolt file per customer
// (ROOT/CUSTOMER/graph.db) with three buckets:
//
//	nodes: LABEL 0x00 KEY              → props (JSON)
//	edges: FROM 0x01 TYPE 0x01 TO      → edge (JSON)
//	adj:   NODE 0x01 EDGEKEY           → nil, one entry per endpoint
//
// where a node is written LABEL 0x00 KEY. Keys may not contain 0x00 or 0x01.
type Graph struct {
	root string
	mu   sync.Mutex
	dbs  map[string]*bolt.DB
}

var _ agents.GraphStore = (*Graph)(nil)

var (
	bucketNodes = []byte("nodes")
	bucketEdges = []byte("edges")
	bucketAdj   = []byte("adj")
)

// NewGraph returns the graph store rooted at root (DATA/agents).
func NewGraph(root string) *Graph { return &Graph{root: root, dbs: map[string]*bolt.DB{}} }

// Close closes every open customer file.
func (g *Graph) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	for c, db := range g.dbs {
		errs = append(errs, db.Close())
		delete(g.dbs, c)
	}
	return errors.Join(errs...)
}

func (g *Graph) db(customer string, create bool) (*bolt.DB, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if db, ok := g.dbs[customer]; ok {
		return db, nil
	}
	p := filepath.Join(g.root, customer, "graph.db")
	if !create {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	db, err := openBolt(p)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketNodes, bucketEdges, bucketAdj} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init graph: %w", err)
	}
	g.dbs[customer] = db
	return db, nil
}

func validRef(r agents.NodeRef) error {
	if !agents.ValidLabel(r.Label) {
		return fmt.Errorf("%w: unknown node label %q", agents.ErrInvalidArgument, r.Label)
	}
	if r.Key == "" || strings.ContainsAny(r.Key, "\x00\x01") {
		return fmt.Errorf("%w: node key must be non-empty without NUL/0x01", agents.ErrInvalidArgument)
	}
	return nil
}

func nodeID(r agents.NodeRef) []byte { return []byte(r.Label + "\x00" + r.Key) }

func parseNodeID(b []byte) agents.NodeRef {
	l, k, _ := strings.Cut(string(b), "\x00")
	return agents.NodeRef{Label: l, Key: k}
}

func edgeKey(e agents.Edge) []byte {
	return []byte(string(nodeID(e.From)) + "\x01" + e.Type + "\x01" + string(nodeID(e.To)))
}

type storedEdge struct {
	Type       string            `json:"type"`
	From       agents.NodeRef    `json:"from"`
	To         agents.NodeRef    `json:"to"`
	Confidence float64           `json:"confidence"`
	Count      int               `json:"count"`
	Evidence   []string          `json:"evidence,omitempty"`
	Props      map[string]string `json:"props,omitempty"`
}

// MergeNodes implements agents.GraphStore.
func (g *Graph) MergeNodes(ctx context.Context, customer string, nodes []agents.Node) error {
	for _, n := range nodes {
		if err := validRef(n.Ref()); err != nil {
			return err
		}
	}
	db, err := g.db(customer, true)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNodes)
		for _, n := range nodes {
			id := nodeID(n.Ref())
			props := map[string]string{}
			if old := b.Get(id); old != nil {
				if err := json.Unmarshal(old, &props); err != nil {
					return fmt.Errorf("decode node: %w", err)
				}
			}
			for k, v := range n.Props {
				props[k] = v
			}
			val, _ := json.Marshal(props)
			if err := b.Put(id, val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("merge nodes: %w", err)
	}
	return nil
}

// MergeEdges implements agents.GraphStore.
func (g *Graph) MergeEdges(ctx context.Context, customer string, edges []agents.Edge) error {
	for _, e := range edges {
		if !agents.ValidRelType(e.Type) {
			return fmt.Errorf("%w: unknown relationship type %q", agents.ErrInvalidArgument, e.Type)
		}
		if err := validRef(e.From); err != nil {
			return err
		}
		if err := validRef(e.To); err != nil {
			return err
		}
	}
	db, err := g.db(customer, true)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		nb, eb, ab := tx.Bucket(bucketNodes), tx.Bucket(bucketEdges), tx.Bucket(bucketAdj)
		for _, e := range edges {
			for _, r := range []agents.NodeRef{e.From, e.To} {
				if nb.Get(nodeID(r)) == nil {
					return fmt.Errorf("edge %s endpoint %s %q: %w", e.Type, r.Label, r.Key, agents.ErrNotFound)
				}
			}
			ev := e.Evidence
			if len(ev) > agents.MaxEvidence {
				ev = ev[:agents.MaxEvidence]
			}
			val, _ := json.Marshal(storedEdge{Type: e.Type, From: e.From, To: e.To, Confidence: e.Confidence, Count: e.Count, Evidence: ev, Props: e.Props})
			k := edgeKey(e)
			if err := eb.Put(k, val); err != nil {
				return err
			}
			for _, r := range []agents.NodeRef{e.From, e.To} {
				if err := ab.Put(append(append(nodeID(r), 1), k...), nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("merge edges: %w", err)
	}
	return nil
}

func decodeNode(id, val []byte) (agents.Node, error) {
	r := parseNodeID(id)
	n := agents.Node{Label: r.Label, Key: r.Key}
	if err := json.Unmarshal(val, &n.Props); err != nil {
		return n, fmt.Errorf("decode node: %w", err)
	}
	return n, nil
}

// Node implements agents.GraphStore.
func (g *Graph) Node(ctx context.Context, customer string, ref agents.NodeRef) (agents.Node, error) {
	if err := validRef(ref); err != nil {
		return agents.Node{}, err
	}
	db, err := g.db(customer, false)
	if err != nil {
		return agents.Node{}, err
	}
	notFound := fmt.Errorf("node %s %q: %w", ref.Label, ref.Key, agents.ErrNotFound)
	if db == nil {
		return agents.Node{}, notFound
	}
	var n agents.Node
	err = db.View(func(tx *bolt.Tx) error {
		val := tx.Bucket(bucketNodes).Get(nodeID(ref))
		if val == nil {
			return notFound
		}
		n, err = decodeNode(nodeID(ref), val)
		return err
	})
	return n, err
}

// Nodes implements agents.GraphStore.
func (g *Graph) Nodes(ctx context.Context, customer, label, afterKey string, limit int) ([]agents.Node, error) {
	if !agents.ValidLabel(label) {
		return nil, fmt.Errorf("%w: unknown node label %q", agents.ErrInvalidArgument, label)
	}
	if limit <= 0 {
		limit = 100
	}
	db, err := g.db(customer, false)
	if err != nil || db == nil {
		return nil, err
	}
	var out []agents.Node
	err = db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketNodes).Cursor()
		prefix := []byte(label + "\x00")
		seek := append(append([]byte{}, prefix...), afterKey...)
		for k, v := cur.Seek(seek); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = cur.Next() {
			if string(k[len(prefix):]) <= afterKey {
				continue
			}
			n, err := decodeNode(k, v)
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	return out, err
}

// adjacent calls fn for every edge touching node.
func adjacent(tx *bolt.Tx, node []byte, fn func(k []byte, e storedEdge) error) error {
	cur := tx.Bucket(bucketAdj).Cursor()
	eb := tx.Bucket(bucketEdges)
	prefix := append(append([]byte{}, node...), 1)
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		ek := k[len(prefix):]
		val := eb.Get(ek)
		if val == nil {
			continue
		}
		var e storedEdge
		if err := json.Unmarshal(val, &e); err != nil {
			return fmt.Errorf("decode edge: %w", err)
		}
		if err := fn(ek, e); err != nil {
			return err
		}
	}
	return nil
}

func (e storedEdge) edge() agents.Edge {
	return agents.Edge{Type: e.Type, From: e.From, To: e.To, Confidence: e.Confidence, Count: e.Count, Evidence: e.Evidence, Props: e.Props}
}

// betterVia orders candidate edges: confidence desc, then type, from, to.
func betterVia(a, b agents.Edge) bool {
	if a.Confidence != b.Confidence {
		return a.Confidence > b.Confidence
	}
	if a.Type != b.Type {
		return a.Type < b.Type
	}
	if a.From.Key != b.From.Key {
		return a.From.Key < b.From.Key
	}
	return a.To.Key < b.To.Key
}

// Neighbours implements agents.GraphStore.
func (g *Graph) Neighbours(ctx context.Context, customer string, start agents.NodeRef, opts agents.NeighbourOptions) ([]agents.Neighbour, error) {
	if err := validRef(start); err != nil {
		return nil, err
	}
	depth := min(max(opts.Depth, 1), 3)
	limit := opts.Limit
	if limit <= 0 {
		limit = 50
	}
	types := map[string]bool{}
	for _, t := range opts.Types {
		types[t] = true
	}
	db, err := g.db(customer, false)
	if err != nil {
		return nil, err
	}
	notFound := fmt.Errorf("node %s %q: %w", start.Label, start.Key, agents.ErrNotFound)
	if db == nil {
		return nil, notFound
	}
	var out []agents.Neighbour
	err = db.View(func(tx *bolt.Tx) error {
		nb := tx.Bucket(bucketNodes)
		if nb.Get(nodeID(start)) == nil {
			return notFound
		}
		seen := map[agents.NodeRef]bool{start: true}
		frontier := []agents.NodeRef{start}
		for d := 1; d <= depth && len(frontier) > 0; d++ {
			best := map[agents.NodeRef]agents.Edge{}
			for _, u := range frontier {
				if err := ctx.Err(); err != nil {
					return err
				}
				err := adjacent(tx, nodeID(u), func(_ []byte, se storedEdge) error {
					if len(types) > 0 && !types[se.Type] {
						return nil
					}
					other := se.To
					if other == u {
						other = se.From
					}
					if seen[other] {
						return nil
					}
					e := se.edge()
					if cur, ok := best[other]; !ok || betterVia(e, cur) {
						best[other] = e
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			frontier = frontier[:0]
			for r, e := range best {
				seen[r] = true
				frontier = append(frontier, r)
				val := nb.Get(nodeID(r))
				if val == nil {
					continue
				}
				n, err := decodeNode(nodeID(r), val)
				if err != nil {
					return err
				}
				out = append(out, agents.Neighbour{Node: n, Depth: d, Via: e})
			}
			sort.Slice(frontier, func(i, j int) bool {
				return frontier[i].Label+"\x00"+frontier[i].Key < frontier[j].Label+"\x00"+frontier[j].Key
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Depth != b.Depth {
			return a.Depth < b.Depth
		}
		if a.Via.Confidence != b.Via.Confidence {
			return a.Via.Confidence > b.Via.Confidence
		}
		if a.Node.Label != b.Node.Label {
			return a.Node.Label < b.Node.Label
		}
		return a.Node.Key < b.Node.Key
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// deleteEdge removes an edge and both adjacency entries.
func deleteEdge(tx *bolt.Tx, k []byte, e storedEdge) error {
	ab := tx.Bucket(bucketAdj)
	for _, r := range []agents.NodeRef{e.From, e.To} {
		if err := ab.Delete(append(append(nodeID(r), 1), k...)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketEdges).Delete(k)
}

// DeleteByDocument implements agents.GraphStore.
func (g *Graph) DeleteByDocument(ctx context.Context, customer, document string) error {
	db, err := g.db(customer, false)
	if err != nil || db == nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		nb := tx.Bucket(bucketNodes)
		var victims [][]byte
		var entities [][]byte
		err := nb.ForEach(func(k, v []byte) error {
			if bytes.HasPrefix(k, []byte(agents.LabelEntity+"\x00")) {
				entities = append(entities, append([]byte{}, k...))
			}
			var props map[string]string
			if err := json.Unmarshal(v, &props); err != nil {
				return fmt.Errorf("decode node: %w", err)
			}
			if props["document"] == document {
				victims = append(victims, append([]byte{}, k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range victims {
			if err := removeNode(tx, id); err != nil {
				return err
			}
		}
		ab := tx.Bucket(bucketAdj)
		for _, id := range entities {
			if nb.Get(id) == nil {
				continue
			}
			prefix := append(append([]byte{}, id...), 1)
			if k, _ := ab.Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
				continue
			}
			if err := nb.Delete(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete graph of %q: %w", document, err)
	}
	return nil
}

func removeNode(tx *bolt.Tx, id []byte) error {
	type kv struct {
		k []byte
		e storedEdge
	}
	var edges []kv
	if err := adjacent(tx, id, func(k []byte, e storedEdge) error {
		edges = append(edges, kv{append([]byte{}, k...), e})
		return nil
	}); err != nil {
		return err
	}
	for _, x := range edges {
		if err := deleteEdge(tx, x.k, x.e); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketNodes).Delete(id)
}

// Counts implements agents.GraphStore.
func (g *Graph) Counts(ctx context.Context, customer string) (agents.GraphCounts, error) {
	c := agents.GraphCounts{Nodes: map[string]int{}, Edges: map[string]int{}}
	db, err := g.db(customer, false)
	if err != nil || db == nil {
		return c, err
	}
	err = db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketNodes).ForEach(func(k, _ []byte) error {
			c.Nodes[parseNodeID(k).Label]++
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketEdges).ForEach(func(k, _ []byte) error {
			parts := bytes.SplitN(k, []byte{1}, 3)
			if len(parts) == 3 {
				c.Edges[string(parts[1])]++
			}
			return nil
		})
	})
	return c, err
}
