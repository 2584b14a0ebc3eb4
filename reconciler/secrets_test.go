package reconciler

import (
	"encoding/base64"
	"testing"

	"golang.org/x/crypto/curve25519"
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
	a, err := EnsureSecrets(st, "acme", []string{"agentvdc-acme-storage", "agentvdc-acme-srv-1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := EnsureSecrets(st, "acme", []string{"agentvdc-acme-storage", "agentvdc-acme-srv-1"})
	if err != nil {
		t.Fatal(err)
	}
	if st.puts != 1 || a[SecretAdminPassword] != b[SecretAdminPassword] || a[WireGuardPrivate("agentvdc-acme-srv-1")] != b[WireGuardPrivate("agentvdc-acme-srv-1")] {
		t.Fatalf("secrets regenerated: puts=%d", st.puts)
	}
	// A new node gets keys; existing ones are kept.
	c, err := EnsureSecrets(st, "acme", []string{"agentvdc-acme-srv-2"})
	if err != nil || st.puts != 2 || c[WireGuardPrivate("agentvdc-acme-srv-1")] != a[WireGuardPrivate("agentvdc-acme-srv-1")] {
		t.Fatalf("adding a node: %v puts=%d", err, st.puts)
	}
	for _, n := range []string{"agentvdc-acme-storage", "agentvdc-acme-srv-1", "agentvdc-acme-srv-2"} {
		priv, _ := base64.StdEncoding.DecodeString(c[WireGuardPrivate(n)])
		pub, _ := base64.StdEncoding.DecodeString(c[WireGuardPublic(n)])
		want, err := curve25519.X25519(priv, curve25519.Basepoint)
		if err != nil || len(pub) != 32 || string(want) != string(pub) {
			t.Errorf("%s: public key does not match the private key", n)
		}
	}
	if a[WireGuardPrivate("agentvdc-acme-srv-1")] == a[WireGuardPrivate("agentvdc-acme-storage")] {
		t.Error("two nodes share a key")
	}
}
