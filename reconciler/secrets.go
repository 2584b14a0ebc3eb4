package reconciler

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"

	"golang.org/x/crypto/curve25519"
)

// SecretStore keeps per-customer secrets (the state package implements it,
// encrypted at rest).
type SecretStore interface {
	Secrets(customer string) (map[string]string, error)
	PutSecrets(customer string, secrets map[string]string) error
}

// Secret keys of a customer.
const (
	SecretAdminPassword = "opennebula/admin-password"
	secretWGPrivate     = "wireguard/%s/private"
	secretWGPublic      = "wireguard/%s/public"
)

// WireGuardPrivate and WireGuardPublic name a node's WireGuard keys.
func WireGuardPrivate(node string) string { return fmt.Sprintf(secretWGPrivate, node) }
func WireGuardPublic(node string) string  { return fmt.Sprintf(secretWGPublic, node) }

// EnsureSecrets returns the customer's secrets, generating what is missing
// (a WireGuard key pair per node, the OpenNebula admin password) and storing
// it before returning, so a key is generated once and survives restarts.
func EnsureSecrets(store SecretStore, customer string, nodes []string) (map[string]string, error) {
	have, err := store.Secrets(customer)
	if err != nil {
		return nil, fmt.Errorf("customer %s: read secrets: %w", customer, err)
	}
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	changed := false
	if out[SecretAdminPassword] == "" {
		pw, err := randomToken(24)
		if err != nil {
			return nil, err
		}
		out[SecretAdminPassword] = pw
		changed = true
	}
	for _, n := range nodes {
		if out[WireGuardPrivate(n)] != "" {
			continue
		}
		priv, pub, err := wireGuardKeyPair()
		if err != nil {
			return nil, err
		}
		out[WireGuardPrivate(n)], out[WireGuardPublic(n)] = priv, pub
		changed = true
	}
	if changed {
		if err := store.PutSecrets(customer, out); err != nil {
			return nil, fmt.Errorf("customer %s: store secrets: %w", customer, err)
		}
	}
	return out, nil
}

// wireGuardKeyPair makes a Curve25519 key pair in WireGuard's base64 form.
func wireGuardKeyPair() (priv, pub string, err error) {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", "", fmt.Errorf("wireguard key: %w", err)
	}
	// Clamp as `wg genkey` does.
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	p, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		return "", "", fmt.Errorf("wireguard public key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k[:]), base64.StdEncoding.EncodeToString(p), nil
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
