package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/minio/miniotest"
	"github.com/agentvdc/agentvdc/agents/qdrant/qdrantsim"
	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/schema"
)

// TestServiceStoresDialThroughTheCustomersNetwork: with a Dial hook the
// stores reach the data VM at the customer's mesh address (never the
// observed VM address), every connection of the MinIO and Qdrant clients
// goes through the hook with the customer's name, and the health check
// answers through it.
func TestServiceStoresDialThroughTheCustomersNetwork(t *testing.T) {
	ctx := context.Background()
	m := miniotest.Start(t)
	key := randomKey(t)
	qaddr, stop, err := qdrantsim.Start(ctx, qdrantsim.Options{APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	pool := netip.MustParsePrefix(plan.DefaultAddressPool)
	addrs, err := plan.ParseBlock(pool, "10.64.7.0/24")
	if err != nil {
		t.Fatal(err)
	}
	mesh := addrs.DataVMWG().String()
	var mu sync.Mutex
	var dialled []string
	dial := func(ctx context.Context, customer, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialled = append(dialled, customer+" "+addr)
		mu.Unlock()
		var to string
		switch addr {
		case net.JoinHostPort(mesh, strconv.Itoa(daemon.PortMinIO)):
			to = m.Endpoint
		case net.JoinHostPort(mesh, strconv.Itoa(daemon.PortQdrantGRPC)):
			to = qaddr
		default:
			return nil, errors.New("no route to " + addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}
	s, err := daemon.NewServiceStores(daemon.ServiceStoresConfig{DataDir: t.TempDir(), Dial: dial,
		Endpoint: func(string, string, string, int) (string, int) {
			t.Error("Endpoint used although Dial is set")
			return "127.0.0.1", 1
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	target := daemon.AgentTarget{Customer: "alpha", Services: schema.Services{MinIO: true, Qdrant: true}, Addresses: addrs,
		Secrets: map[string]string{reconciler.SecretMinIOAccessKey: m.AccessKey, reconciler.SecretMinIOSecretKey: m.SecretKey,
			reconciler.SecretQdrantAPIKey: key},
		Observed: []plan.Resource{{Kind: plan.ONEVM, Name: plan.DataVMName("alpha"), Customer: "alpha",
			Outputs: map[string]string{plan.OutputIP: "192.0.2.99"}}}} // unreachable on purpose
	if err := s.Health(ctx, target); err != nil {
		t.Fatalf("health through the hook: %v", err)
	}
	deps, release, err := s.For(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer release.Close()
	body := []byte("hello through the tunnel")
	if _, err := deps.Objects.Put(ctx, "alpha", "notes/a.txt", bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("put through the hook: %v", err)
	}
	if _, err := deps.Vectors.EnsureCollection(ctx, "alpha", agents.CollectionConfig{Embedder: "test", Sparse: true}); err != nil {
		t.Fatalf("qdrant through the hook: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	for _, d := range dialled {
		seen[d] = true
	}
	for _, want := range []string{"alpha " + net.JoinHostPort(mesh, "9000"), "alpha " + net.JoinHostPort(mesh, "6334")} {
		if !seen[want] {
			t.Errorf("never dialled %q (dialled %v)", want, dialled)
		}
	}
	if len(seen) != 2 {
		t.Errorf("dialled other addresses: %v", dialled)
	}

	// Without an address block there is nothing to dial.
	noBlock := target
	noBlock.Addresses = plan.Addresses{}
	if _, _, err := s.For(ctx, noBlock); !errors.Is(err, daemon.ErrNoDataEndpoint) {
		t.Errorf("no block: %v", err)
	}
}
