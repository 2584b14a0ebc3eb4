// Package simstack runs the three cloud simulators together on one
// loopback listener, by path prefix: /opennebula/ (XML-RPC at
// /opennebula/RPC2, OneFlow at /opennebula/flow), /hetzner/ (/hetzner/v1)
// and /exoscale/ (/exoscale/v2). It backs `vdc sim`, `--sim` on the other
// commands, and end-to-end tests.
//
// It also plays the OpenNebula front-end's part the simulators share: the
// front-end's SSH key pair (FrontendSSHKey, kept in the data dir) and its
// monitoring of hosts (onesim.Options.Probe), modelled from what the
// Hetzner simulator received: a host registered by a server's public IPv4
// is MONITORED, with the server type's cores and memory, only when that
// server runs and its user-data is a cloud-config that authorises the
// front-end's key for oneadmin (write_files to
// /var/lib/one/.ssh/authorized_keys, a written file appended there by
// `cat FILE >> ...` in runcmd, or the oneadmin user's
// ssh_authorized_keys) and installs the node package of the host's driver
// (opennebula-node-lxc, opennebula-node-kvm) from packages or an apt-get
// install in runcmd; otherwise it is ERROR ("Could not update remotes"
// when the front-end cannot get in). A KVM host is always ERROR: no
// Hetzner Cloud server type exposes /dev/kvm, so KVM could not run there.
//
// Options.Latency picks the latency profile: "fast" (default) or
// "realistic" (onesim.RealisticLatency, plus Hetzner server create
// actions of 20 s and Exoscale operations of 30 s: estimates of a cloud
// server's boot, which both providers describe as well under a minute).
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
	// HetznerServerLimit is the simulated project's server quota (0: none).
	HetznerServerLimit int
	// ExoscaleMaxVolumes and ExoscaleMaxProvisionedGiB are the simulated
	// organisation's Block Storage quotas (0: Exoscale's defaults).
	ExoscaleMaxVolumes        int
	ExoscaleMaxProvisionedGiB int64
	// ElasticityInterval evaluates OneFlow policies in the background.
	ElasticityInterval time.Duration
	// ExoscaleOperationDelay is how long Exoscale operations stay pending
	// (0: the Latency profile's).
	ExoscaleOperationDelay time.Duration
	// Latency is the simulators' latency profile: "fast" (the default,
	// tests and `make run` converge in seconds) or "realistic" (image
	// import, host monitoring, VM, server and instance boot as long as on
	// the real clouds; sources in the onesim package doc).
	Latency string
	Logger  *slog.Logger
}

// Latency profiles.
const (
	LatencyFast      = "fast"
	LatencyRealistic = "realistic"
)

// profile is what a latency profile sets in each simulator.
type profile struct {
	one           onesim.Latency
	hetznerAction time.Duration
	exoOperation  time.Duration
}

func latencyProfile(name string) (profile, error) {
	switch name {
	case "", LatencyFast:
		return profile{one: onesim.FastLatency()}, nil
	case LatencyRealistic:
		// Hetzner: a server's create action runs until it has booted
		// (typically 10-30 s); Exoscale: an instance create operation
		// likewise (~30 s). Estimates, see the onesim package doc.
		return profile{one: onesim.RealisticLatency(), hetznerAction: 20 * time.Second, exoOperation: 30 * time.Second}, nil
	}
	return profile{}, fmt.Errorf("latency profile %q: want %q or %q", name, LatencyFast, LatencyRealistic)
}

// Stack is the three simulators behind one HTTP server.
type Stack struct {
	ONE      *onesim.Server
	Hetzner  *hetznersim.Server
	Exoscale *exoscalesim.Server
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string

	frontendKey string
	// frontendPub is the public key's file ("" without a data dir).
	frontendPub string
	srv         *http.Server
	ln          net.Listener
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
	prof, err := latencyProfile(o.Latency)
	if err != nil {
		return nil, err
	}
	if o.ExoscaleOperationDelay == 0 {
		o.ExoscaleOperationDelay = prof.exoOperation
	}
	st := &Stack{}
	if st.frontendKey, err = frontendKey(sub("opennebula")); err != nil {
		return nil, fmt.Errorf("opennebula simulator: %w", err)
	}
	if o.DataDir != "" {
		if st.frontendPub, err = filepath.Abs(filepath.Join(sub("opennebula"), frontendKeyPub)); err != nil {
			return nil, fmt.Errorf("opennebula simulator: %w", err)
		}
	}
	if st.Hetzner, err = hetznersim.New(hetznersim.Options{DataDir: sub("hetzner"), RateLimitPerHour: o.HetznerRateLimitPerHour,
		ActionDelay: prof.hetznerAction, ServerLimit: o.HetznerServerLimit, Logger: o.Logger}); err != nil {
		return nil, fmt.Errorf("hetzner simulator: %w", err)
	}
	if st.ONE, err = onesim.New(onesim.Options{DataDir: sub("opennebula"), ElasticityInterval: o.ElasticityInterval, Logger: o.Logger,
		Latency: prof.one, Probe: hostProbe(st.Hetzner, st.frontendKey)}); err != nil {
		st.Hetzner.Close()
		return nil, fmt.Errorf("opennebula simulator: %w", err)
	}
	if st.Exoscale, err = exoscalesim.New(exoscalesim.Options{DataDir: sub("exoscale"), OperationDelay: o.ExoscaleOperationDelay, Logger: o.Logger,
		MaxVolumes: o.ExoscaleMaxVolumes, MaxProvisionedGiB: o.ExoscaleMaxProvisionedGiB}); err != nil {
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

// FrontendSSHKey is the simulated OpenNebula front-end's public key, an
// authorized_keys line ("ssh-ed25519 AAAA... oneadmin@onesim"): what a
// caller configures as the front-end key (ServerSecrets.FrontendSSHKey)
// so the servers' cloud-init authorises it and the hosts get MONITORED.
// It is kept in the data dir and survives restarts.
func (s *Stack) FrontendSSHKey() string { return s.frontendKey }

// Env returns every variable that points the clients (and vdc) at the
// stack; with a data dir also VDC_FRONTEND_SSH_KEY, the file of the
// simulated front-end's public key.
func (s *Stack) Env() map[string]string {
	env := map[string]string{}
	if s.frontendPub != "" {
		env["VDC_FRONTEND_SSH_KEY"] = s.frontendPub
	}
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
