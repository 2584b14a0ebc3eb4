package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents/llm"
)

const key = "sk-test-SECRET-123"

// server emulates POST /v1/chat/completions on 127.0.0.1.
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func reply(w http.ResponseWriter, content string) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{
		"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}}})
}

func TestExtractRequest(t *testing.T) {
	var got struct {
		Model          string `json:"model"`
		Messages       []struct{ Role, Content string }
		ResponseFormat struct{ Type string } `json:"response_format"`
	}
	var auth, path string
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		auth, path = r.Header.Get("Authorization"), r.URL.Path
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Error(err)
		}
		reply(w, `{"entities":[{"name":"Acme Group","type":"org"}],"relations":[{"from":"Ada Li","to":"Acme Group","type":"WORKS_FOR","evidence":"Ada Li works at Acme Group"}]}`)
	})
	c := &llm.Client{BaseURL: s.URL + "/", Model: "m1", APIKey: key}
	ex, err := c.Extract(context.Background(), "Ada Li works at Acme Group.")
	if err != nil {
		t.Fatal(err)
	}
	if path != "/v1/chat/completions" || auth != "Bearer "+key || got.Model != "m1" || got.ResponseFormat.Type != "json_object" {
		t.Fatalf("request: path %q auth %q model %q format %q", path, auth, got.Model, got.ResponseFormat.Type)
	}
	if len(got.Messages) != 2 || got.Messages[1].Content != "Ada Li works at Acme Group." || got.Messages[0].Role != "system" {
		t.Fatalf("messages %+v", got.Messages)
	}
	want := llm.Extraction{Entities: []llm.Entity{{Name: "Acme Group", Type: "org"}},
		Relations: []llm.Relation{{From: "Ada Li", To: "Acme Group", Type: "WORKS_FOR", Evidence: "Ada Li works at Acme Group"}}}
	if g, w := mustJSON(ex), mustJSON(want); g != w {
		t.Fatalf("got %s want %s", g, w)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestParse(t *testing.T) {
	tests := []struct {
		name, content string
		ok            bool
		entities      int
	}{
		{"plain", `{"entities":[{"name":"A","type":"org"}],"relations":[]}`, true, 1},
		{"fenced", "```json\n{\"entities\":[],\"relations\":[]}\n```", true, 0},
		{"not json", `Sure! Here are the entities: Acme`, false, 0},
		{"unknown field", `{"entities":[],"relations":[],"notes":"x"}`, false, 0},
		{"missing relations", `{"entities":[]}`, false, 0},
		{"null entities", `{"entities":null,"relations":[]}`, false, 0},
		{"trailing object", `{"entities":[],"relations":[]} {}`, false, 0},
		{"empty name", `{"entities":[{"name":" ","type":"org"}],"relations":[]}`, false, 0},
		{"relation without type", `{"entities":[],"relations":[{"from":"a","to":"b","type":""}]}`, false, 0},
		{"wrong shape", `{"entities":{"name":"A"},"relations":[]}`, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, err := llm.Parse(tt.content)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, llm.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if len(ex.Entities) != tt.entities {
				t.Fatalf("%d entities, want %d", len(ex.Entities), tt.entities)
			}
		})
	}
}

func TestExtractFailures(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		malformed bool
		want      string
	}{
		{"500 echoing the key", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": "bad key " + r.Header.Get("Authorization")}})
		}, false, "HTTP 500"},
		{"malformed content", func(w http.ResponseWriter, r *http.Request) { reply(w, "I cannot do that, key "+key) }, true, "malformed"},
		{"malformed body", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }, true, "malformed"},
		{"no choices", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"choices":[]}`)) }, true, "no choices"},
		{"too large", func(w http.ResponseWriter, r *http.Request) {
			reply(w, `{"entities":[],"relations":[],"x":"`+strings.Repeat("a", 5000)+`"}`)
		}, false, "larger than"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Second):
			}
		}, false, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := server(t, tt.handler)
			c := &llm.Client{BaseURL: s.URL, Model: "m1", APIKey: key, Timeout: 200 * time.Millisecond, MaxResponseBytes: 4096}
			_, err := c.Extract(context.Background(), "text")
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("error leaks the key: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) || errors.Is(err, llm.ErrMalformed) != tt.malformed {
				t.Fatalf("error %q: want %q, malformed=%v", err, tt.want, tt.malformed)
			}
		})
	}
}
