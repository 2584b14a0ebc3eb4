package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/clouds/opennebula"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel"
	"github.com/agentvdc/agentvdc/reconciler/daemon/webhook"
	"github.com/agentvdc/agentvdc/reconciler/gitsource"
)

// serveConfig is vdc.yaml (see vdc.example.yaml). Secrets are never in the
// file: it names the environment variables that hold them.
type serveConfig struct {
	Listen string `yaml:"listen"`
	Data   string `yaml:"data"`
	Sim    bool   `yaml:"sim"`
	// SimLatency is the simulators' latency profile (fast or realistic).
	SimLatency string `yaml:"simLatency"`
	Repo       struct {
		URL        string   `yaml:"url"`
		Ref        string   `yaml:"ref"`
		Path       string   `yaml:"path"`
		Poll       duration `yaml:"poll"`
		SSHKeyFile string   `yaml:"sshKeyFile"`
		TokenEnv   string   `yaml:"tokenEnv"`
	} `yaml:"repo"`
	Webhook struct {
		GitHubSecretEnv string `yaml:"githubSecretEnv"`
		GitLabTokenEnv  string `yaml:"gitlabTokenEnv"`
	} `yaml:"webhook"`
	Reconcile struct {
		Workers            int      `yaml:"workers"`
		DriftMin           duration `yaml:"driftMin"`
		HetznerBudgetShare float64  `yaml:"hetznerBudgetShare"`
		AllowDelete        bool     `yaml:"allowDelete"`
		MaxDeleteFraction  float64  `yaml:"maxDeleteFraction"`
	} `yaml:"reconcile"`
	Autoscale struct {
		Enabled  *bool    `yaml:"enabled"`
		Interval duration `yaml:"interval"`
		Window   duration `yaml:"window"`
	} `yaml:"autoscale"`
	Agents struct {
		Enabled *bool `yaml:"enabled"`
	} `yaml:"agents"`
	API struct {
		TokenEnv string `yaml:"tokenEnv"`
	} `yaml:"api"`
	Clouds struct {
		FrontendSSHKeyFile string `yaml:"frontendSSHKeyFile"`
		AddressPool        string `yaml:"addressPool"`
	} `yaml:"clouds"`
	Log struct {
		Format string `yaml:"format"` // text, json; empty: text on a terminal, else json
		Level  string `yaml:"level"`
	} `yaml:"log"`
}

type duration struct{ time.Duration }

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 30s or 5m", n.Line, n.Value)
	}
	d.Duration = v
	return nil
}

func defaultServeConfig() serveConfig {
	var c serveConfig
	c.Listen, c.Data, c.SimLatency = "127.0.0.1:8787", ".vdc", simstack.LatencyFast
	c.Repo.URL, c.Repo.Ref, c.Repo.Path, c.Repo.Poll = ".", "HEAD", "customers", duration{time.Minute}
	c.Repo.TokenEnv = "VDC_GIT_TOKEN"
	c.Webhook.GitHubSecretEnv, c.Webhook.GitLabTokenEnv = "VDC_WEBHOOK_GITHUB_SECRET", "VDC_WEBHOOK_GITLAB_TOKEN"
	c.Reconcile.Workers, c.Reconcile.DriftMin, c.Reconcile.HetznerBudgetShare = 4, duration{time.Minute}, 0.5
	c.Reconcile.MaxDeleteFraction = plan.DefaultMaxDeleteFraction
	c.Autoscale.Interval, c.Autoscale.Window = duration{time.Minute}, duration{5 * time.Minute}
	c.API.TokenEnv = "VDC_TOKEN"
	c.Clouds.AddressPool = plan.DefaultAddressPool
	c.Log.Level = "info"
	return c
}

func loadServeConfig(path string) (serveConfig, error) {
	c := defaultServeConfig()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func newServeCmd(e *env) *cobra.Command {
	var configPath string
	var flags serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: continuous GitOps reconcile, autoscaling, agents and the HTTP API",
		Long: `Serve follows the customer repository (poll interval and webhook), keeps every
customer converged, heals drift, autoscales, runs the data agents and
serves the HTTP API and status page. --sim runs the cloud simulators and the
embedded stores in-process.

The configuration file is --config, else $VDC_CONFIG ("none": none), else
./vdc.yaml, else /etc/vdc/vdc.yaml (vdc.example.yaml documents every
setting). Every setting can be overridden by a VDC_* environment variable
named after its key (repo.url: VDC_REPO_URL; the table is in
docs/operations.md), and flags override both.

Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 1 cannot start, 2 usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := discoverConfig(configPath, e.getenv)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			cfg, err := loadServeConfig(path)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			if err := applyConfigEnv(&cfg, e.getenv); err != nil { // VDC_*: over the file, under the flags
				return withCode(ExitUsage, err)
			}
			fl := cmd.Flags()
			if fl.Changed("listen") {
				cfg.Listen = flags.Listen
			}
			if fl.Changed("data") {
				cfg.Data = flags.Data
			}
			if fl.Changed("sim") {
				cfg.Sim = flags.Sim
			}
			if fl.Changed("sim-latency") {
				cfg.SimLatency = flags.SimLatency
			}
			if fl.Changed("repo") {
				cfg.Repo.URL = flags.Repo.URL
			}
			if fl.Changed("ref") {
				cfg.Repo.Ref = flags.Repo.Ref
			}
			if fl.Changed("path") {
				cfg.Repo.Path = flags.Repo.Path
			}
			if fl.Changed("poll") {
				cfg.Repo.Poll = flags.Repo.Poll
			}
			if fl.Changed("log-format") {
				cfg.Log.Format = flags.Log.Format
			}
			if fl.Changed("log-level") {
				cfg.Log.Level = flags.Log.Level
			}
			if _, err := newLogger(e.stderr, cfg.Log.Format, cfg.Log.Level); err != nil {
				return withCode(ExitUsage, err)
			}
			return serve(cmd.Context(), e, cfg)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (default $VDC_CONFIG, else ./vdc.yaml, else /etc/vdc/vdc.yaml; see vdc.example.yaml)")
	cmd.Flags().StringVar(&flags.Listen, "listen", "127.0.0.1:8787", "HTTP API address")
	cmd.Flags().StringVar(&flags.Data, "data", ".vdc", "data directory (state, api-token, simulator and agent data)")
	cmd.Flags().BoolVar(&flags.Sim, "sim", false, "in-process cloud simulators and embedded stores")
	cmd.Flags().StringVar(&flags.SimLatency, "sim-latency", simstack.LatencyFast, "with --sim: the simulators' latency profile, fast or realistic (server boot, image import, host monitoring as the clouds document them)")
	cmd.Flags().StringVar(&flags.Repo.URL, "repo", ".", "customer repository: local path or remote URL")
	cmd.Flags().StringVar(&flags.Repo.Ref, "ref", "HEAD", "branch or tag to follow")
	cmd.Flags().StringVar(&flags.Repo.Path, "path", "customers", "customers directory in the repository")
	cmd.Flags().DurationVar(&flags.Repo.Poll.Duration, "poll", time.Minute, "git poll interval")
	cmd.Flags().StringVar(&flags.Log.Format, "log-format", "", "log format on stderr: text or json (default text on a terminal, else json)")
	cmd.Flags().StringVar(&flags.Log.Level, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func serve(ctx context.Context, e *env, cfg serveConfig) error {
	log, err := newLogger(e.stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := daemon.NewMetrics(reg)
	if err != nil {
		return err
	}

	cf := cloudFlags{sim: cfg.Sim, simLatency: cfg.SimLatency, dataDir: cfg.Data, exoZones: []string{"de-fra-1", "de-muc-1"}, instrument: metrics.InstrumentTransport,
		frontendKeyFile: cfg.Clouds.FrontendSSHKeyFile, addressPool: cfg.Clouds.AddressPool}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return err
	}
	store, err := cf.openState(log)
	if err != nil {
		return err
	}
	defer store.Close()
	cl, err := cf.open(ctx, e, log)
	if err != nil {
		return err
	}
	defer cl.Close()
	repo, _, err := gitsource.Open(ctx, gitsource.Options{URL: cfg.Repo.URL, CacheDir: filepath.Join(cfg.Data, "git"),
		Token: e.getenv(cfg.Repo.TokenEnv), SSHKeyFile: cfg.Repo.SSHKeyFile})
	if err != nil {
		return err
	}
	pool, err := cf.pool()
	if err != nil {
		return err
	}
	if cl.stack == nil && cl.frontendKey == "" {
		return errNoFrontendKey
	}
	dc := daemon.Config{
		Source: repo, Ref: cfg.Repo.Ref, Path: cfg.Repo.Path, PollInterval: cfg.Repo.Poll.Duration,
		Providers: cl.providers, Store: store, AddressPool: pool, FrontendSSHKey: cl.frontendKey,
		Prices:  func(ctx context.Context) (plan.Prices, error) { return cf.prices(ctx, cl, store) },
		Workers: cfg.Reconcile.Workers, DriftMin: cfg.Reconcile.DriftMin.Duration, HetznerBudgetShare: cfg.Reconcile.HetznerBudgetShare,
		AllowDelete: cfg.Reconcile.AllowDelete, MaxDeleteFraction: cfg.Reconcile.MaxDeleteFraction,
		AutoscaleInterval: cfg.Autoscale.Interval.Duration, Metrics: metrics, Logger: log,
	}
	if cfg.Autoscale.Enabled == nil || *cfg.Autoscale.Enabled {
		if one, ok := cl.providers["opennebula"].(*opennebula.Provider); ok {
			dc.Autoscaler = autoscale.New(autoscale.Options{Metrics: one, Window: cfg.Autoscale.Window.Duration, Logger: log,
				Prices: func() plan.Prices { p, _ := cf.prices(context.Background(), nil, store); return p }})
		}
	}
	var running atomic.Pointer[daemon.Daemon] // for the tunnels' resolver
	if cfg.Agents.Enabled == nil || *cfg.Agents.Enabled {
		// --sim: the embedded stores under DATA/agents. Otherwise each
		// customer's data services at its data VM's observed address,
		// with the agents' state kept under DATA/agents.
		if cfg.Sim {
			stores := daemon.NewEmbeddedStores(cfg.Data, log)
			defer stores.Close()
			dc.AgentStores = stores
		} else {
			// Each customer's data services are reached through that
			// customer's WireGuard mesh (one userspace tunnel per customer,
			// opened on demand); the resolver needs the daemon's state.
			tunnels := tunnel.NewPool(func(ctx context.Context, customer string) (tunnel.Config, error) {
				d := running.Load()
				if d == nil {
					return tunnel.Config{}, errors.New("the daemon is starting")
				}
				return d.TunnelConfig(ctx, customer)
			}, tunnel.Options{Log: log})
			defer tunnels.Close()
			stores, err := daemon.NewServiceStores(daemon.ServiceStoresConfig{DataDir: cfg.Data, Logger: log, Dial: tunnels.DialContext})
			if err != nil {
				return err
			}
			defer stores.Close()
			dc.AgentStores = stores
		}
	}
	d, err := daemon.New(dc)
	if err != nil {
		return err
	}
	running.Store(d)
	hook, err := webhook.New(webhook.Config{
		GitHubSecret: e.getenv(cfg.Webhook.GitHubSecretEnv), GitLabToken: e.getenv(cfg.Webhook.GitLabTokenEnv),
		Branch: webhookBranch(cfg.Repo.Ref), Trigger: func(webhook.PushEvent) { d.TriggerSync() }, Logger: log,
	})
	if err != nil && !errors.Is(err, webhook.ErrConfig) {
		return err
	}
	var hookHandler http.Handler
	if err == nil {
		hookHandler = hook
	}
	srv, err := api.New(api.Config{Service: d, Token: e.getenv(cfg.API.TokenEnv), TokenFile: filepath.Join(cfg.Data, "api-token"),
		Webhook: hookHandler, Registry: reg, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	// The on-call CLI finds the daemon through this file (see vdc status).
	urlFile := filepath.Join(cfg.Data, daemonURLFile)
	if err := os.WriteFile(urlFile, []byte("http://"+ln.Addr().String()+"\n"), 0o600); err != nil {
		log.Warn("daemon-url file", "err", err)
	}
	defer os.Remove(urlFile)
	fmt.Fprintf(e.stdout, "vdc serve: API and status page on http://%s (token in %s)\n", ln.Addr(), filepath.Join(cfg.Data, "api-token"))
	if cl.stack != nil {
		fmt.Fprintf(e.stdout, "cloud simulators on %s\n", cl.stack.URL)
	}
	runErr := d.Run(ctx)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutdownCtx)
	if runErr != nil {
		return runErr
	}
	return nil
}

// webhookBranch is the branch pushes must name to trigger a sync.
func webhookBranch(ref string) string {
	if ref == "" || ref == "HEAD" {
		return ""
	}
	return ref
}
