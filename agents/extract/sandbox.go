package extract

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Extractor turns one file into a Document. Every failure is an *Error.
type Extractor interface {
	Extract(ctx context.Context, name string, data []byte, lim Limits) (Document, error)
}

// InProcess extracts in the calling process. A parser that never returns
// (a PDF page tree that lists itself as a kid) keeps a goroutine and a CPU
// core busy for as long as the process lives: use it for trusted input and
// tests only; the daemon and the CLI use a Sandbox.
type InProcess struct{}

// Extract calls the package's Extract.
func (InProcess) Extract(ctx context.Context, name string, data []byte, lim Limits) (Document, error) {
	return Extract(ctx, name, data, lim)
}

// Environment of a sandbox child: childEnv=1 makes ServeChildIfAsked serve.
const (
	childEnv   = "VDC_EXTRACT_SANDBOX"
	childHello = "agentvdc-extract-sandbox/1"
	// guardArg is passed to the child so that a program which forgot to
	// call ServeChildIfAsked does nothing harmful: vdc refuses the unknown
	// flag, a test binary runs no test.
	guardArg = "-test.run=^$"
)

// ServeChildIfAsked serves extraction requests on stdin/stdout and exits
// when this process was started by a Sandbox; otherwise it returns at
// once. Call it first in main, and in TestMain of tests that start a
// Sandbox with the default command.
func ServeChildIfAsked() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	os.Exit(serveChild(os.Stdin, os.Stdout))
}

type request struct {
	Name   string
	Data   []byte
	Limits Limits
}

type response struct {
	Doc    Document
	Failed bool
	Reason Reason
	MIME   string
	Msg    string
}

// serveChild is the child's loop. After a timeout it ends: the parser
// goroutine that overran may still be running, and only the end of the
// process stops it.
func serveChild(in io.Reader, out io.Writer) int {
	// Deep nesting must fail with a small stack, not grow toward Go's 1 GB
	// default before the memory watchdog sees it.
	debug.SetMaxStack(64 << 20)
	enc, dec := gob.NewEncoder(out), gob.NewDecoder(in)
	if err := enc.Encode(childHello); err != nil {
		return 1
	}
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			return 1
		}
		doc, err := Extract(context.Background(), req.Name, req.Data, req.Limits)
		resp := response{Doc: doc}
		var xe *Error
		if errors.As(err, &xe) {
			resp = response{Failed: true, Reason: xe.Reason, MIME: xe.MIME}
			if xe.Err != nil {
				resp.Msg = xe.Err.Error()
			}
		} else if err != nil {
			resp = response{Failed: true, Reason: ReasonCorrupt, Msg: err.Error()}
		}
		if err := enc.Encode(resp); err != nil {
			return 1
		}
		if resp.Failed && resp.Reason == ReasonTimeout {
			return 0
		}
	}
}

// SandboxConfig configures a Sandbox; zero fields take the defaults.
type SandboxConfig struct {
	// Command is the program and arguments of a child; default this
	// program (os.Executable), which must call ServeChildIfAsked first.
	Command []string
	// Workers is how many files are extracted at once (default
	// min(GOMAXPROCS, 4)); each runs in its own child process.
	Workers int
	// MaxMemory is the resident memory a child may reach (default 512 MiB).
	MaxMemory int64
	// MaxCPU is the CPU time one file may take (default the file's
	// Limits.Timeout). The child runs with GOMAXPROCS=1.
	MaxCPU time.Duration
	// Grace is how long past the file's Timeout the child has to answer
	// before it is killed (default 2s); the child times itself out first.
	Grace time.Duration
	// StartTimeout bounds a child's start-up (default 15s).
	StartTimeout time.Duration
	// FilesPerChild recycles a child after this many files (default 500).
	FilesPerChild int
	Log           *slog.Logger
}

// SandboxStats counts a sandbox's children.
type SandboxStats struct {
	Started, Killed, Live int
	// KilledFor counts kills by reason (timeout, cpu, memory, crash).
	KilledFor map[string]int
}

// Sandbox extracts files in child processes that cannot outlive their
// limits: a child that overruns the wall clock or its CPU time, or grows
// past its memory, is killed and replaced. The parent runs no parser code,
// so a hostile file costs it nothing once its child is gone. Children get
// only the environment they need (no credentials) and die with the parent.
type Sandbox struct {
	cfg   SandboxConfig
	slots chan struct{}

	mu     sync.Mutex
	idle   []*child
	live   map[*child]struct{}
	closed bool
	stats  SandboxStats
}

// NewSandbox returns a sandbox; children start on first use.
func NewSandbox(cfg SandboxConfig) (*Sandbox, error) {
	if len(cfg.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("extract sandbox: find this program: %w", err)
		}
		cfg.Command = []string{exe, guardArg}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = min(runtime.GOMAXPROCS(0), 4)
	}
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = 512 << 20
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 15 * time.Second
	}
	if cfg.FilesPerChild <= 0 {
		cfg.FilesPerChild = 500
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Sandbox{cfg: cfg, slots: make(chan struct{}, cfg.Workers), live: map[*child]struct{}{},
		stats: SandboxStats{KilledFor: map[string]int{}}}, nil
}

// ErrSandboxClosed is returned by Extract after Close.
var ErrSandboxClosed = errors.New("extract sandbox closed")

// Extract extracts data in a child process within lim and the sandbox's
// resource limits. Failures of the file are *Error (a killed child gives
// ReasonTimeout or ReasonTooLarge); failures of the sandbox itself (a
// child that cannot start) are plain errors.
func (s *Sandbox) Extract(ctx context.Context, name string, data []byte, lim Limits) (Document, error) {
	lim = lim.withDefaults()
	mime, _, err := admit(name, data, lim)
	if err != nil {
		return Document{}, err
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return Document{}, ctx.Err()
	}
	defer func() { <-s.slots }()
	req := request{Name: name, Data: data, Limits: lim}
	// A child that dies without a word is retried once on a fresh child,
	// so that a child lost for reasons of its own does not quarantine a
	// good file; a second death is the file's doing.
	for attempt := 0; ; attempt++ {
		c, err := s.take(ctx)
		if err != nil {
			return Document{}, err
		}
		resp, kill, err := s.run(ctx, c, req, lim)
		crash := ""
		switch {
		case kill == "" && err == nil && resp.Failed && resp.Reason == ReasonTimeout:
			kill = "timeout" // the child timed itself out and ends
		case kill == "" && err != nil:
			if crash = c.crash(err); outOfMemory(crash) {
				kill = "memory" // the address-space backstop caught a spike
			}
		}
		if kill != "" {
			s.kill(c, kill)
		} else if err != nil {
			s.kill(c, "crash")
		} else {
			s.give(c)
		}
		switch {
		case kill == "cpu" || kill == "timeout":
			return Document{}, &Error{Reason: ReasonTimeout, MIME: mime, Err: fmt.Errorf("extractor killed: %s limit", killWhat[kill])}
		case kill == "memory":
			return Document{}, &Error{Reason: ReasonTooLarge, MIME: mime, Err: fmt.Errorf("extractor killed: resident memory above %d MiB", s.cfg.MaxMemory>>20)}
		case kill == "cancelled":
			return Document{}, ctx.Err()
		case err != nil && attempt == 0:
			continue
		case err != nil:
			return Document{}, &Error{Reason: ReasonCorrupt, MIME: mime, Err: fmt.Errorf("extractor crashed: %s", crash)}
		case resp.Failed:
			e := &Error{Reason: resp.Reason, MIME: resp.MIME}
			if resp.Msg != "" {
				e.Err = errors.New(resp.Msg)
			}
			return Document{}, e
		}
		return resp.Doc, nil
	}
}

var killWhat = map[string]string{"cpu": "CPU time", "timeout": "wall-clock"}

// run sends one request and watches the child until it answers. kill is
// why the child must be killed ("" when it answered in time).
func (s *Sandbox) run(ctx context.Context, c *child, req request, lim Limits) (resp response, kill string, err error) {
	done := make(chan error, 1)
	go func() {
		if err := c.enc.Encode(req); err != nil {
			done <- err
			return
		}
		done <- c.dec.Decode(&resp)
	}()
	maxCPU := s.cfg.MaxCPU
	if maxCPU <= 0 {
		maxCPU = lim.Timeout
	}
	wall := time.NewTimer(lim.Timeout + s.cfg.Grace)
	defer wall.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	cpu0, _ := c.cpuTime()
	for {
		select {
		case err := <-done:
			return resp, "", err
		case <-ctx.Done():
			kill = "cancelled"
		case <-wall.C:
			kill = "timeout"
		case <-tick.C:
			if rss, ok := c.rss(); ok && rss > s.cfg.MaxMemory {
				kill = "memory"
			} else if t, ok := c.cpuTime(); ok && t-cpu0 > maxCPU {
				kill = "cpu"
			}
		}
		if kill != "" {
			// Killing the child breaks both pipes: the request goroutine
			// returns, and nothing of this file is left running.
			c.terminate()
			<-done
			return resp, kill, nil
		}
	}
}

func (s *Sandbox) take(ctx context.Context) (*child, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrSandboxClosed
	}
	if n := len(s.idle); n > 0 {
		c := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	c, err := startChild(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Started++
	if s.closed {
		c.terminate()
		return nil, ErrSandboxClosed
	}
	s.live[c] = struct{}{}
	return c, nil
}

func (s *Sandbox) give(c *child) {
	c.files++
	s.mu.Lock()
	if !s.closed && c.files < s.cfg.FilesPerChild {
		s.idle = append(s.idle, c)
		s.mu.Unlock()
		return
	}
	delete(s.live, c)
	s.mu.Unlock()
	c.stop()
}

func (s *Sandbox) kill(c *child, why string) {
	c.terminate()
	s.mu.Lock()
	delete(s.live, c)
	s.stats.Killed++
	s.stats.KilledFor[why]++
	s.mu.Unlock()
	s.cfg.Log.Warn("extract sandbox child killed", "reason", why, "pid", c.pid)
}

// Stats returns the sandbox's counters.
func (s *Sandbox) Stats() SandboxStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Live = len(s.live)
	st.KilledFor = make(map[string]int, len(s.stats.KilledFor))
	for k, v := range s.stats.KilledFor {
		st.KilledFor[k] = v
	}
	return st
}

// Close stops every child; files being extracted fail.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	s.closed = true
	all := make([]*child, 0, len(s.live))
	for c := range s.live {
		all = append(all, c)
	}
	s.live = map[*child]struct{}{}
	s.idle = nil
	s.mu.Unlock()
	for _, c := range all {
		c.stop()
	}
	return nil
}

// childEnviron is all a child gets: no credential of the daemon's reaches
// a process that parses hostile files.
func childEnviron(cfg SandboxConfig) []string {
	env := []string{childEnv + "=1", "GOMAXPROCS=1", "GOTRACEBACK=single",
		"GOMEMLIMIT=" + strconv.FormatInt(cfg.MaxMemory*3/4, 10)}
	if v, ok := os.LookupEnv("GORACE"); ok {
		env = append(env, "GORACE="+v)
	}
	return env
}

// crashLog keeps the head (a Go crash report's reason) and the tail of
// what a child writes to stderr.
type crashLog struct {
	mu         sync.Mutex
	head, tail []byte
}

const crashLogPart = 1024

func (t *crashLog) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if room := crashLogPart - len(t.head); room > 0 {
		k := min(room, len(p))
		t.head = append(t.head, p[:k]...)
		p = p[k:]
	}
	t.tail = append(t.tail, p...)
	if over := len(t.tail) - crashLogPart; over > 0 {
		t.tail = t.tail[over:]
	}
	return n, nil
}

// reason is the first line of the report ("fatal error: runtime: out of
// memory", "runtime: goroutine stack exceeds 67108864-byte limit").
func (t *crashLog) reason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range strings.Split(string(t.head), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// outOfMemory tells a Go runtime's out-of-memory report.
func outOfMemory(crash string) bool {
	return strings.Contains(crash, "out of memory") || strings.Contains(crash, "cannot allocate memory")
}
