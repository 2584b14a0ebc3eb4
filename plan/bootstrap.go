package plan

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Bootstrap (cloud-init) of a customer's Hetzner servers and Exoscale
// storage instance.
//
// The servers reach the storage node through a WireGuard tunnel on
// WireGuardSubnet: the storage node is 10.200.0.1, server N is
// 10.200.0.(N+10). The servers route the tunnel subnet and the Exoscale
// private network (172.16.0.0/24) through the tunnel, so the datastore's
// nfs_server (172.16.0.10, the storage node's private address) is reached
// over WireGuard. The storage node formats and mounts the block volume on
// NFSPath and exports it to the tunnel subnet; the servers mount it on
// ServerMountPoint and run the OpenNebula KVM node packages.
//
// The storage node lists a WireGuard peer for every slot 1..ServerSlots
// (keys generated per customer and slot, kept in state), so scaling the
// servers never changes the storage node's user data.
//
// The "bootstrap" attribute is a hash of the non-secret inputs below;
// changing them replaces the resource (cloud-init runs once). Keys and the
// storage node's public address are secrets/runtime inputs: they are not
// hashed and never enter Attrs.
const (
	// BootstrapVersion is bumped whenever the rendered user data changes
	// shape; it is hashed, so a bump replaces servers on the next apply.
	BootstrapVersion = "1"
	WireGuardPort    = 51820
	// ServerSlots is the number of server peers pre-provisioned on the
	// storage node (the highest maxServers any tier allows).
	ServerSlots      = 32
	ServerMountPoint = "/var/lib/one/datastores/agentvdc"
	// VolumeDevice is where Exoscale attaches the block volume.
	VolumeDevice       = "/dev/vdb"
	OpenNebulaRepo     = "https://downloads.opennebula.io/repo/6.10/Ubuntu/24.04"
	OpenNebulaRepoKey  = "https://downloads.opennebula.io/repo/repo2.key"
	ExoPrivateNetCIDR  = "172.16.0.0/24"
	bootstrapHashChars = 16
)

// ServerBootstrap holds the non-secret inputs of a server's user data.
type ServerBootstrap struct {
	Customer    string
	Slot        int
	PrivateIP   string
	WireGuardIP string
	StorageWGIP string
	NFSServer   string
	NFSPath     string
	MountPoint  string
	Packages    []string
	ONERepo     string
}

// ServerBootstrapFor returns the inputs for server n of a customer with
// address block a.
func ServerBootstrapFor(customer string, n int, a Addresses) ServerBootstrap {
	return ServerBootstrap{
		Customer: customer, Slot: n, PrivateIP: ServerPrivateIP(n), WireGuardIP: a.ServerWG(n).String(),
		StorageWGIP: a.StorageWG().String(), NFSServer: ExoStorageIP, NFSPath: NFSPath, MountPoint: ServerMountPoint,
		Packages: []string{"nfs-common", "opennebula-node-lxc", "wireguard"}, ONERepo: OpenNebulaRepo,
	}
}

// Hash is the value of the "bootstrap" attribute.
func (b ServerBootstrap) Hash() string {
	return shortHash("server", BootstrapVersion, b.Customer, strconv.Itoa(b.Slot), b.PrivateIP, b.WireGuardIP,
		b.StorageWGIP, b.NFSServer, b.NFSPath, b.MountPoint, strings.Join(b.Packages, ","), b.ONERepo)
}

// StorageBootstrap holds the non-secret inputs of the storage node's user data.
type StorageBootstrap struct {
	Customer    string
	Addrs       Addresses
	WireGuardIP string
	Subnet      string
	NFSPath     string
	Device      string
	Slots       int
	Packages    []string
}

// StorageBootstrapFor returns the inputs for a customer's storage node
// with address block a.
func StorageBootstrapFor(customer string, a Addresses) StorageBootstrap {
	return StorageBootstrap{Customer: customer, WireGuardIP: a.StorageWG().String(), Subnet: a.MeshSubnet().String(), Addrs: a,
		NFSPath: NFSPath, Device: VolumeDevice, Slots: ServerSlots, Packages: []string{"nfs-kernel-server", "wireguard"}}
}

// Hash is the value of the "bootstrap" attribute.
func (b StorageBootstrap) Hash() string {
	return shortHash("storage", BootstrapVersion, b.Customer, b.WireGuardIP, b.Subnet, b.NFSPath, b.Device,
		strconv.Itoa(b.Slots), strings.Join(b.Packages, ","))
}

func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:bootstrapHashChars]
}

// ServerSecrets are the secret and runtime inputs of a server's user data.
type ServerSecrets struct {
	// WireGuardPrivateKey is this server's key (base64, 32 bytes).
	WireGuardPrivateKey string
	// StoragePublicKey is the storage node's public key.
	StoragePublicKey string
	// StorageEndpoint is the storage node's public IP address or host name.
	StorageEndpoint string
	// FrontendSSHKey, if set, is authorised for oneadmin so the OpenNebula
	// front-end can drive the host.
	FrontendSSHKey string
}

// StorageSecrets are the secret inputs of the storage node's user data.
type StorageSecrets struct {
	WireGuardPrivateKey string
	// ServerPublicKeys maps a server slot (1..ServerSlots) to its public key.
	ServerPublicKeys map[int]string
}

// ErrBadSecret is returned for a malformed key or endpoint; the message
// names the field, never its value.
var ErrBadSecret = errors.New("bad bootstrap secret")

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

func checkKey(field, v string) error {
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("%w: %s is not a base64 WireGuard key", ErrBadSecret, field)
	}
	return nil
}

// WireGuardPrivateKey encodes 32 random bytes (from crypto/rand, drawn by
// the caller: plan is pure) as a WireGuard private key, clamped as
// "wg genkey" does.
func WireGuardPrivateKey(random [32]byte) string {
	random[0] &= 248
	random[31] = (random[31] & 127) | 64
	return base64.StdEncoding.EncodeToString(random[:])
}

// WireGuardPublicKey derives the public key of a base64 private key.
func WireGuardPublicKey(private string) (string, error) {
	if err := checkKey("private key", private); err != nil {
		return "", err
	}
	b, _ := base64.StdEncoding.DecodeString(private)
	k, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return "", fmt.Errorf("%w: private key: not an X25519 key", ErrBadSecret)
	}
	return base64.StdEncoding.EncodeToString(k.PublicKey().Bytes()), nil
}

type cloudConfig struct {
	PackageUpdate bool        `yaml:"package_update"`
	Packages      []string    `yaml:"packages"`
	WriteFiles    []writeFile `yaml:"write_files"`
	RunCmd        []string    `yaml:"runcmd"`
}

type writeFile struct {
	Path        string `yaml:"path"`
	Permissions string `yaml:"permissions"`
	Content     string `yaml:"content"`
}

func renderCloudConfig(header string, cc cloudConfig) ([]byte, error) {
	b, err := yaml.Marshal(cc)
	if err != nil {
		return nil, fmt.Errorf("render cloud-config: %w", err)
	}
	return append([]byte("#cloud-config\n"+header), b...), nil
}

// RenderServerUserData renders the cloud-init user data of a server. The
// result holds secrets: pass it as Resource.Sensitive[SensitiveUserData].
func RenderServerUserData(b ServerBootstrap, s ServerSecrets) ([]byte, error) {
	if err := checkKey("server private key", s.WireGuardPrivateKey); err != nil {
		return nil, err
	}
	if err := checkKey("storage public key", s.StoragePublicKey); err != nil {
		return nil, err
	}
	if net.ParseIP(s.StorageEndpoint) == nil && !hostRE.MatchString(s.StorageEndpoint) {
		return nil, fmt.Errorf("%w: storage endpoint is not an address or host name", ErrBadSecret)
	}
	if strings.ContainsAny(s.FrontendSSHKey, "\n\r") {
		return nil, fmt.Errorf("%w: front-end SSH key spans several lines", ErrBadSecret)
	}
	if b.Slot < 1 || b.Slot > ServerSlots {
		return nil, fmt.Errorf("server slot %d outside 1..%d", b.Slot, ServerSlots)
	}
	endpoint := s.StorageEndpoint
	if strings.Contains(endpoint, ":") { // IPv6
		endpoint = "[" + endpoint + "]"
	}
	wg := fmt.Sprintf(`[Interface]
Address = %s/25
ListenPort = %d
PrivateKey = %s

[Peer]
# %s-storage
PublicKey = %s
Endpoint = %s:%d
AllowedIPs = %s/32, %s
PersistentKeepalive = 25
`, b.WireGuardIP, WireGuardPort, s.WireGuardPrivateKey, BaseName(b.Customer), s.StoragePublicKey,
		endpoint, WireGuardPort, b.StorageWGIP, ExoPrivateNetCIDR)
	fstab := fmt.Sprintf("%s:%s %s nfs4 rw,hard,_netdev,x-systemd.requires=wg-quick@wg0.service 0 0",
		b.NFSServer, b.NFSPath, b.MountPoint)
	cc := cloudConfig{
		PackageUpdate: true,
		Packages:      []string{"ca-certificates", "curl", "gnupg", "nfs-common", "wireguard"},
		WriteFiles: []writeFile{
			{Path: "/etc/wireguard/wg0.conf", Permissions: "0600", Content: wg},
			{Path: "/etc/apt/sources.list.d/opennebula.list", Permissions: "0644",
				Content: "deb [signed-by=/etc/apt/keyrings/opennebula.gpg] " + b.ONERepo + " stable opennebula\n"},
		},
		RunCmd: []string{
			"systemctl enable --now wg-quick@wg0",
			"install -d -m 0755 /etc/apt/keyrings",
			"curl -fsSL " + OpenNebulaRepoKey + " | gpg --dearmor -o /etc/apt/keyrings/opennebula.gpg",
			"apt-get update",
			"DEBIAN_FRONTEND=noninteractive apt-get install -y opennebula-node-lxc",
			"install -d -o oneadmin -g oneadmin " + b.MountPoint,
			"echo '" + fstab + "' >> /etc/fstab",
			"mount " + b.MountPoint,
		},
	}
	if s.FrontendSSHKey != "" {
		cc.WriteFiles = append(cc.WriteFiles, writeFile{Path: "/var/lib/one/.ssh/authorized_keys.agentvdc",
			Permissions: "0600", Content: s.FrontendSSHKey + "\n"})
		cc.RunCmd = append(cc.RunCmd,
			"install -d -o oneadmin -g oneadmin -m 0700 /var/lib/one/.ssh",
			"cat /var/lib/one/.ssh/authorized_keys.agentvdc >> /var/lib/one/.ssh/authorized_keys",
			"chown oneadmin:oneadmin /var/lib/one/.ssh/authorized_keys")
	}
	header := fmt.Sprintf("# agentvdc bootstrap v%s: %s, bootstrap %s\n", BootstrapVersion, ServerName(b.Customer, b.Slot), b.Hash())
	return renderCloudConfig(header, cc)
}

// RenderStorageUserData renders the cloud-init user data of the storage
// node. The result holds secrets: pass it as Resource.Sensitive[SensitiveUserData].
func RenderStorageUserData(b StorageBootstrap, s StorageSecrets) ([]byte, error) {
	if err := checkKey("storage private key", s.WireGuardPrivateKey); err != nil {
		return nil, err
	}
	slots := make([]int, 0, len(s.ServerPublicKeys))
	for n, k := range s.ServerPublicKeys {
		if n < 1 || n > b.Slots {
			return nil, fmt.Errorf("%w: server slot %d outside 1..%d", ErrBadSecret, n, b.Slots)
		}
		if err := checkKey(fmt.Sprintf("public key of server slot %d", n), k); err != nil {
			return nil, err
		}
		slots = append(slots, n)
	}
	if len(slots) == 0 {
		return nil, fmt.Errorf("%w: no server public keys", ErrBadSecret)
	}
	sort.Ints(slots)
	var wg strings.Builder
	fmt.Fprintf(&wg, "[Interface]\nAddress = %s/25\nListenPort = %d\nPrivateKey = %s\n",
		b.WireGuardIP, WireGuardPort, s.WireGuardPrivateKey)
	for _, n := range slots {
		fmt.Fprintf(&wg, "\n[Peer]\n# %s\nPublicKey = %s\nAllowedIPs = %s/32\n",
			ServerName(b.Customer, n), s.ServerPublicKeys[n], b.Addrs.ServerWG(n))
	}
	volume := fmt.Sprintf(`#!/bin/sh
# Wait for the block volume, format it once, mount and export it.
set -eu
i=0
while [ ! -b %[1]s ]; do
  i=$((i+1)); [ "$i" -gt 600 ] && { echo "volume %[1]s not attached" >&2; exit 1; }
  sleep 1
done
blkid %[1]s >/dev/null 2>&1 || mkfs.ext4 -L agentvdc %[1]s
mkdir -p %[2]s
grep -q ' %[2]s ' /etc/fstab || echo '%[1]s %[2]s ext4 defaults,nofail 0 2' >> /etc/fstab
mountpoint -q %[2]s || mount %[2]s
resize2fs %[1]s || true
exportfs -ra
`, b.Device, b.NFSPath)
	cc := cloudConfig{
		PackageUpdate: true,
		Packages:      append([]string(nil), b.Packages...),
		WriteFiles: []writeFile{
			{Path: "/etc/wireguard/wg0.conf", Permissions: "0600", Content: wg.String()},
			{Path: "/etc/exports", Permissions: "0644",
				Content: b.NFSPath + " " + b.Subnet + "(rw,sync,no_subtree_check,no_root_squash)\n"},
			{Path: "/usr/local/sbin/agentvdc-volume", Permissions: "0755", Content: volume},
			// The volume grows online (autoscaler); grow the file system after it.
			{Path: "/etc/cron.d/agentvdc-resize", Permissions: "0644",
				Content: "*/5 * * * * root /usr/sbin/resize2fs " + b.Device + " >/dev/null 2>&1\n"},
		},
		RunCmd: []string{
			"systemctl enable --now wg-quick@wg0",
			"/usr/local/sbin/agentvdc-volume",
			"systemctl enable --now nfs-server",
			"exportfs -ra",
		},
	}
	header := fmt.Sprintf("# agentvdc bootstrap v%s: %s-storage, bootstrap %s\n", BootstrapVersion, BaseName(b.Customer), b.Hash())
	return renderCloudConfig(header, cc)
}
