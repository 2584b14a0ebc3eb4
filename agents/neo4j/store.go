package neo4j

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/agentvdc/agentvdc/agents"
	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Config configures a Store.
type Config struct {
	URI      string // neo4j://host:7687 or bolt://host:7687
	User     string
	Password string
	Database string // "" = the server's default database
	// BatchSize is the number of rows per UNWIND statement (default 500).
	BatchSize int
	Logger    *slog.Logger
}

// Store is an agents.GraphStore on Neo4j.
type Store struct {
	cfg    Config
	driver driver.DriverWithContext
	log    *slog.Logger
}

var _ agents.GraphStore = (*Store)(nil)

// labels are the node labels in a fixed order (also the lock order of
// writes).
func labels() [3]string {
	return [3]string{agents.LabelDocument, agents.LabelChunk, agents.LabelEntity}
}

// New connects, verifies connectivity and ensures the schema.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URI == "" {
		return nil, fmt.Errorf("neo4j: %w: URI is required", agents.ErrInvalidArgument)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := driver.NewDriverWithContext(cfg.URI, driver.BasicAuth(cfg.User, cfg.Password, ""))
	if err != nil {
		return nil, fmt.Errorf("neo4j: driver for %s: %w", cfg.URI, err)
	}
	s := &Store{cfg: cfg, driver: d, log: log}
	if err := d.VerifyConnectivity(ctx); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("neo4j: connect %s: %w", cfg.URI, err)
	}
	if err := s.EnsureSchema(ctx); err != nil {
		d.Close(ctx)
		return nil, err
	}
	return s, nil
}

// Close closes the driver.
func (s *Store) Close(ctx context.Context) error { return s.driver.Close(ctx) }

// schemaStatements returns the idempotent schema statements.
func schemaStatements() []string {
	var out []string
	for _, l := range labels() {
		low := strings.ToLower(l)
		out = append(out,
			fmt.Sprintf("CREATE CONSTRAINT vdc_%s_key IF NOT EXISTS FOR (n:%s) REQUIRE (n.customer, n.key) IS UNIQUE", low, l),
			fmt.Sprintf("CREATE INDEX vdc_%s_document IF NOT EXISTS FOR (n:%s) ON (n.customer, n.document)", low, l))
	}
	for _, t := range agents.RelTypes() {
		out = append(out, fmt.Sprintf("CREATE INDEX vdc_rel_%s_customer IF NOT EXISTS FOR ()-[r:%s]-() ON (r.customer)", strings.ToLower(t), t))
	}
	return out
}

// EnsureSchema creates the constraints and indexes (each statement in its
// own transaction: Neo4j does not mix schema and data changes).
func (s *Store) EnsureSchema(ctx context.Context) error {
	for _, q := range schemaStatements() {
		if _, err := s.exec(ctx, q, nil, true); err != nil {
			return fmt.Errorf("neo4j: schema: %w", err)
		}
	}
	return nil
}

func (s *Store) exec(ctx context.Context, q string, params map[string]any, write bool) (*driver.EagerResult, error) {
	opts := []driver.ExecuteQueryConfigurationOption{driver.ExecuteQueryWithDatabase(s.cfg.Database)}
	if write {
		opts = append(opts, driver.ExecuteQueryWithWritersRouting())
	} else {
		opts = append(opts, driver.ExecuteQueryWithReadersRouting())
	}
	return driver.ExecuteQuery(ctx, s.driver, q, params, driver.EagerResultTransformer, opts...)
}

// write runs fn in one managed write transaction.
func (s *Store) write(ctx context.Context, fn func(tx driver.ManagedTransaction) error) error {
	sess := s.driver.NewSession(ctx, driver.SessionConfig{DatabaseName: s.cfg.Database, AccessMode: driver.AccessModeWrite})
	defer sess.Close(ctx)
	_, err := sess.ExecuteWrite(ctx, func(tx driver.ManagedTransaction) (any, error) { return nil, fn(tx) })
	return err
}

func reservedNodeProp(k string) bool { return k == "customer" || k == "key" || k == "" }

func reservedEdgeProp(k string) bool {
	switch k {
	case "customer", "confidence", "count", "evidence", "":
		return true
	}
	return false
}

func validateNode(n agents.Node) error {
	if !agents.ValidLabel(n.Label) {
		return fmt.Errorf("%w: unknown node label %q", agents.ErrInvalidArgument, n.Label)
	}
	if n.Key == "" {
		return fmt.Errorf("%w: empty node key (%s)", agents.ErrInvalidArgument, n.Label)
	}
	for k := range n.Props {
		if reservedNodeProp(k) {
			return fmt.Errorf("%w: node prop %q is reserved", agents.ErrInvalidArgument, k)
		}
	}
	return nil
}

func validateEdge(e agents.Edge) error {
	if !agents.ValidRelType(e.Type) {
		return fmt.Errorf("%w: unknown relationship type %q", agents.ErrInvalidArgument, e.Type)
	}
	for _, r := range []agents.NodeRef{e.From, e.To} {
		if !agents.ValidLabel(r.Label) || r.Key == "" {
			return fmt.Errorf("%w: bad endpoint %s:%q of %s edge", agents.ErrInvalidArgument, r.Label, r.Key, e.Type)
		}
	}
	for k := range e.Props {
		if reservedEdgeProp(k) {
			return fmt.Errorf("%w: edge prop %q is reserved", agents.ErrInvalidArgument, k)
		}
	}
	return nil
}

// mergeNodesQuery is the UNWIND MERGE statement for one (validated) label.
func mergeNodesQuery(label string) string {
	return "UNWIND $rows AS row\n" +
		"MERGE (n:" + label + " {customer: $customer, key: row.key})\n" +
		"SET n += row.props"
}

// mergeEdgesQuery is the statement for one (validated) type and endpoint
// labels. It returns the indexes of the rows whose endpoints both exist.
func mergeEdgesQuery(relType, fromLabel, toLabel string) string {
	return "UNWIND $rows AS row\n" +
		"MATCH (a:" + fromLabel + " {customer: $customer, key: row.from})\n" +
		"MATCH (b:" + toLabel + " {customer: $customer, key: row.to})\n" +
		"MERGE (a)-[r:" + relType + " {customer: $customer}]->(b)\n" +
		"SET r = row.props\n" +
		"RETURN row.i AS i"
}

// MergeNodes implements agents.GraphStore.
func (s *Store) MergeNodes(ctx context.Context, customer string, nodes []agents.Node) error {
	if err := agents.ValidateCustomer(customer); err != nil {
		return err
	}
	byLabel := map[string][]map[string]any{}
	for _, n := range nodes {
		if err := validateNode(n); err != nil {
			return fmt.Errorf("neo4j: merge nodes for %s: %w", customer, err)
		}
		props := make(map[string]any, len(n.Props))
		for k, v := range n.Props {
			props[k] = v
		}
		byLabel[n.Label] = append(byLabel[n.Label], map[string]any{"key": n.Key, "props": props})
	}
	err := s.write(ctx, func(tx driver.ManagedTransaction) error {
		for _, l := range labels() { // fixed order: deterministic lock order
			rows := byLabel[l]
			for start := 0; start < len(rows); start += s.cfg.BatchSize {
				end := min(start+s.cfg.BatchSize, len(rows))
				res, err := tx.Run(ctx, mergeNodesQuery(l), map[string]any{"customer": customer, "rows": rows[start:end]})
				if err == nil {
					_, err = res.Consume(ctx)
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("neo4j: merge nodes for %s: %w", customer, err)
	}
	return nil
}

type edgeGroup struct{ relType, from, to string }

// MergeEdges implements agents.GraphStore. The whole call is one
// transaction: an edge with a missing endpoint rolls everything back and
// returns ErrNotFound.
func (s *Store) MergeEdges(ctx context.Context, customer string, edges []agents.Edge) error {
	if err := agents.ValidateCustomer(customer); err != nil {
		return err
	}
	groups := map[edgeGroup][]map[string]any{}
	var order []edgeGroup
	for i, e := range edges {
		if err := validateEdge(e); err != nil {
			return fmt.Errorf("neo4j: merge edges for %s: %w", customer, err)
		}
		props := make(map[string]any, len(e.Props)+4)
		for k, v := range e.Props {
			props[k] = v
		}
		ev := e.Evidence
		if len(ev) > agents.MaxEvidence {
			ev = ev[:agents.MaxEvidence]
		}
		props["customer"] = customer
		props["confidence"] = e.Confidence
		props["count"] = int64(e.Count)
		props["evidence"] = append([]string{}, ev...)
		g := edgeGroup{e.Type, e.From.Label, e.To.Label}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], map[string]any{"i": int64(i), "from": e.From.Key, "to": e.To.Key, "props": props})
	}
	err := s.write(ctx, func(tx driver.ManagedTransaction) error {
		for _, g := range order {
			rows := groups[g]
			for start := 0; start < len(rows); start += s.cfg.BatchSize {
				batch := rows[start:min(start+s.cfg.BatchSize, len(rows))]
				res, err := tx.Run(ctx, mergeEdgesQuery(g.relType, g.from, g.to), map[string]any{"customer": customer, "rows": batch})
				if err != nil {
					return err
				}
				recs, err := res.Collect(ctx)
				if err != nil {
					return err
				}
				done := map[int64]bool{}
				for _, r := range recs {
					if i, ok := r.Values[0].(int64); ok {
						done[i] = true
					}
				}
				for _, row := range batch {
					if i := row["i"].(int64); !done[i] {
						e := edges[i]
						return fmt.Errorf("%w: endpoint of %s edge %s:%q -> %s:%q", agents.ErrNotFound, e.Type, e.From.Label, e.From.Key, e.To.Label, e.To.Key)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("neo4j: merge edges for %s: %w", customer, err)
	}
	return nil
}

func toNode(label string, props map[string]any) agents.Node {
	n := agents.Node{Label: label, Props: map[string]string{}}
	for k, v := range props {
		switch k {
		case "customer":
		case "key":
			n.Key, _ = v.(string)
		default:
			n.Props[k] = str(v)
		}
	}
	return n
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

// Node implements agents.GraphStore.
func (s *Store) Node(ctx context.Context, customer string, ref agents.NodeRef) (agents.Node, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return agents.Node{}, err
	}
	if !agents.ValidLabel(ref.Label) {
		return agents.Node{}, fmt.Errorf("neo4j: node for %s: %w: unknown label %q", customer, agents.ErrInvalidArgument, ref.Label)
	}
	res, err := s.exec(ctx, "MATCH (n:"+ref.Label+" {customer: $customer, key: $key}) RETURN properties(n) AS p",
		map[string]any{"customer": customer, "key": ref.Key}, false)
	if err != nil {
		return agents.Node{}, fmt.Errorf("neo4j: node for %s: %w", customer, err)
	}
	if len(res.Records) == 0 {
		return agents.Node{}, fmt.Errorf("neo4j: node %s:%q for %s: %w", ref.Label, ref.Key, customer, agents.ErrNotFound)
	}
	p, _ := res.Records[0].Values[0].(map[string]any)
	return toNode(ref.Label, p), nil
}

// Nodes implements agents.GraphStore.
func (s *Store) Nodes(ctx context.Context, customer, label, afterKey string, limit int) ([]agents.Node, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return nil, err
	}
	if !agents.ValidLabel(label) {
		return nil, fmt.Errorf("neo4j: nodes for %s: %w: unknown label %q", customer, agents.ErrInvalidArgument, label)
	}
	if limit <= 0 {
		limit = 100
	}
	res, err := s.exec(ctx, "MATCH (n:"+label+" {customer: $customer}) WHERE n.key > $after RETURN properties(n) AS p ORDER BY n.key LIMIT $limit",
		map[string]any{"customer": customer, "after": afterKey, "limit": int64(limit)}, false)
	if err != nil {
		return nil, fmt.Errorf("neo4j: nodes for %s: %w", customer, err)
	}
	out := make([]agents.Node, 0, len(res.Records))
	for _, r := range res.Records {
		p, _ := r.Values[0].(map[string]any)
		out = append(out, toNode(label, p))
	}
	return out, nil
}

// neighbourQuery expands one BFS level from nodes given by element id,
// crossing only relationships and nodes of $customer.
const neighbourQuery = `MATCH (a)-[r]-(b)
WHERE elementId(a) IN $ids AND r.customer = $customer AND b.customer = $customer
  AND ($types = [] OR type(r) IN $types)
RETURN elementId(a) AS aid, elementId(b) AS bid, labels(b) AS bl, properties(b) AS bp,
       type(r) AS t, properties(r) AS rp, startNode(r) = a AS outgoing`

type found struct {
	node agents.Node
	id   string
	via  agents.Edge
}

// better reports whether edge x is preferred over y as Via.
func better(x, y agents.Edge) bool {
	if x.Confidence != y.Confidence {
		return x.Confidence > y.Confidence
	}
	if x.Type != y.Type {
		return x.Type < y.Type
	}
	if x.From.Key != y.From.Key {
		return x.From.Key < y.From.Key
	}
	return x.To.Key < y.To.Key
}

func toEdge(t string, from, to agents.NodeRef, p map[string]any) agents.Edge {
	e := agents.Edge{Type: t, From: from, To: to}
	for k, v := range p {
		switch k {
		case "customer":
		case "confidence":
			if f, ok := v.(float64); ok {
				e.Confidence = f
			}
		case "count":
			if i, ok := v.(int64); ok {
				e.Count = int(i)
			}
		case "evidence":
			if l, ok := v.([]any); ok {
				for _, x := range l {
					e.Evidence = append(e.Evidence, str(x))
				}
			}
		default:
			if e.Props == nil {
				e.Props = map[string]string{}
			}
			e.Props[k] = str(v)
		}
	}
	return e
}

func ref(label, key string) string { return label + "\x00" + key }

// Neighbours implements agents.GraphStore: breadth first, one query per
// level (at most three).
func (s *Store) Neighbours(ctx context.Context, customer string, start agents.NodeRef, opts agents.NeighbourOptions) ([]agents.Neighbour, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return nil, err
	}
	if !agents.ValidLabel(start.Label) {
		return nil, fmt.Errorf("neo4j: neighbours for %s: %w: unknown label %q", customer, agents.ErrInvalidArgument, start.Label)
	}
	depth := min(max(opts.Depth, 1), 3)
	limit := opts.Limit
	if limit <= 0 {
		limit = 50
	}
	types := []string{}
	for _, t := range opts.Types {
		if !agents.ValidRelType(t) {
			return nil, fmt.Errorf("neo4j: neighbours for %s: %w: unknown relationship type %q", customer, agents.ErrInvalidArgument, t)
		}
		types = append(types, t)
	}
	res, err := s.exec(ctx, "MATCH (n:"+start.Label+" {customer: $customer, key: $key}) RETURN elementId(n) AS id",
		map[string]any{"customer": customer, "key": start.Key}, false)
	if err != nil {
		return nil, fmt.Errorf("neo4j: neighbours for %s: %w", customer, err)
	}
	if len(res.Records) == 0 {
		return nil, fmt.Errorf("neo4j: neighbours of %s:%q for %s: %w", start.Label, start.Key, customer, agents.ErrNotFound)
	}
	startID, _ := res.Records[0].Values[0].(string)
	// byID maps element ids of visited nodes to their identity.
	byID := map[string]agents.NodeRef{startID: start}
	visited := map[string]bool{ref(start.Label, start.Key): true}
	frontier := []string{startID}
	var out []agents.Neighbour
	for d := 1; d <= depth && len(frontier) > 0 && len(out) < limit; d++ {
		res, err := s.exec(ctx, neighbourQuery, map[string]any{"ids": frontier, "customer": customer, "types": types}, false)
		if err != nil {
			return nil, fmt.Errorf("neo4j: neighbours for %s: %w", customer, err)
		}
		rows := make([]map[string]any, len(res.Records))
		for i, rec := range res.Records {
			rows[i] = rec.AsMap()
		}
		this, next := assembleLevel(rows, d, byID, visited)
		out = append(out, this...)
		frontier = next
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// assembleLevel turns the rows of one neighbourQuery into the neighbours at
// depth d, ordered as agents.GraphStore.Neighbours specifies, and the
// element ids of the next frontier. It records the new nodes in byID and
// visited.
func assembleLevel(rows []map[string]any, d int, byID map[string]agents.NodeRef, visited map[string]bool) ([]agents.Neighbour, []string) {
	level := map[string]*found{}
	for _, m := range rows {
		aid, _ := m["aid"].(string)
		bid, _ := m["bid"].(string)
		bl, _ := m["bl"].([]any)
		bp, _ := m["bp"].(map[string]any)
		t, _ := m["t"].(string)
		rp, _ := m["rp"].(map[string]any)
		outgoing, _ := m["outgoing"].(bool)
		label := ""
		for _, l := range bl {
			if ls, _ := l.(string); agents.ValidLabel(ls) {
				label = ls
			}
		}
		a, known := byID[aid]
		if label == "" || !known {
			continue
		}
		b := toNode(label, bp)
		if visited[ref(b.Label, b.Key)] {
			continue
		}
		from, to := a, b.Ref()
		if !outgoing {
			from, to = b.Ref(), a
		}
		e := toEdge(t, from, to, rp)
		if f, ok := level[ref(b.Label, b.Key)]; !ok {
			level[ref(b.Label, b.Key)] = &found{node: b, id: bid, via: e}
		} else if better(e, f.via) {
			f.via = e
		}
	}
	var next []string
	var this []agents.Neighbour
	for k, f := range level {
		visited[k] = true
		byID[f.id] = f.node.Ref()
		next = append(next, f.id)
		this = append(this, agents.Neighbour{Node: f.node, Depth: d, Via: f.via})
	}
	sort.Strings(next)
	sort.Slice(this, func(i, j int) bool {
		x, y := this[i], this[j]
		if x.Via.Confidence != y.Via.Confidence {
			return x.Via.Confidence > y.Via.Confidence
		}
		if x.Node.Label != y.Node.Label {
			return x.Node.Label < y.Node.Label
		}
		return x.Node.Key < y.Node.Key
	})
	return this, next
}

// DeleteByDocument implements agents.GraphStore.
func (s *Store) DeleteByDocument(ctx context.Context, customer, document string) error {
	if err := agents.ValidateCustomer(customer); err != nil {
		return err
	}
	err := s.write(ctx, func(tx driver.ManagedTransaction) error {
		params := map[string]any{"customer": customer, "document": document}
		for _, l := range labels() {
			res, err := tx.Run(ctx, "MATCH (n:"+l+" {customer: $customer, document: $document}) DETACH DELETE n", params)
			if err == nil {
				_, err = res.Consume(ctx)
			}
			if err != nil {
				return err
			}
		}
		res, err := tx.Run(ctx, "MATCH (e:"+agents.LabelEntity+" {customer: $customer}) WHERE NOT EXISTS { (e)--() } DELETE e", params)
		if err == nil {
			_, err = res.Consume(ctx)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("neo4j: delete document for %s: %w", customer, err)
	}
	return nil
}

// Counts implements agents.GraphStore. Each edge is counted from its start
// node, which always belongs to the customer.
func (s *Store) Counts(ctx context.Context, customer string) (agents.GraphCounts, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return agents.GraphCounts{}, err
	}
	c := agents.GraphCounts{Nodes: map[string]int{}, Edges: map[string]int{}}
	for _, l := range labels() {
		res, err := s.exec(ctx, "MATCH (n:"+l+" {customer: $customer}) RETURN count(n) AS n", map[string]any{"customer": customer}, false)
		if err != nil {
			return agents.GraphCounts{}, fmt.Errorf("neo4j: counts for %s: %w", customer, err)
		}
		if n, _ := res.Records[0].Values[0].(int64); n > 0 {
			c.Nodes[l] = int(n)
		}
		res, err = s.exec(ctx, "MATCH (n:"+l+" {customer: $customer})-[r]->() WHERE r.customer = $customer RETURN type(r) AS t, count(r) AS n",
			map[string]any{"customer": customer}, false)
		if err != nil {
			return agents.GraphCounts{}, fmt.Errorf("neo4j: counts for %s: %w", customer, err)
		}
		for _, r := range res.Records {
			t, _ := r.Values[0].(string)
			n, _ := r.Values[1].(int64)
			c.Edges[t] += int(n)
		}
	}
	return c, nil
}

// Health verifies that the server answers over Bolt with the credentials.
func (s *Store) Health(ctx context.Context) error {
	if err := s.driver.VerifyConnectivity(ctx); err != nil {
		return fmt.Errorf("neo4j: health check: %w", err)
	}
	return nil
}
