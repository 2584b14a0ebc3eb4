package onesim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

// Options configure a simulator.
type Options struct {
	// DataDir holds state.json (and one_auth); "" keeps state in memory only.
	DataDir string
	// Seed makes injected fault rates reproducible.
	Seed uint64
	// User and Password are the oneadmin credentials (user id 0). Defaults:
	// "oneadmin" and a random password (see Server.Env).
	User     string
	Password string
	// ElasticityInterval > 0 starts a background ticker that evaluates the
	// OneFlow elasticity policies; 0 leaves it to EvaluateElasticity calls.
	ElasticityInterval time.Duration
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
	// Logger receives diagnostics (default: discard).
	Logger *slog.Logger
	// Latency is how long image imports, host monitoring and VM boots
	// take (zero: done by the next request).
	Latency Latency
	// Probe is what the front-end finds when it monitors a host (nil: it
	// reaches none, every host goes to ERROR).
	Probe Prober
}

// Server is the OpenNebula simulator: oned's XML-RPC API at /RPC2, OneFlow
// at /flow, and the control API at /_sim/.
type Server struct {
	opts Options
	ctl  *simctl.Controller
	log  *slog.Logger

	mu sync.RWMutex
	d  *db
	// nextDue (unix ns, 0 = nothing) is the earliest pending asynchronous
	// step; a request at or after it advances the state first.
	nextDue atomic.Int64

	saver     *simctl.Saver
	closeOnce sync.Once

	stop chan struct{}
	wg   sync.WaitGroup
}

const stateFile = "state.json"

// New returns a simulator, loading state from opts.DataDir when present.
func New(opts Options) (*Server, error) {
	if opts.User == "" {
		opts.User = "oneadmin"
	}
	if strings.Contains(opts.User, ":") || strings.Contains(opts.Password, ":") {
		return nil, errors.New("onesim: user and password must not contain ':'")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{opts: opts, ctl: simctl.NewController(opts.Seed), log: opts.Logger, stop: make(chan struct{})}
	loaded := false
	if opts.DataDir != "" {
		d := newDB()
		found, err := simctl.LoadJSON(filepath.Join(opts.DataDir, stateFile), d)
		if err != nil {
			return nil, fmt.Errorf("onesim: %w", err)
		}
		if found {
			if d.Version > stateVersion {
				return nil, fmt.Errorf("onesim: state file version %d is newer than this simulator (%d)", d.Version, stateVersion)
			}
			d.fill()
			d.Version = stateVersion
			s.d = d
			loaded = true
		}
	}
	if !loaded {
		s.d = newDB()
		if s.opts.Password == "" {
			s.opts.Password = randomHex(12)
		}
		s.seed()
	}
	admin := s.d.Users[0]
	switch {
	case s.opts.Password == "" && admin != nil:
		// Restart without a configured password: the stored one stays valid,
		// but nobody can know it unless one_auth kept it.
		if b, err := os.ReadFile(filepath.Join(opts.DataDir, "one_auth")); err == nil {
			if u, p, ok := strings.Cut(strings.TrimSpace(string(b)), ":"); ok && u == admin.Name && hashPassword(p) == admin.PassHash {
				s.opts.Password = p
			}
		}
		if s.opts.Password == "" {
			s.opts.Password = randomHex(12)
			admin.PassHash = hashPassword(s.opts.Password)
		}
	case admin != nil:
		admin.Name = s.opts.User
		admin.PassHash = hashPassword(s.opts.Password)
	}
	s.saver = &simctl.Saver{Log: s.log, Encode: func() ([]byte, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return json.Marshal(s.d)
	}}
	if opts.DataDir != "" {
		s.saver.Path = filepath.Join(opts.DataDir, stateFile)
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("onesim: data dir: %w", err)
		}
		// goca reads ONE_AUTH as a file; OneFlow's reader does not trim, so
		// no trailing newline.
		if err := os.WriteFile(filepath.Join(opts.DataDir, "one_auth"), []byte(s.opts.User+":"+s.opts.Password), 0o600); err != nil {
			return nil, fmt.Errorf("onesim: write one_auth: %w", err)
		}
		if err := s.saver.Save(); err != nil {
			return nil, fmt.Errorf("onesim: %w", err)
		}
	}
	// Whatever a loaded state left pending is looked at by the first request.
	s.nextDue.Store(1)
	if opts.ElasticityInterval > 0 {
		s.wg.Add(1)
		go s.elasticityLoop(opts.ElasticityInterval)
	}
	return s, nil
}

// seed creates what a fresh oned has: groups oneadmin/users, the users
// oneadmin/serveradmin, cluster default, datastores system/default/files
// and VDC default.
func (s *Server) seed() {
	now := s.opts.Now().Unix()
	d := s.d
	d.Groups[0] = &group{base: base{ID: 0, Name: "oneadmin", RegTime: now}}
	d.Groups[1] = &group{base: base{ID: 1, Name: "users", RegTime: now}}
	d.Users[0] = &user{base: base{ID: 0, Name: s.opts.User, RegTime: now, Tmpl: Tmpl{{Key: "TOKEN_PASSWORD", Val: randomHex(20)}}}, Groups: []int{0}, PassHash: hashPassword(s.opts.Password), Driver: "core", Enabled: true}
	d.Users[1] = &user{base: base{ID: 1, Name: "serveradmin", RegTime: now}, Groups: []int{0}, PassHash: hashPassword(randomHex(16)), Driver: "server_cipher", Enabled: true}
	d.Clusters[0] = &cluster{base{ID: 0, Name: "default", RegTime: now, Tmpl: Tmpl{{Key: "RESERVED_CPU", Val: ""}, {Key: "RESERVED_MEM", Val: ""}}}}
	d.Datastores[0] = &datastore{base: base{ID: 0, Name: "system", Perms: perms{1, 1, 0, 1, 0, 0, 0, 0, 0}, RegTime: now, Tmpl: Tmpl{{Key: "TM_MAD", Val: "ssh"}, {Key: "TYPE", Val: "SYSTEM_DS"}}}, Clusters: []int{0}, TMMad: "ssh", Type: 1, TotalMB: 102400}
	d.Datastores[1] = &datastore{base: base{ID: 1, Name: "default", Perms: perms{1, 1, 0, 1, 0, 0, 0, 0, 0}, RegTime: now, Tmpl: Tmpl{{Key: "DS_MAD", Val: "fs"}, {Key: "TM_MAD", Val: "ssh"}, {Key: "TYPE", Val: "IMAGE_DS"}}}, Clusters: []int{0}, DSMad: "fs", TMMad: "ssh", TotalMB: 102400}
	d.Datastores[2] = &datastore{base: base{ID: 2, Name: "files", Perms: perms{1, 1, 0, 1, 0, 0, 0, 0, 0}, RegTime: now, Tmpl: Tmpl{{Key: "DS_MAD", Val: "fs"}, {Key: "TM_MAD", Val: "ssh"}, {Key: "TYPE", Val: "FILE_DS"}}}, Clusters: []int{0}, DSMad: "fs", TMMad: "ssh", Type: 2, TotalMB: 102400}
	d.VDCs[0] = &vdc{base: base{ID: 0, Name: "default", RegTime: now}, Groups: []int{1}, Clusters: []zref{{0, -10}}, Hosts: nil, Datastores: []zref{{0, -10}}, VNets: []zref{{0, -10}}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("onesim: crypto/rand: %v", err)) // never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// hashPassword is what oned stores for the core driver (SHA-256, hex).
func hashPassword(p string) string {
	h := sha256.Sum256([]byte(p))
	return hex.EncodeToString(h[:])
}

// Control returns the fault-injection and counter controller.
func (s *Server) Control() *simctl.Controller { return s.ctl }

// Credentials returns the oneadmin user and password.
func (s *Server) Credentials() (user, password string) { return s.opts.User, s.opts.Password }

// Env returns the variables that point goca, the OpenNebula CLI and
// OneFlow clients at this simulator mounted at baseURL. ONE_AUTH (a file
// path, as goca and the CLI read it) is only set with a DataDir; ONE_USER
// and ONE_PASSWORD carry the same credentials for tools that take them
// directly.
func (s *Server) Env(baseURL string) map[string]string {
	baseURL = strings.TrimRight(baseURL, "/")
	env := map[string]string{
		"ONE_XMLRPC":   baseURL + "/RPC2",
		"ONEFLOW_URL":  baseURL + "/flow",
		"ONE_USER":     s.opts.User,
		"ONE_PASSWORD": s.opts.Password,
	}
	if s.opts.DataDir != "" {
		if p, err := filepath.Abs(filepath.Join(s.opts.DataDir, "one_auth")); err == nil {
			env["ONE_AUTH"] = p
		}
	}
	return env
}

// Close stops the elasticity ticker and persists the state.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
	})
	if err := s.saver.Close(); err != nil {
		return fmt.Errorf("onesim: %w", err)
	}
	return nil
}

// markDirty schedules a write-behind save (at most 200 ms later).
func (s *Server) markDirty() { s.saver.Dirty() }

// ServeHTTP routes /RPC2 (XML-RPC), /flow/ (OneFlow) and /_sim/ (control).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/_sim/") || p == "/_sim":
		s.serveSim(w, r, strings.TrimPrefix(p, "/_sim"))
	case p == "/RPC2" || p == "/RPC2/":
		s.serveRPC(w, r)
	case p == "/flow" || strings.HasPrefix(p, "/flow/"):
		s.serveFlow(w, r, strings.TrimPrefix(p, "/flow"))
	default:
		http.Error(w, "not found: the simulator serves /RPC2, /flow and /_sim", http.StatusNotFound)
	}
}

// faultText answers an injected fault the way an HTTP front end of oned
// (or OneFlow) would: a plain-text status page. goca reports it as a
// ClientError carrying the HTTP response.
func faultText(w http.ResponseWriter, r *http.Request, status int) {
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, http.StatusText(status), status)
}

func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "XML-RPC requires POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<20))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	method, params, decErr := decodeCall(body)
	key := method
	if key == "" {
		key = "invalid"
	}
	if s.ctl.Apply(w, r, key, faultText) {
		return
	}
	if decErr != nil {
		writeFault(w, -503, "XML-RPC: "+decErr.Error())
		return
	}
	h, ok := rpcMethods[method]
	if !ok {
		writeFault(w, -506, fmt.Sprintf("Method %s not defined", method))
		return
	}
	if len(params) == 0 {
		writeFault(w, -501, fmt.Sprintf("[%s] Missing session parameter", method))
		return
	}
	session, _ := params[0].(string)
	now := s.opts.Now()
	lock, unlock := s.mu.RLock, s.mu.RUnlock
	advance := s.pending(now)
	if h.write || advance {
		lock, unlock = s.mu.Lock, s.mu.Unlock
	}
	lock()
	if advance {
		s.advance(now)
	}
	u, authErr := s.authenticate(session)
	if authErr != nil {
		unlock()
		writeResponse(w, false, fmt.Sprintf("[%s] User couldn't be authenticated, aborting call.", method), errAuthentication)
		return
	}
	c := &call{s: s, method: method, user: u, now: now}
	res, err := h.fn(c, args{method: method, p: params[1:]})
	unlock()
	if err != nil {
		var re *rpcError
		if !errors.As(err, &re) {
			re = &rpcError{code: errInternal, msg: fmt.Sprintf("[%s] %v", method, err)}
		}
		writeResponse(w, false, re.msg, re.code)
		return
	}
	if h.write {
		s.markDirty()
	}
	writeResponse(w, true, res, 0)
}

// authenticate checks "user:password" against the user pool (core driver).
func (s *Server) authenticate(session string) (*user, error) {
	name, pass, ok := strings.Cut(session, ":")
	if !ok {
		return nil, errors.New("malformed session")
	}
	h := hashPassword(pass)
	for _, u := range s.d.Users {
		if u.Name == name {
			if u.Enabled && u.Driver != "server_cipher" && u.PassHash == h {
				return u, nil
			}
			return nil, errors.New("bad credentials")
		}
	}
	return nil, errors.New("no such user")
}

// authBasic checks OneFlow's HTTP basic auth.
func (s *Server) authBasic(r *http.Request) (*user, bool) {
	name, pass, ok := r.BasicAuth()
	if !ok {
		return nil, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, err := s.authenticate(name + ":" + pass)
	return u, err == nil
}

var numSeg = regexp.MustCompile(`/\d+(/|$)`)

// restKey is the counter/fault key of a OneFlow request: method and path
// with numeric ids replaced by {id}, e.g. "POST /flow/service/{id}/scale".
func restKey(r *http.Request) string {
	p := numSeg.ReplaceAllString(r.URL.Path, "/{id}$1")
	p = numSeg.ReplaceAllString(p, "/{id}$1")
	return r.Method + " " + p
}
