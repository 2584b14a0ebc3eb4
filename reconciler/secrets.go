package reconciler

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/state"
)

// ErrSecretsLost refuses to generate secrets for a customer whose nodes
// already carry keys the state file no longer has.
var ErrSecretsLost = errors.New("customer's secrets are missing from state")

// SecretStore keeps per-customer secrets (the state package implements it,
// encrypted at rest).
type SecretStore interface {
	Secrets(customer string) (map[string]string, error)
	PutSecrets(customer string, secrets map[string]string) error
}

// Secret keys of a customer.
const (
	SecretAdminPassword = "opennebula/admin-password"
	// StorageNode names the storage node's WireGuard keys.
	StorageNode = "storage"

	// ControlPlaneNode and DataVMNode name the WireGuard keys of the
	// customer's mesh peers besides the storage node and the servers: the
	// control plane's userspace peer (plan.Addresses.ControlPlaneWG) and the
	// data VM (DataVMWG). Their public keys are in the storage node's peers.
	ControlPlaneNode = "controlplane"
	DataVMNode       = "datavm"

	// Credentials of the data services in the customer's data VM
	// (opennebula_vm agentvdc-C-data): the MinIO root user and password,
	// the Neo4j password of the user Neo4jUser, the Qdrant API key.
	SecretMinIOAccessKey = "services/minio/access-key"
	SecretMinIOSecretKey = "services/minio/secret-key"
	SecretNeo4jPassword  = "services/neo4j/password"
	SecretQdrantAPIKey   = "services/qdrant/api-key"
)

// Neo4jUser is the Neo4j user the agents log in as (Neo4j's initial admin
// user, whose password the data VM sets from its context).
const Neo4jUser = "neo4j"

// Sensitive keys of the data template (opennebula_template
// agentvdc-C-data): the executor passes the credentials of the enabled
// services under these keys, the OpenNebula adapter writes them into the
// template's CONTEXT (see reconciler/clouds/opennebula) and never reads them back.
const (
	SensitiveMinIOAccessKey = "minio_access_key"
	SensitiveMinIOSecretKey = "minio_secret_key"
	SensitiveNeo4jPassword  = "neo4j_password"
	SensitiveQdrantAPIKey   = "qdrant_api_key"
)

// serviceSecrets generates the data services' credentials: how each one
// is made (sizes within MinIO's limits: user 3-20, password 8-40).
var serviceSecrets = []struct {
	key   string
	bytes int
	hex   bool
}{
	{SecretMinIOAccessKey, 8, true}, // "vdc" + 16 hex = 19 characters
	{SecretMinIOSecretKey, 24, false},
	{SecretNeo4jPassword, 24, false},
	{SecretQdrantAPIKey, 32, false},
}

// WireGuardPrivate and WireGuardPublic name a node's WireGuard keys; a node
// is "storage", ControlPlaneNode, DataVMNode or a server slot "1".."32".
func WireGuardPrivate(node string) string { return "wireguard/" + node + "/private" }
func WireGuardPublic(node string) string  { return "wireguard/" + node + "/public" }

// EnsureSecrets returns the customer's secrets, generating what is missing
// (a WireGuard key pair for the storage node, the control plane, the data
// VM and every server slot, so scaling never changes the storage node's
// peers, and the OpenNebula admin password) and storing it before returning: a key is generated once and
// survives restarts. It also generates the data services' credentials
// (SecretMinIOAccessKey, SecretMinIOSecretKey, SecretNeo4jPassword,
// SecretQdrantAPIKey), which the data VM learns from its template's
// context and the agents use to reach the services.
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
	for _, g := range serviceSecrets {
		if out[g.key] != "" {
			continue
		}
		b := make([]byte, g.bytes)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("service credential: %w", err)
		}
		if g.hex {
			out[g.key] = "vdc" + hex.EncodeToString(b)
		} else {
			out[g.key] = base64.RawURLEncoding.EncodeToString(b)
		}
		changed = true
	}
	nodes := []string{StorageNode, ControlPlaneNode, DataVMNode}
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
