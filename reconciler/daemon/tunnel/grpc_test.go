package tunnel_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"

	"github.com/agentvdc/agentvdc/agents/qdrant/qdrantsim"
	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel"
)

// TestQdrantGRPCThroughTunnel: Qdrant's Go client (gRPC, HTTP/2) reaches
// the Qdrant simulator behind the data VM's B.3:6334 through the tunnel.
func TestQdrantGRPCThroughTunnel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, stop, err := qdrantsim.Start(ctx, qdrantsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	m := startMesh(t, "10.64.9.0/24", "")
	target := m.dataServed.Addr().String() + ":6334"
	if err := m.data.Expose(target, addr); err != nil {
		t.Fatal(err)
	}
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": m.cfg}), tunnel.Options{Listen: loopback, LoopbackOnly: true})
	defer p.Close()
	qc, err := qdrant.NewClient(&qdrant.Config{
		Host: m.dataServed.Addr().String(), Port: 6334, SkipCompatibilityCheck: true,
		GrpcOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return p.DialContext(ctx, "acme", "tcp", a)
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	if err := qc.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "acme_chunks",
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 4, Distance: qdrant.Distance_Cosine})}); err != nil {
		t.Fatal(err)
	}
	names, err := qc.ListCollections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "acme_chunks" {
		t.Fatalf("collections = %v", names)
	}
	if s := p.Stats(); s.Opens != 1 || s.DialFailures != 0 {
		t.Fatalf("stats = %+v", s)
	}
}
