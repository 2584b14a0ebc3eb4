package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/state"
)

// ErrUnreachable wraps every failure to reach the daemon (connection
// refused, DNS, timeout) as opposed to an error the daemon answered.
var ErrUnreachable = errors.New("daemon unreachable")

// StatusError is an error response of the daemon. errors.Is(err,
// daemon.ErrNotFound) holds for a 404.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("daemon answered %d %s", e.Code, http.StatusText(e.Code))
	}
	return fmt.Sprintf("daemon answered %d: %s", e.Code, e.Message)
}

// Is makes a 404 match daemon.ErrNotFound.
func (e *StatusError) Is(target error) bool {
	return target == daemon.ErrNotFound && e.Code == http.StatusNotFound
}

// maxResponseBytes caps what the client reads of a response.
const maxResponseBytes = 64 << 20

// Client calls the daemon's API.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	actor string // ActorHeader, when set
}

// NewClient returns a client of the daemon at baseURL (http or https)
// sending token as bearer token; hc nil uses http.DefaultClient.
func NewClient(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		// The parse error repeats the URL, which may hold a password.
		return nil, errors.New("daemon URL is not a URL: want http://HOST:PORT or https://HOST:PORT")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("daemon URL %q: want http://HOST:PORT or https://HOST:PORT", u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("daemon URL %q: credentials in the URL are not supported; use the token", u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, token: token, hc: hc}, nil
}

// URL returns the daemon's base URL.
func (c *Client) URL() string { return c.base.String() }

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.actor != "" {
		req.Header.Set(ActorHeader, c.actor)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, c.base.Redacted(), err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		var eb ErrorBody
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &eb) == nil && eb.Error != "" {
			msg = eb.Error
		}
		return nil, &StatusError{Code: resp.StatusCode, Message: msg}
	}
	return resp, nil
}

func (c *Client) getJSON(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := c.do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(out); err != nil {
		return fmt.Errorf("decode response of %s %s: %w", method, path, err)
	}
	return nil
}

func customerPath(name string, rest string) string {
	return "/api/v1/customers/" + url.PathEscape(name) + rest
}

// Customers lists the customers.
func (c *Client) Customers(ctx context.Context) ([]daemon.CustomerView, error) {
	var b CustomersBody
	err := c.getJSON(ctx, http.MethodGet, "/api/v1/customers", nil, nil, &b)
	return b.Customers, err
}

// Customer returns one customer.
func (c *Client) Customer(ctx context.Context, name string) (daemon.CustomerView, error) {
	var v daemon.CustomerView
	err := c.getJSON(ctx, http.MethodGet, customerPath(name, ""), nil, nil, &v)
	return v, err
}

// Reconcile queues a reconcile of the customer.
func (c *Client) Reconcile(ctx context.Context, name string) error {
	return c.getJSON(ctx, http.MethodPost, customerPath(name, "/reconcile"), nil, nil, nil)
}

// Hold suspends (true) or resumes (false) the customer and returns it.
func (c *Client) Hold(ctx context.Context, name string, hold bool) (daemon.CustomerView, error) {
	action := "/resume"
	if hold {
		action = "/suspend"
	}
	var v daemon.CustomerView
	err := c.getJSON(ctx, http.MethodPost, customerPath(name, action), nil, nil, &v)
	return v, err
}

// History returns the customer's apply history, newest first (limit 0:
// the server's default).
func (c *Client) History(ctx context.Context, name string, limit int) ([]state.ApplyRecord, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var b HistoryBody
	err := c.getJSON(ctx, http.MethodGet, customerPath(name, "/history"), q, nil, &b)
	return b.History, err
}

// Plan returns the plan of ref rendered in format (FormatJSON,
// FormatMarkdown or FormatText).
func (c *Client) Plan(ctx context.Context, ref, format string) ([]byte, error) {
	return c.postPlan(ctx, PlanRequest{Ref: ref, Format: format})
}

func (c *Client) postPlan(ctx context.Context, req PlanRequest) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/plan", nil, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	return b, nil
}

// Sync asks the daemon to fetch git now.
func (c *Client) Sync(ctx context.Context) error {
	return c.getJSON(ctx, http.MethodPost, "/api/v1/sync", nil, nil, nil)
}
