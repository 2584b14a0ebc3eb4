package tunnel_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel"
)

// TestLocalForward: a client that can only dial an address (the Neo4j
// driver) reaches the data VM through a loopback forward; the forward
// opens the tunnel only when a connection arrives and stops with Close.
func TestLocalForward(t *testing.T) {
	m := startMesh(t, "10.64.0.0/24", dataServer(t, "acme", nil).Listener.Addr().String())
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": m.cfg}), tunnel.Options{Listen: loopback, LoopbackOnly: true})
	defer p.Close()
	ctx := context.Background()

	if _, err := p.LocalForward(ctx, "acme", "10.64.1.3:7687"); !errors.Is(err, tunnel.ErrOutsideAllowedIPs) {
		t.Fatalf("forward outside the mesh: err = %v, want ErrOutsideAllowedIPs", err)
	}
	f, err := p.LocalForward(ctx, "acme", m.dataServed.String())
	if err != nil {
		t.Fatal(err)
	}
	if !f.Addr().Addr().IsLoopback() {
		t.Fatalf("forward listens on %s, want loopback only", f.Addr())
	}
	if s := p.Stats(); s.Opens != 0 {
		t.Fatalf("stats = %+v: the forward opened the tunnel before any connection", s)
	}
	for range 2 {
		c, err := net.DialTimeout("tcp", f.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c, "acme")
		c.Close()
	}
	if s := p.Stats(); s.Opens != 1 || s.Dials != 2 {
		t.Fatalf("stats = %+v: want one tunnel for two relayed connections", s)
	}
	held, err := net.DialTimeout("tcp", f.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	p.Forget("acme") // a removed customer: its forward goes too
	held.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := held.Read(make([]byte, 1)); err == nil {
		t.Fatal("relayed connection survived Forget")
	}
	if c, err := net.DialTimeout("tcp", f.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("forward still accepts after Forget")
	}
}
