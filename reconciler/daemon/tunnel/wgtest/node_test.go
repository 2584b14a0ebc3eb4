package wgtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

var lo = netip.MustParseAddrPort("127.0.0.1:0")

func start(t *testing.T, conf string, opts Options) *Node {
	t.Helper()
	opts.Listen = lo
	n, err := Start([]byte(conf), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

func keys(t *testing.T) (string, string) {
	t.Helper()
	priv, pub, err := KeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// TestHubForwardsBetweenSpokes: spoke A reaches a service that spoke B
// exposes from a real 127.0.0.1 server, only through the hub; without
// forwarding the same dial times out.
func TestHubForwardsBetweenSpokes(t *testing.T) {
	real, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	go func() {
		for {
			c, err := real.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }() // echo
		}
	}()

	for _, forward := range []bool{true, false} {
		t.Run(fmt.Sprintf("forward=%v", forward), func(t *testing.T) {
			hubPriv, hubPub := keys(t)
			aPriv, aPub := keys(t)
			bPriv, bPub := keys(t)
			hub := start(t, fmt.Sprintf("[Interface]\nAddress = 10.64.0.1/25\nPrivateKey = %s\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.64.0.2/32\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.64.0.3/32\n",
				hubPriv, aPub, bPub), Options{Forward: forward})
			spoke := func(priv, addr string) *Node {
				return start(t, fmt.Sprintf("[Interface]\nAddress = %s/25\nPrivateKey = %s\n[Peer]\nPublicKey = %s\nEndpoint = storage.example:51820\nAllowedIPs = 10.64.0.0/25\nPersistentKeepalive = 25\n",
					addr, priv, hubPub), Options{Endpoints: map[string]netip.AddrPort{"storage.example:51820": hub.Addr()}})
			}
			a, b := spoke(aPriv, "10.64.0.2"), spoke(bPriv, "10.64.0.3")
			if err := b.Expose("10.64.0.3:7687", real.Addr().String()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := hub.WaitHandshake(ctx, bPub); err != nil {
				t.Fatal(err)
			}
			if !forward {
				ctx, cancel = context.WithTimeout(ctx, time.Second)
				defer cancel()
			}
			c, err := a.DialContext(ctx, "tcp", "10.64.0.3:7687")
			if !forward {
				if err == nil {
					c.Close()
					t.Fatal("reached spoke B through a hub that does not forward")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, "ping through the hub"); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len("ping through the hub"))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping through the hub" {
				t.Fatalf("echo = %q, %v", got, err)
			}
			if _, err := a.Listen("tcp", "10.64.0.3:1"); err == nil {
				t.Fatal("listened on another node's address")
			}
		})
	}
}
