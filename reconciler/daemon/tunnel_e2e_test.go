package daemon_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	v3 "github.com/exoscale/egoscale/v3"
	"github.com/exoscale/egoscale/v3/credentials"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/minio"
	"github.com/agentvdc/agentvdc/agents/minio/miniotest"
	"github.com/agentvdc/agentvdc/agents/qdrant/qdrantsim"
	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel"
	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel/wgtest"
)

// TestDataServicesThroughTheCustomersTunnel is the VDC's data path end to
// end in one process: the daemon applies two customers against the
// simulators; userspace WireGuard peers are brought up from nothing but
// what apply rendered — each storage node's wg0.conf from its cloud-init
// (read back through the Exoscale API) and each data VM's from the start
// script in its template's CONTEXT (read back through OpenNebula's API) —
// with a real MinIO and the Qdrant simulator behind each data-VM peer. The
// daemon reaches them only through its per-customer tunnel pool: an upload
// through the daemon's stores becomes searchable, the customer becomes
// Ready (services answer their health checks through the tunnel), and one
// customer's tunnel cannot reach the other customer's services.
func TestDataServicesThroughTheCustomersTunnel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test starts two MinIO servers")
	}
	f := newFixture(t)
	ctx := context.Background()
	names := []string{"alpha", "beta"}
	type backend struct {
		minio  *miniotest.Server
		qdrant string
	}
	backends := map[string]backend{}
	for _, n := range names {
		m := miniotest.Start(t)
		qkey := randomKey(t)
		addr, stop, err := qdrantsim.Start(ctx, qdrantsim.Options{APIKey: qkey})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		// The data VM would start MinIO and Qdrant with the customer's
		// generated credentials; the test servers run with theirs, so
		// those become the customer's (EnsureSecrets keeps what exists).
		if err := f.store.PutSecrets(n, map[string]string{reconciler.SecretMinIOAccessKey: m.AccessKey,
			reconciler.SecretMinIOSecretKey: m.SecretKey, reconciler.SecretQdrantAPIKey: qkey}); err != nil {
			t.Fatal(err)
		}
		backends[n] = backend{minio: m, qdrant: addr}
	}
	svc := "services:\n  neo4j: false\n"
	f.push(t, "two customers", map[string]string{"alpha.yaml": alpha + svc, "beta.yaml": beta + svc})

	// The hubs exist only once apply has rendered them; the pool maps each
	// storage node's public address to its hub (the simulated addresses
	// are not routable from here).
	hubs := map[netip.Addr]netip.AddrPort{}
	var hubsReady atomic.Bool
	var running atomic.Pointer[daemon.Daemon]
	pool := tunnel.NewPool(func(ctx context.Context, customer string) (tunnel.Config, error) {
		d := running.Load()
		if d == nil || !hubsReady.Load() {
			return tunnel.Config{}, errors.New("not up yet")
		}
		return d.TunnelConfig(ctx, customer)
	}, tunnel.Options{Listen: netip.MustParseAddrPort("127.0.0.1:0"), LoopbackOnly: true, IdleTimeout: time.Minute,
		Endpoint: func(_ string, configured netip.AddrPort) netip.AddrPort {
			if hub, ok := hubs[configured.Addr()]; ok {
				return hub
			}
			return configured
		}})
	t.Cleanup(func() { pool.Close() })
	stores, err := daemon.NewServiceStores(daemon.ServiceStoresConfig{DataDir: filepath.Join(f.data, "agentdata"), Dial: pool.DialContext})
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the daemon starts, so that it runs after the
	// daemon has stopped (cleanups run last-in first-out): a health check
	// must never meet closed clients.
	t.Cleanup(func() { stores.Close() })
	d := f.startWith(t, func(c *daemon.Config) {
		c.AgentStores = stores
		c.FrontendSSHKey = f.stack.FrontendSSHKey()
		c.DriftMin = 300 * time.Millisecond
		c.HetznerLimitPerHour = 10_000_000
	})
	running.Store(d)
	commit := head(t, f.work)
	for _, n := range names {
		waitFor(t, 60*time.Second, n+" synced", f.synced(n, commit))
	}

	// Read back what apply rendered, as a real client of each cloud would.
	env := f.stack.Env()
	exo, err := v3.NewClient(credentials.NewStaticCredentials(env["EXOSCALE_API_KEY"], env["EXOSCALE_API_SECRET"]),
		v3.ClientOptWithEndpoint(v3.Endpoint(env["EXOSCALE_API_ENDPOINT"])))
	if err != nil {
		t.Fatal(err)
	}
	one := goca.NewController(goca.NewClient(goca.NewConfig(env["ONE_USER"], env["ONE_PASSWORD"], env["ONE_XMLRPC"]), nil))
	observed, err := reconciler.Refresh(ctx, f.ps.All, nil)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := f.store.AddressBlocks()
	if err != nil {
		t.Fatal(err)
	}
	if blocks["alpha"] == "" || blocks["alpha"] == blocks["beta"] {
		t.Fatalf("address blocks %v", blocks)
	}
	pfx := netip.MustParsePrefix(plan.DefaultAddressPool)
	addrsOf := func(n string) plan.Addresses {
		a, err := plan.ParseBlock(pfx, blocks[n])
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, n := range names {
		var storageUD, startScript string
		var storageIP netip.Addr
		for _, r := range observed {
			if r.Customer != n {
				continue
			}
			switch {
			case r.Kind == plan.ExoInstance && r.Name == plan.BaseName(n)+"-storage":
				storageIP = netip.MustParseAddr(r.Outputs[plan.OutputPublicIP])
				ep, err := exo.GetZoneAPIEndpoint(ctx, v3.ZoneName(r.Attrs["zone"]))
				if err != nil {
					t.Fatal(err)
				}
				inst, err := exo.WithEndpoint(ep).GetInstance(ctx, v3.UUID(r.ID))
				if err != nil {
					t.Fatal(err)
				}
				ud, err := base64.StdEncoding.DecodeString(inst.UserData)
				if err != nil {
					t.Fatal(err)
				}
				storageUD = string(ud)
			case r.Kind == plan.ONETemplate && r.Name == plan.BaseName(n)+"-data":
				id, _ := strconv.Atoi(r.ID)
				tpl, err := one.Template(id).Info(false, false)
				if err != nil {
					t.Fatal(err)
				}
				cv, err := tpl.Template.GetVector("CONTEXT")
				if err != nil {
					t.Fatal(err)
				}
				b64, _ := cv.GetStr("START_SCRIPT_BASE64")
				s, err := base64.StdEncoding.DecodeString(b64)
				if err != nil || len(s) == 0 {
					t.Fatalf("%s: no start script in the data template's CONTEXT: %v", n, err)
				}
				startScript = string(s)
			}
		}
		hubConf, err := wgtest.CloudInitFile([]byte(storageUD), "/etc/wireguard/wg0.conf")
		if err != nil {
			t.Fatalf("%s: storage node wg0.conf: %v", n, err)
		}
		hub, err := wgtest.Start(hubConf, wgtest.Options{Name: n + "-storage wg0.conf", Listen: netip.MustParseAddrPort("127.0.0.1:0"), Forward: true})
		if err != nil {
			t.Fatalf("%s: hub from the rendered config: %v", n, err)
		}
		t.Cleanup(func() { hub.Close() })
		hubs[storageIP] = hub.Addr()
		vmConf, ok := heredoc(startScript, "/etc/wireguard/wg0.conf")
		if !ok {
			t.Fatalf("%s: the start script writes no wg0.conf", n)
		}
		vm, err := wgtest.Start([]byte(vmConf), wgtest.Options{Name: n + "-data wg0.conf", Listen: netip.MustParseAddrPort("127.0.0.1:0"),
			Endpoints: map[string]netip.AddrPort{netip.AddrPortFrom(storageIP, plan.WireGuardPort).String(): hub.Addr()}})
		if err != nil {
			t.Fatalf("%s: data VM peer from the rendered config: %v", n, err)
		}
		t.Cleanup(func() { vm.Close() })
		a := addrsOf(n)
		if addrs := vm.Config().Interface.Address; len(addrs) == 0 || addrs[0].Addr() != a.DataVMWG() {
			t.Fatalf("%s: data VM mesh address %v, want %s", n, addrs, a.DataVMWG())
		}
		be := backends[n]
		for port, to := range map[int]string{daemon.PortMinIO: be.minio.Endpoint, daemon.PortQdrantGRPC: be.qdrant} {
			if err := vm.Expose(netip.AddrPortFrom(a.DataVMWG(), uint16(port)).String(), to); err != nil {
				t.Fatal(err)
			}
		}
	}
	hubsReady.Store(true)

	// Upload through the daemon's own stores: it goes through the tunnel.
	docs := map[string]string{
		"alpha": "Zephyrine turbines power the alpha orchard irrigation network every spring.",
		"beta":  "Quokka telemetry steers the beta harbour cranes through the night shift.",
	}
	for _, n := range names {
		deps, release, err := d.AgentDeps(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := deps.Objects.(*minio.Store); !ok {
			t.Fatalf("%s: objects are %T, want the customer's MinIO", n, deps.Objects)
		}
		if _, err := deps.Objects.Put(ctx, n, n+"-notes.txt", strings.NewReader(docs[n]), int64(len(docs[n]))); err != nil {
			t.Fatalf("%s: upload through the tunnel: %v", n, err)
		}
		release.Close()
	}
	query := func(customer, text string) []string {
		deps, release, err := d.AgentDeps(ctx, customer)
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		defer release.Close()
		res, err := (&agents.Searcher{Deps: deps, NoLog: true}).Query(ctx, customer, text, 5)
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		var out []string
		for _, h := range res.Hits {
			out = append(out, h.Document)
		}
		return out
	}
	for _, n := range names {
		waitFor(t, 90*time.Second, n+"'s document searchable through its tunnel", func() bool {
			return slices.Contains(query(n, docs[n][:20]), n+"-notes.txt")
		})
		waitFor(t, 60*time.Second, n+" ready", func() bool {
			st, err := f.store.GetStatus(n)
			if err != nil {
				return false
			}
			c, ok := st.Condition("Ready")
			return ok && c.Status == "True"
		})
	}
	// The objects are in each customer's own MinIO (behind its data VM).
	for _, n := range names {
		m := backends[n].minio
		direct, err := minio.New(minio.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := direct.Stat(ctx, n, n+"-notes.txt"); err != nil {
			t.Errorf("%s's upload is not in its own MinIO: %v", n, err)
		}
	}

	// beta's tunnel cannot reach alpha's services: refused before sending
	// (outside beta's mesh), and nothing answers alpha's address on beta's hub.
	alphaMinIO := netip.AddrPortFrom(addrsOf("alpha").DataVMWG(), daemon.PortMinIO).String()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c, err := pool.DialContext(cctx, "beta", "tcp", alphaMinIO); err == nil {
		c.Close()
		t.Fatal("beta's tunnel reached alpha's MinIO")
	} else if !errors.Is(err, tunnel.ErrOutsideAllowedIPs) {
		t.Errorf("beta → alpha: %v, want ErrOutsideAllowedIPs", err)
	}
	if st := pool.Stats(); st.Tunnels == 0 || st.Dials == 0 {
		t.Errorf("the daemon opened no tunnel: %+v", st)
	}
}

// heredoc returns the body the script writes to path with a quoted heredoc.
func heredoc(script, path string) (string, bool) {
	i := strings.Index(script, path)
	if i < 0 {
		return "", false
	}
	rest := script[i:]
	open := strings.Index(rest, "<<'")
	if open < 0 {
		return "", false
	}
	rest = rest[open+3:]
	end := strings.IndexByte(rest, '\'')
	if end < 0 {
		return "", false
	}
	marker := rest[:end]
	rest = rest[end+1:]
	nl := strings.IndexByte(rest, '\n')
	if nl < 0 {
		return "", false
	}
	body := rest[nl+1:]
	stop := strings.Index(body, marker)
	if stop < 0 {
		return "", false
	}
	return body[:stop], true
}
