package simstack

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	v3 "github.com/exoscale/egoscale/v3"
	"github.com/exoscale/egoscale/v3/credentials"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// TestStackServesAllThreeToTheRealClients starts the stack, points each
// real client at it with the printed environment, and restarts it from the
// data dir.
func TestStackServesAllThreeToTheRealClients(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Start(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	env := st.Env()
	for _, k := range []string{"HCLOUD_TOKEN", "HCLOUD_ENDPOINT", "EXOSCALE_API_KEY", "EXOSCALE_API_SECRET", "EXOSCALE_API_ENDPOINT", "ONE_XMLRPC", "ONEFLOW_URL", "ONE_AUTH"} {
		if env[k] == "" {
			t.Errorf("Env lacks %s", k)
		}
		if !strings.Contains(st.ExportLines(), "export "+k+"=") {
			t.Errorf("ExportLines lacks %s", k)
		}
	}

	hc := hcloud.NewClient(hcloud.WithEndpoint(env["HCLOUD_ENDPOINT"]), hcloud.WithToken(env["HCLOUD_TOKEN"]))
	res, _, err := hc.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "n1", IPRange: mustCIDR(t, "10.0.0.0/16"), Labels: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}

	exo, err := v3.NewClient(credentials.NewStaticCredentials(env["EXOSCALE_API_KEY"], env["EXOSCALE_API_SECRET"]), v3.ClientOptWithEndpoint(v3.Endpoint(env["EXOSCALE_API_ENDPOINT"])))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exo.ListInstances(ctx); err != nil {
		t.Fatalf("exoscale: %v", err)
	}

	one := goca.NewController(goca.NewClient(goca.NewConfig(env["ONE_USER"], env["ONE_PASSWORD"], env["ONE_XMLRPC"]), http.DefaultClient))
	gid, err := one.Groups().Create("g1")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2, err := Start(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	env2 := st2.Env()
	if env2["HCLOUD_TOKEN"] != env["HCLOUD_TOKEN"] || env2["EXOSCALE_API_SECRET"] != env["EXOSCALE_API_SECRET"] {
		t.Error("credentials changed across a restart")
	}
	hc2 := hcloud.NewClient(hcloud.WithEndpoint(env2["HCLOUD_ENDPOINT"]), hcloud.WithToken(env2["HCLOUD_TOKEN"]))
	n, _, err := hc2.Network.GetByID(ctx, res.ID)
	if err != nil || n == nil || n.Name != "n1" {
		t.Fatalf("network after restart: %v %v", n, err)
	}
	one2 := goca.NewController(goca.NewClient(goca.NewConfig(env2["ONE_USER"], env2["ONE_PASSWORD"], env2["ONE_XMLRPC"]), http.DefaultClient))
	if g, err := one2.Group(gid).Info(false); err != nil || g.Name != "g1" {
		t.Fatalf("group after restart: %v %v", g, err)
	}
}
func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
