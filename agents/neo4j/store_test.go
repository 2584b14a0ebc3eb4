package neo4j

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/storetest"
)

const howToRun = "Neo4j conformance suite skipped: NEO4J_URI is not set (no Neo4j server is installable on the build machines). " +
	"To run it: start Neo4j 5 with a DISPOSABLE database (the suite deletes the data of customers " +
	storetest.CustA + " and " + storetest.CustB + "), then " +
	"NEO4J_URI=neo4j://127.0.0.1:7687 NEO4J_USER=neo4j NEO4J_PASSWORD=... go test -race -run TestConformance ./agents/neo4j/"

func TestConformance(t *testing.T) {
	uri := os.Getenv("NEO4J_URI")
	if uri == "" {
		t.Skip(howToRun)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := New(ctx, Config{URI: uri, User: os.Getenv("NEO4J_USER"), Password: os.Getenv("NEO4J_PASSWORD"), Database: os.Getenv("NEO4J_DATABASE"), BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	storetest.TestGraphStore(t, func(t *testing.T) agents.GraphStore {
		// "Fresh and empty": remove the suite customers' nodes and edges.
		_, err := s.exec(ctx, "MATCH (n) WHERE n.customer IN $c DETACH DELETE n",
			map[string]any{"c": []string{storetest.CustA, storetest.CustB}}, true)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestNewErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := New(ctx, Config{}); !errors.Is(err, agents.ErrInvalidArgument) {
		t.Fatalf("empty URI: %v", err)
	}
	// A closed loopback port: connecting fails with an error, not a hang,
	// and the password is not in it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = New(ctx, Config{URI: "bolt://" + addr, User: "neo4j", Password: "pw-should-not-leak"})
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	if strings.Contains(err.Error(), "pw-should-not-leak") {
		t.Fatalf("password in error: %v", err)
	}
}

// TestQueriesSpliceOnlyWhitelistedNames checks that labels and types reach
// the Cypher text only after validation, so hostile names are refused
// before any statement exists.
func TestQueriesSpliceOnlyWhitelistedNames(t *testing.T) {
	nodeCases := []struct {
		name string
		n    agents.Node
		ok   bool
	}{
		{"entity", agents.Node{Label: agents.LabelEntity, Key: "x"}, true},
		{"injected label", agents.Node{Label: "Entity) DETACH DELETE n //", Key: "x"}, false},
		{"lower-case label", agents.Node{Label: "entity", Key: "x"}, false},
		{"empty key", agents.Node{Label: agents.LabelChunk}, false},
		{"reserved prop customer", agents.Node{Label: agents.LabelChunk, Key: "k", Props: map[string]string{"customer": "other"}}, false},
		{"reserved prop key", agents.Node{Label: agents.LabelChunk, Key: "k", Props: map[string]string{"key": "other"}}, false},
	}
	for _, tc := range nodeCases {
		t.Run(tc.name, func(t *testing.T) {
			err := validateNode(tc.n)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, agents.ErrInvalidArgument)) {
				t.Fatalf("validateNode = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	ent := func(k string) agents.NodeRef { return agents.NodeRef{Label: agents.LabelEntity, Key: k} }
	edgeCases := []struct {
		name string
		e    agents.Edge
		ok   bool
	}{
		{"leads", agents.Edge{Type: agents.RelLeads, From: ent("a"), To: ent("b")}, true},
		{"injected type", agents.Edge{Type: "KNOWS]->() DELETE r //", From: ent("a"), To: ent("b")}, false},
		{"bad endpoint label", agents.Edge{Type: agents.RelLeads, From: agents.NodeRef{Label: "X", Key: "a"}, To: ent("b")}, false},
		{"reserved prop", agents.Edge{Type: agents.RelLeads, From: ent("a"), To: ent("b"), Props: map[string]string{"confidence": "1"}}, false},
	}
	for _, tc := range edgeCases {
		t.Run(tc.name, func(t *testing.T) {
			err := validateEdge(tc.e)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, agents.ErrInvalidArgument)) {
				t.Fatalf("validateEdge = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	q := mergeEdgesQuery(agents.RelLeads, agents.LabelEntity, agents.LabelEntity)
	for _, want := range []string{"[r:LEADS {customer: $customer}]", "(a:Entity {customer: $customer, key: row.from})", "(b:Entity {customer: $customer, key: row.to})"} {
		if !strings.Contains(q, want) {
			t.Fatalf("edge query lacks %q:\n%s", want, q)
		}
	}
	if q := mergeNodesQuery(agents.LabelChunk); !strings.Contains(q, "MERGE (n:Chunk {customer: $customer, key: row.key})") {
		t.Fatalf("node query:\n%s", q)
	}
}

func TestSchemaIncludesCustomer(t *testing.T) {
	stmts := strings.Join(schemaStatements(), "\n")
	for _, l := range []string{agents.LabelDocument, agents.LabelChunk, agents.LabelEntity} {
		want := "FOR (n:" + l + ") REQUIRE (n.customer, n.key) IS UNIQUE"
		if !strings.Contains(stmts, want) {
			t.Errorf("no uniqueness constraint %q", want)
		}
	}
	for _, rt := range agents.RelTypes() {
		if !strings.Contains(stmts, "[r:"+rt+"]-() ON (r.customer)") {
			t.Errorf("no customer index for %s", rt)
		}
	}
	if strings.Count(stmts, "IF NOT EXISTS") != len(schemaStatements()) {
		t.Error("every schema statement must be idempotent")
	}
}

func TestViaOrdering(t *testing.T) {
	e := func(typ string, c float64, from, to string) agents.Edge {
		return agents.Edge{Type: typ, Confidence: c, From: agents.NodeRef{Key: from}, To: agents.NodeRef{Key: to}}
	}
	cases := []struct {
		name string
		x, y agents.Edge
	}{
		{"confidence", e("Z", 0.9, "z", "z"), e("A", 0.5, "a", "a")},
		{"type", e("A", 0.5, "z", "z"), e("B", 0.5, "a", "a")},
		{"from key", e("A", 0.5, "a", "z"), e("A", 0.5, "b", "a")},
		{"to key", e("A", 0.5, "a", "a"), e("A", 0.5, "a", "b")},
	}
	for _, tc := range cases {
		if !better(tc.x, tc.y) || better(tc.y, tc.x) {
			t.Errorf("%s: ordering wrong", tc.name)
		}
	}
}

// row builds one neighbourQuery record as the driver decodes it (lists as
// []any, integers as int64, floats as float64).
func row(aid, bid, label, key string, props map[string]any, typ string, conf float64, count int64, evidence []any, outgoing bool) map[string]any {
	bp := map[string]any{"customer": "acme-corp", "key": key}
	for k, v := range props {
		bp[k] = v
	}
	return map[string]any{
		"aid": aid, "bid": bid, "bl": []any{label}, "bp": bp, "t": typ, "outgoing": outgoing,
		"rp": map[string]any{"customer": "acme-corp", "confidence": conf, "count": count, "evidence": evidence, "pattern": "X, CEO of Y"},
	}
}

func TestAssembleLevel(t *testing.T) {
	alice := agents.NodeRef{Label: agents.LabelEntity, Key: "alice smith"}
	byID := map[string]agents.NodeRef{"4:a": alice}
	visited := map[string]bool{ref(alice.Label, alice.Key): true}
	rows := []map[string]any{
		// acme reached twice: LEADS 0.8 (outgoing) and RELATED_TO 0.8: same
		// confidence, LEADS < RELATED_TO wins.
		row("4:a", "4:acme", agents.LabelEntity, "acme corp", map[string]any{"name": "Acme Corp"}, agents.RelRelatedTo, 0.8, 1, nil, true),
		row("4:a", "4:acme", agents.LabelEntity, "acme corp", map[string]any{"name": "Acme Corp"}, agents.RelLeads, 0.8, 2, []any{"c1", "c2"}, true),
		// chunk d1#0 has alice: incoming HAS_ENTITY 0.9
		row("4:a", "4:c0", agents.LabelChunk, "d1#0", map[string]any{"document": "d1.txt"}, agents.RelHasEntity, 0.9, 1, []any{"d1#0"}, false),
		// the start node itself never comes back
		row("4:a", "4:a", agents.LabelEntity, "alice smith", nil, agents.RelRelatedTo, 1, 1, nil, true),
		// an unknown label (not whitelisted) is ignored
		row("4:a", "4:x", "Secret", "x", nil, agents.RelRelatedTo, 1, 1, nil, true),
	}
	got, next := assembleLevel(rows, 1, byID, visited)
	if len(got) != 2 || got[0].Node.Key != "d1#0" || got[1].Node.Key != "acme corp" {
		t.Fatalf("level 1 = %+v", got)
	}
	c := got[0]
	if c.Depth != 1 || c.Via.Type != agents.RelHasEntity || c.Via.From.Key != "d1#0" || c.Via.To != alice || c.Node.Props["document"] != "d1.txt" {
		t.Fatalf("incoming via %+v", c)
	}
	if _, leaked := c.Node.Props["customer"]; leaked {
		t.Fatal("customer property leaked into Props")
	}
	a := got[1]
	if a.Via.Type != agents.RelLeads || a.Via.Count != 2 || strings.Join(a.Via.Evidence, ",") != "c1,c2" || a.Via.Props["pattern"] != "X, CEO of Y" || a.Via.From != alice {
		t.Fatalf("acme via %+v", a.Via)
	}
	if strings.Join(next, ",") != "4:acme,4:c0" {
		t.Fatalf("next frontier %v", next)
	}
	// Level 2 from acme: alice is visited (no back edge), berlin is new.
	got, _ = assembleLevel([]map[string]any{
		row("4:acme", "4:a", agents.LabelEntity, "alice smith", nil, agents.RelLeads, 0.8, 2, nil, false),
		row("4:acme", "4:b", agents.LabelEntity, "berlin", nil, agents.RelRelatedTo, 0.4, 3, nil, true),
	}, 2, byID, visited)
	if len(got) != 1 || got[0].Node.Key != "berlin" || got[0].Depth != 2 || got[0].Via.From.Key != "acme corp" {
		t.Fatalf("level 2 = %+v", got)
	}
}
