package exoscalesim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

// stateFile is the name of the state file inside Options.DataDir.
const stateFile = "exoscale-state.json"

// saveDelay is the write-behind delay after a mutation.
const saveDelay = 200 * time.Millisecond

// maxBody bounds request bodies (user data is at most 32 KiB base64).
const maxBody = 1 << 20

// zoneNames returns the real Exoscale zone names the simulator serves.
func zoneNames() []string {
	return []string{"ch-gva-2", "ch-dk-2", "de-fra-1", "de-muc-1", "at-vie-1", "at-vie-2", "bg-sof-1", "hr-zag-1"}
}

// Options configures a Server.
type Options struct {
	// DataDir holds the state file; "" keeps everything in memory.
	DataDir string
	// Seed drives fault randomness.
	Seed uint64
	// APIKey and APISecret are the accepted credentials. Empty values are
	// generated ("EXO" + 24 hex digits, like real keys) and, with a DataDir,
	// kept in the state file so a restart accepts the same credentials.
	APIKey    string
	APISecret string
	// Zone is the zone served at <base>/v2 (default "de-fra-1"). The other
	// zones are served at <base>/<zone>/v2.
	Zone string
	// OperationDelay is how long an operation stays "pending" before it
	// reaches success or failure (default 10ms; negative means 0).
	OperationDelay time.Duration
	// ImmediateOperations makes mutations answer with the operation already
	// in its final state. egoscale's Wait then returns at once instead of
	// after its first 3 s poll tick, but note that Wait returns such an
	// operation without error even when it failed: check op.State.
	ImmediateOperations bool
	// BaseURL overrides the URL advertised by GET /zone (default: derived
	// from each request: scheme, Host and the mount prefix).
	BaseURL string
	// Logger receives persistence errors (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests may shift it.
	Now func() time.Time
	// BlockStorageZones are the zones that offer Block Storage (default
	// DefaultBlockStorageZones()); creating or attaching a volume anywhere
	// else is refused. Each must be a zone the simulator serves.
	BlockStorageZones []string
	// MaxVolumes and MaxProvisionedGiB are the organisation's Block Storage
	// quotas over all zones (defaults DefaultMaxVolumes and
	// DefaultMaxProvisionedGiB; negative means no quota).
	MaxVolumes        int
	MaxProvisionedGiB int64
}

// Server is the Exoscale v2 API simulator. It is an http.Handler and is
// safe for concurrent use.
type Server struct {
	opts   Options
	ctl    *simctl.Controller
	log    *slog.Logger
	cat    catalog
	routes map[string]func(*call)

	mu sync.RWMutex
	st *state

	failMu   sync.Mutex
	failNext []string

	saver *simctl.Saver
}

// New returns a Server, loading the state file from opts.DataDir if any.
func New(opts Options) (*Server, error) {
	if opts.Zone == "" {
		opts.Zone = "de-fra-1"
	}
	if !knownZone(opts.Zone) {
		return nil, fmt.Errorf("exoscalesim: unknown zone %q (want one of %s)", opts.Zone, strings.Join(zoneNames(), ", "))
	}
	if opts.OperationDelay == 0 {
		opts.OperationDelay = 10 * time.Millisecond
	} else if opts.OperationDelay < 0 {
		opts.OperationDelay = 0
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.BlockStorageZones == nil {
		opts.BlockStorageZones = DefaultBlockStorageZones()
	}
	for _, z := range opts.BlockStorageZones {
		if !knownZone(z) {
			return nil, fmt.Errorf("exoscalesim: block storage zone %q is not a zone (want some of %s)", z, strings.Join(zoneNames(), ", "))
		}
	}
	if opts.MaxVolumes == 0 {
		opts.MaxVolumes = DefaultMaxVolumes
	}
	if opts.MaxProvisionedGiB == 0 {
		opts.MaxProvisionedGiB = DefaultMaxProvisionedGiB
	}
	s := &Server{
		opts:   opts,
		ctl:    simctl.NewController(opts.Seed),
		log:    opts.Logger.With("sim", "exoscale"),
		cat:    newCatalog(),
		routes: routeTable(),
		st:     newState(),
	}
	if opts.DataDir != "" {
		if _, err := simctl.LoadJSON(filepath.Join(opts.DataDir, stateFile), s.st); err != nil {
			return nil, fmt.Errorf("exoscalesim: %w", err)
		}
		if s.st.Version > stateVersion {
			return nil, fmt.Errorf("exoscalesim: state file version %d is newer than this simulator (%d)", s.st.Version, stateVersion)
		}
		s.st.fill()
	}
	s.st.Version = stateVersion
	s.saver = &simctl.Saver{Delay: saveDelay, Log: opts.Logger, Encode: func() ([]byte, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return json.Marshal(s.st)
	}}
	if opts.DataDir != "" {
		s.saver.Path = filepath.Join(opts.DataDir, stateFile)
	}
	// Credentials: options win; otherwise reuse persisted ones; otherwise generate.
	if opts.APIKey != "" || opts.APISecret != "" {
		if opts.APIKey == "" || opts.APISecret == "" {
			return nil, errors.New("exoscalesim: APIKey and APISecret must be set together")
		}
		s.st.APIKey, s.st.APISecret = "", ""
	} else {
		if s.st.APIKey == "" || s.st.APISecret == "" {
			k, sec, err := generateCredentials()
			if err != nil {
				return nil, fmt.Errorf("exoscalesim: %w", err)
			}
			s.st.APIKey, s.st.APISecret = k, sec
		}
		s.opts.APIKey, s.opts.APISecret = s.st.APIKey, s.st.APISecret
	}
	return s, nil
}

func generateCredentials() (key, secret string, err error) {
	kb := make([]byte, 12)
	sb := make([]byte, 32)
	if _, err := rand.Read(kb); err != nil {
		return "", "", fmt.Errorf("generate api key: %w", err)
	}
	if _, err := rand.Read(sb); err != nil {
		return "", "", fmt.Errorf("generate api secret: %w", err)
	}
	return "EXO" + hex.EncodeToString(kb), base64URL(sb), nil
}

// APIKey returns the accepted API key.
func (s *Server) APIKey() string { return s.opts.APIKey }

// APISecret returns the accepted API secret.
func (s *Server) APISecret() string { return s.opts.APISecret }

// Zone returns the zone served at <base>/v2.
func (s *Server) Zone() string { return s.opts.Zone }

// Control returns the fault and counter controller.
func (s *Server) Control() *simctl.Controller { return s.ctl }

// Env returns the environment that points egoscale (credentials from
// NewEnvCredentials, endpoint for ClientOptWithEndpoint) and the exo CLI at
// this simulator mounted at baseURL.
func (s *Server) Env(baseURL string) map[string]string {
	baseURL = strings.TrimRight(baseURL, "/")
	return map[string]string{
		"EXOSCALE_API_KEY":      s.opts.APIKey,
		"EXOSCALE_API_SECRET":   s.opts.APISecret,
		"EXOSCALE_API_ENDPOINT": baseURL + "/v2",
		"EXOSCALE_ZONE":         s.opts.Zone,
	}
}

// FailNextOperation makes the next mutation whose endpoint key matches the
// simctl glob pattern (e.g. "POST /v2/instance",
// "PUT /v2/block-storage/{id}:attach", "*") end in state "failure" with
// reason "unavailable"; the mutation is not applied.
func (s *Server) FailNextOperation(pattern string) error {
	if pattern == "" {
		pattern = "*"
	}
	s.failMu.Lock()
	s.failNext = append(s.failNext, pattern)
	s.failMu.Unlock()
	return nil
}

// takeFailure reports whether a queued failure matches key, consuming it.
func (s *Server) takeFailure(key string) bool {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	for i, p := range s.failNext {
		if simctl.Match(p, key) {
			s.failNext = append(s.failNext[:i], s.failNext[i+1:]...)
			return true
		}
	}
	return false
}

// Close persists the state. After Close, New on the same DataDir sees
// everything.
func (s *Server) Close() error {
	if err := s.saver.Close(); err != nil {
		return fmt.Errorf("exoscalesim: %w", err)
	}
	return nil
}

// markDirty schedules a write-behind save.
func (s *Server) markDirty() { s.saver.Dirty() }

// ServeHTTP serves the v2 API under <prefix>/v2 (default zone) and
// <prefix>/<zone>/v2, and the control API under <prefix>/_sim/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/_sim"); ok && (rest == "" || rest[0] == '/') {
		s.serveControl(w, r, rest)
		return
	}
	zone, api, ok := s.splitZone(p)
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	rt := route(s.routes, r.Method, api)
	if s.ctl.Apply(w, r, rt.key, respondFault) {
		return
	}
	if rt.handle == nil {
		writeError(w, rt.status, rt.msg)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	if !rt.unsigned {
		if status, msg := s.verify(r, body); status != 0 {
			writeError(w, status, msg)
			return
		}
	}
	c := &call{s: s, w: w, r: r, zone: zone, key: rt.key, ids: rt.ids, body: body}
	rt.handle(c)
}

// splitZone maps a handler path to (zone, path after /v2).
func (s *Server) splitZone(p string) (zone, api string, ok bool) {
	if rest, found := strings.CutPrefix(p, "/v2"); found && (rest == "" || rest[0] == '/') {
		return s.opts.Zone, rest, true
	}
	z, rest, found := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !found || !knownZone(z) {
		return "", "", false
	}
	rest = "/" + rest
	if r2, found := strings.CutPrefix(rest, "/v2"); found && (r2 == "" || r2[0] == '/') {
		return z, r2, true
	}
	return "", "", false
}

func knownZone(z string) bool {
	for _, n := range zoneNames() {
		if n == z {
			return true
		}
	}
	return false
}

// baseURL is where the handler is mounted, as seen by the client.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	raw := rawPath(r)
	prefix := strings.TrimSuffix(raw, r.URL.EscapedPath())
	if prefix == raw { // path was rewritten in a way we cannot undo
		prefix = ""
	}
	return scheme + "://" + r.Host + prefix
}

// zoneEndpoint is the API endpoint of zone as advertised by GET /zone.
func (s *Server) zoneEndpoint(base, zone string) string {
	if zone == s.opts.Zone {
		return base + "/v2"
	}
	return base + "/" + zone + "/v2"
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request, rest string) {
	if s.ctl.ServeControl(w, r, rest) {
		return
	}
	if rest == "/fail-next-operation" && r.Method == http.MethodPost {
		var req struct {
			Pattern string `json:"pattern"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			simctl.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "fail-next-operation: " + err.Error()})
			return
		}
		if err := s.FailNextOperation(req.Pattern); err != nil {
			simctl.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	simctl.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no such control endpoint"})
}

// respondFault writes an injected fault with the Exoscale error body.
func respondFault(w http.ResponseWriter, _ *http.Request, status int) {
	msg := http.StatusText(status)
	if status == http.StatusTooManyRequests {
		msg = "Too many requests, please slow down"
	}
	writeError(w, status, msg)
}

// writeError writes the error body egoscale parses into *v3.APIError
// (Message field).
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"message":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
