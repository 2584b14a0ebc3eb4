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
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Bootstrap (cloud-init) of a customer's Hetzner servers and Exoscale
// storage instance, on the customer's address block (addressing.go).
//
// The storage node is the hub of the customer's WireGuard mesh
// (MeshSubnet, the node at StorageWG): its peers are every server slot
// 1..ServerSlots (ServerWG), the control plane (ControlPlaneWG) and the data
// VM (DataVMWG). It forwards wg0 → wg0 only, so the control plane reaches
// the data VM's services through it; nftables accepts on its public address
// only WireGuard (51820/udp), NFS (2049/tcp) only from the servers' mesh
// addresses over wg0, SSH only from the control plane over wg0. It formats
// and mounts the block volume on NFSPath and exports it to the servers'
// mesh addresses only.
//
// A server routes the storage node's mesh address and the Exoscale private
// network (172.16.0.0/24) through its tunnel, so the datastores' NFS server
// (172.16.0.10) is reached over WireGuard, and mounts the export on
// ServerMountPoint, the parent of every datastore's BASE_PATH
// (/var/lib/one/datastores/<ID>, whatever IDs oned assigns). It runs the
// OpenNebula LXC node (Hetzner Cloud servers expose no /dev/kvm) and
// authorises the front-end's SSH key for oneadmin. The customer's VDC
// network (VDCNetwork) is the bridge BridgeName with the gateway address
// VDCGateway on every host, joined across hosts by a VXLAN (VNI VXLANID,
// UDP 4789) over the Hetzner private network with a static flood entry per
// server slot; a systemd unit rebuilds it at every boot. The host
// masquerades the VMs' traffic to the internet and drops their traffic to
// private ranges (the mesh, the Hetzner network, the metadata service).
//
// Every slot is pre-provisioned on the storage node (keys generated per
// customer and slot, kept in state), so scaling the servers never changes
// the storage node's user data.
//
// The "bootstrap" attribute is a hash of the non-secret inputs below;
// changing them replaces the resource (cloud-init runs once). Keys, the
// storage node's public address and the front-end key are secret/runtime
// inputs: they are not hashed and never enter Attrs.
const (
	// BootstrapVersion is bumped whenever the rendered user data changes
	// shape; it is hashed, so a bump replaces servers on the next apply.
	BootstrapVersion = "2"
	WireGuardPort    = 51820
	// ServerSlots is the number of server peers pre-provisioned on the
	// storage node (the highest maxServers any tier allows).
	ServerSlots = 32
	// ServerMountPoint is where a server mounts the customer's NFS export:
	// OpenNebula's datastores directory itself, so each shared-TM
	// datastore's BASE_PATH (ServerMountPoint/<ID>) is on NFS.
	ServerMountPoint = "/var/lib/one/datastores"
	// VolumeDevice is where Exoscale attaches the block volume.
	VolumeDevice      = "/dev/vdb"
	OpenNebulaRepo    = "https://downloads.opennebula.io/repo/6.10/Ubuntu/24.04"
	OpenNebulaRepoKey = "https://downloads.opennebula.io/repo/repo2.key"
	// NodePackage is the OpenNebula node package the servers install.
	NodePackage       = "opennebula-node-lxc"
	ExoPrivateNetCIDR = "172.16.0.0/24"
	// VXLANPort is the IANA VXLAN port; VDCMTU leaves room for the VXLAN
	// header (50 bytes) inside the Hetzner private network's MTU of 1450.
	VXLANPort = 4789
	VDCMTU    = 1400
	// OneadminUID is the uid and gid OpenNebula's packages give oneadmin;
	// the storage node hands the export's root to it.
	OneadminUID        = 9869
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
	// The VDC network on this host.
	Bridge     string
	Gateway    string // address/prefix on the bridge
	VDCNetwork string
	VXLANID    int
	// FloodPeers are the other slots' private addresses.
	FloodPeers []string
}

// ServerBootstrapFor returns the inputs for server n of a customer with
// address block a.
func ServerBootstrapFor(customer string, n int, a Addresses) ServerBootstrap {
	var peers []string
	for m := 1; m <= ServerSlots; m++ {
		if m != n {
			peers = append(peers, ServerPrivateIP(m))
		}
	}
	return ServerBootstrap{
		Customer: customer, Slot: n, PrivateIP: ServerPrivateIP(n), WireGuardIP: a.ServerWG(n).String(),
		StorageWGIP: a.StorageWG().String(), NFSServer: ExoStorageIP, NFSPath: NFSPath, MountPoint: ServerMountPoint,
		Packages: []string{"nfs-common", NodePackage, "wireguard-tools", "nftables"}, ONERepo: OpenNebulaRepo,
		Bridge: a.BridgeName(), Gateway: netip.PrefixFrom(a.VDCGateway(), a.VDCNetwork().Bits()).String(),
		VDCNetwork: a.VDCNetwork().String(), VXLANID: a.VXLANID(), FloodPeers: peers,
	}
}

// Hash is the value of the "bootstrap" attribute.
func (b ServerBootstrap) Hash() string {
	return shortHash("server", BootstrapVersion, b.Customer, strconv.Itoa(b.Slot), b.PrivateIP, b.WireGuardIP,
		b.StorageWGIP, b.NFSServer, b.NFSPath, b.MountPoint, strings.Join(b.Packages, ","), b.ONERepo,
		b.Bridge, b.Gateway, b.VDCNetwork, strconv.Itoa(b.VXLANID), strings.Join(b.FloodPeers, ","))
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
		NFSPath: NFSPath, Device: VolumeDevice, Slots: ServerSlots, Packages: []string{"nfs-kernel-server", "wireguard-tools", "nftables"}}
}

// Hash is the value of the "bootstrap" attribute.
func (b StorageBootstrap) Hash() string {
	return shortHash("storage", BootstrapVersion, b.Customer, b.WireGuardIP, b.Subnet, b.NFSPath, b.Device,
		strconv.Itoa(b.Slots), strings.Join(b.Packages, ","), b.Addrs.ControlPlaneWG().String(), b.Addrs.DataVMWG().String())
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
	// FrontendSSHKey is the OpenNebula front-end's SSH public key (one
	// authorized_keys line), authorised for oneadmin so the front-end can
	// monitor and drive the host. Required.
	FrontendSSHKey string
}

// StorageSecrets are the secret inputs of the storage node's user data.
type StorageSecrets struct {
	WireGuardPrivateKey string
	// ServerPublicKeys maps a server slot (1..ServerSlots) to its public key.
	ServerPublicKeys map[int]string
	// ControlPlanePublicKey and DataVMPublicKey are the public keys of the
	// control plane's and the data VM's mesh peers. Required.
	ControlPlanePublicKey string
	DataVMPublicKey       string
}

// ErrBadSecret is returned for a malformed key or endpoint; the message
// names the field, never its value.
var ErrBadSecret = errors.New("bad bootstrap secret")

var (
	hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
	// sshKeyRE is one OpenSSH public key line: type, base64 blob, an
	// optional comment of printable characters.
	sshKeyRE = regexp.MustCompile(`^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,2}( [ -~]*)?$`)
)

func checkKey(field, v string) error {
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("%w: %s is not a base64 WireGuard key", ErrBadSecret, field)
	}
	return nil
}

func checkEndpoint(field, v string) error {
	if net.ParseIP(v) == nil && !hostRE.MatchString(v) {
		return fmt.Errorf("%w: %s is not an address or host name", ErrBadSecret, field)
	}
	return nil
}

// wgEndpoint is host:port, an IPv6 address bracketed.
func wgEndpoint(host string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(WireGuardPort)
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

// wgPeer is one [Peer] section of a wg-quick configuration.
type wgPeer struct {
	Comment, PublicKey, Endpoint, AllowedIPs string
	Keepalive                                bool
}

// wgConfig renders a wg-quick configuration (wg0.conf).
func wgConfig(address string, listen bool, private string, peers []wgPeer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[Interface]\nAddress = %s\n", address)
	if listen {
		fmt.Fprintf(&b, "ListenPort = %d\n", WireGuardPort)
	}
	fmt.Fprintf(&b, "PrivateKey = %s\n", private)
	for _, p := range peers {
		fmt.Fprintf(&b, "\n[Peer]\n# %s\nPublicKey = %s\n", p.Comment, p.PublicKey)
		if p.Endpoint != "" {
			fmt.Fprintf(&b, "Endpoint = %s\n", p.Endpoint)
		}
		fmt.Fprintf(&b, "AllowedIPs = %s\n", p.AllowedIPs)
		if p.Keepalive {
			b.WriteString("PersistentKeepalive = 25\n")
		}
	}
	return b.String()
}

type cloudConfig struct {
	// SSHPwauth is always false: the machines' only SSH users are the
	// front-end's key (hosts) and nobody (storage); no password logins.
	SSHPwauth     bool        `yaml:"ssh_pwauth"`
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
	if err := checkEndpoint("storage endpoint", s.StorageEndpoint); err != nil {
		return nil, err
	}
	switch {
	case s.FrontendSSHKey == "":
		return nil, fmt.Errorf("%w: ServerSecrets.FrontendSSHKey is empty: the OpenNebula front-end's SSH public key is required (hint: set the front-end key file in vdc.yaml; --sim uses the simulator's key)", ErrBadSecret)
	case strings.ContainsAny(s.FrontendSSHKey, "\n\r"):
		return nil, fmt.Errorf("%w: ServerSecrets.FrontendSSHKey spans several lines; want one authorized_keys line", ErrBadSecret)
	case !sshKeyRE.MatchString(s.FrontendSSHKey):
		return nil, fmt.Errorf("%w: ServerSecrets.FrontendSSHKey is not an OpenSSH public key line (\"ssh-ed25519 AAAA... comment\")", ErrBadSecret)
	}
	if b.Slot < 1 || b.Slot > ServerSlots {
		return nil, fmt.Errorf("server slot %d outside 1..%d", b.Slot, ServerSlots)
	}
	wg := wgConfig(b.WireGuardIP+"/25", true, s.WireGuardPrivateKey, []wgPeer{{
		Comment: BaseName(b.Customer) + "-storage", PublicKey: s.StoragePublicKey, Endpoint: wgEndpoint(s.StorageEndpoint),
		AllowedIPs: b.StorageWGIP + "/32, " + ExoPrivateNetCIDR, Keepalive: true,
	}})
	cc := cloudConfig{
		PackageUpdate: true,
		Packages:      append([]string{"ca-certificates", "curl", "gnupg"}, withoutItem(b.Packages, NodePackage)...),
		WriteFiles: []writeFile{
			{Path: "/etc/wireguard/wg0.conf", Permissions: "0600", Content: wg},
			{Path: "/etc/apt/sources.list.d/opennebula.list", Permissions: "0644",
				Content: "deb [signed-by=/etc/apt/keyrings/opennebula.gpg] " + b.ONERepo + " stable opennebula\n"},
			{Path: "/etc/agentvdc/frontend.pub", Permissions: "0644", Content: s.FrontendSSHKey + "\n"},
			{Path: "/etc/modules-load.d/agentvdc.conf", Permissions: "0644",
				// The VMs (LXC containers) bring up their own WireGuard
				// interface and cannot load modules themselves.
				Content: "wireguard\nvxlan\n"},
			{Path: "/etc/sysctl.d/60-agentvdc.conf", Permissions: "0644", Content: "net.ipv4.ip_forward = 1\n"},
			{Path: "/etc/nftables.conf", Permissions: "0755", Content: serverNftables(b)},
			{Path: "/usr/local/sbin/agentvdc-vdcnet", Permissions: "0755", Content: serverVDCNetScript(b)},
			{Path: "/etc/systemd/system/agentvdc-vdcnet.service", Permissions: "0644", Content: serverVDCNetUnit(b)},
			{Path: "/usr/local/sbin/agentvdc-host-setup", Permissions: "0755", Content: serverSetupScript(b)},
		},
		RunCmd: []string{
			"sysctl --system",
			"systemctl enable --now nftables.service",
			"systemctl restart nftables.service",
			"systemctl enable --now wg-quick@wg0.service",
			"systemctl daemon-reload",
			"systemctl enable --now agentvdc-vdcnet.service",
			"/usr/local/sbin/agentvdc-host-setup",
		},
	}
	header := fmt.Sprintf("# agentvdc bootstrap v%s: %s, bootstrap %s\n", BootstrapVersion, ServerName(b.Customer, b.Slot), b.Hash())
	return renderCloudConfig(header, cc)
}

func withoutItem(l []string, drop string) []string {
	out := make([]string, 0, len(l))
	for _, s := range l {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// serverSetupScript installs the OpenNebula node from its repository (the
// key is fetched first, so this cannot be a cloud-init package), authorises
// the front-end and mounts the datastores. Idempotent.
func serverSetupScript(b ServerBootstrap) string {
	fstab := fmt.Sprintf("%s:%s %s nfs4 rw,hard,_netdev,x-systemd.requires=wg-quick@wg0.service 0 0",
		b.NFSServer, b.NFSPath, b.MountPoint)
	return fmt.Sprintf(`#!/bin/sh
# OpenNebula LXC node of %[1]s: the node package, the front-end's SSH key
# for oneadmin, the customer's NFS export on the datastores directory.
set -eu
export DEBIAN_FRONTEND=noninteractive
install -d -m 0755 /etc/apt/keyrings
if [ ! -s /etc/apt/keyrings/opennebula.gpg ]; then
  curl -fsSL --retry 5 -o /etc/apt/keyrings/opennebula.asc %[2]s
  gpg --batch --yes --dearmor -o /etc/apt/keyrings/opennebula.gpg /etc/apt/keyrings/opennebula.asc
fi
if ! dpkg -s %[3]s >/dev/null 2>&1; then
  apt-get update
  apt-get install -y %[3]s
fi

# The front-end monitors and drives the host over SSH as oneadmin.
install -d -o oneadmin -g oneadmin -m 0700 /var/lib/one/.ssh
keys=/var/lib/one/.ssh/authorized_keys
[ -f "$keys" ] || install -o oneadmin -g oneadmin -m 0600 /dev/null "$keys"
grep -qxF -f /etc/agentvdc/frontend.pub "$keys" || cat /etc/agentvdc/frontend.pub >> /var/lib/one/.ssh/authorized_keys
chown oneadmin:oneadmin "$keys"
chmod 0600 "$keys"

# Every datastore (BASE_PATH %[4]s/<ID>) lives on the customer's export.
install -d -o oneadmin -g oneadmin -m 0755 %[4]s
grep -qF ' %[4]s ' /etc/fstab || printf '%%s\n' '%[5]s' >> /etc/fstab
systemctl daemon-reload
%[6]s`, ServerName(b.Customer, b.Slot), OpenNebulaRepoKey, NodePackage, b.MountPoint, fstab,
		shRetry("mountpoint -q "+b.MountPoint+" || mount "+b.MountPoint, 60, 10,
			"agentvdc: "+b.NFSServer+":"+b.NFSPath+" not mountable on "+b.MountPoint+" after 10 minutes"))
}

// shRetry is a shell loop retrying cond every pause seconds; after tries
// failures it prints failure and exits 1.
func shRetry(cond string, tries, pause int, failure string) string {
	return fmt.Sprintf(`i=0
until %s; do
  i=$((i + 1))
  if [ "$i" -ge %d ]; then
    echo "%s" >&2
    exit 1
  fi
  sleep %d
done
`, cond, tries, failure, pause)
}

func vxlanName(b ServerBootstrap) string { return "vxlan" + strconv.Itoa(b.VXLANID) }

// bridgeMAC is the same on every host of a customer: the gateway address is
// too (each host routes its own VMs), so an ARP reply from any host points
// at a MAC every bridge owns locally.
func bridgeMAC(gateway string) string {
	ip := net.ParseIP(strings.Split(gateway, "/")[0]).To4()
	if ip == nil {
		return "02:00:00:00:00:01"
	}
	return fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", ip[0], ip[1], ip[2], ip[3])
}

func serverVDCNetScript(b ServerBootstrap) string {
	return fmt.Sprintf(`#!/bin/sh
# The VDC network of %[1]s on this host: bridge %[2]s (gateway %[3]s) joined
# to the customer's other hosts by VXLAN %[4]d over the Hetzner private
# network. The private interface is found by its address (its name depends
# on the server type). Links do not survive a reboot: the unit runs this at
# every boot; it is idempotent.
set -eu
local_ip=%[5]s
%[11]sip link show %[2]s >/dev/null 2>&1 || ip link add %[2]s type bridge
ip link set dev %[2]s address %[6]s mtu %[7]d
ip addr replace %[3]s dev %[2]s
ip link show %[8]s >/dev/null 2>&1 || ip link add %[8]s type vxlan id %[4]d dstport %[9]d local "$local_ip" dev "$dev"
ip link set dev %[8]s master %[2]s mtu %[7]d
for peer in %[10]s; do
  bridge fdb show dev %[8]s | grep -q "^00:00:00:00:00:00 dst $peer " ||
    bridge fdb append 00:00:00:00:00:00 dev %[8]s dst "$peer"
done
ip link set dev %[8]s up
ip link set dev %[2]s up
`, ServerName(b.Customer, b.Slot), b.Bridge, b.Gateway, b.VXLANID, b.PrivateIP, bridgeMAC(b.Gateway), VDCMTU,
		vxlanName(b), VXLANPort, strings.Join(b.FloodPeers, " "),
		shRetry(`dev=$(ip -o -4 addr show | awk -v a="$local_ip" '{ split($4, p, "/"); if (p[1] == a) { print $2; exit } }') && [ -n "$dev" ]`,
			300, 1, "agentvdc-vdcnet: no interface has $local_ip after 300 s"))
}

func serverVDCNetUnit(b ServerBootstrap) string {
	return fmt.Sprintf(`[Unit]
Description=agentvdc VDC network (bridge %s, VXLAN %d)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/agentvdc-vdcnet

[Install]
WantedBy=multi-user.target
`, b.Bridge, b.VXLANID)
}

// serverNftables: the VMs reach the internet through their host
// (masqueraded) and nothing private. The table is replaced as a whole, not
// the ruleset, so OpenNebula's own rules survive a reload.
func serverNftables(b ServerBootstrap) string {
	return fmt.Sprintf(`#!/usr/sbin/nft -f
# agentvdc: the VMs of %[1]s (%[2]s on %[3]s) reach the internet through
# this host and nothing private: not the Hetzner network, the WireGuard
# mesh, the metadata service, nor this host's services.
table inet agentvdc
delete table inet agentvdc
table inet agentvdc {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "%[3]s" ct state established,related accept
		iifname "%[3]s" icmp type echo-request accept
		iifname "%[3]s" drop
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "%[3]s" oifname "%[3]s" accept
		iifname "%[3]s" ip daddr { 10.0.0.0/8, 100.64.0.0/10, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16 } drop
		iifname "%[3]s" ip saddr %[2]s accept
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr %[2]s oifname != "%[3]s" masquerade
	}
}
`, BaseName(b.Customer), b.VDCNetwork, b.Bridge)
}

// RenderStorageUserData renders the cloud-init user data of the storage
// node. The result holds secrets: pass it as Resource.Sensitive[SensitiveUserData].
func RenderStorageUserData(b StorageBootstrap, s StorageSecrets) ([]byte, error) {
	if err := checkKey("storage private key", s.WireGuardPrivateKey); err != nil {
		return nil, err
	}
	if err := checkKey("StorageSecrets.ControlPlanePublicKey", s.ControlPlanePublicKey); err != nil {
		return nil, err
	}
	if err := checkKey("StorageSecrets.DataVMPublicKey", s.DataVMPublicKey); err != nil {
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
	base := BaseName(b.Customer)
	peers := []wgPeer{
		{Comment: base + "-controlplane", PublicKey: s.ControlPlanePublicKey, AllowedIPs: b.Addrs.ControlPlaneWG().String() + "/32"},
		{Comment: base + "-data", PublicKey: s.DataVMPublicKey, AllowedIPs: b.Addrs.DataVMWG().String() + "/32"},
	}
	clients := make([]string, 0, len(slots))
	exports := make([]string, 0, len(slots))
	for _, n := range slots {
		ip := b.Addrs.ServerWG(n).String()
		peers = append(peers, wgPeer{Comment: ServerName(b.Customer, n), PublicKey: s.ServerPublicKeys[n], AllowedIPs: ip + "/32"})
		clients = append(clients, ip)
		exports = append(exports, ip+"(rw,sync,no_subtree_check,no_root_squash)")
	}
	wg := wgConfig(b.WireGuardIP+"/25", true, s.WireGuardPrivateKey, peers)
	volume := fmt.Sprintf(`#!/bin/sh
# Wait for the block volume, format it once, mount and export it; the
# export's root belongs to oneadmin (uid %[3]d on every host).
set -eu
%[4]sblkid %[1]s >/dev/null 2>&1 || mkfs.ext4 -L agentvdc %[1]s
mkdir -p %[2]s
grep -q ' %[2]s ' /etc/fstab || echo '%[1]s %[2]s ext4 defaults,nofail 0 2' >> /etc/fstab
mountpoint -q %[2]s || mount %[2]s
resize2fs %[1]s || true
chown %[3]d:%[3]d %[2]s
exportfs -ra
`, b.Device, b.NFSPath, OneadminUID, shRetry("[ -b "+b.Device+" ]", 600, 1, "volume "+b.Device+" not attached after 10 minutes"))
	cc := cloudConfig{
		PackageUpdate: true,
		Packages:      append([]string(nil), b.Packages...),
		WriteFiles: []writeFile{
			{Path: "/etc/wireguard/wg0.conf", Permissions: "0600", Content: wg},
			{Path: "/etc/exports", Permissions: "0644", Content: b.NFSPath + " " + strings.Join(exports, " ") + "\n"},
			{Path: "/etc/sysctl.d/60-agentvdc.conf", Permissions: "0644", Content: "net.ipv4.ip_forward = 1\n"},
			{Path: "/etc/nftables.conf", Permissions: "0755", Content: storageNftables(b, clients)},
			{Path: "/usr/local/sbin/agentvdc-volume", Permissions: "0755", Content: volume},
			// The volume grows online (autoscaler); grow the file system after it.
			{Path: "/etc/cron.d/agentvdc-resize", Permissions: "0644",
				Content: "*/5 * * * * root /usr/sbin/resize2fs " + b.Device + " >/dev/null 2>&1\n"},
		},
		RunCmd: []string{
			"sysctl --system",
			"systemctl enable --now nftables.service",
			"systemctl restart nftables.service",
			"systemctl enable --now wg-quick@wg0.service",
			"/usr/local/sbin/agentvdc-volume",
			"systemctl enable --now nfs-server.service",
			"exportfs -ra",
		},
	}
	header := fmt.Sprintf("# agentvdc bootstrap v%s: %s-storage, bootstrap %s\n", BootstrapVersion, base, b.Hash())
	return renderCloudConfig(header, cc)
}

// storageNftables: on the public address only WireGuard; NFS only from the
// servers' mesh addresses, SSH only from the control plane, both over wg0;
// forwarding only between mesh peers (control plane ↔ data VM).
func storageNftables(b StorageBootstrap, clients []string) string {
	return fmt.Sprintf(`#!/usr/sbin/nft -f
# agentvdc: the storage node of %[1]s, hub of the mesh %[2]s.
table inet agentvdc
delete table inet agentvdc
table inet agentvdc {
	set nfs_clients {
		type ipv4_addr
		elements = { %[3]s }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept
		ct state established,related accept
		ct state invalid drop
		meta l4proto { icmp, ipv6-icmp } accept
		udp sport 67 udp dport 68 accept
		udp dport %[4]d accept
		iifname "wg0" ip saddr @nfs_clients tcp dport 2049 accept
		iifname "wg0" ip saddr %[5]s tcp dport 22 accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		iifname "wg0" oifname "wg0" accept
	}
}
`, BaseName(b.Customer), b.Subnet, strings.Join(clients, ", "), WireGuardPort, b.Addrs.ControlPlaneWG())
}
