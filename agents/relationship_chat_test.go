package agents_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/llm"
)

const chatKey = "sk-chat-SECRET-987"

// chatServer emulates an OpenAI-compatible /v1/chat/completions endpoint on
// 127.0.0.1 that answers by what the chunk says.
func chatServer(t *testing.T, calls *atomic.Int64) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req struct {
			Messages []struct{ Role, Content string }
		}
		if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Messages) != 2 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		text := req.Messages[1].Content
		content := `{"entities":[],"relations":[]}`
		switch {
		case strings.Contains(text, "FAILME"):
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"message":"upstream broke for `+r.Header.Get("Authorization")+`"}}`)
			return
		case strings.Contains(text, "GARBLED"):
			content = `{"entities":[{"name":"Orbit Systems"`
		case strings.Contains(text, "SLOWPOKE"):
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		case strings.Contains(text, "nordwind robotics"):
			content = `{"entities":[{"name":"nordwind robotics","type":"organization"},{"name":"porto","type":"city"},{"name":"Atlantis","type":"place"}],
			 "relations":[{"from":"nordwind robotics","to":"porto","type":"based in","evidence":"depot of nordwind robotics sits in porto"},
			              {"from":"nordwind robotics","to":"porto","type":"LIKES","evidence":"x"},
			              {"from":"porto","to":"nordwind robotics","type":"HAS_ENTITY","evidence":"x"}]}`
		case strings.Contains(text, "Acme Group"):
			content = `{"entities":[{"name":"Acme Group","type":"org"},{"name":"Zeta Labs","type":"org"}],
			 "relations":[{"from":"Acme Group","to":"Zeta Labs","type":"ACQUIRED","evidence":"Acme Group and Zeta Labs"}]}`
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": content}}}})
	}))
	s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

var chatDocs = map[string]string{
	"a.txt":     "Acme Group and Zeta Labs met on Tuesday to talk about freight.",
	"b.txt":     "Later, Acme Group and Zeta Labs signed the papers in the evening.",
	"c.txt":     "The depot of nordwind robotics sits in porto near the harbour.",
	"fail.txt":  "FAILME: the Orbit Systems warehouse report.",
	"bad.txt":   "GARBLED: the Helix Industries audit.",
	"slow.txt":  "SLOWPOKE: the Quanta Holdings memo.",
	"plain.txt": "Nothing much to see in this short note about weather.",
}

// edgeFrom returns the edge of type rel from entity key from to entity key to.
func edgeFrom(t *testing.T, e *env, customer, from, rel, to string) (agents.Edge, bool) {
	t.Helper()
	nbs, err := e.stores.Graph.Neighbours(ctx(), customer, agents.NodeRef{Label: agents.LabelEntity, Key: from}, agents.NeighbourOptions{Depth: 1, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, nb := range nbs {
		if nb.Via.Type == rel && nb.Via.From.Key == from && nb.Via.To.Key == to {
			return nb.Via, true
		}
	}
	return agents.Edge{}, false
}

func chunkID(t *testing.T, e *env, customer, doc string) string {
	t.Helper()
	pts, _, err := e.stores.Vectors.Scroll(ctx(), customer, agents.ScrollOptions{Filter: docFilter(doc), Limit: 10})
	if err != nil || len(pts) != 1 {
		t.Fatalf("chunks of %s: %d, %v", doc, len(pts), err)
	}
	return pts[0].ID
}

func TestRelationshipChatModel(t *testing.T) {
	e := newEnv(t)
	const c = "acme-corp"
	for k, v := range chatDocs {
		e.upload(t, c, k, []byte(v))
	}
	e.ingestAll(t, c)
	var logs bytes.Buffer
	e.deps.Log = slog.New(slog.NewTextHandler(&logs, nil))
	var calls atomic.Int64
	s := chatServer(t, &calls)
	rel := &agents.Relationship{Deps: e.deps, ChatConcurrency: 3,
		Chat: &llm.Client{BaseURL: s.URL, Model: "test-model", APIKey: chatKey, Timeout: 300 * time.Millisecond}}
	rep, err := rel.Run(ctx(), c)
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}
	if n := calls.Load(); n != int64(len(chatDocs)) {
		t.Fatalf("%d model calls, want one per chunk (%d)", n, len(chatDocs))
	}
	for k, want := range map[string]int{agents.CountChatChunks: 4, agents.CountChatFailed: 3, agents.CountChatDropped: 3, agents.CountChatTyped: 2} {
		if rep.Counts[k] != want {
			t.Errorf("report %s = %d, want %d (%v)", k, rep.Counts[k], want, rep.Counts)
		}
	}
	if strings.Contains(logs.String(), chatKey) || strings.Contains(rep.String(), chatKey) {
		t.Fatal("the API key leaked into the log or the report")
	}
	if got := strings.Count(logs.String(), "chat extraction failed"); got != 3 {
		t.Fatalf("%d failure log lines, want 3:\n%s", got, logs.String())
	}

	// Model-only entities merged by canonical key, with the model's kind.
	for key, kind := range map[string]string{"nordwind robotics": agents.KindOrg, "porto": agents.KindPlace} {
		n, err := e.stores.Graph.Node(ctx(), c, agents.NodeRef{Label: agents.LabelEntity, Key: key})
		if err != nil || n.Props["kind"] != kind {
			t.Fatalf("entity %q: %+v, %v; want kind %s", key, n, err, kind)
		}
	}
	if _, err := e.stores.Graph.Node(ctx(), c, agents.NodeRef{Label: agents.LabelEntity, Key: "atlantis"}); err == nil {
		t.Fatal("an entity the chunk does not mention was added")
	}
	// Failed chunks keep their heuristic entities.
	for _, key := range []string{"orbit systems", "helix industries", "quanta holdings"} {
		if _, err := e.stores.Graph.Node(ctx(), c, agents.NodeRef{Label: agents.LabelEntity, Key: key}); err != nil {
			t.Fatalf("heuristic entity %q lost after a failed model call: %v", key, err)
		}
	}

	tests := []struct {
		name, from, rel, to string
		conf                float64
		evidence            []string
		corroborated        bool
	}{
		{"model only", "nordwind robotics", agents.RelLocatedIn, "porto", 0.6, []string{chunkID(t, e, c, "c.txt")}, false},
		{"corroborated by co-occurrence", "acme group", agents.RelAcquired, "zeta labs", 0.85,
			[]string{chunkID(t, e, c, "a.txt"), chunkID(t, e, c, "b.txt")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ed, ok := edgeFrom(t, e, c, tt.from, tt.rel, tt.to)
			if !ok {
				t.Fatalf("no %s edge %s -> %s", tt.rel, tt.from, tt.to)
			}
			if ed.Confidence != tt.conf || ed.Props["method"] != "chat" || ed.Props["model"] != "openai-chat:test-model" ||
				(ed.Props["corroborated"] != "") != tt.corroborated {
				t.Fatalf("edge %+v: want confidence %v, corroborated %v", ed, tt.conf, tt.corroborated)
			}
			if strings.Join(ed.Evidence, ",") != strings.Join(tt.evidence, ",") {
				t.Fatalf("evidence %v, want %v", ed.Evidence, tt.evidence)
			}
		})
	}
	if _, ok := edgeFrom(t, e, c, "porto", agents.RelHasEntity, "nordwind robotics"); ok {
		t.Fatal("a structural relation type from the model was accepted")
	}

	// A rerun with nothing changed calls the model for nothing and keeps the edges.
	before := calls.Load()
	if _, err := rel.Run(ctx(), c); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != before {
		t.Fatalf("rerun made %d model calls", calls.Load()-before)
	}
	if _, ok := edgeFrom(t, e, c, "nordwind robotics", agents.RelLocatedIn, "porto"); !ok {
		t.Fatal("model edge lost on rerun")
	}
}

func TestRelationshipChatBounded(t *testing.T) {
	e := newEnv(t)
	const c = "acme-corp"
	for k, v := range chatDocs {
		e.upload(t, c, k, []byte(v))
	}
	e.ingestAll(t, c)
	var calls atomic.Int64
	s := chatServer(t, &calls)

	// Not configured: no HTTP call, no chat counts.
	rep, err := (&agents.Relationship{Deps: e.deps}).Run(ctx(), c)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 0 || rep.Counts[agents.CountChatChunks]+rep.Counts[agents.CountChatFailed] != 0 {
		t.Fatalf("unconfigured run made %d calls, report %v", calls.Load(), rep.Counts)
	}

	// Configured with a cap: the rest waits for later runs.
	for k, v := range chatDocs {
		e.upload(t, c, k, []byte(v+" Revised."))
	}
	e.ingestAll(t, c)
	rel := &agents.Relationship{Deps: e.deps, MaxChatChunks: 4, ChatConcurrency: 2,
		Chat: &llm.Client{BaseURL: s.URL, Model: "m", Timeout: 300 * time.Millisecond}}
	total := 0
	for run := 0; run < 3; run++ {
		rep, err := rel.Run(ctx(), c)
		if err != nil {
			t.Fatal(err)
		}
		sent := rep.Counts[agents.CountChatChunks] + rep.Counts[agents.CountChatFailed]
		if sent > 4 {
			t.Fatalf("run %d sent %d chunks, cap 4", run, sent)
		}
		total += sent
	}
	if total != len(chatDocs) || calls.Load() != int64(len(chatDocs)) {
		t.Fatalf("%d chunks sent over three runs (%d calls), want %d", total, calls.Load(), len(chatDocs))
	}
}
