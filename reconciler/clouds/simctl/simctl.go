package simctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is one injection rule. Zero fields do nothing; several may combine
// (latency, then an error).
type Fault struct {
	ID string `json:"id,omitempty"`
	// Pattern is a glob over the endpoint key; "*" matches anything, "/" included.
	Pattern string `json:"pattern"`
	// Latency is added before the request is handled.
	Latency Duration `json:"latency,omitempty"`
	// ErrorRate is the probability (0..1) of answering with Status.
	ErrorRate float64 `json:"error_rate,omitempty"`
	// Status is the HTTP status for ErrorRate (default 503).
	Status int `json:"status,omitempty"`
	// RateLimit makes matching requests answer 429 as the cloud does.
	RateLimit bool `json:"rate_limit,omitempty"`
	// Timeout holds the request until the client gives up.
	Timeout bool `json:"timeout,omitempty"`
	// Drop closes the connection without an answer, with this probability.
	Drop float64 `json:"drop,omitempty"`
	// Times limits the rule to the next N matching requests (0 = no limit).
	Times int `json:"times,omitempty"`
	hits  int
}

// Match reports whether key matches the glob pattern: "*" matches any run
// of characters including "/" (so "GET /v1/*" selects every GET under
// /v1), "?" one character; everything else is literal.
func Match(pattern, key string) bool {
	re, err := compileGlob(pattern)
	return err == nil && re.MatchString(key)
}

func compileGlob(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// Duration is a time.Duration that reads and writes as "150ms".
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts a Go duration string or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("latency %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("latency: want a duration string or milliseconds")
	}
	*d = Duration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}

// Responder writes a simulator's own error body for an injected fault, so
// clients parse injected errors exactly like real ones. status is 429 for
// rate limiting, otherwise the rule's Status.
type Responder func(w http.ResponseWriter, r *http.Request, status int)

// Controller holds the fault rules and counters of one simulator.
// It is safe for concurrent use.
type Controller struct {
	mu     sync.Mutex
	faults []*Fault
	nextID int
	counts map[string]int64
	// injected counts the requests a fault rule answered instead of the
	// simulator (errors, 429s, timeouts, dropped connections).
	injected int64
	rnd      *rand.Rand
}

// NewController returns a Controller; seed makes error rates reproducible.
func NewController(seed uint64) *Controller {
	return &Controller{counts: map[string]int64{}, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// AddFault installs a rule and returns its id.
func (c *Controller) AddFault(f Fault) (string, error) {
	if f.Pattern == "" {
		f.Pattern = "*"
	}
	if _, err := compileGlob(f.Pattern); err != nil {
		return "", fmt.Errorf("fault pattern %q: %w", f.Pattern, err)
	}
	if f.ErrorRate < 0 || f.ErrorRate > 1 || f.Drop < 0 || f.Drop > 1 {
		return "", errors.New("error_rate and drop are probabilities between 0 and 1")
	}
	if f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	f.ID = strconv.Itoa(c.nextID)
	c.faults = append(c.faults, &f)
	return f.ID, nil
}

// ClearFaults removes every rule.
func (c *Controller) ClearFaults() {
	c.mu.Lock()
	c.faults = nil
	c.mu.Unlock()
}

// RemoveFault removes one rule; it reports whether the rule existed.
func (c *Controller) RemoveFault(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.faults {
		if f.ID == id {
			c.faults = append(c.faults[:i], c.faults[i+1:]...)
			return true
		}
	}
	return false
}

// Faults returns a copy of the active rules.
func (c *Controller) Faults() []Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Fault, 0, len(c.faults))
	for _, f := range c.faults {
		out = append(out, *f)
	}
	return out
}

// Count records one call of key. Middleware calls it; simulators whose keys
// are only known after decoding (XML-RPC) may call it themselves.
func (c *Controller) Count(key string) {
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
}

// Counters returns a copy of the per-endpoint call counts.
func (c *Controller) Counters() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Total returns the number of calls whose key matches the glob pattern.
func (c *Controller) Total(pattern string) int64 {
	var n int64
	re, err := compileGlob(pattern)
	if err != nil {
		return 0
	}
	for k, v := range c.Counters() {
		if re.MatchString(k) {
			n += v
		}
	}
	return n
}

// ResetCounters zeroes all counters.
func (c *Controller) ResetCounters() {
	c.mu.Lock()
	c.counts = map[string]int64{}
	c.injected = 0
	c.mu.Unlock()
}

// Injected returns how many requests a fault rule answered instead of the
// simulator since the last reset: the proof that faults were really applied.
func (c *Controller) Injected() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.injected
}

// decision is what the matching rules say about one request.
type decision struct {
	latency   time.Duration
	status    int
	rateLimit bool
	timeout   bool
	drop      bool
}

func (c *Controller) decide(key string) decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	var d decision
	kept := c.faults[:0]
	for _, f := range c.faults {
		if Match(f.Pattern, key) {
			d.latency += time.Duration(f.Latency)
			if f.RateLimit {
				d.rateLimit = true
			}
			if f.Timeout {
				d.timeout = true
			}
			if f.Drop > 0 && c.rnd.Float64() < f.Drop {
				d.drop = true
			}
			if f.ErrorRate > 0 && c.rnd.Float64() < f.ErrorRate && d.status == 0 {
				d.status = f.Status
			}
			f.hits++
			if f.Times > 0 && f.hits >= f.Times {
				continue // used up
			}
		}
		kept = append(kept, f)
	}
	c.faults = kept
	if d.drop || d.timeout || d.rateLimit || d.status != 0 {
		c.injected++
	}
	return d
}

// Apply counts the call and applies any matching faults. It returns true when
// it has answered the request itself (the simulator must then stop).
func (c *Controller) Apply(w http.ResponseWriter, r *http.Request, key string, respond Responder) bool {
	c.Count(key)
	d := c.decide(key)
	if d.latency > 0 {
		t := time.NewTimer(d.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	switch {
	case d.drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // closes the connection on HTTP/2 too
	case d.timeout:
		<-r.Context().Done()
		return true
	case d.rateLimit:
		respond(w, r, http.StatusTooManyRequests)
		return true
	case d.status != 0:
		respond(w, r, d.status)
		return true
	}
	return false
}

// ServeControl serves the /_sim/counters and /_sim/faults endpoints. It
// reports whether it handled the request; rest is the path after "/_sim".
func (c *Controller) ServeControl(w http.ResponseWriter, r *http.Request, rest string) bool {
	switch {
	case rest == "/counters" && r.Method == http.MethodGet:
		WriteJSON(w, http.StatusOK, c.Counters())
	case rest == "/counters" && r.Method == http.MethodDelete:
		c.ResetCounters()
		w.WriteHeader(http.StatusNoContent)
	case rest == "/faults" && r.Method == http.MethodGet:
		WriteJSON(w, http.StatusOK, c.Faults())
	case rest == "/faults" && r.Method == http.MethodPost:
		var f Fault
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&f); err != nil {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "fault: " + err.Error()})
			return true
		}
		id, err := c.AddFault(f)
		if err != nil {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return true
		}
		f.ID = id
		WriteJSON(w, http.StatusCreated, f)
	case rest == "/faults" && r.Method == http.MethodDelete:
		c.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(rest, "/faults/") && r.Method == http.MethodDelete:
		if !c.RemoveFault(strings.TrimPrefix(rest, "/faults/")) {
			WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no such fault"})
			return true
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		return false
	}
	return true
}

// WriteJSON writes v as an indented JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// SortedKeys returns the counter keys in order, for stable output.
func SortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SaveJSON writes v to path atomically (temp file, fsync, rename), so a
// crash never leaves a half-written state file.
func SaveJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return fmt.Errorf("state temp file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename state: %w", err)
	}
	return nil
}

// LoadJSON reads a state file written by SaveJSON. A missing file is not an
// error: found is false and v is untouched.
func LoadJSON(path string, v any) (found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("state file %s: %w", path, err)
	}
	return true, nil
}
