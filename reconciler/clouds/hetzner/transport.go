package hetzner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
)

// retryTransport is the http.RoundTripper under hcloud-go: every API call
// passes the shared Limiter, and retryable answers are retried here.
//
// hcloud-go's own retry handler is switched off (RetryOpts.MaxRetries 0):
// its policy does not retry 500 server_error or 503 service_error, and on a
// 429 it backs off blindly (1 s, 2 s, ... with jitter) instead of honouring
// RateLimit-Reset. Retrying below it, in the transport, means a retried
// request passes the limiter again and is counted like any other.
//
// Retried: 429 (after the limiter's wait until RateLimit-Reset, up to
// maxRateLimited times), 500/502/503/504, 409 conflict and 423 locked
// (another action still running), transport errors (dropped connections)
// and per-attempt timeouts; each with bounded exponential backoff with
// jitter, aborted when the caller's context ends. A POST replayed after a
// lost answer may hit uniqueness_error; Create handles that by adopting.
type retryTransport struct {
	base           http.RoundTripper
	lim            *Limiter
	log            *slog.Logger
	retry          backoff.Policy
	maxRateLimited int
	attemptTimeout time.Duration
	sleep          func(ctx context.Context, d time.Duration) error
}

// retryableCode reports whether an API error code means "try again".
func retryableCode(status int, body []byte) bool {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	switch status {
	case http.StatusConflict:
		return e.Error.Code == "conflict"
	case http.StatusLocked:
		return e.Error.Code == "locked"
	}
	return false
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if req.Body != nil && req.GetBody == nil {
		// Not replayable: one attempt, still rate limited.
		if err := t.lim.Wait(ctx); err != nil {
			return nil, err
		}
		resp, err := t.base.RoundTrip(req)
		if err == nil {
			t.lim.Observe(resp.Header, resp.StatusCode)
		}
		return resp, err
	}
	retries, limited := 0, 0
	for {
		if err := t.lim.Wait(ctx); err != nil {
			return nil, err
		}
		resp, err := t.attempt(req)
		if err != nil {
			if ctx.Err() != nil || !t.retry.Retry(retries+1) {
				return nil, err
			}
			retries++
			t.log.Debug("hetzner: retrying after transport error", "method", req.Method, "path", req.URL.Path, "attempt", retries, "err", err)
			if serr := t.sleep(ctx, t.retry.Delay(retries)); serr != nil {
				return nil, err
			}
			continue
		}
		t.lim.Observe(resp.Header, resp.StatusCode)
		retry, rateLimited := false, false
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			retry, rateLimited = limited < t.maxRateLimited, true
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			retry = t.retry.Retry(retries + 1)
		case http.StatusConflict, http.StatusLocked:
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
			retry = rerr == nil && t.retry.Retry(retries+1) && retryableCode(resp.StatusCode, body)
		}
		if !retry {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if rateLimited {
			limited++ // the limiter's Wait holds the next attempt until RateLimit-Reset
			t.log.Debug("hetzner: rate limited, waiting for reset", "method", req.Method, "path", req.URL.Path, "attempt", limited)
			continue
		}
		retries++
		t.log.Debug("hetzner: retrying", "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode, "attempt", retries)
		if err := t.sleep(ctx, t.retry.Delay(retries)); err != nil {
			return nil, fmt.Errorf("giving up after status %d: %w", resp.StatusCode, err)
		}
	}
}

// attempt sends one copy of req with the per-attempt timeout. The timeout's
// context lives until the answer's body is closed.
func (t *retryTransport) attempt(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.attemptTimeout)
	r := req.Clone(ctx)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, fmt.Errorf("replay request body: %w", err)
		}
		r.Body = body
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		cancel()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && req.Context().Err() == nil {
			return nil, fmt.Errorf("no answer within %s: %w", t.attemptTimeout, err)
		}
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
