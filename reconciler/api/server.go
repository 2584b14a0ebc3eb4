package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/internal/clientlimit"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// Log attribute keys.
const (
	logKeyError      = "error"
	logKeyFile       = "file"
	logKeyMethod     = "method"
	logKeyPath       = "path"
	logKeyStatus     = "status"
	logKeyRemote     = "remote"
	logKeyReason     = "reason"
	logKeySuppressed = "suppressed"
)

// Failed authentications (a wrong token, by header, cookie or sign-in
// form): each client IP may fail DefaultAuthFailureBurst times at once and
// DefaultAuthFailureRate per second after that; past it, every request of
// that IP presenting a token is answered 429 (without checking the token)
// until its bucket refills. Failures are logged (never the token) at most
// DefaultAuthFailureBurst lines at once and one a second after.
const (
	DefaultAuthFailureBurst = 10
	DefaultAuthFailureRate  = rate.Limit(1.0 / 3)
)

// Limits of the API.
const (
	// DefaultHistoryLimit is the history length without ?limit.
	DefaultHistoryLimit = 20
	// MaxHistoryLimit caps ?limit.
	MaxHistoryLimit = 1000
	// maxBodyBytes caps request bodies (plan requests, login forms).
	maxBodyBytes = 64 << 10
	// maxPlanBodyBytes caps a plan request carrying customer files.
	maxPlanBodyBytes = 16 << 20
	// maxRefLen caps the git ref of a plan request.
	maxRefLen = 256
	// cookieName holds the token for browsers.
	cookieName = "vdc_token"
)

// Plan formats of POST /api/v1/plan.
const (
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
	FormatText     = "text"
)

// Config configures a Server.
type Config struct {
	// Service is the daemon (required).
	Service Service
	// Token is the API bearer token. Empty: read or generate TokenFile.
	Token string
	// TokenFile is where the token lives when Token is empty
	// (DATA_DIR/api-token).
	TokenFile string
	// Webhook, if set, is mounted at /webhook without bearer auth (it
	// verifies its own signatures).
	Webhook http.Handler
	// StripeWebhook, if set, is mounted at /webhook/stripe without bearer
	// auth (Stripe signs its events).
	StripeWebhook http.Handler
	// Registry, if set, is served at /metrics.
	Registry *prometheus.Registry
	// Logger (nil: discard).
	Logger *slog.Logger
	// Now is the clock of the status page's ages (nil: time.Now).
	Now func() time.Time
	// AuthFailureRate and AuthFailureBurst bound failed authentications
	// per client IP (defaults DefaultAuthFailureRate and
	// DefaultAuthFailureBurst).
	AuthFailureRate  rate.Limit
	AuthFailureBurst int
}

// Server is the daemon's HTTP handler.
type Server struct {
	svc     Service
	token   string
	log     *slog.Logger
	now     func() time.Time
	pages   *template.Template
	handler http.Handler

	authFails   *clientlimit.PerClient
	authLogGate *clientlimit.LogGate
	// authFailures: agentvdc_api_auth_failures_total{result}, result
	// "denied" (a wrong token) or "rate_limited" (429).
	authFailures *prometheus.CounterVec
}

var _ http.Handler = (*Server)(nil)

// New builds the server. With no Config.Token it loads or generates the
// token in Config.TokenFile (logging the file, never the token).
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errors.New("api: no Service")
	}
	s := &Server{svc: cfg.Service, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.token = strings.TrimSpace(cfg.Token)
	if s.token == "" {
		tok, created, err := LoadOrCreateToken(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		if created {
			s.log.Info("generated API token", logKeyFile, cfg.TokenFile)
		}
		s.token = tok
	} else if strings.ContainsFunc(s.token, unicode.IsSpace) {
		return nil, errors.New("api: the token contains white space")
	} else if len(s.token) < MinTokenBytes {
		return nil, fmt.Errorf("api: the API token is %d bytes, shorter than the minimum %d: set a longer one (openssl rand -base64 32) or none, to have one generated", len(s.token), MinTokenBytes)
	}
	if cfg.AuthFailureRate <= 0 {
		cfg.AuthFailureRate = DefaultAuthFailureRate
	}
	if cfg.AuthFailureBurst <= 0 {
		cfg.AuthFailureBurst = DefaultAuthFailureBurst
	}
	s.authFails = clientlimit.NewPerClient(cfg.AuthFailureRate, cfg.AuthFailureBurst)
	s.authLogGate = clientlimit.NewLogGate(1, cfg.AuthFailureBurst)
	s.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "agentvdc", Name: "api_auth_failures_total",
		Help: "Requests to the API or status page with a wrong token (denied) or refused after too many from one address (rate_limited).",
	}, []string{"result"})
	s.authFailures.WithLabelValues(authDenied)
	s.authFailures.WithLabelValues(authRateLimited)
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(s.authFailures); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("api: register metrics: %w", err)
			}
			s.authFailures = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	var err error
	if s.pages, err = parsePages(s.now); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	// Public.
	mux.Handle("/healthz", methods{http.MethodGet: s.healthz})
	mux.Handle("/readyz", methods{http.MethodGet: s.readyz})
	if cfg.Webhook != nil {
		mux.Handle("/webhook", cfg.Webhook)
	}
	if cfg.StripeWebhook != nil {
		mux.Handle("/webhook/stripe", cfg.StripeWebhook)
	}
	mux.Handle("/login", methods{http.MethodGet: s.login, http.MethodPost: s.login})
	mux.Handle("/logout", methods{http.MethodPost: s.logout})

	// JSON API.
	api := func(pattern string, m methods) { mux.Handle(pattern, s.auth(m, false)) }
	if cfg.Registry != nil {
		metrics := promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{Registry: cfg.Registry})
		api("/metrics", methods{http.MethodGet: metrics.ServeHTTP})
	}
	api("/api/v1/customers", methods{http.MethodGet: s.listCustomers})
	api("/api/v1/customers/{name}", methods{http.MethodGet: s.getCustomer})
	api("/api/v1/customers/{name}/reconcile", methods{http.MethodPost: s.reconcile})
	api("/api/v1/customers/{name}/suspend", methods{http.MethodPost: s.hold(true)})
	api("/api/v1/customers/{name}/resume", methods{http.MethodPost: s.hold(false)})
	api("/api/v1/customers/{name}/history", methods{http.MethodGet: s.history})
	api("/api/v1/customers/{name}/usage", methods{http.MethodGet: s.usage})
	api("/api/v1/customers/{name}/events", methods{http.MethodGet: s.events})
	api("/api/v1/plan", methods{http.MethodPost: s.plan})
	api("/api/v1/sync", methods{http.MethodPost: s.sync})
	api("/api/v1/state/backup", methods{http.MethodGet: s.backupState})
	api("/api/v1/invoices", methods{http.MethodGet: s.listInvoices, http.MethodPost: s.issueInvoices})
	api("/api/v1/invoices/{number}", methods{http.MethodGet: s.getInvoice})
	api("/api/v1/invoices/{number}/credit", methods{http.MethodPost: s.creditInvoice})
	mux.Handle("/api/", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	}), false))

	// Pages.
	page := func(pattern string, m methods) { mux.Handle(pattern, s.auth(m, true)) }
	page("/{$}", methods{http.MethodGet: s.indexPage})
	page("/customers/{name}", methods{http.MethodGet: s.customerPage})
	page("/customers/{name}/{action}", methods{http.MethodPost: s.pageAction})

	// Refuse cross-origin browser requests that change something, so the
	// cookie cannot be used by another site's form. The webhook is a
	// server-to-server call and is left out.
	cop := http.NewCrossOriginProtection()
	protected := cop.Handler(mux)
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path == "/webhook" || r.URL.Path == "/webhook/stripe" {
			mux.ServeHTTP(w, r)
			return
		}
		protected.ServeHTTP(w, r)
	})
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// methods dispatches by method and answers others with 405 and Allow; a
// GET handler also serves HEAD.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, ok := m[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = m[http.MethodGet]
	}
	if ok {
		h(w, r)
		return
	}
	allow := make([]string, 0, len(m)+1)
	for k := range m {
		allow = append(allow, k)
		if k == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	sort.Strings(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed (allowed: %s)", r.Method, strings.Join(allow, ", ")))
}

// auth requires the token as a bearer header or the cookie. html selects a
// sign-in page instead of a JSON error.
func (s *Server) auth(next http.Handler, html bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, present := requestToken(r)
		if present && s.authLimited(w, r) {
			if html {
				s.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed sign-ins from this address; try again later.")
				return
			}
			writeError(w, http.StatusTooManyRequests, "too many requests with a wrong API token from this address; try again later")
			return
		}
		switch {
		case present && tokenMatch(got, s.token):
			next.ServeHTTP(w, r)
			return
		case !present:
			w.Header().Set("WWW-Authenticate", `Bearer realm="agentvdc"`)
			if html {
				s.renderLogin(w, r, http.StatusUnauthorized, "")
				return
			}
			writeError(w, http.StatusUnauthorized, "missing API token: send Authorization: Bearer TOKEN (the token is in DATA_DIR/api-token)")
		default:
			s.authFailed(r, "wrong token")
			if html {
				s.renderLogin(w, r, http.StatusForbidden, "The token was not accepted.")
				return
			}
			writeError(w, http.StatusForbidden, "invalid API token")
		}
	})
}

// Results of agentvdc_api_auth_failures_total.
const (
	authDenied      = "denied"
	authRateLimited = "rate_limited"
)

// authLimited reports whether the client is past its budget of failed
// authentications, and if so counts the request and sets Retry-After.
func (s *Server) authLimited(w http.ResponseWriter, r *http.Request) bool {
	ip := clientlimit.IP(r)
	if !s.authFails.Exhausted(ip) {
		return false
	}
	s.authFailures.WithLabelValues(authRateLimited).Inc()
	w.Header().Set("Retry-After", strconv.Itoa(s.authFails.RetryAfter(ip)))
	s.logAuthFailure(r, "rate limited: too many failed authentications")
	return true
}

// authFailed records a wrong token: counted, logged (never the token) and
// charged to the client's budget.
func (s *Server) authFailed(r *http.Request, reason string) {
	s.authFails.Allow(clientlimit.IP(r))
	s.authFailures.WithLabelValues(authDenied).Inc()
	s.logAuthFailure(r, reason)
}

func (s *Server) logAuthFailure(r *http.Request, reason string) {
	ok, suppressed := s.authLogGate.Allow()
	if !ok {
		return
	}
	attrs := []slog.Attr{slog.String(logKeyRemote, clientlimit.IP(r)), slog.String(logKeyMethod, clientlimit.Sanitize(r.Method, 16)),
		slog.String(logKeyPath, clientlimit.Sanitize(r.URL.Path, 256)), slog.String(logKeyReason, reason)}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int(logKeySuppressed, suppressed))
	}
	s.log.LogAttrs(r.Context(), slog.LevelWarn, "authentication failed", attrs...)
}

// requestToken returns the bearer token, else the cookie.
func requestToken(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", true // present but unusable: a wrong credential
		}
		return strings.TrimSpace(tok), true
	}
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(ErrorBody{Error: msg})
	w.Write(append(b, '\n'))
}

// serviceError maps an error of the Service to a response.
func (s *Server) serviceError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, daemon.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, daemon.ErrBadRef), errors.Is(err, daemon.ErrBadMonth), errors.Is(err, plan.ErrBadInput):
		status = http.StatusBadRequest
	case errors.Is(err, state.ErrAlreadyIssued):
		status = http.StatusConflict
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	}
	if status >= 500 {
		s.log.Error("api request failed", logKeyMethod, r.Method, logKeyPath, r.URL.Path, logKeyStatus, status, logKeyError, err)
	}
	writeError(w, status, err.Error())
}

// StatusBody is the body of health, queued and sync responses.
type StatusBody struct {
	Status   string `json:"status"`
	Customer string `json:"customer,omitempty"`
	// Request is the reconcile request's number (POST …/reconcile): it is
	// done when the customer's reconcile.last.request reaches it.
	Request uint64 `json:"request,omitempty"`
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, StatusBody{Status: "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Ready(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, StatusBody{Status: "ready"})
}

// CustomersBody is the body of GET /api/v1/customers.
type CustomersBody struct {
	Customers []daemon.CustomerView `json:"customers"`
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	cs, err := s.svc.Customers(r.Context())
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if cs == nil {
		cs = []daemon.CustomerView{}
	}
	writeJSON(w, http.StatusOK, CustomersBody{Customers: cs})
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	c, err := s.svc.Customer(r.Context(), r.PathValue("name"))
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) reconcile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.svc.Reconcile(r.Context(), name); err != nil {
		s.logAction(r, "reconcile", name, "api", err)
		s.serviceError(w, r, err)
		return
	}
	s.logAction(r, "reconcile", name, "api", nil)
	body := StatusBody{Status: "queued", Customer: name}
	if v, err := s.svc.Customer(r.Context(), name); err == nil {
		body.Request = v.Reconcile.Requested // ours or a later one: waiting for it is as good
	}
	writeJSON(w, http.StatusAccepted, body)
}

func (s *Server) hold(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		action := "resume"
		if on {
			action = "suspend"
		}
		if err := s.svc.Hold(r.Context(), name, on); err != nil {
			s.logAction(r, action, name, "api", err)
			s.serviceError(w, r, err)
			return
		}
		s.logAction(r, action, name, "api", nil)
		c, err := s.svc.Customer(r.Context(), name)
		if err != nil {
			s.serviceError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}
}

// HistoryBody is the body of GET /api/v1/customers/{name}/history.
type HistoryBody struct {
	Customer string              `json:"customer"`
	History  []state.ApplyRecord `json:"history"`
}

// parseLimit reads ?limit (default DefaultHistoryLimit, 1..MaxHistoryLimit).
func parseLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return DefaultHistoryLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxHistoryLimit {
		return 0, fmt.Errorf("limit must be a whole number from 1 to %d, got %q", MaxHistoryLimit, v)
	}
	return n, nil
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	limit, err := parseLimit(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name := r.PathValue("name")
	h, err := s.svc.History(r.Context(), name, limit)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if h == nil {
		h = []state.ApplyRecord{}
	}
	if len(h) > limit {
		h = h[:limit]
	}
	writeJSON(w, http.StatusOK, HistoryBody{Customer: name, History: h})
}

// PlanRequest is the body of POST /api/v1/plan.
type PlanRequest struct {
	// Ref is a branch, tag or commit of the daemon's repository.
	Ref string `json:"ref"`
	// Format is json (default), markdown or text.
	Format string `json:"format,omitempty"`
	// Branch names the branch in a markdown plan's header (a pull
	// request's branch when Ref is its head commit); default: Ref when it
	// names a branch.
	Branch string `json:"branch,omitempty"`
	// Files, instead of Ref, are the customer files to plan (vdc plan
	// while the daemon holds the state file: a working tree or a commit
	// the caller read); Commit labels that plan.
	Files  []PlanFile `json:"files,omitempty"`
	Commit string     `json:"commit,omitempty"`
	// Customers and Exclude narrow the plan (vdc plan --customer/--exclude).
	Customers []string `json:"customers,omitempty"`
	Exclude   []string `json:"exclude,omitempty"`
}

// PlanFile is one customer file of a plan request.
type PlanFile struct {
	Path string `json:"path"`
	Data string `json:"data"`
}

func (p *PlanRequest) validate() error {
	if p.Ref == "" && len(p.Files) == 0 {
		return errors.New(`"ref" is required (a branch, tag or commit), or "files"`)
	}
	if p.Ref != "" && len(p.Files) > 0 {
		return errors.New(`give "ref" or "files", not both`)
	}
	if len(p.Ref) > maxRefLen {
		return fmt.Errorf(`"ref" is longer than %d characters`, maxRefLen)
	}
	if strings.ContainsFunc(p.Ref, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return errors.New(`"ref" contains white space or control characters`)
	}
	if len(p.Branch) > maxRefLen || strings.ContainsFunc(p.Branch, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf(`"branch" is longer than %d characters or contains white space or control characters`, maxRefLen)
	}
	switch p.Format {
	case "":
		p.Format = FormatJSON
	case FormatJSON, FormatMarkdown, FormatText:
	default:
		return fmt.Errorf(`"format" must be json, markdown or text, got %q`, p.Format)
	}
	return nil
}

// decodeJSON reads one JSON value of at most limit bytes, without
// unknown fields, into v; on failure it answers 400 naming what.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, what string, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad "+what+": "+jsonErr(err))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad "+what+": more than one JSON value")
		return false
	}
	return true
}

func (s *Server) plan(w http.ResponseWriter, r *http.Request) {
	var req PlanRequest
	if !decodeJSON(w, r, maxPlanBodyBytes, "plan request", &req) {
		return
	}
	if err := req.validate(); err != nil {
		writeError(w, http.StatusBadRequest, "bad plan request: "+err.Error())
		return
	}
	var p *plan.Plan
	var err error
	if len(req.Files) > 0 {
		files := make([]schema.File, len(req.Files))
		for i, f := range req.Files {
			files[i] = schema.File{Path: f.Path, Data: []byte(f.Data), Size: int64(len(f.Data))}
		}
		commit := req.Commit
		if commit == "" {
			commit = "files"
		}
		p, err = s.svc.PlanFiles(r.Context(), commit, files, req.Customers, req.Exclude)
	} else {
		p, err = s.svc.Plan(r.Context(), req.Ref)
	}
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	var b bytes.Buffer
	ctype := "application/json"
	switch req.Format {
	case FormatJSON:
		err = plan.RenderJSON(&b, p)
	case FormatMarkdown:
		ctype = "text/markdown; charset=utf-8"
		md := plan.MarkdownOptions{Branch: req.Branch}
		if md.Branch == "" {
			md.Branch = plan.BranchOfRef(req.Ref)
		}
		err = plan.RenderMarkdown(&b, p, md)
	case FormatText:
		ctype = "text/plain; charset=utf-8"
		err = plan.RenderText(&b, p, plan.TextOptions{})
	}
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}

func jsonErr(err error) string {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return fmt.Sprintf("body larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return "empty body (want a JSON object)"
	}
	return err.Error()
}

func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Sync(r.Context()); err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, StatusBody{Status: "sync requested"})
}
