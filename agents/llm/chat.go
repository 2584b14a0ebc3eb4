package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrMalformed is returned (wrapped) when the model's answer is not the
// requested JSON object.
var ErrMalformed = errors.New("malformed model output")

// Entity is a named thing the model found in the text.
type Entity struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Relation is a typed, directed relation between two entity names.
type Relation struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Type     string `json:"type"`
	Evidence string `json:"evidence"`
}

// Extraction is the model's answer for one text.
type Extraction struct {
	Entities  []Entity   `json:"entities"`
	Relations []Relation `json:"relations"`
}

// Client is an OpenAI-compatible chat-completions client.
type Client struct {
	BaseURL          string // e.g. http://127.0.0.1:11434 (Ollama); "/v1/chat/completions" is appended
	Model            string
	APIKey           string        // optional; sent as a bearer token, never logged or returned in errors
	HTTP             *http.Client  // nil: a plain client; Timeout below bounds each call
	Timeout          time.Duration // per call; 0 means 60 s
	MaxResponseBytes int64         // 0 means 4 MiB
	MaxInputBytes    int           // text sent per call; 0 means 16 KiB
}

// Name identifies the model.
func (c *Client) Name() string { return "openai-chat:" + c.Model }

// SystemPrompt is the instruction sent with every chunk.
const SystemPrompt = `You extract a knowledge graph from a text. Answer with one JSON object and nothing else:
{"entities":[{"name":"...","type":"..."}],"relations":[{"from":"...","to":"...","type":"...","evidence":"..."}]}
Entity types: person, org, place, email, url, date, amount, concept.
Relation types: WORKS_FOR (person -> org), LEADS (person -> org), ACQUIRED (org -> org), LOCATED_IN (entity -> place), PARTNER_OF (org -> org), IS_A (entity -> concept).
Use names exactly as written in the text; "from" and "to" must be entity names; "evidence" is the short passage that states the relation.
Use empty arrays when there is nothing to report.`

type chatMsg struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatReq struct {
	Model          string    `json:"model"`
	Messages       []chatMsg `json:"messages"`
	Temperature    float64   `json:"temperature"`
	ResponseFormat struct {
		Type string `json:"type"`
	} `json:"response_format"`
	Stream bool `json:"stream"`
}

type chatResp struct {
	Choices []struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Extract asks the model for the entities and relations in text.
func (c *Client) Extract(ctx context.Context, text string) (Extraction, error) {
	if c.BaseURL == "" || c.Model == "" {
		return Extraction{}, errors.New("chat: base URL and model are required")
	}
	timeout, limit, maxIn := c.Timeout, c.MaxResponseBytes, c.MaxInputBytes
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if limit <= 0 {
		limit = 4 << 20
	}
	if maxIn <= 0 {
		maxIn = 16 << 10
	}
	text = truncate(text, maxIn)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	r := chatReq{Model: c.Model, Messages: []chatMsg{{Role: "system", Content: SystemPrompt}, {Role: "user", Content: text}}}
	r.ResponseFormat.Type = "json_object"
	body, err := json.Marshal(r)
	if err != nil {
		return Extraction{}, fmt.Errorf("chat %s: encode: %w", c.Model, err)
	}
	url := strings.TrimRight(c.BaseURL, "/") + "/v1/chat/completions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Extraction{}, c.redact(fmt.Errorf("chat request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Extraction{}, c.redact(fmt.Errorf("chat %s: %w", c.Model, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return Extraction{}, c.redact(fmt.Errorf("chat %s: read: %w", c.Model, err))
	}
	if int64(len(raw)) > limit {
		return Extraction{}, fmt.Errorf("chat %s: response larger than %d bytes", c.Model, limit)
	}
	var cr chatResp
	jerr := json.Unmarshal(raw, &cr)
	if resp.StatusCode != http.StatusOK {
		msg := http.StatusText(resp.StatusCode)
		if jerr == nil && cr.Error != nil {
			msg = truncate(cr.Error.Message, 300)
		}
		return Extraction{}, c.redact(fmt.Errorf("chat %s: HTTP %d: %s", c.Model, resp.StatusCode, msg))
	}
	if jerr != nil {
		return Extraction{}, fmt.Errorf("chat %s: decode response: %w: %w", c.Model, ErrMalformed, jerr)
	}
	if len(cr.Choices) == 0 {
		return Extraction{}, fmt.Errorf("chat %s: %w: no choices", c.Model, ErrMalformed)
	}
	ex, err := Parse(cr.Choices[0].Message.Content)
	if err != nil {
		return Extraction{}, c.redact(fmt.Errorf("chat %s: %w", c.Model, err))
	}
	return ex, nil
}

// Parse strictly decodes the model's content into an Extraction; every
// error wraps ErrMalformed.
func Parse(content string) (Extraction, error) {
	s := strings.TrimSpace(content)
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(s, "```")
		s = strings.TrimPrefix(s, "json")
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
	}
	var wire struct {
		Entities  *[]Entity   `json:"entities"`
		Relations *[]Relation `json:"relations"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wire); err != nil {
		return Extraction{}, fmt.Errorf("%w: %w (content %q)", ErrMalformed, err, truncate(content, 80))
	}
	if dec.More() {
		return Extraction{}, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	if wire.Entities == nil || wire.Relations == nil {
		return Extraction{}, fmt.Errorf("%w: \"entities\" and \"relations\" arrays are required", ErrMalformed)
	}
	ex := Extraction{Entities: *wire.Entities, Relations: *wire.Relations}
	for i, e := range ex.Entities {
		if strings.TrimSpace(e.Name) == "" || strings.TrimSpace(e.Type) == "" {
			return Extraction{}, fmt.Errorf("%w: entity %d has an empty name or type", ErrMalformed, i)
		}
	}
	for i, r := range ex.Relations {
		if strings.TrimSpace(r.From) == "" || strings.TrimSpace(r.To) == "" || strings.TrimSpace(r.Type) == "" {
			return Extraction{}, fmt.Errorf("%w: relation %d has an empty from, to or type", ErrMalformed, i)
		}
	}
	return ex, nil
}

// redact removes the API key from an error's message, keeping the chain
// (errors.Is still sees ErrMalformed, context errors etc.).
func (c *Client) redact(err error) error {
	if err == nil || c.APIKey == "" || !strings.Contains(err.Error(), c.APIKey) {
		return err
	}
	var cause error
	for _, k := range []error{ErrMalformed, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, k) {
			cause = k
		}
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), c.APIKey, "[redacted]"), err: cause}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }

// Unwrap exposes only the error's class (ErrMalformed or a context
// error), never the original chain whose messages hold the key.
func (r *redacted) Unwrap() error { return r.err }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
