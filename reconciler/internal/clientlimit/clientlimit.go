// Package clientlimit holds the small abuse controls the daemon's HTTP
// endpoints share: a token bucket per client IP with a bounded number of
// clients, a throttle for log lines, and the sanitising of client-supplied
// values before they are logged.
package clientlimit

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// DefaultMaxClients bounds the clients a PerClient tracks at once.
const DefaultMaxClients = 4096

// PerClient is a token bucket per client key (an IP address). It is safe
// for concurrent use. At most MaxClients buckets are kept: past that, full
// buckets (clients who have been quiet long enough) are dropped first, and
// if none is full, all of them (a flood from many addresses then starts
// afresh rather than growing the map).
type PerClient struct {
	limit rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// NewPerClient allows each client burst events at once and limit per second
// afterwards.
func NewPerClient(limit rate.Limit, burst int) *PerClient {
	return &PerClient{limit: limit, burst: burst, max: DefaultMaxClients, clients: map[string]*rate.Limiter{}}
}

func (p *PerClient) get(key string, now time.Time) *rate.Limiter {
	l, ok := p.clients[key]
	if ok {
		return l
	}
	if len(p.clients) >= p.max {
		for k, l := range p.clients {
			if l.TokensAt(now) >= float64(p.burst) {
				delete(p.clients, k)
			}
		}
		if len(p.clients) >= p.max {
			clear(p.clients)
		}
	}
	l = rate.NewLimiter(p.limit, p.burst)
	p.clients[key] = l
	return l
}

// Allow takes one token of key's bucket and reports whether there was one.
func (p *PerClient) Allow(key string) bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.get(key, now).AllowN(now, 1)
}

// Exhausted reports whether key's bucket is empty now, without taking a
// token.
func (p *PerClient) Exhausted(key string) bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.clients[key]
	return ok && l.TokensAt(now) < 1
}

// RetryAfter is how long until key's bucket holds a token again, in whole
// seconds (at least 1), for a Retry-After header.
func (p *PerClient) RetryAfter(key string) int {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.clients[key]
	if !ok || p.limit <= 0 {
		return 1
	}
	missing := 1 - l.TokensAt(now)
	if missing <= 0 {
		return 1
	}
	secs := int(missing/float64(p.limit)) + 1
	return secs
}

// Len is the number of clients tracked (tests).
func (p *PerClient) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

// LogGate throttles log lines of one kind: Allow says whether to log now
// and how many lines were suppressed since the last one logged (to put in
// that line). Safe for concurrent use.
type LogGate struct {
	lim        *rate.Limiter
	mu         sync.Mutex
	suppressed int
}

// NewLogGate lets burst lines through at once and limit per second after.
func NewLogGate(limit rate.Limit, burst int) *LogGate {
	return &LogGate{lim: rate.NewLimiter(limit, burst)}
}

// Allow reports whether a line may be logged now and, if so, how many were
// suppressed before it.
func (g *LogGate) Allow() (ok bool, suppressed int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.lim.Allow() {
		g.suppressed++
		return false, 0
	}
	n := g.suppressed
	g.suppressed = 0
	return true, n
}

// IP is the client's address without the port (the peer of the TCP
// connection; forwarding headers are not trusted).
func IP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return Sanitize(r.RemoteAddr, 64)
	}
	return host
}

// Sanitize makes a client-supplied value safe to log: invalid UTF-8,
// control, format (bidi overrides) and other non-printing characters become
// '?', and the result is cut to at most max bytes, marked with "…(N bytes)"
// giving the original length.
func Sanitize(s string, max int) string {
	cut := len(s) > max
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= max {
			break
		}
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") || !unicode.IsPrint(r) {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > max {
			cut = true
			break
		}
		b.WriteRune(r)
	}
	if cut {
		b.WriteString("…(")
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteString(" bytes)")
	}
	return b.String()
}
