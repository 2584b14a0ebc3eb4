package tunnel_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel"
)

// BenchmarkTunnelOpen: from the first dial of a closed tunnel to an
// established TCP connection to the data VM: device start, WireGuard
// handshake with the hub, TCP handshake forwarded by the hub.
func BenchmarkTunnelOpen(b *testing.B) {
	m := startMesh(b, "10.64.0.0/24", dataServer(b, "acme", nil).Listener.Addr().String())
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": m.cfg}), tunnel.Options{Listen: loopback, LoopbackOnly: true})
	defer p.Close()
	ctx := context.Background()
	for b.Loop() {
		c, err := p.DialContext(ctx, "acme", "tcp", m.dataServed.String())
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c.Close()
		p.Forget("acme")
		// The hub ignores a new initiation from the same key within 20ms
		// (flood guard); a real reopen comes after IdleTimeout.
		time.Sleep(25 * time.Millisecond)
		b.StartTimer()
	}
}

// BenchmarkHTTPTransfer: MB/s of a 16 MiB HTTP download from the data
// VM's server, directly on 127.0.0.1 (the baseline) and through the
// control plane's tunnel and the hub's forwarding.
func BenchmarkHTTPTransfer(b *testing.B) {
	const size = 16 << 20
	srv := dataServer(b, "acme", payload(size))
	m := startMesh(b, "10.64.0.0/24", srv.Listener.Addr().String())
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": m.cfg}), tunnel.Options{Listen: loopback, LoopbackOnly: true})
	defer p.Close()
	for _, tc := range []struct {
		name, url string
		client    *http.Client
	}{
		{"direct", srv.URL + "/big", srv.Client()},
		{"tunnel", "http://" + m.dataServed.String() + "/big", httpVia(p, "acme")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			defer tc.client.CloseIdleConnections()
			b.SetBytes(size)
			for b.Loop() {
				resp, err := tc.client.Get(tc.url)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != size {
					b.Fatalf("read %d of %d bytes: %v", n, size, err)
				}
			}
		})
	}
}
