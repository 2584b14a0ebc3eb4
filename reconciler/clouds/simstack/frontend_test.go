package simstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/agentvdc/agentvdc/plan"
)

// userData is a cloud-config as the servers get it: optionally the
// front-end's key authorised for oneadmin (the way plan.RenderServerUserData
// writes it) and a node package installed from runcmd.
func userData(key, pkg string) string {
	ud := "#cloud-config\npackage_update: true\nwrite_files:\n"
	if key != "" {
		ud += "  - path: /var/lib/one/.ssh/authorized_keys.agentvdc\n    permissions: '0600'\n    content: |\n      " + key + "\n"
	}
	ud += "  - path: /etc/motd\n    content: hello\nruncmd:\n"
	if pkg != "" {
		ud += "  - apt-get install -y nfs-common " + pkg + " wireguard\n"
	}
	if key != "" {
		ud += "  - install -d -o oneadmin -g oneadmin -m 0700 /var/lib/one/.ssh\n" +
			"  - cat /var/lib/one/.ssh/authorized_keys.agentvdc >> /var/lib/one/.ssh/authorized_keys\n"
	}
	return ud
}

// TestHostsMonitoredFromWhatHetznerReceived registers OpenNebula hosts by
// Hetzner servers' public IPv4s, through goca and hcloud-go against the
// stack: a host becomes MONITORED (with its server type's capacity) only
// when its server's cloud-init authorises the front-end's key and
// installs its driver's node package, and a KVM host on a Hetzner Cloud
// server goes to ERROR (no /dev/kvm).
func TestHostsMonitoredFromWhatHetznerReceived(t *testing.T) {
	ctx := context.Background()
	st, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := st.FrontendSSHKey()
	if !strings.HasPrefix(key, "ssh-ed25519 AAAA") {
		t.Fatalf("front-end key %q", key)
	}
	other, err := frontendKey("")
	if err != nil {
		t.Fatal(err)
	}
	env := st.Env()
	hc := hcloud.NewClient(hcloud.WithEndpoint(env["HCLOUD_ENDPOINT"]), hcloud.WithToken(env["HCLOUD_TOKEN"]), hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(5 * time.Millisecond)}))
	one := goca.NewController(goca.NewClient(goca.NewConfig(env["ONE_USER"], env["ONE_PASSWORD"], env["ONE_XMLRPC"]), http.DefaultClient))

	tests := []struct {
		name, userData, driver string
		wantState, wantErr     string
	}{
		{"key and lxc node package", userData(key, "opennebula-node-lxc"), "lxc", "MONITORED", ""},
		{"kvm on a Hetzner Cloud server", userData(key, "opennebula-node-kvm"), "kvm", "ERROR", "KVM is not available"},
		{"front-end key missing", userData("", "opennebula-node-lxc"), "lxc", "ERROR", "Could not update remotes"},
		{"another front-end's key", userData(other, "opennebula-node-lxc"), "lxc", "ERROR", "Could not update remotes"},
		{"node package of another driver", userData(key, "opennebula-node-kvm"), "lxc", "ERROR", "opennebula-node-lxc is not installed"},
		{"not a cloud-config", "#!/bin/sh\necho " + key + " >> /var/lib/one/.ssh/authorized_keys\n", "lxc", "ERROR", "Could not update remotes"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := hc.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "srv-" + string(rune('a'+i)), ServerType: &hcloud.ServerType{Name: "cx32"},
				Image: &hcloud.Image{Name: "ubuntu-24.04"}, Location: &hcloud.Location{Name: "fsn1"}, UserData: tt.userData})
			if err != nil {
				t.Fatal(err)
			}
			if err := hc.Action.WaitFor(ctx, res.Action); err != nil {
				t.Fatal(err)
			}
			ip := res.Server.PublicNet.IPv4.IP.String()
			hid, err := one.Hosts().Create(ip, tt.driver, tt.driver, -1)
			if err != nil {
				t.Fatal(err)
			}
			state, msg, cpu := "", "", 0
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				h, err := one.Host(hid).Info(false)
				if err != nil {
					t.Fatal(err)
				}
				state, _ = h.StateString()
				msg, _ = h.Template.GetStr("ERROR")
				cpu = h.Share.TotalCPU
				if state != "INIT" {
					break
				}
			}
			if state != tt.wantState || !strings.Contains(msg, tt.wantErr) {
				t.Fatalf("host state %s %q, want %s %q", state, msg, tt.wantState, tt.wantErr)
			}
			if state == "MONITORED" && cpu != 400 { // cx32: 4 cores
				t.Errorf("TOTAL_CPU %d, want 400 (the server type's 4 cores)", cpu)
			}
		})
	}

	// a host whose address no server has cannot be reached
	hid, err := one.Hosts().Create("198.51.100.99", "lxc", "lxc", -1)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := one.Host(hid).Info(false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if h, _ := one.Host(hid).Info(false); h.StateRaw != 3 {
		t.Errorf("host of no server: state %d, want ERROR (3)", h.StateRaw)
	}
}

// TestProbeReadsRenderedUserData: the probe finds the front-end key in
// the user-data plan.RenderServerUserData renders (today's format: a
// written file appended to oneadmin's authorized_keys by runcmd), and the
// node packages it installs.
func TestProbeReadsRenderedUserData(t *testing.T) {
	key, err := frontendKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	wg := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	a, err := plan.ParseBlock(netip.MustParsePrefix(plan.DefaultAddressPool), "10.64.0.0/24")
	if err != nil {
		t.Fatal(err)
	}
	b := plan.ServerBootstrapFor("acme", 1, a)
	ud, err := plan.RenderServerUserData(b, plan.ServerSecrets{WireGuardPrivateKey: wg(), StoragePublicKey: wg(), StorageEndpoint: "198.51.100.1", FrontendSSHKey: key})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := parseCloudConfig(string(ud))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(key)
	if !cc.authorises(f[0] + " " + f[1]) {
		t.Errorf("rendered user-data does not authorise the front-end key:\n%s", ud)
	}
	for _, pkg := range b.Packages {
		if strings.HasPrefix(pkg, "opennebula-node-") && !cc.installs(pkg) {
			t.Errorf("rendered user-data does not install %s", pkg)
		}
	}
	// Another key is not the front-end's: the probe must not accept it.
	other, err := plan.RenderServerUserData(b, plan.ServerSecrets{WireGuardPrivateKey: wg(), StoragePublicKey: wg(), StorageEndpoint: "198.51.100.1",
		FrontendSSHKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl someone@else"})
	if err != nil {
		t.Fatal(err)
	}
	if cc, err := parseCloudConfig(string(other)); err != nil || cc.authorises(f[0]+" "+f[1]) {
		t.Errorf("user-data with another key authorises the front-end's (%v)", err)
	}
}

// TestFrontendKeySurvivesRestart: the key is kept in the data dir.
func TestFrontendKeySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	st, err := Start(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	k := st.FrontendSSHKey()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := Start(Options{DataDir: dir, Latency: LatencyRealistic})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if st2.FrontendSSHKey() != k {
		t.Errorf("key changed across a restart: %q → %q", k, st2.FrontendSSHKey())
	}
	// what `vdc sim` exports for vdc apply/serve in another shell
	if b, err := os.ReadFile(st2.Env()["VDC_FRONTEND_SSH_KEY"]); err != nil || strings.TrimSpace(string(b)) != k {
		t.Errorf("VDC_FRONTEND_SSH_KEY file: %q %v", b, err)
	}
	if _, err := Start(Options{Latency: "slow"}); err == nil || !strings.Contains(err.Error(), `latency profile "slow"`) {
		t.Errorf("unknown latency profile: %v", err)
	}
}
