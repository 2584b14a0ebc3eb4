package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// testKey derives a deterministic key pair from a label.
func testKey(t *testing.T, label string) (priv, pub string) {
	t.Helper()
	priv = WireGuardPrivateKey(sha256.Sum256([]byte(label)))
	pub, err := WireGuardPublicKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func TestWireGuardPublicKeyRFC7748(t *testing.T) {
	// RFC 7748 section 6.1, Alice.
	priv, _ := hex.DecodeString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	want, _ := hex.DecodeString("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
	got, err := WireGuardPublicKey(base64.StdEncoding.EncodeToString(priv))
	if err != nil || got != base64.StdEncoding.EncodeToString(want) {
		t.Fatalf("public key %q, %v", got, err)
	}
	if _, err := WireGuardPublicKey("not-a-key"); !errors.Is(err, ErrBadSecret) || strings.Contains(err.Error(), "not-a-key") {
		t.Fatalf("bad key: %v", err)
	}
}

type parsedCloudConfig struct {
	Packages   []string `yaml:"packages"`
	WriteFiles []struct {
		Path, Permissions, Content string
	} `yaml:"write_files"`
	RunCmd []string `yaml:"runcmd"`
}

func parseUserData(t *testing.T, b []byte) parsedCloudConfig {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("#cloud-config\n")) {
		t.Fatalf("user data does not start with #cloud-config: %.40q", b)
	}
	var cc parsedCloudConfig
	if err := yaml.Unmarshal(b, &cc); err != nil {
		t.Fatalf("user data is not YAML: %v", err)
	}
	return cc
}

func file(t *testing.T, cc parsedCloudConfig, path string) string {
	t.Helper()
	for _, f := range cc.WriteFiles {
		if f.Path == path {
			return f.Content
		}
	}
	t.Fatalf("no file %s", path)
	return ""
}

func TestRenderServerUserData(t *testing.T) {
	srvPriv, _ := testKey(t, "srv-2")
	_, stPub := testKey(t, "storage")
	b := ServerBootstrapFor("acme", 2, addrsOf("acme"))
	ud, err := RenderServerUserData(b, ServerSecrets{WireGuardPrivateKey: srvPriv, StoragePublicKey: stPub,
		StorageEndpoint: "203.0.113.7", FrontendSSHKey: "ssh-ed25519 AAAA frontend"})
	if err != nil {
		t.Fatal(err)
	}
	cc := parseUserData(t, ud)
	wg := file(t, cc, "/etc/wireguard/wg0.conf")
	for _, want := range []string{"Address = 10.64.0.12/25", "PrivateKey = " + srvPriv, "PublicKey = " + stPub,
		"Endpoint = 203.0.113.7:51820", "AllowedIPs = 10.64.0.1/32, 172.16.0.0/24"} {
		if !strings.Contains(wg, want) {
			t.Errorf("wg0.conf lacks %q:\n%s", want, wg)
		}
	}
	run := strings.Join(cc.RunCmd, "\n")
	for _, want := range []string{"apt-get install -y opennebula-node-lxc", "systemctl enable --now wg-quick@wg0",
		"172.16.0.10:/export/agentvdc /var/lib/one/datastores/agentvdc nfs4", "mount /var/lib/one/datastores/agentvdc"} {
		if !strings.Contains(run, want) {
			t.Errorf("runcmd lacks %q", want)
		}
	}
	if !strings.Contains(strings.Join(cc.Packages, ","), "wireguard") || !strings.Contains(strings.Join(cc.Packages, ","), "nfs-common") {
		t.Errorf("packages %v", cc.Packages)
	}
	if !strings.Contains(string(ud), "bootstrap "+b.Hash()) || !strings.Contains(file(t, cc, "/etc/apt/sources.list.d/opennebula.list"), OpenNebulaRepo) {
		t.Error("header or repository missing")
	}
	// IPv6 endpoints are bracketed.
	ud, err = RenderServerUserData(b, ServerSecrets{WireGuardPrivateKey: srvPriv, StoragePublicKey: stPub, StorageEndpoint: "2001:db8::7"})
	if err != nil || !strings.Contains(string(ud), "Endpoint = [2001:db8::7]:51820") {
		t.Errorf("ipv6 endpoint: %v", err)
	}
}

func TestRenderStorageUserData(t *testing.T) {
	stPriv, _ := testKey(t, "storage")
	pubs := map[int]string{}
	for n := 1; n <= ServerSlots; n++ {
		_, pubs[n] = testKey(t, "srv-"+strconv.Itoa(n))
	}
	b := StorageBootstrapFor("acme", addrsOf("acme"))
	ud, err := RenderStorageUserData(b, StorageSecrets{WireGuardPrivateKey: stPriv, ServerPublicKeys: pubs})
	if err != nil {
		t.Fatal(err)
	}
	if len(ud) > 32*1024 {
		t.Errorf("user data is %d bytes, over the 32 KiB the clouds accept", len(ud))
	}
	cc := parseUserData(t, ud)
	wg := file(t, cc, "/etc/wireguard/wg0.conf")
	if strings.Count(wg, "[Peer]") != ServerSlots || !strings.Contains(wg, "PublicKey = "+pubs[32]+"\nAllowedIPs = 10.64.0.42/32") ||
		!strings.Contains(wg, "Address = 10.64.0.1/25") || !strings.Contains(wg, "PrivateKey = "+stPriv) {
		t.Errorf("wg0.conf:\n%s", wg)
	}
	if got := file(t, cc, "/etc/exports"); got != "/export/agentvdc 10.64.0.0/25(rw,sync,no_subtree_check,no_root_squash)\n" {
		t.Errorf("exports %q", got)
	}
	vol := file(t, cc, "/usr/local/sbin/agentvdc-volume")
	if !strings.Contains(vol, "mkfs.ext4 -L agentvdc /dev/vdb") || !strings.Contains(vol, "blkid /dev/vdb") {
		t.Errorf("volume script:\n%s", vol)
	}
	if !strings.Contains(strings.Join(cc.RunCmd, "\n"), "systemctl enable --now nfs-server") {
		t.Error("nfs server not enabled")
	}
}

func TestBootstrapSecretsValidated(t *testing.T) {
	priv, pub := testKey(t, "x")
	secret := "c2VjcmV0LWJ1dC1zaG9ydA=="
	tests := []struct {
		name string
		err  func() error
	}{
		{"short server key", func() error {
			_, err := RenderServerUserData(ServerBootstrapFor("a", 1, addrsOf("a")), ServerSecrets{WireGuardPrivateKey: secret, StoragePublicKey: pub, StorageEndpoint: "1.2.3.4"})
			return err
		}},
		{"endpoint with newline", func() error {
			_, err := RenderServerUserData(ServerBootstrapFor("a", 1, addrsOf("a")), ServerSecrets{WireGuardPrivateKey: priv, StoragePublicKey: pub, StorageEndpoint: "1.2.3.4\nPostUp = x"})
			return err
		}},
		{"multi-line ssh key", func() error {
			_, err := RenderServerUserData(ServerBootstrapFor("a", 1, addrsOf("a")), ServerSecrets{WireGuardPrivateKey: priv, StoragePublicKey: pub, StorageEndpoint: "h.example", FrontendSSHKey: "a\nb"})
			return err
		}},
		{"storage peer key bad", func() error {
			_, err := RenderStorageUserData(StorageBootstrapFor("a", addrsOf("a")), StorageSecrets{WireGuardPrivateKey: priv, ServerPublicKeys: map[int]string{1: secret}})
			return err
		}},
		{"storage slot out of range", func() error {
			_, err := RenderStorageUserData(StorageBootstrapFor("a", addrsOf("a")), StorageSecrets{WireGuardPrivateKey: priv, ServerPublicKeys: map[int]string{33: pub}})
			return err
		}},
		{"no peers", func() error {
			_, err := RenderStorageUserData(StorageBootstrapFor("a", addrsOf("a")), StorageSecrets{WireGuardPrivateKey: priv})
			return err
		}},
	}
	for _, tt := range tests {
		err := tt.err()
		if !errors.Is(err, ErrBadSecret) {
			t.Errorf("%s: err %v", tt.name, err)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), priv) {
			t.Errorf("%s: error leaks a secret: %v", tt.name, err)
		}
	}
}

func TestBootstrapHash(t *testing.T) {
	a := ServerBootstrapFor("acme", 1, addrsOf("acme"))
	if a.Hash() != ServerBootstrapFor("acme", 1, addrsOf("acme")).Hash() || len(a.Hash()) != 16 {
		t.Fatal("hash not stable")
	}
	seen := map[string]bool{a.Hash(): true}
	for _, h := range []string{ServerBootstrapFor("acme", 2, addrsOf("acme")).Hash(), ServerBootstrapFor("acmf", 1, addrsOf("acmf")).Hash(),
		StorageBootstrapFor("acme", addrsOf("acme")).Hash(), StorageBootstrapFor("acmf", addrsOf("acmf")).Hash()} {
		if seen[h] {
			t.Errorf("hash collision %s", h)
		}
		seen[h] = true
	}
	b := a
	b.Packages = append([]string{"extra"}, b.Packages...)
	if b.Hash() == a.Hash() {
		t.Error("packages not hashed")
	}
}

// Secrets placed on a resource never reach a rendered plan.
func TestSensitiveNeverRendered(t *testing.T) {
	c := example(t, "casa-verde")
	p, err := Build(Input{Customers: exampleList(t)[2:3], Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "TOPSECRET-user-data"
	for i := range p.Actions {
		if a := p.Actions[i].After; a != nil {
			a.Sensitive = map[string]string{SensitiveUserData: secret, SensitivePassword: secret}
		}
	}
	for name, render := range map[string]func(*bytes.Buffer) error{
		"json":     func(b *bytes.Buffer) error { return RenderJSON(b, p) },
		"text":     func(b *bytes.Buffer) error { return RenderText(b, p, TextOptions{}) },
		"markdown": func(b *bytes.Buffer) error { return RenderMarkdown(b, p, MarkdownOptions{}) },
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), secret) {
			t.Errorf("%s rendering contains a secret", name)
		}
		if !strings.Contains(b.String(), c.Name) {
			t.Errorf("%s rendering lacks the customer", name)
		}
	}
}
