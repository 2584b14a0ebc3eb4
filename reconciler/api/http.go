package api

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// HTTPLimits are the limits of the daemon's HTTP server: how long a client
// may take to send a request and to read the answer, how long an idle
// keep-alive connection is kept, how large the headers may be and how many
// connections are served at once. Zero fields take the defaults below.
//
// Bodies are read under a deadline per route: ReadTimeout for the small
// ones (sign-in form, plan request: 64 KiB at most), WebhookReadTimeout for
// the webhook's (up to 1 MiB from GitHub or GitLab). The daemon serves no
// upload route (files reach a customer's bucket directly, see vdc upload);
// one would get its own deadline here, set per request, as the webhook
// does. Answers are written under WriteTimeout, a plan's or a sync's
// (which may wait for a git fetch) under PlanWriteTimeout.
type HTTPLimits struct {
	// ReadHeaderTimeout: the request line and headers (default 10s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout: a whole request, body included (default 15s).
	ReadTimeout time.Duration
	// WebhookReadTimeout: a whole POST /webhook (default 60s).
	WebhookReadTimeout time.Duration
	// WriteTimeout: writing an answer, from the end of the request's
	// headers (default 30s).
	WriteTimeout time.Duration
	// PlanWriteTimeout: answering POST /api/v1/plan and /api/v1/sync,
	// which may wait for a git fetch (default 2m).
	PlanWriteTimeout time.Duration
	// IdleTimeout: a keep-alive connection between requests (default 60s).
	IdleTimeout time.Duration
	// MaxHeaderBytes: request line and headers (default 64 KiB).
	MaxHeaderBytes int
	// MaxConnections: connections served at once; more wait in the
	// listen queue until one closes (default 512).
	MaxConnections int
	// MaxConnectionsPerClient: connections of one client IP at once;
	// more are closed at once, so one address cannot take every slot
	// (default 128).
	MaxConnectionsPerClient int
}

// Defaults of HTTPLimits.
const (
	DefaultReadHeaderTimeout       = 10 * time.Second
	DefaultReadTimeout             = 15 * time.Second
	DefaultWebhookReadTimeout      = 60 * time.Second
	DefaultWriteTimeout            = 30 * time.Second
	DefaultPlanWriteTimeout        = 2 * time.Minute
	DefaultIdleTimeout             = 60 * time.Second
	DefaultMaxHeaderBytes          = 64 << 10
	DefaultMaxConnections          = 512
	DefaultMaxConnectionsPerClient = 128
)

func (l HTTPLimits) withDefaults() HTTPLimits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&l.ReadTimeout, DefaultReadTimeout)
	def(&l.WebhookReadTimeout, DefaultWebhookReadTimeout)
	def(&l.WriteTimeout, DefaultWriteTimeout)
	def(&l.PlanWriteTimeout, DefaultPlanWriteTimeout)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConnections <= 0 {
		l.MaxConnections = DefaultMaxConnections
	}
	if l.MaxConnectionsPerClient <= 0 {
		l.MaxConnectionsPerClient = DefaultMaxConnectionsPerClient
	}
	return l
}

// NewHTTPServer returns the http.Server for h (the Server) with the limits
// set, the per-route deadlines included.
func NewHTTPServer(h http.Handler, l HTTPLimits) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           routeDeadlines(h, l),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// Listen listens on addr (TCP) and serves at most l.MaxConnections
// connections at once, l.MaxConnectionsPerClient of one client IP.
func Listen(addr string, l HTTPLimits) (net.Listener, error) {
	l = l.withDefaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return netutil.LimitListener(&perClientListener{Listener: ln, max: l.MaxConnectionsPerClient, open: map[string]int{}}, l.MaxConnections), nil
}

// perClientListener closes a new connection at once when its client IP
// already has max open.
type perClientListener struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (p *perClientListener) Accept() (net.Conn, error) {
	for {
		c, err := p.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := c.RemoteAddr().String()
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
		p.mu.Lock()
		if p.open[ip] >= p.max {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.open[ip]++
		p.mu.Unlock()
		return &clientConn{Conn: c, release: func() { p.release(ip) }}, nil
	}
}

func (p *perClientListener) release(ip string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open[ip]--; p.open[ip] <= 0 {
		delete(p.open, ip)
	}
}

type clientConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *clientConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// routeDeadlines moves the connection's deadlines for the routes whose
// bodies or answers take longer than the server-wide ones allow. The
// server sets ReadTimeout from the start of the request and WriteTimeout
// from the end of its headers; a route's deadline replaces them for this
// request only (the next request on the connection starts afresh).
func routeDeadlines(h http.Handler, l HTTPLimits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		rc := http.NewResponseController(w)
		switch {
		case r.URL.Path == "/webhook":
			_ = rc.SetReadDeadline(now.Add(l.WebhookReadTimeout))
		case r.URL.Path == "/api/v1/plan", r.URL.Path == "/api/v1/sync":
			// Both may wait for a git fetch.
			_ = rc.SetWriteDeadline(now.Add(l.PlanWriteTimeout))
		}
		h.ServeHTTP(w, r)
	})
}
