package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/agentvdc/agentvdc/agents/extract"
	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/billing"
	"github.com/agentvdc/agentvdc/reconciler/clouds/opennebula"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/reconciler/daemon/metering"
	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel"
	"github.com/agentvdc/agentvdc/reconciler/daemon/webhook"
	"github.com/agentvdc/agentvdc/reconciler/gitsource"
	"github.com/agentvdc/agentvdc/reconciler/payments"
	"github.com/agentvdc/agentvdc/state"
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

		// The clouds' quotas (0: unknown): plans growing past one are refused.
		HetznerServerQuota     int `yaml:"hetznerServerQuota"`
		ExoscaleVolumeQuota    int `yaml:"exoscaleVolumeQuota"`
		ExoscaleStorageQuotaGB int `yaml:"exoscaleStorageQuotaGB"`
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
		// MaxConnections caps the connections served at once,
		// MaxConnectionsPerClient those of one client IP.
		MaxConnections          int `yaml:"maxConnections"`
		MaxConnectionsPerClient int `yaml:"maxConnectionsPerClient"`
	} `yaml:"api"`
	Clouds struct {
		FrontendSSHKeyFile string `yaml:"frontendSSHKeyFile"`
		AddressPool        string `yaml:"addressPool"`
	} `yaml:"clouds"`
	Billing struct {
		// TaxRate is applied to every invoice's subtotal (0.19 = 19 %).
		TaxRate float64 `yaml:"taxRate"`
		// Seller is the first line of rendered invoices.
		Seller string `yaml:"seller"`
		// Prefix of invoice numbers.
		Prefix string `yaml:"prefix"`
		// Anomaly: a customer's last 24 metered hours cost more than
		// baselineFactor × its mean day over baselineDays, or (with
		// aboveListPrice) more than its list price per day.
		Anomaly struct {
			BaselineFactor float64 `yaml:"baselineFactor"`
			BaselineDays   int     `yaml:"baselineDays"`
			AboveListPrice bool    `yaml:"aboveListPrice"`
		} `yaml:"anomaly"`
		// UnpaidDays after issue an unpaid invoice is flagged overdue.
		UnpaidDays int `yaml:"unpaidDays"`
		// Stripe: issued invoices are pushed when the key's variable is
		// set; payment events arrive at /webhook/stripe when the signing
		// secret's is. URL overrides Stripe's API (stripe-mock).
		Stripe struct {
			KeyEnv           string `yaml:"keyEnv"`
			WebhookSecretEnv string `yaml:"webhookSecretEnv"`
			URL              string `yaml:"url"`
		} `yaml:"stripe"`
	} `yaml:"billing"`
	State struct {
		// KeyFile is the secrets key (default $VDC_STATE_KEY_FILE, else
		// DATA/state.db.key).
		KeyFile string `yaml:"keyFile"`
		// BackupInterval is how often DATA/backups gets a copy (0: never).
		BackupInterval duration `yaml:"backupInterval"`
		BackupKeep     int      `yaml:"backupKeep"`
	} `yaml:"state"`
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
	c.API.TokenEnv, c.API.MaxConnections, c.API.MaxConnectionsPerClient = "VDC_TOKEN", api.DefaultMaxConnections, api.DefaultMaxConnectionsPerClient
	c.Clouds.AddressPool = plan.DefaultAddressPool
	c.State.BackupInterval, c.State.BackupKeep = duration{time.Hour}, 24
	c.Billing.Prefix = billing.DefaultPrefix
	c.Billing.Anomaly.BaselineFactor, c.Billing.Anomaly.BaselineDays = 1.5, 7
	c.Billing.UnpaidDays = 30
	c.Billing.Stripe.KeyEnv, c.Billing.Stripe.WebhookSecretEnv = "VDC_STRIPE_KEY", "VDC_STRIPE_WEBHOOK_SECRET"
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

	cf := cloudFlags{sim: cfg.Sim, simLatency: cfg.SimLatency, dataDir: cfg.Data, exoZones: defaultExoscaleZones(), instrument: metrics.InstrumentTransport,
		frontendKeyFile: cfg.Clouds.FrontendSSHKeyFile, addressPool: cfg.Clouds.AddressPool,
		stateKeyFile: cfg.State.KeyFile, verifyState: true,
		hetznerServerQuota: cfg.Reconcile.HetznerServerQuota, exoscaleVolumeQuota: cfg.Reconcile.ExoscaleVolumeQuota,
		exoscaleStorageQuotaGB: cfg.Reconcile.ExoscaleStorageQuotaGB}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return err
	}
	if err := stateLostCheck(cfg.Data); err != nil {
		return err
	}
	store, err := cf.openState(log, e.getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	backups, stopBackups := context.WithCancel(ctx)
	backupsDone := make(chan struct{})
	go func() {
		defer close(backupsDone)
		state.RunBackups(backups, store, filepath.Join(cfg.Data, "backups"), cfg.State.BackupInterval.Duration, cfg.State.BackupKeep, log)
	}()
	defer func() { stopBackups(); <-backupsDone }()
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
		Billing: billing.Config{TaxRate: cfg.Billing.TaxRate, Seller: cfg.Billing.Seller, Prefix: cfg.Billing.Prefix},
		Anomaly: metering.AnomalyRule{BaselineFactor: cfg.Billing.Anomaly.BaselineFactor, BaselineDays: cfg.Billing.Anomaly.BaselineDays,
			AboveListPrice: cfg.Billing.Anomaly.AboveListPrice},
		UnpaidDays:         cfg.Billing.UnpaidDays,
		HetznerServerQuota: cfg.Reconcile.HetznerServerQuota, ExoscaleVolumeQuota: cfg.Reconcile.ExoscaleVolumeQuota, ExoscaleStorageQuotaGB: cfg.Reconcile.ExoscaleStorageQuotaGB,
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
	// Dumped files are parsed in child processes that cannot outlive
	// their limits (a hostile PDF once pinned a core of the daemon).
	sandbox, err := extract.NewSandbox(extract.SandboxConfig{Log: log})
	if err != nil {
		return err
	}
	defer sandbox.Close()
	dc.Extractor = sandbox
	if key := e.getenv(cfg.Billing.Stripe.KeyEnv); key != "" {
		pc, err := payments.New(payments.Config{APIKey: key, URL: cfg.Billing.Stripe.URL, Log: log})
		if err != nil {
			return err
		}
		dc.Payments = pc
	}
	d, err := daemon.New(dc)
	if err != nil {
		return err
	}
	running.Store(d)
	hookHandler, err := newWebhook(e, cfg, repo, d, metrics, log)
	if err != nil {
		return err
	}
	var stripeHook http.Handler
	if secret := e.getenv(cfg.Billing.Stripe.WebhookSecretEnv); secret != "" {
		if len(secret) < 16 {
			return fmt.Errorf("$%s is %d bytes; a Stripe signing secret (whsec_…) is longer: refusing to start with it", cfg.Billing.Stripe.WebhookSecretEnv, len(secret))
		}
		stripeHook = &payments.Webhook{Secret: secret, Store: store, Log: log}
	}
	srv, err := api.New(api.Config{Service: d, Token: e.getenv(cfg.API.TokenEnv), TokenFile: filepath.Join(cfg.Data, "api-token"),
		Webhook: hookHandler, StripeWebhook: stripeHook, Registry: reg, Logger: log})
	if err != nil {
		return err
	}
	limits := api.HTTPLimits{MaxConnections: cfg.API.MaxConnections, MaxConnectionsPerClient: cfg.API.MaxConnectionsPerClient}
	ln, err := api.Listen(cfg.Listen, limits)
	if err != nil {
		return err
	}
	hs := api.NewHTTPServer(srv, limits)
	// The API failing stops the daemon with its error, not silently.
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "err", err)
			stopRun(fmt.Errorf("HTTP server: %w", err))
		}
	}()
	// The on-call CLI finds the daemon through this file (see vdc status).
	urlFile := filepath.Join(cfg.Data, daemonURLFile)
	// Atomic, so a CLI that sees the file never reads it empty.
	if err := state.WriteAtomic(urlFile, func(w io.Writer) error {
		_, err := io.WriteString(w, "http://"+ln.Addr().String()+"\n")
		return err
	}); err != nil {
		log.Warn("daemon-url file", "err", err)
	}
	defer os.Remove(urlFile)
	fmt.Fprintf(e.stdout, "vdc serve: API and status page on http://%s (token in %s)\n", ln.Addr(), filepath.Join(cfg.Data, "api-token"))
	if cl.stack != nil {
		fmt.Fprintf(e.stdout, "cloud simulators on %s\n", cl.stack.URL)
	}
	runErr := d.Run(runCtx)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutdownCtx)
	if runErr != nil {
		return runErr
	}
	if cause := context.Cause(runCtx); ctx.Err() == nil && cause != nil {
		return cause
	}
	return nil
}

// newWebhook builds POST /webhook, or nil (and says so in the log) when
// neither secret is set. With --ref HEAD it follows the branch HEAD names
// at start-up; a HEAD that names no branch, or any other unusable setting,
// is an error: the daemon does not start with a webhook that cannot work.
func newWebhook(e *env, cfg serveConfig, repo *gitsource.Repo, d *daemon.Daemon, metrics *daemon.Metrics, log *slog.Logger) (http.Handler, error) {
	ghSecret, glToken := e.getenv(cfg.Webhook.GitHubSecretEnv), e.getenv(cfg.Webhook.GitLabTokenEnv)
	if ghSecret == "" && glToken == "" {
		log.Info("webhook off: set " + cfg.Webhook.GitHubSecretEnv + " or " + cfg.Webhook.GitLabTokenEnv + " to enable POST /webhook")
		return nil, nil
	}
	set := cfg.Webhook.GitHubSecretEnv
	if ghSecret == "" {
		set = cfg.Webhook.GitLabTokenEnv
	}
	branch := cfg.Repo.Ref
	if branch == "" || branch == "HEAD" {
		b, err := repo.HeadBranch()
		if err != nil {
			return nil, fmt.Errorf("the webhook is enabled (%s is set) but the followed ref HEAD names no branch whose pushes it could accept: %w; pass --ref BRANCH", set, err)
		}
		branch = b
	}
	hook, err := webhook.New(webhook.Config{
		GitHubSecret: ghSecret, GitLabToken: glToken, Branch: branch, Logger: log,
		Trigger:  func(webhook.PushEvent) { d.TriggerSync() },
		Rejected: metrics.ObserveWebhookRejected,
	})
	if err != nil {
		return nil, fmt.Errorf("%w (from %s / %s)", err, cfg.Webhook.GitHubSecretEnv, cfg.Webhook.GitLabTokenEnv)
	}
	log.Info("webhook on", "branch", branch)
	return hook, nil
}

// stateLostCheck refuses to start over with an empty state when the data
// directory shows a daemon ran here (its daemon-url file, its backups):
// the state file was lost, and starting anew would regenerate secrets.
func stateLostCheck(data string) error {
	if _, err := os.Stat(filepath.Join(data, "state.db")); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var signs []string
	if _, err := os.Stat(filepath.Join(data, daemonURLFile)); err == nil {
		signs = append(signs, daemonURLFile)
	}
	if ents, _ := os.ReadDir(filepath.Join(data, "backups")); len(ents) > 0 {
		signs = append(signs, fmt.Sprintf("%d backups in %s", len(ents), filepath.Join(data, "backups")))
	}
	if len(signs) == 0 {
		return nil
	}
	return fmt.Errorf("%s is missing, but %s show that a daemon ran here: the state file was lost. "+
		"Restore it with vdc state restore %s/backups/state-….db --data %s, or remove those files to start from nothing (new secrets: the customers' VDCs must be rebuilt)",
		filepath.Join(data, "state.db"), strings.Join(signs, " and "), data, data)
}
