package daemon_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/embedded"
	"github.com/agentvdc/agentvdc/agents/minio"
	"github.com/agentvdc/agentvdc/agents/minio/miniotest"
	"github.com/agentvdc/agentvdc/agents/qdrant/qdrantsim"
	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/gitsource"
	"github.com/agentvdc/agentvdc/schema"
)

// route is where a customer's data services are served in the test.
type route struct {
	minio, qdrant, neo4j string // host:port
}

// dialLog records the (customer, service, ip) the stores asked for.
type dialLog struct {
	mu     sync.Mutex
	routes map[string]route
	calls  []string
}

func (l *dialLog) endpoint(customer, service, ip string, port int) (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, customer+" "+service+" "+ip+":"+strconv.Itoa(port))
	r := l.routes[customer]
	addr := map[string]string{plan.ServiceMinIO: r.minio, plan.ServiceQdrant: r.qdrant, plan.ServiceNeo4j: r.neo4j}[service]
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "127.0.0.1", 1 // nothing listens: the run fails
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestAgentsReachObservedDataServices runs the daemon on the simulators
// with ServiceStores: each customer's data template carries its
// credentials in CONTEXT, the stores dial the data VM's observed IP with
// the service ports and that customer's credentials (a real MinIO server
// per customer, an in-process Qdrant per customer requiring its API key),
// and the scheduled ingest makes an uploaded document searchable — for
// that customer only. Neo4j is used when NEO4J_URI is set.
func TestAgentsReachObservedDataServices(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test starts two MinIO servers; run it without -short")
	}
	f := newFixture(t)
	ctx := context.Background()
	names := []string{"alpha", "beta"}
	neoURI := os.Getenv("NEO4J_URI")
	if neoURI == "" {
		t.Log("NEO4J_URI not set: neo4j disabled in the customers' files, the graph stays in the embedded store")
	}
	dl := &dialLog{routes: map[string]route{}}
	servers := map[string]*miniotest.Server{}
	for _, n := range names {
		m := miniotest.Start(t)
		servers[n] = m
		qkey := randomKey(t)
		addr, stop, err := qdrantsim.Start(ctx, qdrantsim.Options{APIKey: qkey})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		// The customer's credentials are those the test servers run with:
		// EnsureSecrets keeps existing secrets and generates the rest.
		sec := map[string]string{reconciler.SecretMinIOAccessKey: m.AccessKey, reconciler.SecretMinIOSecretKey: m.SecretKey,
			reconciler.SecretQdrantAPIKey: qkey}
		r := route{minio: m.Endpoint, qdrant: addr}
		if neoURI != "" {
			sec[reconciler.SecretNeo4jPassword] = os.Getenv("NEO4J_PASSWORD")
			r.neo4j = strings.TrimPrefix(strings.TrimPrefix(neoURI, "neo4j://"), "bolt://")
		}
		if err := f.store.PutSecrets(n, sec); err != nil {
			t.Fatal(err)
		}
		dl.routes[n] = r
	}
	svc := "services:\n  neo4j: false\n"
	if neoURI != "" {
		svc = ""
	}
	f.push(t, "two customers", map[string]string{"alpha.yaml": alpha + svc, "beta.yaml": beta + svc})

	stores, err := daemon.NewServiceStores(daemon.ServiceStoresConfig{DataDir: filepath.Join(f.data, "agentdata"), Endpoint: dl.endpoint})
	if err != nil {
		t.Fatal(err)
	}
	src, _, err := gitsource.Open(ctx, gitsource.Options{URL: f.url, CacheDir: filepath.Join(f.data, "git")})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(daemon.Config{
		Source: src, Ref: "main", Path: "customers", PollInterval: 200 * time.Millisecond,
		Providers: f.ps.All, Store: f.store, AgentStores: stores, FrontendSSHKey: f.stack.FrontendSSHKey(),
		DriftMin: 300 * time.Millisecond, HetznerLimitPerHour: 10_000_000,
		BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
		if err := stores.Close(); err != nil {
			t.Errorf("close stores: %v", err)
		}
	})
	commit := head(t, f.work)
	for _, n := range names {
		waitFor(t, 60*time.Second, n+" synced", f.synced(n, commit))
	}

	// The data templates carry each customer's own credentials in CONTEXT
	// (read with goca); the observed data VMs have their NIC's IP.
	observed, err := f.ps.OpenNebula.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env := f.stack.Env()
	one := goca.NewController(goca.NewClient(goca.NewConfig(env["ONE_USER"], env["ONE_PASSWORD"], env["ONE_XMLRPC"]), nil))
	ips := map[string]string{}
	for _, r := range observed {
		if r.Name != plan.BaseName(r.Customer)+"-data" {
			continue
		}
		switch r.Kind {
		case plan.ONEVM:
			ips[r.Customer] = r.Outputs[plan.OutputIP]
		case plan.ONETemplate:
			id, _ := strconv.Atoi(r.ID)
			tpl, err := one.Template(id).Info(false, false)
			if err != nil {
				t.Fatal(err)
			}
			cv, err := tpl.Template.GetVector("CONTEXT")
			if err != nil {
				t.Fatal(err)
			}
			sec, _ := f.store.Secrets(r.Customer)
			for ctxKey, secKey := range map[string]string{"MINIO_ROOT_USER": reconciler.SecretMinIOAccessKey,
				"MINIO_ROOT_PASSWORD": reconciler.SecretMinIOSecretKey, "QDRANT_API_KEY": reconciler.SecretQdrantAPIKey} {
				if v, _ := cv.GetStr(ctxKey); v == "" || v != sec[secKey] {
					t.Errorf("%s: CONTEXT %s does not hold the customer's %s", r.Customer, ctxKey, secKey)
				}
			}
			if _, err := cv.GetStr("NEO4J_PASSWORD"); (err == nil) != (neoURI != "") {
				t.Errorf("%s: NEO4J_PASSWORD in CONTEXT: %v, neo4j enabled: %v", r.Customer, err == nil, neoURI != "")
			}
			if sec[reconciler.SecretQdrantAPIKey] == "" {
				t.Errorf("%s: no qdrant key", r.Customer)
			}
		}
	}
	for _, n := range names {
		if net.ParseIP(ips[n]) == nil {
			t.Fatalf("%s: observed data VM IP %q", n, ips[n])
		}
	}

	docs := map[string]string{
		"alpha": "Zephyrine turbines power the alpha orchard irrigation network every spring.",
		"beta":  "Quokka telemetry steers the beta harbour cranes through the night shift.",
	}
	for _, n := range names {
		m := servers[n]
		up, err := minio.New(minio.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := up.Put(ctx, n, n+"-notes.txt", strings.NewReader(docs[n]), int64(len(docs[n]))); err != nil {
			t.Fatal(err)
		}
	}
	// The scheduled ingest (every 5 s) indexes each customer's upload into
	// that customer's Qdrant.
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
		waitFor(t, 60*time.Second, n+"'s document searchable", func() bool {
			return slices.Contains(query(n, docs[n][:20]), n+"-notes.txt")
		})
	}
	if got := query("alpha", "quokka telemetry harbour cranes"); slices.Contains(got, "beta-notes.txt") {
		t.Errorf("alpha's search finds beta's document: %v", got)
	}
	if got := query("beta", "zephyrine turbines orchard"); slices.Contains(got, "alpha-notes.txt") {
		t.Errorf("beta's search finds alpha's document: %v", got)
	}

	// Every endpoint asked for is the customer's own observed IP and the
	// documented port; nothing else was dialled.
	dl.mu.Lock()
	calls := slices.Clone(dl.calls)
	dl.mu.Unlock()
	if len(calls) == 0 {
		t.Fatal("no endpoint resolved")
	}
	ports := map[string]int{plan.ServiceMinIO: daemon.PortMinIO, plan.ServiceQdrant: daemon.PortQdrantGRPC, plan.ServiceNeo4j: daemon.PortNeo4jBolt}
	seen := map[string]bool{}
	for _, c := range calls {
		parts := strings.Fields(c)
		cust, service, addr := parts[0], parts[1], parts[2]
		seen[cust+" "+service] = true
		if want := ips[cust] + ":" + strconv.Itoa(ports[service]); addr != want {
			t.Errorf("%s's %s resolved to %s, want the observed %s", cust, service, addr, want)
		}
	}
	for _, n := range names {
		for _, s := range []string{plan.ServiceMinIO, plan.ServiceQdrant} {
			if !seen[n+" "+s] {
				t.Errorf("%s's %s was never resolved (calls %v)", n, s, calls)
			}
		}
		if seen[n+" "+plan.ServiceNeo4j] != (neoURI != "") {
			t.Errorf("%s's neo4j resolved: %v, enabled: %v", n, seen[n+" "+plan.ServiceNeo4j], neoURI != "")
		}
	}
	// A customer that is not in git gets nothing.
	if _, _, err := d.AgentDeps(ctx, "gamma"); err == nil {
		t.Error("stores for a customer not in git")
	}
}

// TestServiceStoresResolve: endpoints come only from the target
// customer's observed data VM; without its IP or credentials the run fails
// with a clear error and nothing is dialled.
func TestServiceStoresResolve(t *testing.T) {
	ctx := context.Background()
	all := schema.Services{MinIO: true, Neo4j: true, Qdrant: true}
	secrets := map[string]string{reconciler.SecretMinIOAccessKey: "vdcaccess1", reconciler.SecretMinIOSecretKey: "secret-value-1",
		reconciler.SecretNeo4jPassword: "neo4j-value-1", reconciler.SecretQdrantAPIKey: "qdrant-value-1"}
	vm := func(customer, ip string) plan.Resource {
		r := plan.Resource{Kind: plan.ONEVM, Name: plan.BaseName(customer) + "-data", Customer: customer, Attrs: map[string]string{}}
		if ip != "" {
			r.Outputs = map[string]string{plan.OutputIP: ip}
		}
		return r
	}
	tests := []struct {
		name    string
		target  daemon.AgentTarget
		noIP    bool   // errors.Is ErrNoDataEndpoint
		errPart string // else the error names this
	}{
		{"no data VM observed", daemon.AgentTarget{Customer: "alpha", Services: all, Secrets: secrets}, true, ""},
		{"data VM without an address", daemon.AgentTarget{Customer: "alpha", Services: all, Secrets: secrets, Observed: []plan.Resource{vm("alpha", "")}}, true, ""},
		{"only another customer's VM", daemon.AgentTarget{Customer: "alpha", Services: all, Secrets: secrets, Observed: []plan.Resource{vm("beta", "10.0.2.10")}}, true, ""},
		{"VM named for alpha but owned by beta", daemon.AgentTarget{Customer: "alpha", Services: all, Secrets: secrets,
			Observed: []plan.Resource{func() plan.Resource { r := vm("alpha", "10.0.2.10"); r.Customer = "beta"; return r }()}}, true, ""},
		{"address not an IP", daemon.AgentTarget{Customer: "alpha", Services: all, Secrets: secrets, Observed: []plan.Resource{vm("alpha", "db.example")}}, true, ""},
		{"no credentials yet", daemon.AgentTarget{Customer: "alpha", Services: all, Observed: []plan.Resource{vm("alpha", "10.0.2.10")}}, false, "no credential"},
		{"bad customer name", daemon.AgentTarget{Customer: "A", Services: all}, false, "invalid customer"},
	}
	var dialled []string
	s, err := daemon.NewServiceStores(daemon.ServiceStoresConfig{DataDir: t.TempDir(),
		Endpoint: func(customer, service, ip string, port int) (string, int) {
			dialled = append(dialled, customer+" "+service)
			return "127.0.0.1", 1
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.For(ctx, tc.target)
			switch {
			case err == nil:
				t.Fatal("stores returned")
			case tc.noIP && !errors.Is(err, daemon.ErrNoDataEndpoint):
				t.Errorf("err = %v, want ErrNoDataEndpoint", err)
			case !tc.noIP && !strings.Contains(err.Error(), tc.errPart):
				t.Errorf("err = %v, want it to name %q", err, tc.errPart)
			}
			for _, v := range secrets {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error carries a credential: %v", err)
				}
			}
		})
	}
	if len(dialled) != 0 {
		t.Errorf("dialled %v although every target was refused", dialled)
	}
	// No service enabled: the embedded stores, no address needed.
	deps, _, err := s.For(ctx, daemon.AgentTarget{Customer: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := deps.Objects.(*embedded.Dir); !ok {
		t.Errorf("objects of a customer without services: %T", deps.Objects)
	}
}

// connProxy forwards TCP connections to target and counts the open ones.
type connProxy struct {
	addr string
	mu   sync.Mutex
	open int
}

func startProxy(t *testing.T, target string) *connProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.open++
			p.mu.Unlock()
			wg.Go(func() {
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
				go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
				<-done
				in.Close()
				out.Close()
				<-done
				p.mu.Lock()
				p.open--
				p.mu.Unlock()
			})
		}
	})
	return p
}

func (p *connProxy) openConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

// TestServiceStoresCacheAndForget: one customer's clients are reused while
// the endpoint and credentials stay, rebuilt when they change, and closed
// once retired and released by every run (never under a running one).
func TestServiceStoresCacheAndForget(t *testing.T) {
	ctx := context.Background()
	key := randomKey(t)
	addr, stop, err := qdrantsim.Start(ctx, qdrantsim.Options{APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	proxy := startProxy(t, addr)
	h, p, _ := net.SplitHostPort(proxy.addr)
	port, _ := strconv.Atoi(p)
	s, err := daemon.NewServiceStores(daemon.ServiceStoresConfig{DataDir: t.TempDir(),
		Endpoint: func(_, _, _ string, _ int) (string, int) { return h, port }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	target := func(ip, k string) daemon.AgentTarget {
		return daemon.AgentTarget{Customer: "alpha", Services: schema.Services{Qdrant: true},
			Secrets:  map[string]string{reconciler.SecretQdrantAPIKey: k},
			Observed: []plan.Resource{{Kind: plan.ONEVM, Name: "agentvdc-alpha-data", Customer: "alpha", Outputs: map[string]string{plan.OutputIP: ip}}}}
	}
	cfg := agents.CollectionConfig{Embedder: "test", Sparse: true}
	d1, r1, err := s.For(ctx, target("10.0.2.10", key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d1.Vectors.EnsureCollection(ctx, "alpha", cfg); err != nil {
		t.Fatalf("qdrant with the customer's key: %v", err)
	}
	if _, ok := d1.Objects.(*embedded.Dir); !ok {
		t.Errorf("minio disabled, objects are %T, want the embedded store", d1.Objects)
	}
	n1 := proxy.openConns() // the go-client keeps a small pool
	if n1 == 0 {
		t.Fatal("no connection through the proxy")
	}
	d2, r2, err := s.For(ctx, target("10.0.2.10", key))
	if err != nil || d2 != d1 {
		t.Fatalf("clients not reused for the same endpoint and credentials (%v)", err)
	}
	r2.Close()
	// Changed credentials: new clients (Qdrant refuses the wrong key); the
	// old ones stay usable while run 1 still holds them.
	d3, r3, err := s.For(ctx, target("10.0.2.10", "not-the-key"))
	if err != nil {
		t.Fatal(err)
	}
	if d3 == d1 {
		t.Fatal("clients reused after the credentials changed")
	}
	if _, err := d3.Vectors.Config(ctx, "alpha"); err == nil {
		t.Error("Qdrant accepted a wrong API key")
	}
	if _, err := d1.Vectors.Config(ctx, "alpha"); err != nil {
		t.Errorf("replaced clients closed under a running agent: %v", err)
	}
	n3 := proxy.openConns() - n1
	if n3 <= 0 {
		t.Fatalf("the new client opened no connection (%d open)", n1+n3)
	}
	r1.Close()
	waitFor(t, 5*time.Second, "the replaced client's connections closed", func() bool { return proxy.openConns() == n3 })
	// Forget while a run holds the clients: closed when it releases them.
	if err := s.Forget("alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := d3.Vectors.Config(ctx, "alpha"); err == nil || !strings.Contains(err.Error(), "Unauthenticated") || proxy.openConns() == 0 {
		t.Errorf("clients of a forgotten customer closed under a running agent (err %v)", err)
	}
	r3.Close()
	waitFor(t, 5*time.Second, "the forgotten customer's connection closed", func() bool { return proxy.openConns() == 0 })
	_ = r1.Close() // a second Close is harmless
}
