package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
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
	a := addrsOf("acme")
	b := ServerBootstrapFor("acme", 2, a)
	front := testFrontendKey()
	ud, err := RenderServerUserData(b, ServerSecrets{WireGuardPrivateKey: srvPriv, StoragePublicKey: stPub,
		StorageEndpoint: "203.0.113.7", FrontendSSHKey: front})
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
	setup := file(t, cc, "/usr/local/sbin/agentvdc-host-setup")
	for _, want := range []string{
		"apt-get install -y opennebula-node-lxc",
		"172.16.0.10:/export/agentvdc /var/lib/one/datastores nfs4",
		"mount /var/lib/one/datastores",
		"install -d -o oneadmin -g oneadmin -m 0700 /var/lib/one/.ssh",
		`cat /etc/agentvdc/frontend.pub >> /var/lib/one/.ssh/authorized_keys`, `chmod 0600 "$keys"`, `chown oneadmin:oneadmin "$keys"`,
	} {
		if !strings.Contains(setup, want) {
			t.Errorf("host setup lacks %q", want)
		}
	}
	if strings.Contains(string(ud), "kvm") {
		t.Error("user data still mentions kvm")
	}
	if got := file(t, cc, "/etc/agentvdc/frontend.pub"); got != front+"\n" {
		t.Errorf("front-end key file %q", got)
	}
	net := file(t, cc, "/usr/local/sbin/agentvdc-vdcnet")
	for _, want := range []string{
		"local_ip=10.0.1.12", "ip link add vdc1 type bridge", "ip addr replace 10.64.0.129/25 dev vdc1",
		`ip link add vxlan1 type vxlan id 1 dstport 4789 local "$local_ip" dev "$dev"`, "ip link set dev vxlan1 master vdc1",
		"for peer in 10.0.1.11 10.0.1.13 ", " 10.0.1.42; do",
	} {
		if !strings.Contains(net, want) {
			t.Errorf("vdcnet script lacks %q:\n%s", want, net)
		}
	}
	if strings.Contains(net, " 10.0.1.12 ") {
		t.Error("a server floods to itself")
	}
	if unit := file(t, cc, "/etc/systemd/system/agentvdc-vdcnet.service"); !strings.Contains(unit, "WantedBy=multi-user.target") {
		t.Errorf("vdcnet unit not enabled at boot:\n%s", unit)
	}
	nft := file(t, cc, "/etc/nftables.conf")
	for _, want := range []string{`ip saddr 10.64.0.128/25 oifname != "vdc1" masquerade`, `iifname "vdc1" ip daddr { 10.0.0.0/8,`} {
		if !strings.Contains(nft, want) {
			t.Errorf("nftables lacks %q", want)
		}
	}
	run := strings.Join(cc.RunCmd, "\n")
	for _, want := range []string{"systemctl enable --now wg-quick@wg0.service", "systemctl enable --now agentvdc-vdcnet.service",
		"/usr/local/sbin/agentvdc-host-setup", "sysctl --system"} {
		if !strings.Contains(run, want) {
			t.Errorf("runcmd lacks %q", want)
		}
	}
	if p := strings.Join(cc.Packages, ","); !strings.Contains(p, "wireguard-tools") || !strings.Contains(p, "nfs-common") {
		t.Errorf("packages %v", cc.Packages)
	}
	if !strings.Contains(string(ud), "bootstrap "+b.Hash()) || !strings.Contains(file(t, cc, "/etc/apt/sources.list.d/opennebula.list"), OpenNebulaRepo) {
		t.Error("header or repository missing")
	}
	// IPv6 endpoints are bracketed.
	ud, err = RenderServerUserData(b, ServerSecrets{WireGuardPrivateKey: srvPriv, StoragePublicKey: stPub, StorageEndpoint: "2001:db8::7", FrontendSSHKey: front})
	if err != nil || !strings.Contains(string(ud), "Endpoint = [2001:db8::7]:51820") {
		t.Errorf("ipv6 endpoint: %v", err)
	}
	// The front-end key is required, and the error says which field.
	_, err = RenderServerUserData(b, ServerSecrets{WireGuardPrivateKey: srvPriv, StoragePublicKey: stPub, StorageEndpoint: "203.0.113.7"})
	if !errors.Is(err, ErrBadSecret) || !strings.Contains(err.Error(), "FrontendSSHKey") {
		t.Errorf("no front-end key: %v", err)
	}
}

func storageSecrets(t *testing.T) (StorageSecrets, string) {
	stPriv, _ := testKey(t, "storage")
	_, cp := testKey(t, "controlplane")
	_, dv := testKey(t, "datavm")
	pubs := map[int]string{}
	for n := 1; n <= ServerSlots; n++ {
		_, pubs[n] = testKey(t, "srv-"+strconv.Itoa(n))
	}
	return StorageSecrets{WireGuardPrivateKey: stPriv, ServerPublicKeys: pubs, ControlPlanePublicKey: cp, DataVMPublicKey: dv}, stPriv
}

func TestRenderStorageUserData(t *testing.T) {
	s, stPriv := storageSecrets(t)
	b := StorageBootstrapFor("acme", addrsOf("acme"))
	ud, err := RenderStorageUserData(b, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(ud) > 32*1024 {
		t.Errorf("user data is %d bytes, over the 32 KiB the clouds accept", len(ud))
	}
	cc := parseUserData(t, ud)
	wg := file(t, cc, "/etc/wireguard/wg0.conf")
	if strings.Count(wg, "[Peer]") != ServerSlots+2 || !strings.Contains(wg, "PublicKey = "+s.ServerPublicKeys[32]+"\nAllowedIPs = 10.64.0.42/32") ||
		!strings.Contains(wg, "Address = 10.64.0.1/25") || !strings.Contains(wg, "PrivateKey = "+stPriv) ||
		!strings.Contains(wg, "PublicKey = "+s.ControlPlanePublicKey+"\nAllowedIPs = 10.64.0.2/32") ||
		!strings.Contains(wg, "PublicKey = "+s.DataVMPublicKey+"\nAllowedIPs = 10.64.0.3/32") {
		t.Errorf("wg0.conf:\n%s", wg)
	}
	exports := file(t, cc, "/etc/exports")
	if !strings.HasPrefix(exports, "/export/agentvdc 10.64.0.11(rw,sync,no_subtree_check,no_root_squash) 10.64.0.12(") ||
		strings.Count(exports, "(rw,") != ServerSlots || strings.Contains(exports, "/25") || strings.Contains(exports, "10.64.0.3(") {
		t.Errorf("exports %q", exports)
	}
	nft := file(t, cc, "/etc/nftables.conf")
	for _, want := range []string{"policy drop;", "udp dport 51820 accept", `iifname "wg0" ip saddr @nfs_clients tcp dport 2049 accept`,
		`iifname "wg0" oifname "wg0" accept`, "elements = { 10.64.0.11, 10.64.0.12,", "10.64.0.42 }",
		`iifname "wg0" ip saddr 10.64.0.2 tcp dport 22 accept`} {
		if !strings.Contains(nft, want) {
			t.Errorf("nftables lacks %q:\n%s", want, nft)
		}
	}
	if strings.Count(nft, "accept") != 8 {
		t.Errorf("nftables accepts more than it should:\n%s", nft)
	}
	if got := file(t, cc, "/etc/sysctl.d/60-agentvdc.conf"); got != "net.ipv4.ip_forward = 1\n" {
		t.Errorf("sysctl %q", got)
	}
	vol := file(t, cc, "/usr/local/sbin/agentvdc-volume")
	if !strings.Contains(vol, "mkfs.ext4 -L agentvdc /dev/vdb") || !strings.Contains(vol, "blkid /dev/vdb") || !strings.Contains(vol, "chown 9869:9869 /export/agentvdc") {
		t.Errorf("volume script:\n%s", vol)
	}
	if !strings.Contains(strings.Join(cc.RunCmd, "\n"), "systemctl enable --now nfs-server") {
		t.Error("nfs server not enabled")
	}
}

func TestBootstrapSecretsValidated(t *testing.T) {
	priv, pub := testKey(t, "x")
	secret := "c2VjcmV0LWJ1dC1zaG9ydA=="
	front := testFrontendKey()
	st, _ := storageSecrets(t)
	dv := DataVMSecrets{WireGuardPrivateKey: priv, StoragePublicKey: pub, StorageEndpoint: "1.2.3.4", MinIOAccessKey: "vdc0123456789abcdef",
		MinIOSecretKey: "s3cr3t-s3cr3t-s3cr3t", Neo4jPassword: "n3o4j-n3o4j-n3o4j", QdrantAPIKey: "qdrant-qdrant-qdrant-key"}
	server := func(s ServerSecrets) func() error {
		return func() error { _, err := RenderServerUserData(ServerBootstrapFor("a", 1, addrsOf("a")), s); return err }
	}
	storage := func(edit func(*StorageSecrets)) func() error {
		return func() error {
			s := st
			s.ServerPublicKeys = maps.Clone(st.ServerPublicKeys)
			edit(&s)
			_, err := RenderStorageUserData(StorageBootstrapFor("a", addrsOf("a")), s)
			return err
		}
	}
	data := func(services string, edit func(*DataVMSecrets)) func() error {
		return func() error {
			s := dv
			edit(&s)
			_, err := RenderDataVMStartScript(DataVMBootstrapFor("a", addrsOf("a"), services), s)
			return err
		}
	}
	tests := []struct {
		name  string
		field string // the error names it
		err   func() error
	}{
		{"short server key", "server private key", server(ServerSecrets{WireGuardPrivateKey: secret, StoragePublicKey: pub, StorageEndpoint: "1.2.3.4", FrontendSSHKey: front})},
		{"endpoint with newline", "storage endpoint", server(ServerSecrets{WireGuardPrivateKey: priv, StoragePublicKey: pub, StorageEndpoint: "1.2.3.4\nPostUp = x", FrontendSSHKey: front})},
		{"no front-end key", "FrontendSSHKey", server(ServerSecrets{WireGuardPrivateKey: priv, StoragePublicKey: pub, StorageEndpoint: "h.example"})},
		{"multi-line ssh key", "FrontendSSHKey", server(ServerSecrets{WireGuardPrivateKey: priv, StoragePublicKey: pub, StorageEndpoint: "h.example", FrontendSSHKey: front + "\n" + front})},
		{"not an ssh key", "FrontendSSHKey", server(ServerSecrets{WireGuardPrivateKey: priv, StoragePublicKey: pub, StorageEndpoint: "h.example", FrontendSSHKey: "command=\"x\" " + front})},
		{"storage peer key bad", "slot 1", storage(func(s *StorageSecrets) { s.ServerPublicKeys[1] = secret })},
		{"storage slot out of range", "slot 33", storage(func(s *StorageSecrets) { s.ServerPublicKeys[33] = pub })},
		{"no peers", "no server public keys", storage(func(s *StorageSecrets) { s.ServerPublicKeys = nil })},
		{"no control plane key", "ControlPlanePublicKey", storage(func(s *StorageSecrets) { s.ControlPlanePublicKey = "" })},
		{"bad data VM key", "DataVMPublicKey", storage(func(s *StorageSecrets) { s.DataVMPublicKey = secret })},
		{"data VM private key", "DataVMSecrets.WireGuardPrivateKey", data("minio", func(s *DataVMSecrets) { s.WireGuardPrivateKey = secret })},
		{"data VM endpoint", "DataVMSecrets.StorageEndpoint", data("minio", func(s *DataVMSecrets) { s.StorageEndpoint = "x;reboot" })},
		{"minio user too long", "DataVMSecrets.MinIOAccessKey", data("minio", func(s *DataVMSecrets) { s.MinIOAccessKey = strings.Repeat("a", 21) })},
		{"minio secret with a quote", "DataVMSecrets.MinIOSecretKey", data("minio", func(s *DataVMSecrets) { s.MinIOSecretKey = "abc'defgh$(x)" })},
		{"neo4j password short", "DataVMSecrets.Neo4jPassword", data("neo4j", func(s *DataVMSecrets) { s.Neo4jPassword = "short" })},
		{"qdrant key missing", "DataVMSecrets.QdrantAPIKey", data("qdrant", func(s *DataVMSecrets) { s.QdrantAPIKey = "" })},
	}
	for _, tt := range tests {
		err := tt.err()
		if !errors.Is(err, ErrBadSecret) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: err %v, want ErrBadSecret naming %s", tt.name, err, tt.field)
			continue
		}
		for _, leak := range []string{secret, priv, "abc'defgh", "short\b"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%s: error leaks a secret: %v", tt.name, err)
			}
		}
	}
	// A disabled service needs no credentials; an unknown one is refused.
	if _, err := RenderDataVMStartScript(DataVMBootstrapFor("a", addrsOf("a"), "minio"), DataVMSecrets{WireGuardPrivateKey: priv,
		StoragePublicKey: pub, StorageEndpoint: "1.2.3.4", MinIOAccessKey: "vdcuser", MinIOSecretKey: "password1"}); err != nil {
		t.Errorf("minio only: %v", err)
	}
	if _, err := RenderDataVMStartScript(DataVMBootstrapFor("a", addrsOf("a"), "minio,redis"), dv); err == nil || !strings.Contains(err.Error(), `"redis"`) {
		t.Errorf("unknown service: %v", err)
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
	d := DataVMBootstrapFor("acme", addrsOf("acme"), "minio,neo4j,qdrant")
	if d.Hash() != DataVMBootstrapFor("acme", addrsOf("acme"), "qdrant,minio,neo4j").Hash() {
		t.Error("data VM hash depends on the order of services")
	}
	for name, other := range map[string]DataVMBootstrap{
		"services": DataVMBootstrapFor("acme", addrsOf("acme"), "minio,neo4j"),
		"customer": DataVMBootstrapFor("acmf", addrsOf("acme"), "minio,neo4j,qdrant"),
	} {
		if other.Hash() == d.Hash() {
			t.Errorf("data VM hash ignores %s", name)
		}
	}
	bumped := d
	bumped.Releases = append([]Release(nil), d.Releases...)
	bumped.Releases[0].SHA256 = strings.Repeat("0", 64)
	if bumped.Hash() == d.Hash() {
		t.Error("data VM hash ignores the pinned checksums")
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
