// Package simstack runs the three cloud simulators together on one
// loopback listener, by path prefix: /opennebula/ (XML-RPC at
// /opennebula/RPC2, OneFlow at /opennebula/flow), /hetzner/ (/hetzner/v1)
// and /exoscale/ (/exoscale/v2). It backs `vdc sim`, `--sim` on the other
// commands, and end-to-end tests.
package simstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/clouds/exoscale/exoscalesim"
	"github.com/agentvdc/agentvdc/reconciler/clouds/hetzner/hetznersim"
	"github.com/agentvdc/agentvdc/reconciler/clouds/opennebula/onesim"
)

// Options configure the stack.
type Options struct {
	// Listen is the address to bind (default 127.0.0.1:0, a free port).
	Listen string
	// DataDir keeps each simulator's state in a sub-directory; "" = memory.
	DataDir string
	// HetznerRateLimitPerHour overrides Hetzner's 3,600 (negative: off).
	HetznerRateLimitPerHour int
	// ElasticityInterval evaluates OneFlow policies in the background.
	ElasticityInterval time.Duration
	// ExoscaleOperationDelay is how long Exoscale operations stay pending.
	ExoscaleOperationDelay time.Duration
	Logger                 *slog.Logger
}

// Stack is the three simulators behind one HTTP server.
type Stack struct {
	ONE      *onesim.Server
	Hetzner  *hetznersim.Server
	Exoscale *exoscalesim.Server
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string

	srv *http.Server
	ln  net.Listener
}

// Start starts the simulators and serves them until Close.
func Start(o Options) (*Stack, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	sub := func(name string) string {
		if o.DataDir == "" {
			return ""
		}
		return filepath.Join(o.DataDir, name)
	}
	st := &Stack{}
	var err error
	if st.ONE, err = onesim.New(onesim.Options{DataDir: sub("opennebula"), ElasticityInterval: o.ElasticityInterval, Logger: o.Logger}); err != nil {
		return nil, fmt.Errorf("opennebula simulator: %w", err)
	}
	if st.Hetzner, err = hetznersim.New(hetznersim.Options{DataDir: sub("hetzner"), RateLimitPerHour: o.HetznerRateLimitPerHour, Logger: o.Logger}); err != nil {
		st.ONE.Close()
		return nil, fmt.Errorf("hetzner simulator: %w", err)
	}
	if st.Exoscale, err = exoscalesim.New(exoscalesim.Options{DataDir: sub("exoscale"), OperationDelay: o.ExoscaleOperationDelay, Logger: o.Logger}); err != nil {
		st.ONE.Close()
		st.Hetzner.Close()
		return nil, fmt.Errorf("exoscale simulator: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/opennebula/", http.StripPrefix("/opennebula", st.ONE))
	mux.Handle("/hetzner/", http.StripPrefix("/hetzner", st.Hetzner))
	mux.Handle("/exoscale/", http.StripPrefix("/exoscale", st.Exoscale))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "agentvdc cloud simulators: /opennebula/RPC2, /opennebula/flow, /hetzner/v1, /exoscale/v2; control API under each prefix at /_sim/")
	})
	st.ln, err = net.Listen("tcp", o.Listen)
	if err != nil {
		st.closeSims()
		return nil, fmt.Errorf("listen %s: %w", o.Listen, err)
	}
	st.URL = "http://" + st.ln.Addr().String()
	st.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = st.srv.Serve(st.ln) }()
	return st, nil
}

// Env returns every variable that points the clients (and vdc) at the stack.
func (s *Stack) Env() map[string]string {
	env := map[string]string{}
	for k, v := range s.ONE.Env(s.URL + "/opennebula") {
		env[k] = v
	}
	for k, v := range s.Hetzner.Env(s.URL + "/hetzner") {
		env[k] = v
	}
	for k, v := range s.Exoscale.Env(s.URL + "/exoscale") {
		env[k] = v
	}
	return env
}

// ExportLines renders Env as sorted `export K='V'` lines for a shell.
func (s *Stack) ExportLines() string {
	env := s.Env()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	return b.String()
}

// Close stops serving and persists every simulator's state.
func (s *Stack) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	return errors.Join(err, s.closeSims())
}

func (s *Stack) closeSims() error {
	return errors.Join(s.ONE.Close(), s.Hetzner.Close(), s.Exoscale.Close())
}
