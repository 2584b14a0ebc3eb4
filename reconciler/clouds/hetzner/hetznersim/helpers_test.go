package hetznersim

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// harness is a simulator behind a loopback HTTP server and a real client.
type harness struct {
	sim    *Server
	ts     *httptest.Server
	client *hcloud.Client
}

func fastClientOpts(ts *httptest.Server, token string) []hcloud.ClientOption {
	return []hcloud.ClientOption{
		hcloud.WithEndpoint(ts.URL + "/v1"),
		hcloud.WithToken(token),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(2 * time.Millisecond)}),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(0), MaxRetries: 0}),
	}
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	sim, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(func() {
		ts.Close()
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &harness{sim: sim, ts: ts, client: hcloud.NewClient(fastClientOpts(ts, sim.Token())...)}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createNetworkFirewallKey creates a network "n", a firewall "f" and an
// SSH key "k".
func (h *harness) createNetworkFirewallKey(t *testing.T) (*hcloud.Network, hcloud.FirewallCreateResult, *hcloud.SSHKey) {
	t.Helper()
	ctx := ctxT(t)
	nw, _, err := h.client.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "n", IPRange: mustCIDR(t, "10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	fw, _, err := h.client.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "f"})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := h.client.SSHKey.Create(ctx, hcloud.SSHKeyCreateOpts{Name: "k", PublicKey: sshPublicKey(9)})
	if err != nil {
		t.Fatal(err)
	}
	return nw, fw, key
}

// createServer creates a server and waits for all its actions.
func (h *harness) createServer(t testing.TB, name string, labels map[string]string) *hcloud.Server {
	t.Helper()
	ctx := ctxT(t)
	res, _, err := h.client.Server.Create(ctx, hcloud.ServerCreateOpts{
		Name: name, ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
		Location: &hcloud.Location{Name: "fsn1"}, Labels: labels,
	})
	if err != nil {
		t.Fatalf("create server %s: %v", name, err)
	}
	if err := h.client.Action.WaitFor(ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		t.Fatalf("wait for server %s: %v", name, err)
	}
	return res.Server
}

// sshPublicKey builds a valid OpenSSH ed25519 public key line from a seed.
func sshPublicKey(seed byte) string {
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	pub := ed25519.NewKeyFromSeed(s).Public().(ed25519.PublicKey)
	var blob []byte
	put := func(b []byte) {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(b)))
		blob = append(blob, b...)
	}
	put([]byte("ssh-ed25519"))
	put(pub)
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " test@example"
}

func mustAPIError(t *testing.T, err error, code hcloud.ErrorCode) {
	t.Helper()
	if !hcloud.IsError(err, code) {
		t.Fatalf("want hcloud error %q, got %v", code, err)
	}
}

// newLoopback serves h on 127.0.0.1 and closes it at the end of the test.
func newLoopback(t testing.TB, h http.Handler) *httptest.Server {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}
