package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/exoscale"
	"github.com/agentvdc/agentvdc/reconciler/clouds/hetzner"
	"github.com/agentvdc/agentvdc/reconciler/clouds/opennebula"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
	"github.com/agentvdc/agentvdc/state"
)

// cloudFlags select the clouds: real endpoints from flags and the standard
// environment variables, or the in-process simulators (--sim).
type cloudFlags struct {
	sim                         bool
	simLatency                  string
	dataDir                     string
	hcloudEndpoint, exoEndpoint string
	oneXMLRPC, oneFlow          string
	exoZones                    []string
	pricesFile                  string
	frontendKeyFile             string
	addressPool                 string
	stateKeyFile                string
	// hetznerServerQuota is the Hetzner project's server quota, and
	// exoscaleVolumeQuota and exoscaleStorageQuotaGB the Exoscale
	// organisation's Block Storage quotas (0: unknown).
	hetznerServerQuota, exoscaleVolumeQuota, exoscaleStorageQuotaGB int
	// verifyState checks the whole state file when it is opened (serve).
	verifyState bool
	// instrument, if set, wraps each cloud's HTTP transport (metrics).
	instrument func(cloud plan.Cloud, rt http.RoundTripper) http.RoundTripper
}

// defaultExoscaleZones are the zones observed without --exoscale-zones.
func defaultExoscaleZones() []string { return exoscale.DefaultZones() }

// httpClient is the client for one cloud's API (nil: the adapter's default).
func (f *cloudFlags) httpClient(cloud plan.Cloud) *http.Client {
	if f.instrument == nil {
		return nil
	}
	return &http.Client{Transport: f.instrument(cloud, http.DefaultTransport)}
}

func (f *cloudFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dataDir, "data", ".vdc", "data directory: state.db (bbolt), its key file, simulator state")
	registerStateKey(cmd, &f.stateKeyFile)
	f.registerEndpoints(cmd)
}

// registerEndpoints registers every cloud flag but --data.
func (f *cloudFlags) registerEndpoints(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.sim, "sim", false, "use the in-process cloud simulators (state under DATA/sim) instead of real clouds")
	cmd.Flags().StringVar(&f.simLatency, "sim-latency", simstack.LatencyFast, "with --sim: the simulators' latency profile, fast (converges in seconds) or realistic (server boot, image import, host monitoring as the clouds document them)")
	cmd.Flags().StringVar(&f.hcloudEndpoint, "hcloud-endpoint", "", "Hetzner API endpoint (default $HCLOUD_ENDPOINT or the public API)")
	cmd.Flags().StringVar(&f.exoEndpoint, "exoscale-endpoint", "", "Exoscale API endpoint (default $EXOSCALE_API_ENDPOINT or the public API)")
	cmd.Flags().StringVar(&f.oneXMLRPC, "one-xmlrpc", "", "OpenNebula XML-RPC endpoint (default $ONE_XMLRPC)")
	cmd.Flags().StringVar(&f.oneFlow, "oneflow-url", "", "OneFlow endpoint (default $ONEFLOW_URL)")
	cmd.Flags().StringSliceVar(&f.exoZones, "exoscale-zones", defaultExoscaleZones(), "Exoscale zones to observe")
	cmd.Flags().StringVar(&f.frontendKeyFile, "frontend-ssh-key", "", "the OpenNebula front-end's SSH public key file, authorised for oneadmin on every host (default $VDC_FRONTEND_SSH_KEY; required to apply outside --sim, where the simulator's key is used)")
	cmd.Flags().StringVar(&f.addressPool, "address-pool", plan.DefaultAddressPool, "IPv4 pool customers' /24 address blocks come from (never change it under live customers)")
	cmd.Flags().IntVar(&f.hetznerServerQuota, "hetzner-server-quota", 0, "the Hetzner project's server quota: plans that would grow past it are refused (0: unknown, not checked; with --sim the simulator enforces it too)")
	cmd.Flags().IntVar(&f.exoscaleVolumeQuota, "exoscale-volume-quota", 0, "the Exoscale organisation's block volume quota (Exoscale's default is 1000): plans that would grow past it are refused (0: unknown, not checked; with --sim the simulator enforces it too)")
	cmd.Flags().IntVar(&f.exoscaleStorageQuotaGB, "exoscale-storage-quota-gb", 0, "the Exoscale organisation's provisioned Block Storage quota in GiB (Exoscale's default is 20480): plans that would grow past it are refused (0: unknown, not checked; with --sim the simulator enforces it too)")
	cmd.Flags().StringVar(&f.pricesFile, "prices", "", "JSON file overriding the Exoscale price table: {\"exoscale_instance_hourly\": {\"standard.small\": 0.025}, \"exoscale_volume_gb_monthly\": 0.1, \"eur_to_usd\": 1.08} (EUR)")
}

// clouds is what a command needs to reach the providers.
type clouds struct {
	providers map[plan.Cloud]reconciler.Provider
	hetzner   *hetzner.Provider
	stack     *simstack.Stack
	// frontendKey is the OpenNebula front-end's public key ("" when none
	// was configured: applying then fails before any call).
	frontendKey string
}

// pool parses --address-pool.
func (f *cloudFlags) pool() (netip.Prefix, error) {
	if f.addressPool == "" {
		f.addressPool = plan.DefaultAddressPool
	}
	p, err := netip.ParsePrefix(f.addressPool)
	if err != nil || !p.Addr().Is4() || p.Masked() != p || p.Bits() > plan.BlockBits {
		return netip.Prefix{}, fmt.Errorf("--address-pool %q: want an IPv4 network of /%d or larger, e.g. %s", f.addressPool, plan.BlockBits, plan.DefaultAddressPool)
	}
	return p, nil
}

// frontendKey reads the front-end's public key: the file given by
// --frontend-ssh-key or $VDC_FRONTEND_SSH_KEY ("" when neither is set).
func (f *cloudFlags) frontendKey(getenv func(string) string) (string, error) {
	path := firstNonEmpty(f.frontendKeyFile, getenv("VDC_FRONTEND_SSH_KEY"))
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("front-end SSH key: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key)); err != nil || strings.ContainsAny(key, "\n\r") {
		return "", fmt.Errorf("front-end SSH key %s: not one public key in authorized_keys form (e.g. the front-end's /var/lib/one/.ssh/id_rsa.pub)", path)
	}
	return key, nil
}

// errNoFrontendKey is returned when applying to real clouds without the key.
var errNoFrontendKey = errors.New("the OpenNebula front-end's SSH public key is required to apply: --frontend-ssh-key FILE or VDC_FRONTEND_SSH_KEY (it is authorised for oneadmin on every host so oned can drive and monitor it)")

func (c *clouds) Close() error {
	if c.stack != nil {
		return c.stack.Close()
	}
	return nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// checkSimLatency refuses an unknown profile, or one given without --sim
// (real clouds have their own latencies).
func (f *cloudFlags) checkSimLatency() error {
	if f.simLatency == "" {
		f.simLatency = simstack.LatencyFast
	}
	switch {
	case f.simLatency != simstack.LatencyFast && f.simLatency != simstack.LatencyRealistic:
		return withCode(ExitUsage, fmt.Errorf("--sim-latency %q: want %s or %s", f.simLatency, simstack.LatencyFast, simstack.LatencyRealistic))
	case !f.sim && f.simLatency != simstack.LatencyFast:
		return withCode(ExitUsage, errors.New("--sim-latency needs --sim: real clouds have their own latencies"))
	case f.hetznerServerQuota < 0:
		return withCode(ExitUsage, fmt.Errorf("--hetzner-server-quota %d: want 0 (unknown) or more", f.hetznerServerQuota))
	case f.exoscaleVolumeQuota < 0 || f.exoscaleStorageQuotaGB < 0:
		return withCode(ExitUsage, fmt.Errorf("--exoscale-volume-quota %d, --exoscale-storage-quota-gb %d: want 0 (unknown) or more", f.exoscaleVolumeQuota, f.exoscaleStorageQuotaGB))
	}
	return nil
}

// open connects the three providers. Credentials only come from the
// environment (or the simulators), never from flags, so they stay out of
// shell history and process listings.
func (f *cloudFlags) open(ctx context.Context, e *env, log *slog.Logger) (*clouds, error) {
	getenv := e.getenv
	c := &clouds{providers: map[plan.Cloud]reconciler.Provider{}}
	if err := f.checkSimLatency(); err != nil {
		return nil, err
	}
	if f.sim {
		st, err := startSims(filepath.Join(f.dataDir, "sim"), log, f.simLatency, func(o *simstack.Options) {
			o.HetznerServerLimit, o.ExoscaleMaxVolumes = max(f.hetznerServerQuota, 0), max(f.exoscaleVolumeQuota, 0)
			o.ExoscaleMaxProvisionedGiB = int64(max(f.exoscaleStorageQuotaGB, 0))
		})
		if err != nil {
			return nil, err
		}
		c.stack = st
		// The simulated front-end's own key, as the servers must authorise it.
		c.frontendKey = st.FrontendSSHKey()
		simEnv := st.Env()
		getenv = func(k string) string { return simEnv[k] }
	}
	oneUser, onePass := getenv("ONE_USER"), getenv("ONE_PASSWORD")
	if p := getenv("ONE_AUTH"); p != "" && oneUser == "" {
		b, err := os.ReadFile(p)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("ONE_AUTH: %w", err)
		}
		u, pw, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
		if !ok {
			c.Close()
			return nil, fmt.Errorf("ONE_AUTH file %s is not user:password", p)
		}
		oneUser, onePass = u, pw
	}
	missing := []string{}
	for _, k := range []string{"HCLOUD_TOKEN", "EXOSCALE_API_KEY", "EXOSCALE_API_SECRET"} {
		if getenv(k) == "" {
			missing = append(missing, k)
		}
	}
	if oneUser == "" {
		missing = append(missing, "ONE_AUTH (or ONE_USER/ONE_PASSWORD)")
	}
	if len(missing) > 0 {
		c.Close()
		return nil, fmt.Errorf("missing cloud credentials: %s (or use --sim)", strings.Join(missing, ", "))
	}
	if !f.sim {
		key, err := f.frontendKey(e.getenv)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.frontendKey = key
	}
	hcfg := hetzner.Config{
		Endpoint: firstNonEmpty(f.hcloudEndpointFor(), getenv("HCLOUD_ENDPOINT")),
		Token:    getenv("HCLOUD_TOKEN"), Logger: log, HTTPClient: f.httpClient(plan.Hetzner),
	}
	if f.sim {
		// The simulator finishes actions at once; do not wait 500 ms per poll.
		hcfg.PollInterval = 20 * time.Millisecond
	}
	hz, err := hetzner.New(ctx, hcfg)
	if err == nil {
		c.hetzner = hz
		c.providers[plan.Hetzner] = hz
		var exo *exoscale.Provider
		exo, err = exoscale.New(ctx, exoscale.Config{
			Endpoint: firstNonEmpty(f.exoEndpointFor(), getenv("EXOSCALE_API_ENDPOINT")),
			APIKey:   getenv("EXOSCALE_API_KEY"), APISecret: getenv("EXOSCALE_API_SECRET"),
			Zones: f.exoZones, Logger: log, HTTPClient: f.httpClient(plan.Exoscale),
		})
		if err == nil {
			c.providers[plan.Exoscale] = exo
			var one *opennebula.Provider
			one, err = opennebula.New(ctx, opennebula.Config{
				XMLRPCURL: firstNonEmpty(f.oneXMLRPCFor(), getenv("ONE_XMLRPC")),
				FlowURL:   firstNonEmpty(f.oneFlowFor(), getenv("ONEFLOW_URL")),
				User:      oneUser, Password: onePass, Logger: log, HTTPClient: f.httpClient(plan.OpenNebula),
			})
			if err == nil {
				c.providers[plan.OpenNebula] = one
			}
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// With --sim the simulators' endpoints win over flags meant for real clouds.
func (f *cloudFlags) hcloudEndpointFor() string { return f.unlessSim(f.hcloudEndpoint) }
func (f *cloudFlags) exoEndpointFor() string    { return f.unlessSim(f.exoEndpoint) }
func (f *cloudFlags) oneXMLRPCFor() string      { return f.unlessSim(f.oneXMLRPC) }
func (f *cloudFlags) oneFlowFor() string        { return f.unlessSim(f.oneFlow) }
func (f *cloudFlags) unlessSim(v string) string {
	if f.sim {
		return ""
	}
	return v
}

// openState opens DATA/state.db.
func (f *cloudFlags) openState(log *slog.Logger, getenv func(string) string) (*state.Store, error) {
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return state.Open(filepath.Join(f.dataDir, "state.db"), state.Options{Logger: log, Verify: f.verifyState,
		KeyFile: stateKeyFile(f.stateKeyFile, getenv)})
}

// registerStateKey adds --state-key-file.
func registerStateKey(cmd *cobra.Command, into *string) {
	cmd.Flags().StringVar(into, "state-key-file", "", "the key that encrypts the secrets in state.db (default $VDC_STATE_KEY_FILE, else DATA/state.db.key); keep it apart from the database and its backups")
}

// stateKeyFile is the secrets key's path: the flag, else
// $VDC_STATE_KEY_FILE, else "" (state.db.key beside the database).
func stateKeyFile(flag string, getenv func(string) string) string {
	return firstNonEmpty(flag, getenv("VDC_STATE_KEY_FILE"))
}

const pricesCursor = "prices"

// prices returns the price table: Hetzner's from the API (cached in state
// for --refresh=false), Exoscale's from the default table and --prices.
func (f *cloudFlags) prices(ctx context.Context, c *clouds, st *state.Store) (plan.Prices, error) {
	p := plan.DefaultExoscalePrices()
	if f.pricesFile != "" {
		b, err := os.ReadFile(f.pricesFile)
		if err != nil {
			return p, fmt.Errorf("--prices: %w", err)
		}
		var over plan.Prices
		if err := json.Unmarshal(b, &over); err != nil {
			return p, fmt.Errorf("--prices %s: %w", f.pricesFile, err)
		}
		for k, v := range over.ExoscaleInstanceHourly {
			p.ExoscaleInstanceHourly[k] = v
		}
		if over.ExoscaleVolumeGBMonthly > 0 {
			p.ExoscaleVolumeGBMonthly = over.ExoscaleVolumeGBMonthly
		}
		if over.ExoscaleDiskGBMonthly > 0 {
			p.ExoscaleDiskGBMonthly = over.ExoscaleDiskGBMonthly
		}
		if over.EURToUSD > 0 {
			p.EURToUSD = over.EURToUSD
		}
	}
	if c != nil && c.hetzner != nil {
		hp, err := c.hetzner.ServerTypePrices(ctx)
		if err != nil {
			return p, err
		}
		p.HetznerServerMonthly = hp
		if b, err := json.Marshal(hp); err == nil {
			_ = st.PutCursor(pricesCursor, "hetzner", b)
		}
		return p, nil
	}
	b, err := st.Cursor(pricesCursor, "hetzner")
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return p, err
	}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &p.HetznerServerMonthly)
	}
	return p, nil
}

// simAddressFile, in the simulators' data directory, keeps the address
// they listen on, so they keep it across restarts (their state is beside
// it, and scripts that drive /_sim/ keep working).
const simAddressFile = "address"

// startSims starts the simulators on the address they had last time in
// dir, or on a free port when there is none or it is taken now, and
// records the address.
func startSims(dir string, log *slog.Logger, latency string, mods ...func(*simstack.Options)) (*simstack.Stack, error) {
	opts := simstack.Options{DataDir: dir, Logger: log, HetznerRateLimitPerHour: -1, Latency: latency}
	for _, m := range mods {
		m(&opts)
	}
	prev := ""
	if b, err := os.ReadFile(filepath.Join(dir, simAddressFile)); err == nil {
		if host, _, err := net.SplitHostPort(strings.TrimSpace(string(b))); err == nil && net.ParseIP(host).IsLoopback() {
			prev = strings.TrimSpace(string(b))
		}
	}
	opts.Listen = prev
	st, err := simstack.Start(opts)
	if err != nil && prev != "" {
		log.Warn("the simulators' previous address is taken: they listen on a new one", "address", prev, "err", err)
		opts.Listen = ""
		st, err = simstack.Start(opts)
	}
	if err != nil {
		return nil, err
	}
	if u, perr := url.Parse(st.URL); perr == nil && u.Host != "" && u.Host != prev {
		if err := state.WriteAtomic(filepath.Join(dir, simAddressFile), func(w io.Writer) error {
			_, err := io.WriteString(w, u.Host+"\n")
			return err
		}); err != nil {
			log.Warn("record the simulators' address", "err", err)
		}
	}
	return st, nil
}
