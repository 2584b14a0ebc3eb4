package reconciler

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/state"
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
	storageNode         = "storage"
)

// WireGuardPrivate and WireGuardPublic name a node's WireGuard keys; a node
// is "storage" or a server slot "1".."32".
func WireGuardPrivate(node string) string { return "wireguard/" + node + "/private" }
func WireGuardPublic(node string) string  { return "wireguard/" + node + "/public" }

// EnsureSecrets returns the customer's secrets, generating what is missing
// (a WireGuard key pair for the storage node and for every server slot, so
// scaling never changes the storage node's peers, and the OpenNebula admin
// password) and storing it before returning: a key is generated once and
// survives restarts.
func EnsureSecrets(store SecretStore, customer string) (map[string]string, error) {
	have, err := store.Secrets(customer)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	changed := false
	if out[SecretAdminPassword] == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("admin password: %w", err)
		}
		out[SecretAdminPassword] = base64.RawURLEncoding.EncodeToString(b)
		changed = true
	}
	nodes := []string{storageNode}
	for slot := 1; slot <= plan.ServerSlots; slot++ {
		nodes = append(nodes, strconv.Itoa(slot))
	}
	for _, n := range nodes {
		if out[WireGuardPrivate(n)] != "" {
			continue
		}
		var random [32]byte
		if _, err := rand.Read(random[:]); err != nil {
			return nil, fmt.Errorf("wireguard key: %w", err)
		}
		priv := plan.WireGuardPrivateKey(random)
		pub, err := plan.WireGuardPublicKey(priv)
		if err != nil {
			return nil, err
		}
		out[WireGuardPrivate(n)], out[WireGuardPublic(n)] = priv, pub
		changed = true
	}
	if changed {
		if err := store.PutSecrets(customer, out); err != nil {
			return nil, fmt.Errorf("store secrets: %w", err)
		}
	}
	return out, nil
}
