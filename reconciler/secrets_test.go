package reconciler

import (
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
	for _, n := range []string{"storage", "1", "2", "32"} {
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
