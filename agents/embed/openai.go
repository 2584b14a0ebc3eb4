package embed

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
)

// Client is an OpenAI-compatible embeddings client (POST /v1/embeddings).
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:11434 (Ollama); "/v1/embeddings" is appended
	Model   string
	APIKey  string // optional; sent as a bearer token, never logged
	HTTP    *http.Client
	Batch   int // inputs per request; 0 means 32
}

// Name identifies the model; it is recorded with the collection.
func (c *Client) Name() string { return "openai:" + c.Model }

type embReq struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type embResp struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Embed returns one vector per text, all of the same dimension.
func (c *Client) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	batch := c.Batch
	if batch <= 0 {
		batch = 32
	}
	url := strings.TrimRight(c.BaseURL, "/") + "/v1/embeddings"
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += batch {
		part := texts[start:min(start+batch, len(texts))]
		body, _ := json.Marshal(embReq{Model: c.Model, Input: part})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("embeddings request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		if c.APIKey != "" {
			req.Header.Set("Authorization", "Bearer "+c.APIKey)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("embeddings %s: %w", c.Model, err)
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("embeddings %s: read: %w", c.Model, err)
		}
		var er embResp
		jerr := json.Unmarshal(raw, &er)
		if resp.StatusCode != http.StatusOK {
			msg := http.StatusText(resp.StatusCode)
			if jerr == nil && er.Error != nil {
				msg = er.Error.Message
			}
			return nil, fmt.Errorf("embeddings %s: HTTP %d: %s", c.Model, resp.StatusCode, msg)
		}
		if jerr != nil {
			return nil, fmt.Errorf("embeddings %s: decode: %w", c.Model, jerr)
		}
		if len(er.Data) != len(part) {
			return nil, fmt.Errorf("embeddings %s: %d vectors for %d inputs", c.Model, len(er.Data), len(part))
		}
		vecs := make([][]float32, len(part))
		for _, d := range er.Data {
			if d.Index < 0 || d.Index >= len(part) || vecs[d.Index] != nil {
				return nil, fmt.Errorf("embeddings %s: bad index %d", c.Model, d.Index)
			}
			vecs[d.Index] = d.Embedding
		}
		for _, v := range vecs {
			if len(v) == 0 || (len(out) > 0 && len(v) != len(out[0])) || (len(out) == 0 && len(v) != len(vecs[0])) {
				return nil, errors.New("embeddings: vectors of differing or zero dimension")
			}
		}
		out = append(out, vecs...)
	}
	return out, nil
}
