package tunnel_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel"
	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// httpVia is an HTTP client whose connections go through the pool.
func httpVia(p *tunnel.Pool, customer string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: p.Dialer(customer)}}
}

// payload is deterministic bytes of n length.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func dataServer(t testing.TB, name string, big []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/who":
			io.WriteString(w, name)
		case "/big":
			w.Write(big)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDialThroughHub(t *testing.T) {
	big := payload(4 << 20)
	srv := dataServer(t, "acme data VM", big)
	m := startMesh(t, "10.64.0.0/24", srv.Listener.Addr().String())
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": m.cfg}), tunnel.Options{Listen: loopback, LoopbackOnly: true, Log: log})
	defer p.Close()
	c := httpVia(p, "acme")
	defer c.CloseIdleConnections()

	get := func(path string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+m.dataServed.String()+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return b
	}
	if got := string(get("/who")); got != "acme data VM" {
		t.Fatalf("GET /who = %q", got)
	}
	// Thousands of forwarded packets: TTL and checksum rewriting at the
	// hub must keep every one intact.
	if got := get("/big"); sha256.Sum256(got) != sha256.Sum256(big) {
		t.Fatalf("GET /big: %d bytes, differ from the %d served", len(got), len(big))
	}
	s := p.Stats()
	if s.Tunnels != 1 || s.Opens != 1 || s.DialFailures != 0 || s.Dials < 1 {
		t.Fatalf("stats = %+v, want one tunnel opened once and no failed dial", s)
	}
	if m.hub.LastHandshake(m.cpPub).IsZero() {
		t.Fatal("the hub has no handshake with the control plane")
	}
	in, ok := p.Info("acme")
	if !ok || in.LastHandshake.IsZero() || in.Endpoint != m.hub.Addr() || !in.Local.Addr().IsLoopback() || in.Opened.IsZero() {
		t.Fatalf("Info = %+v, %v: want an open tunnel with a handshake to the hub", in, ok)
	}
	if _, ok := p.Info("bolt"); ok {
		t.Fatal("Info reports a tunnel for a customer that never dialled")
	}
	c.CloseIdleConnections()
	p.Forget("acme")
	out := logs.String()
	if !strings.Contains(out, "tunnel opened") || !strings.Contains(out, "Sending handshake initiation") {
		t.Fatalf("debug log lacks the pool's and wireguard-go's events:\n%s", out)
	}
	raw, _ := base64.StdEncoding.DecodeString(m.cpPriv)
	for _, secret := range []string{m.cpPriv, hex.EncodeToString(raw), m.cpPriv[:12]} {
		if strings.Contains(out, secret) {
			t.Fatalf("the log carries the control plane's private key:\n%s", out)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the pool's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dial opens a TCP connection to the customer's data VM through the pool.
func dial(t *testing.T, p *tunnel.Pool, customer string, m *mesh) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := p.DialContext(ctx, customer, "tcp", m.dataServed.String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// roundTrip proves a connection reaches the data VM's HTTP server.
func roundTrip(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), want) {
		t.Fatalf("response %q does not end in %q", b, want)
	}
}

func TestSecondCustomerCannotReachFirst(t *testing.T) {
	a := startMesh(t, "10.64.0.0/24", dataServer(t, "acme", nil).Listener.Addr().String())
	b := startMesh(t, "10.64.1.0/24", dataServer(t, "bolt", nil).Listener.Addr().String())
	c := startMesh(t, "10.64.2.0/24", dataServer(t, "cask", nil).Listener.Addr().String())

	// Misconfigurations that the pool's AllowedIPs check would not
	// catch: c's tunnel claiming the whole pool (so only c's hub stands
	// between it and a), and b's key presented to a's hub.
	wide := c.cfg
	wide.Peer.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.64.0.0/10")}
	atA := b.cfg
	atA.Peer.PublicKey, atA.Peer.Endpoint = a.cfg.Peer.PublicKey, a.cfg.Peer.Endpoint
	atA.Peer.AllowedIPs = a.cfg.Peer.AllowedIPs
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{
		"acme": a.cfg, "bolt": b.cfg, "cask-wide": wide, "bolt-at-acme": atA,
	}), tunnel.Options{Listen: loopback, LoopbackOnly: true})
	defer p.Close()

	// Each tunnel reaches its own customer's data VM, so the failures
	// below are the isolation, not a broken setup.
	roundTrip(t, dial(t, p, "acme", a), "acme")
	roundTrip(t, dial(t, p, "bolt", b), "bolt")
	roundTrip(t, dial(t, p, "cask-wide", c), "cask")

	t.Run("refused outside AllowedIPs", func(t *testing.T) {
		before := p.Stats()
		_, err := p.DialContext(context.Background(), "bolt", "tcp", a.dataServed.String())
		if !errors.Is(err, tunnel.ErrOutsideAllowedIPs) {
			t.Fatalf("err = %v, want ErrOutsideAllowedIPs", err)
		}
		if s := p.Stats(); s.Refused != before.Refused+1 || s.Opens != before.Opens {
			t.Fatalf("stats %+v after %+v: want one refusal and no tunnel opened", s, before)
		}
	})
	unreachable := func(t *testing.T, customer string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		conn, err := p.DialContext(ctx, customer, "tcp", a.dataServed.String())
		if err == nil {
			conn.Close()
			t.Fatal("connected to the first customer's data VM")
		}
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "refused") {
			t.Fatalf("err = %v, want a timeout or a refusal", err)
		}
	}
	t.Run("another hub does not route to a's block", func(t *testing.T) {
		unreachable(t, "cask-wide")
		if in, ok := p.Info("cask-wide"); !ok || in.LastHandshake.IsZero() {
			t.Fatalf("Info = %+v, %v: the tunnel should be up, its hub only not routing", in, ok)
		}
	})
	t.Run("a's hub does not accept b's key", func(t *testing.T) {
		unreachable(t, "bolt-at-acme")
		if !a.hub.LastHandshake(b.cpPub).IsZero() {
			t.Fatal("a's hub completed a handshake with b's control plane key")
		}
	})
}

func TestDialRefusedBeforeSending(t *testing.T) {
	m := startMesh(t, "10.64.0.0/24", "")
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": m.cfg}), tunnel.Options{Listen: loopback, LoopbackOnly: true})
	defer p.Close()
	for _, tc := range []struct {
		network, addr string
		want          error
	}{
		{"tcp", "10.64.0.200:9000", tunnel.ErrOutsideAllowedIPs}, // B.128/25, the VDC network: not the mesh
		{"tcp", "10.64.1.3:9000", tunnel.ErrOutsideAllowedIPs},
		{"tcp", "127.0.0.1:9000", tunnel.ErrOutsideAllowedIPs},
		{"tcp", "data.acme:9000", tunnel.ErrBadAddress},
		{"tcp", "10.64.0.3", tunnel.ErrBadAddress},
		{"unix", "10.64.0.3:9000", tunnel.ErrBadAddress},
	} {
		_, err := p.DialContext(context.Background(), "acme", tc.network, tc.addr)
		if !errors.Is(err, tc.want) {
			t.Errorf("dial %s %s: err = %v, want %v", tc.network, tc.addr, err, tc.want)
		}
	}
	if s := p.Stats(); s.Opens != 0 || s.Tunnels != 0 || s.DialFailures != 6 {
		t.Fatalf("stats = %+v: want no tunnel and 6 failed dials", s)
	}
	if !m.hub.LastHandshake(m.cpPub).IsZero() {
		t.Fatal("the hub heard from the control plane")
	}
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestIdleTunnelCloses(t *testing.T) {
	m := startMesh(t, "10.64.0.0/24", dataServer(t, "acme", nil).Listener.Addr().String())
	clk := &clock{now: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": m.cfg}),
		tunnel.Options{Listen: loopback, LoopbackOnly: true, IdleTimeout: time.Minute, Now: clk.Now})
	defer p.Close()

	c := dial(t, p, "acme", m)
	clk.Add(time.Hour)
	p.Sweep()
	if s := p.Stats(); s.Tunnels != 1 || s.IdleClosed != 0 {
		t.Fatalf("stats = %+v: a tunnel with an open connection was closed", s)
	}
	roundTrip(t, c, "acme") // still usable after the sweep
	c.Close()
	clk.Add(59 * time.Second)
	p.Sweep()
	if s := p.Stats(); s.Tunnels != 1 {
		t.Fatalf("stats = %+v: closed before IdleTimeout", s)
	}
	clk.Add(time.Second)
	p.Sweep()
	if s := p.Stats(); s.Tunnels != 0 || s.IdleClosed != 1 {
		t.Fatalf("stats = %+v: want the idle tunnel closed", s)
	}
	// The next dial opens it again. The hub drops a second handshake
	// initiation from one key within 20ms of the first (wireguard-go's
	// flood guard; timestamps are whitened to 16ms) and retries only after
	// 5s, so let that window pass: a real reopen comes minutes later.
	time.Sleep(30 * time.Millisecond)
	roundTrip(t, dial(t, p, "acme", m), "acme")
	if s := p.Stats(); s.Opens != 2 || s.Tunnels != 1 {
		t.Fatalf("stats = %+v: want a second open", s)
	}
}

func TestMaxTunnels(t *testing.T) {
	a := startMesh(t, "10.64.0.0/24", dataServer(t, "acme", nil).Listener.Addr().String())
	b := startMesh(t, "10.64.1.0/24", dataServer(t, "bolt", nil).Listener.Addr().String())
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": a.cfg, "bolt": b.cfg}),
		tunnel.Options{Listen: loopback, LoopbackOnly: true, MaxTunnels: 1})
	defer p.Close()

	ca := dial(t, p, "acme", a)
	_, err := p.DialContext(context.Background(), "bolt", "tcp", b.dataServed.String())
	if !errors.Is(err, tunnel.ErrTooManyTunnels) {
		t.Fatalf("err = %v, want ErrTooManyTunnels while acme's connection is open", err)
	}
	if !strings.Contains(err.Error(), "at most 1") {
		t.Fatalf("err = %v: does not say the bound", err)
	}
	roundTrip(t, ca, "acme") // not cut off
	ca.Close()
	roundTrip(t, dial(t, p, "bolt", b), "bolt")
	if s := p.Stats(); s.Tunnels != 1 || s.Evicted != 1 || s.Opens != 2 || s.Refused != 1 {
		t.Fatalf("stats = %+v: want acme evicted for bolt, one refusal", s)
	}
}

func TestBadConfig(t *testing.T) {
	priv, pub := keyPair(t)
	_, hubPub := keyPair(t)
	good := tunnel.Config{
		PrivateKey: priv, Address: netip.MustParseAddr("10.64.0.2"),
		Peer: tunnel.Peer{PublicKey: hubPub, Endpoint: netip.MustParseAddrPort("127.0.0.1:51820"),
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.64.0.0/25")}},
	}
	badKey := priv[:40] + "!!!!" // right length, not base64
	for _, tc := range []struct {
		name  string
		edit  func(*tunnel.Config)
		field string
	}{
		{"private key not base64", func(c *tunnel.Config) { c.PrivateKey = badKey }, "PrivateKey"},
		{"private key too short", func(c *tunnel.Config) { c.PrivateKey = priv[:20] }, "PrivateKey"},
		{"private key missing", func(c *tunnel.Config) { c.PrivateKey = "" }, "PrivateKey"},
		{"peer key not base64", func(c *tunnel.Config) { c.Peer.PublicKey = badKey }, "Peer.PublicKey"},
		{"peer key is our own", func(c *tunnel.Config) { c.Peer.PublicKey = pub }, "Peer.PublicKey"},
		{"preshared key bad", func(c *tunnel.Config) { c.Peer.PresharedKey = badKey }, "Peer.PresharedKey"},
		{"no endpoint", func(c *tunnel.Config) { c.Peer.Endpoint = netip.AddrPort{} }, "Peer.Endpoint"},
		{"endpoint port 0", func(c *tunnel.Config) { c.Peer.Endpoint = netip.MustParseAddrPort("127.0.0.1:0") }, "Peer.Endpoint"},
		{"endpoint unspecified", func(c *tunnel.Config) { c.Peer.Endpoint = netip.MustParseAddrPort("0.0.0.0:51820") }, "Peer.Endpoint"},
		{"no address", func(c *tunnel.Config) { c.Address = netip.Addr{} }, "Address"},
		{"no AllowedIPs", func(c *tunnel.Config) { c.Peer.AllowedIPs = nil }, "Peer.AllowedIPs"},
		{"negative keepalive", func(c *tunnel.Config) { c.Peer.PersistentKeepalive = -time.Second }, "Peer.PersistentKeepalive"},
		{"MTU too small", func(c *tunnel.Config) { c.MTU = 100 }, "MTU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			cfg.Peer.AllowedIPs = slices.Clone(good.Peer.AllowedIPs)
			tc.edit(&cfg)
			p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": cfg}), tunnel.Options{Listen: loopback, LoopbackOnly: true})
			defer p.Close()
			_, err := p.DialContext(context.Background(), "acme", "tcp", "10.64.0.3:9000")
			if !errors.Is(err, tunnel.ErrBadConfig) {
				t.Fatalf("err = %v, want ErrBadConfig", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.field) || !strings.Contains(msg, "acme") {
				t.Fatalf("err = %q: does not name customer acme and field %s", msg, tc.field)
			}
			for _, secret := range []string{priv, priv[:20], badKey, cfg.Peer.PublicKey, cfg.Peer.PresharedKey} {
				if len(secret) >= 8 && strings.Contains(msg, secret) {
					t.Fatalf("err = %q carries key material", msg)
				}
			}
			if s := p.Stats(); s.Opens != 0 || s.OpenFailures != 1 {
				t.Fatalf("stats = %+v: want one failed open", s)
			}
		})
	}
	t.Run("resolver error", func(t *testing.T) {
		p := tunnel.NewPool(resolver(nil), tunnel.Options{Listen: loopback, LoopbackOnly: true})
		defer p.Close()
		_, err := p.DialContext(context.Background(), "ghost", "tcp", "10.64.0.3:9000")
		if err == nil || !strings.Contains(err.Error(), `no customer "ghost"`) {
			t.Fatalf("err = %v, want the resolver's error", err)
		}
	})
}

func TestConfigChangeReopens(t *testing.T) {
	a := startMesh(t, "10.64.0.0/24", dataServer(t, "first", nil).Listener.Addr().String())
	b := startMesh(t, "10.64.0.0/24", dataServer(t, "second", nil).Listener.Addr().String())
	var mu sync.Mutex
	cur := a.cfg
	p := tunnel.NewPool(func(context.Context, string) (tunnel.Config, error) {
		mu.Lock()
		defer mu.Unlock()
		return cur, nil
	}, tunnel.Options{Listen: loopback, LoopbackOnly: true})
	defer p.Close()

	old := dial(t, p, "acme", a)
	// The storage node is replaced: new keys, new address.
	mu.Lock()
	cur = b.cfg
	mu.Unlock()
	roundTrip(t, dial(t, p, "acme", b), "second")
	old.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := old.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on the old tunnel's connection: %v, want it closed", err)
	}
	if s := p.Stats(); s.Opens != 2 || s.Tunnels != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	m := startMesh(t, "10.64.0.0/24", dataServer(t, "acme", nil).Listener.Addr().String())
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": m.cfg}), tunnel.Options{Listen: loopback, LoopbackOnly: true})
	c := dial(t, p, "acme", m)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after Close: %v, want the connection closed", err)
	}
	if _, err := p.DialContext(context.Background(), "acme", "tcp", m.dataServed.String()); !errors.Is(err, tunnel.ErrClosed) {
		t.Fatalf("dial after Close: %v, want ErrClosed", err)
	}
}

// TestConcurrentDials: dials racing to open one customer's tunnel share
// it (one open), and each customer keeps its own.
func TestConcurrentDials(t *testing.T) {
	a := startMesh(t, "10.64.0.0/24", dataServer(t, "acme", nil).Listener.Addr().String())
	b := startMesh(t, "10.64.1.0/24", dataServer(t, "bolt", nil).Listener.Addr().String())
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": a.cfg, "bolt": b.cfg}),
		tunnel.Options{Listen: loopback, LoopbackOnly: true, MaxTunnels: 2})
	defer p.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			customer, m := "acme", a
			if i%2 == 1 {
				customer, m = "bolt", b
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := p.DialContext(ctx, customer, "tcp", m.dataServed.String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			got, err := io.ReadAll(c)
			if err != nil || !strings.HasSuffix(string(got), customer) {
				errs <- fmt.Errorf("%s: response %q, %v", customer, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := p.Stats(); s.Opens != 2 || s.Tunnels != 2 || s.Conns != 0 || s.Dials != 16 {
		t.Fatalf("stats = %+v: want 2 tunnels opened once each, 16 dials, no open connection", s)
	}
}

// TestSimulatedEndpoint: the resolver gives the storage node's public
// address as the simulators report it; Options.Endpoint maps it to the
// userspace hub, and LoopbackOnly refuses any address it does not map.
func TestSimulatedEndpoint(t *testing.T) {
	m := startMesh(t, "10.64.0.0/24", dataServer(t, "acme", nil).Listener.Addr().String())
	public := netip.MustParseAddrPort(storagePublic)
	cfg := m.cfg
	cfg.Peer.Endpoint = public
	cfgs := map[string]tunnel.Config{"acme": cfg, "bolt": cfg}
	p := tunnel.NewPool(resolver(cfgs), tunnel.Options{Listen: loopback, LoopbackOnly: true,
		Endpoint: func(customer string, ep netip.AddrPort) netip.AddrPort {
			if customer == "acme" && ep == public {
				return m.hub.Addr()
			}
			return ep
		}})
	defer p.Close()
	roundTrip(t, dial(t, p, "acme", m), "acme")
	_, err := p.DialContext(context.Background(), "bolt", "tcp", m.dataServed.String())
	if !errors.Is(err, tunnel.ErrBadConfig) || !strings.Contains(err.Error(), "loopback-only") {
		t.Fatalf("unmapped public endpoint: err = %v, want it refused as loopback-only", err)
	}
	if s := p.Stats(); s.Opens != 1 {
		t.Fatalf("stats = %+v: want only acme's tunnel opened", s)
	}
}

func TestConfigNeverPrintsKeys(t *testing.T) {
	priv, _ := keyPair(t)
	psk, _ := keyPair(t)
	_, hubPub := keyPair(t)
	c := tunnel.Config{PrivateKey: priv, Address: netip.MustParseAddr("10.64.0.2"),
		Peer: tunnel.Peer{PublicKey: hubPub, PresharedKey: psk, Endpoint: netip.MustParseAddrPort("127.0.0.1:51820"),
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.64.0.0/25")}}}
	var logs syncBuffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", &c), logs.String()} {
		if strings.Contains(out, priv) || strings.Contains(out, psk) {
			t.Fatalf("printed configuration carries a secret key: %s", out)
		}
		if !strings.Contains(out, hubPub) {
			t.Fatalf("printed configuration lacks the hub's public key: %s", out)
		}
	}
}
