package opennebula

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
)

// Config configures the adapter.
type Config struct {
	// XMLRPCURL is oned's endpoint (ONE_XMLRPC), e.g.
	// http://127.0.0.1:2633/RPC2.
	XMLRPCURL string
	// FlowURL is the OneFlow endpoint (ONEFLOW_URL), e.g.
	// http://127.0.0.1:2474.
	FlowURL string
	// User and Password authenticate against both (core driver).
	User     string
	Password string
	// HTTPClient supplies the transport (TLS, proxies); nil uses
	// http.DefaultTransport. Its Timeout is ignored: RequestTimeout bounds
	// each attempt.
	HTTPClient *http.Client
	// Logger receives one record per retried or failed call (default:
	// discard). Credentials and Sensitive values are never logged.
	Logger *slog.Logger
	// RequestTimeout bounds one HTTP attempt (default 30s).
	RequestTimeout time.Duration
	// Retry bounds the attempts of one call and the backoff between them
	// (defaults: 6 attempts, 200ms doubling up to 5s).
	Retry backoff.Policy
	// WaitTimeout bounds waiting for asynchronous operations (VM
	// termination, OneFlow service removal); default 5m.
	WaitTimeout time.Duration
	// PollInterval is the period of those waits (default 1s).
	PollInterval time.Duration
	// PageSize pages the pools that oned paginates (vnets, VM templates,
	// VMs): 0 reads each pool with one call, n > 0 reads n objects per call.
	PageSize int
}

// LogValue keeps the password out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("xmlrpc", c.XMLRPCURL),
		slog.String("oneflow", c.FlowURL),
		slog.String("user", c.User),
		slog.Int("page_size", c.PageSize),
	)
}

// Provider is the OpenNebula cloud (oned and OneFlow) on goca.
type Provider struct {
	cfg      Config
	log      *slog.Logger
	base     http.RoundTripper
	rpcConf  goca.OneConfig
	flowConf goca.HTTPAuth
}

var _ reconciler.Provider = (*Provider)(nil)

// New validates cfg and returns a Provider. It makes no API call.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, u := range []struct{ name, v string }{{"XMLRPCURL", cfg.XMLRPCURL}, {"FlowURL", cfg.FlowURL}} {
		pu, err := url.Parse(u.v)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("opennebula: %s %q is not an http(s) URL", u.name, u.v)
		}
	}
	// goca falls back to ONE_AUTH (and exits the process when it is
	// missing) if both are empty, so both are required here.
	if cfg.User == "" || cfg.Password == "" {
		return nil, errors.New("opennebula: user and password are required")
	}
	if strings.ContainsAny(cfg.User, ": \t\n") {
		return nil, errors.New("opennebula: user must not contain ':' or spaces")
	}
	if cfg.PageSize < 0 {
		return nil, fmt.Errorf("opennebula: page size %d must be >= 0", cfg.PageSize)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	cfg.Retry = cfg.Retry.Or(backoff.Policy{Attempts: 6, Base: 200 * time.Millisecond, Max: 5 * time.Second})
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 5 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := http.DefaultTransport
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		base = cfg.HTTPClient.Transport
	}
	return &Provider{
		cfg:      cfg,
		log:      log.With(slog.String(logKeyCloud, string(plan.OpenNebula))),
		base:     base,
		rpcConf:  goca.NewConfig(cfg.User, cfg.Password, cfg.XMLRPCURL),
		flowConf: goca.NewFlowConfig(cfg.User, cfg.Password, strings.TrimRight(cfg.FlowURL, "/")),
	}, nil
}

// Cloud names the provider.
func (p *Provider) Cloud() plan.Cloud { return plan.OpenNebula }

// Log attribute keys.
const (
	logKeyCloud   = "cloud"
	logKeyOp      = "op"
	logKeyAttempt = "attempt"
	logKeyErr     = "err"
	logKeyKind    = "kind"
	logKeyName    = "name"
	logKeyID      = "id"
	logKeyWait    = "wait"
)

// callState records what the transport saw during one attempt.
type callState struct {
	status     int
	retryAfter time.Duration
}

// callTransport binds one attempt to ctx (goca builds requests without a
// context), bounds it by a timeout, and buffers the response body: goca's
// OneFlow client calls log.Fatalln when reading a body fails, so a body is
// only handed over once it has been read completely.
type callTransport struct {
	base    http.RoundTripper
	ctx     context.Context
	timeout time.Duration
	st      *callState
}

const maxBody = 1 << 30

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	defer cancel()
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	t.st.status = resp.StatusCode
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(ra); err == nil && s >= 0 {
			t.st.retryAfter = time.Duration(s) * time.Second
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// controller returns a goca controller whose calls run under ctx.
func (p *Provider) controller(ctx context.Context, st *callState) *goca.Controller {
	hc := &http.Client{Transport: &callTransport{base: p.base, ctx: ctx, timeout: p.cfg.RequestTimeout, st: st}}
	if p.cfg.HTTPClient != nil {
		hc.CheckRedirect = p.cfg.HTTPClient.CheckRedirect
		hc.Jar = p.cfg.HTTPClient.Jar
	}
	return goca.NewGenericController(goca.NewClient(p.rpcConf, hc), goca.NewFlowClient(p.flowConf, hc))
}

// call runs fn with retries: transport errors, timeouts, 5xx and 429 are
// retried with exponential backoff and jitter (bounded by Retry.Attempts and
// ctx); oned's own answers (AUTHENTICATION, ALLOCATE, NO_EXISTS, ...) and
// OneFlow 4xx are final.
func (p *Provider) call(ctx context.Context, op string, fn func(c *goca.Controller, st *callState) error) error {
	return p.callN(ctx, op, p.cfg.Retry.Attempts, fn)
}

// once runs fn a single time (for creates whose retry needs a look-up
// first, because the name is not unique and a lost answer may hide a
// success).
func (p *Provider) once(ctx context.Context, op string, fn func(c *goca.Controller, st *callState) error) error {
	return p.callN(ctx, op, 1, fn)
}

func (p *Provider) callN(ctx context.Context, op string, attempts int, fn func(c *goca.Controller, st *callState) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			if err != nil {
				return fmt.Errorf("%s: %w (last error: %w)", op, cerr, err)
			}
			return fmt.Errorf("%s: %w", op, cerr)
		}
		st := &callState{}
		err = safeCall(func() error { return fn(p.controller(ctx, st), st) })
		if err == nil {
			return nil
		}
		if !retryable(ctx, err) || attempt >= attempts {
			if attempt > 1 {
				return fmt.Errorf("%s (after %d attempts): %w", op, attempt, err)
			}
			return fmt.Errorf("%s: %w", op, err)
		}
		d := p.backoff(attempt, st.retryAfter)
		p.log.LogAttrs(ctx, slog.LevelWarn, "retrying OpenNebula call",
			slog.String(logKeyOp, op), slog.Int(logKeyAttempt, attempt), slog.String(logKeyErr, err.Error()), slog.Duration(logKeyWait, d))
		if backoff.Sleep(ctx, d) != nil {
			return fmt.Errorf("%s: %w (last error: %w)", op, ctx.Err(), err)
		}
	}
}

// backoff is the Retry policy's delay before retry n; a Retry-After
// header raises it (within the policy's cap).
func (p *Provider) backoff(n int, retryAfter time.Duration) time.Duration {
	d := p.cfg.Retry.Delay(n)
	if retryAfter > d {
		d = min(retryAfter, p.cfg.Retry.Max)
	}
	return d
}

// safeCall turns a panic inside the client library (goca panics on some
// malformed answers) into an error.
func safeCall(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: client library panicked: %v", errMalformed, r)
		}
	}()
	return fn()
}

// wait polls done every PollInterval until it reports true, fails, or
// WaitTimeout passes.
func (p *Provider) wait(ctx context.Context, what string, done func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WaitTimeout)
	defer cancel()
	for {
		ok, err := done(ctx)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if backoff.Sleep(ctx, p.cfg.PollInterval) != nil {
			return fmt.Errorf("wait for %s: timed out after %s: %w", what, p.cfg.WaitTimeout, ctx.Err())
		}
	}
}
