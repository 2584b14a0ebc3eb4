package hetznersim

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

// Options configures a simulator.
type Options struct {
	// DataDir holds the state file (state.json); "" keeps state in memory.
	DataDir string
	// Seed drives the fault-injection randomness.
	Seed uint64
	// Tokens are the accepted API tokens. Empty: one random 64-character
	// token is generated (and kept in the data dir, so it survives a restart).
	Tokens []string
	// RateLimitPerHour is the size of each token's request bucket, refilled
	// evenly over an hour (3600 = one request per second, as Hetzner
	// documents). 0 means 3600; a negative value disables rate limiting.
	RateLimitPerHour int
	// ActionDelay is how long an action stays "running" before it
	// completes. 0 (the default) completes actions on the next request.
	ActionDelay time.Duration
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
	// Now overrides the clock (tests); nil uses time.Now.
	Now func() time.Time
	// ServerLimit is the project's server quota: creating a server while
	// the project holds this many answers 403 resource_limit_exceeded.
	// 0 means no limit (Hetzner sets one per project; ask its support for
	// the real figure); negative is an error.
	ServerLimit int
}

// stateVersion is the schema version of state.json.
const stateVersion = 1

// state is everything that survives a restart.
type state struct {
	Version   int                    `json:"version"`
	Tokens    []string               `json:"tokens,omitempty"` // only generated tokens
	Next      map[string]int64       `json:"next"`
	Servers   map[int64]*serverRec   `json:"servers"`
	Networks  map[int64]*networkRec  `json:"networks"`
	Firewalls map[int64]*firewallRec `json:"firewalls"`
	SSHKeys   map[int64]*sshKeyRec   `json:"ssh_keys"`
	Actions   map[int64]*actionRec   `json:"actions"`
	// Failures makes the next actions of a command end in error.
	Failures []actionFailure `json:"failures,omitempty"`
}

// Server is a simulated Hetzner Cloud API. It is safe for concurrent use.
type Server struct {
	opts   Options
	ctl    *simctl.Controller
	log    *slog.Logger
	now    func() time.Time
	tokens map[string]bool
	first  string
	limit  *limiter
	routes []endpoint // the /v1 routing table (immutable after New)

	// The rendered catalogue (immutable after New).
	types    []schema.ServerType
	typeByID map[int64]schema.ServerType
	images   []schema.Image

	mu      sync.Mutex
	st      *state
	order   []int64          // server ids ascending
	names   map[string]int64 // server name -> id
	pending []int64          // ids of running actions

	saver *simctl.Saver
}

// idBases are where the id counters start, in the ranges real ids live in.
var idBases = map[string]int64{
	"server": 40000000, "action": 500000000, "network": 3000000,
	"firewall": 1000000, "ssh_key": 20000000, "ip": 60000000,
}

// New returns a simulator, loading DataDir/state.json when it exists.
func New(opts Options) (*Server, error) {
	if opts.RateLimitPerHour == 0 {
		opts.RateLimitPerHour = 3600
	}
	if opts.ActionDelay < 0 {
		return nil, errors.New("hetznersim: ActionDelay must not be negative")
	}
	if opts.ServerLimit < 0 {
		return nil, errors.New("hetznersim: ServerLimit must not be negative")
	}
	s := &Server{
		opts: opts,
		ctl:  simctl.NewController(opts.Seed),
		log:  opts.Logger,
		now:  opts.Now,
		st:   newState(),
	}
	s.routes = routeTable()
	s.typeByID = map[int64]schema.ServerType{}
	for i := range catalogServerTypes {
		t := catalogServerTypes[i].toSchema()
		s.types = append(s.types, t)
		s.typeByID[t.ID] = t
	}
	for i := range catalogImages {
		s.images = append(s.images, catalogImages[i].toSchema())
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.DataDir != "" {
		found, err := simctl.LoadJSON(s.statePath(), s.st)
		if err != nil {
			return nil, fmt.Errorf("hetznersim: %w", err)
		}
		if found && s.st.Version != stateVersion {
			return nil, fmt.Errorf("hetznersim: state file %s has version %d, want %d", s.statePath(), s.st.Version, stateVersion)
		}
		s.st.fill()
	}
	s.saver = &simctl.Saver{Log: s.log, Encode: func() ([]byte, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return json.Marshal(s.st)
	}}
	if opts.DataDir != "" {
		s.saver.Path = s.statePath()
	}
	tokens := opts.Tokens
	if len(tokens) == 0 {
		if len(s.st.Tokens) == 0 {
			s.st.Tokens = []string{randomToken()}
		}
		tokens = s.st.Tokens
	}
	s.tokens = map[string]bool{}
	for _, t := range tokens {
		if t == "" {
			return nil, errors.New("hetznersim: empty token in Options.Tokens")
		}
		s.tokens[t] = true
	}
	s.first = tokens[0]
	if opts.RateLimitPerHour > 0 {
		s.limit = newLimiter(opts.RateLimitPerHour)
	}
	s.names = map[string]int64{}
	for id, r := range s.st.Servers {
		s.order = append(s.order, id)
		s.names[r.Name] = id
	}
	sort.Slice(s.order, func(i, j int) bool { return s.order[i] < s.order[j] })
	for id, a := range s.st.Actions {
		if a.Status == "running" {
			s.pending = append(s.pending, id)
		}
	}
	sort.Slice(s.pending, func(i, j int) bool { return s.pending[i] < s.pending[j] })
	return s, nil
}

func newState() *state {
	st := &state{Version: stateVersion}
	st.fill()
	return st
}

// fill makes every map non-nil (after loading an older or partial file).
func (st *state) fill() {
	st.Version = stateVersion
	if st.Next == nil {
		st.Next = map[string]int64{}
	}
	if st.Servers == nil {
		st.Servers = map[int64]*serverRec{}
	}
	if st.Networks == nil {
		st.Networks = map[int64]*networkRec{}
	}
	if st.Firewalls == nil {
		st.Firewalls = map[int64]*firewallRec{}
	}
	if st.SSHKeys == nil {
		st.SSHKeys = map[int64]*sshKeyRec{}
	}
	if st.Actions == nil {
		st.Actions = map[int64]*actionRec{}
	}
}

// nextID allocates the next id of a kind; ids are never reused.
func (st *state) nextID(kind string) int64 {
	n, ok := st.Next[kind]
	if !ok {
		n = idBases[kind]
	}
	n++
	st.Next[kind] = n
	return n
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err)) // the OS RNG does not fail
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// randomToken returns a token shaped like a Hetzner API token.
func randomToken() string { return randomString(64, tokenAlphabet) }

// Control returns the fault and counter controller.
func (s *Server) Control() *simctl.Controller { return s.ctl }

// Token returns the first accepted API token.
func (s *Server) Token() string { return s.first }

// Env returns the variables that point hcloud-go and the hcloud CLI at this
// simulator mounted at baseURL.
func (s *Server) Env(baseURL string) map[string]string {
	return map[string]string{
		"HCLOUD_TOKEN":    s.first,
		"HCLOUD_ENDPOINT": strings.TrimRight(baseURL, "/") + "/v1",
	}
}

func (s *Server) statePath() string { return filepath.Join(s.opts.DataDir, "state.json") }

// changed schedules a write of the state file (debounced, 200 ms).
func (s *Server) changed() { s.saver.Dirty() }

// Close persists the state. A New on the same DataDir sees everything.
func (s *Server) Close() error {
	if err := s.saver.Close(); err != nil {
		return fmt.Errorf("hetznersim: %w", err)
	}
	return nil
}

// ---- rate limiting ----

// limiter is one token bucket per API token: capacity perHour, refilled
// continuously at perHour/3600 requests per second.
type limiter struct {
	mu      sync.Mutex
	perHour int
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perHour int) *limiter {
	return &limiter{perHour: perHour, buckets: map[string]*bucket{}}
}

// take consumes one request of token if it can. It returns the remaining
// requests and the time the bucket will be full again.
func (l *limiter) take(token string, now time.Time, consume bool) (ok bool, remaining int, reset time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rate := float64(l.perHour) / 3600 // per second
	capacity := float64(l.perHour)
	b := l.buckets[token]
	if b == nil {
		b = &bucket{tokens: capacity, last: now}
		l.buckets[token] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(capacity, b.tokens+el*rate)
	}
	b.last = now
	if consume {
		if b.tokens >= 1 {
			b.tokens--
			ok = true
		}
	} else {
		ok = true
	}
	missing := capacity - b.tokens
	reset = now.Add(time.Duration(missing / rate * float64(time.Second)))
	return ok, int(b.tokens), reset
}

func (s *Server) setRateHeaders(w http.ResponseWriter, remaining int, reset time.Time) {
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(s.opts.RateLimitPerHour))
	h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix()+boolInt(reset.Nanosecond() > 0), 10))
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
