package reconciler

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/plan"
)

type memSecrets struct {
	m    map[string]map[string]string
	puts int
}

func (s *memSecrets) Secrets(c string) (map[string]string, error) { return s.m[c], nil }
func (s *memSecrets) PutSecrets(c string, v map[string]string) error {
	s.puts++
	s.m[c] = v
	return nil
}

func TestEnsureSecretsGeneratesOnceAndValidKeys(t *testing.T) {
	st := &memSecrets{m: map[string]map[string]string{}}
	a, err := EnsureSecrets(st, "acme")
	if err != nil {
		t.Fatal(err)
	}
	b, err := EnsureSecrets(st, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if st.puts != 1 || a[SecretAdminPassword] != b[SecretAdminPassword] || a[WireGuardPrivate("1")] != b[WireGuardPrivate("1")] {
		t.Fatalf("secrets regenerated: puts=%d", st.puts)
	}
	seen := map[string]bool{}
	for _, n := range []string{"storage", ControlPlaneNode, DataVMNode, "1", "2", "32"} {
		pub, err := plan.WireGuardPublicKey(a[WireGuardPrivate(n)])
		if err != nil || pub != a[WireGuardPublic(n)] {
			t.Errorf("%s: public key does not match the private key (%v)", n, err)
		}
		if seen[pub] {
			t.Errorf("%s: key shared with another node", n)
		}
		seen[pub] = true
	}
	for _, k := range []string{SecretMinIOAccessKey, SecretMinIOSecretKey, SecretNeo4jPassword, SecretQdrantAPIKey} {
		if len(a[k]) < 16 || a[k] != b[k] {
			t.Errorf("service secret %s missing, short or regenerated", k)
		}
	}
	other, _ := EnsureSecrets(st, "bluebird")
	if other[WireGuardPrivate("1")] == a[WireGuardPrivate("1")] || other[SecretMinIOSecretKey] == a[SecretMinIOSecretKey] {
		t.Error("two customers share a key")
	}
}

// The data VM's start script is rendered from the customer's generated
// secrets: its WireGuard key, the storage node's public key and endpoint,
// the enabled services' credentials.
func TestDataStartScriptFromSecrets(t *testing.T) {
	st := &memSecrets{m: map[string]map[string]string{}}
	sec, err := EnsureSecrets(st, "acme")
	if err != nil {
		t.Fatal(err)
	}
	a := plan.Addresses{Block: plan.BlockAt(netip.MustParsePrefix(plan.DefaultAddressPool), 3), Index: 3}
	r := plan.Resource{Kind: plan.ONETemplate, Name: "agentvdc-acme-data", Customer: "acme", Attrs: map[string]string{"services": "minio,qdrant"}}
	ids := &idMap{m: map[plan.Address]string{}}
	if _, err := dataStartScript(r, a, sec, ids); err == nil || !strings.Contains(err.Error(), "no public address yet") {
		t.Fatalf("without the storage node's address: %v", err)
	}
	ids.setOutputs(plan.Address{Kind: plan.ExoInstance, Name: "agentvdc-acme-storage"}, map[string]string{"public_ip": "198.51.100.4"})
	script, err := dataStartScript(r, a, sec, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PrivateKey = " + sec[WireGuardPrivate(DataVMNode)], "PublicKey = " + sec[WireGuardPublic(StorageNode)],
		"Endpoint = 198.51.100.4:51820", "Address = " + a.DataVMWG().String() + "/25",
		"MINIO_ROOT_USER=" + sec[SecretMinIOAccessKey], "MINIO_ROOT_PASSWORD=" + sec[SecretMinIOSecretKey],
		"QDRANT__SERVICE__API_KEY=" + sec[SecretQdrantAPIKey]} {
		if !strings.Contains(script, want) {
			t.Errorf("start script lacks %q", want)
		}
	}
	if strings.Contains(script, sec[SecretNeo4jPassword]) {
		t.Error("a disabled service's credential is in the script")
	}
}
