package plan

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// The data VM's start script.
//
// The data VM (opennebula_vm agentvdc-C-data, an LXC system container
// running Ubuntu 24.04) is configured by OpenNebula's contextualization,
// which runs the template's START_SCRIPT_BASE64 as root at every boot. The
// script RenderDataVMStartScript renders:
//
//   - brings up wg0 on DataVMWG/25 with the storage node as its only peer
//     (AllowedIPs MeshSubnet, keepalive 25 s: the VM has no public address,
//     it dials out);
//   - installs the enabled services from DataReleases (releases.go),
//     verifying each download's SHA-256 and stopping with an error on a
//     mismatch, as native systemd services (agentvdc-minio, agentvdc-qdrant,
//     agentvdc-neo4j) running as their own system users with Restart=always
//     and systemd sandboxing, data under /var/lib/agentvdc/<service>;
//   - binds each service only to DataVMWG and loopback: MinIO S3 on
//     DataVMWG:9000 (MinIO also listens on loopback for itself; its console
//     is off), Qdrant HTTP 6333 and gRPC 6334 on DataVMWG, Neo4j Bolt on
//     DataVMWG:7687 and its HTTP API on 127.0.0.1:7474;
//   - sets the per-customer credentials (MinIO root user, Qdrant API key,
//     Neo4j's initial password of user neo4j, set once before the first
//     start) from DataVMSecrets, in root-only files, never printed;
//   - installs agentvdc-health.timer, which checks every minute
//     MinIO http://DataVMWG:9000/minio/health/live, Qdrant
//     http://DataVMWG:6333/healthz and Neo4j's HTTP discovery endpoint
//     http://127.0.0.1:7474/ (served by the process that serves Bolt), and
//     restarts a service failing HealthFailures checks in a row (crashes are
//     Restart=always's); the last result is in /run/agentvdc-health/status.
//
// Re-running it (every boot, or a changed context) changes nothing that is
// already right: files are replaced only when their content differs, a
// service is restarted only when its files changed, downloads are kept and
// re-verified. A service no longer enabled is stopped and disabled; its data
// stays.
const (
	// SensitiveStartScript is the Resource.Sensitive key of the data
	// template's start script; the OpenNebula adapter writes it base64
	// encoded into CONTEXT START_SCRIPT_BASE64.
	SensitiveStartScript = "start_script"
	// DataVMBootstrapVersion is bumped whenever the script changes shape.
	DataVMBootstrapVersion = "1"
	// Ports of the data services.
	MinIOPort      = 9000
	QdrantHTTPPort = 6333
	QdrantGRPCPort = 6334
	Neo4jBoltPort  = 7687
	Neo4jHTTPPort  = 7474
	// DataVMStateDir holds the services' data (one directory each).
	DataVMStateDir = "/var/lib/agentvdc"
	// HealthFailures is how many failed health checks in a row restart a
	// service.
	HealthFailures = 5
)

// DataVMBootstrap holds the non-secret inputs of the data VM's start script.
type DataVMBootstrap struct {
	Customer   string
	Address    string // DataVMWG
	MeshSubnet string
	Services   []string
	Releases   []Release
}

// DataVMBootstrapFor returns the inputs for a customer's data VM with
// address block a; services is the data template's "services" attribute
// ("minio,neo4j,qdrant", sorted, possibly empty).
func DataVMBootstrapFor(customer string, a Addresses, services string) DataVMBootstrap {
	b := DataVMBootstrap{Customer: customer, Address: a.DataVMWG().String(), MeshSubnet: a.MeshSubnet().String()}
	rel := DataReleases()
	for _, s := range strings.Split(services, ",") {
		if s = strings.TrimSpace(s); s != "" {
			b.Services = append(b.Services, s)
		}
	}
	slices.Sort(b.Services)
	b.Services = slices.Compact(b.Services)
	for _, s := range b.Services {
		if r, ok := rel[s]; ok {
			b.Releases = append(b.Releases, r)
		}
	}
	return b
}

// Hash is the value of the data template's "bootstrap" attribute.
func (b DataVMBootstrap) Hash() string {
	parts := []string{"datavm", DataVMBootstrapVersion, b.Customer, b.Address, b.MeshSubnet, strings.Join(b.Services, ",")}
	for _, r := range b.Releases {
		parts = append(parts, r.Service, r.Version, r.URL, r.SHA256)
	}
	return shortHash(parts...)
}

// DataVMSecrets are the secret and runtime inputs of the data VM's start
// script. The credentials of a service that is not enabled may be empty.
type DataVMSecrets struct {
	WireGuardPrivateKey string
	StoragePublicKey    string
	// StorageEndpoint is the storage node's public IP address or host name.
	StorageEndpoint string
	MinIOAccessKey  string
	MinIOSecretKey  string
	Neo4jPassword   string
	QdrantAPIKey    string
}

// credRE is what a generated credential looks like (base64url or hex):
// nothing a shell, an env file or a YAML scalar would interpret.
var credRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func checkCred(field, v string, minLen, maxLen int) error {
	if len(v) < minLen || len(v) > maxLen || !credRE.MatchString(v) {
		return fmt.Errorf("%w: %s must be %d to %d characters of [A-Za-z0-9_-]", ErrBadSecret, field, minLen, maxLen)
	}
	return nil
}

type dataVMScript struct {
	DataVMBootstrap
	Hash, WireGuard                    string
	MinIO, Neo4j, Qdrant               *Release
	MinIOUser, MinIOPassword           string
	Neo4jPassword, QdrantAPIKey        string
	Neo4jJRE, JavaHome, StateDir       string
	MinIOPort, QdrantHTTP, QdrantGRPC  int
	Neo4jBolt, Neo4jHTTP, HealthFailed int
	Disabled                           []string
	// Units are the systemd units of the enabled services, by service.
	Units map[string]string
}

// unitSpec is what differs between the data services' systemd units.
type unitSpec struct {
	Description, User, Exec, ReadWrite string
	Env                                []string // Environment= values
	EnvFile, WorkDir                   string
	Extra                              []string // further [Service] lines
}

// serviceUnit is a data service's unit: after the mesh (it binds to wg0's
// address), as its own user, sandboxed (hardening), restarted always.
func serviceUnit(u unitSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[Unit]\nDescription=%s\nRequires=wg-quick@wg0.service\nAfter=network-online.target wg-quick@wg0.service\n\n", u.Description)
	fmt.Fprintf(&b, "[Service]\nUser=%s\nGroup=%s\n", u.User, u.User)
	for _, e := range u.Env {
		fmt.Fprintf(&b, "Environment=%s\n", e)
	}
	if u.EnvFile != "" {
		fmt.Fprintf(&b, "EnvironmentFile=%s\n", u.EnvFile)
	}
	if u.WorkDir != "" {
		fmt.Fprintf(&b, "WorkingDirectory=%s\n", u.WorkDir)
	}
	fmt.Fprintf(&b, "ExecStart=%s\nReadWritePaths=%s\n", u.Exec, u.ReadWrite)
	for _, l := range u.Extra {
		b.WriteString(l + "\n")
	}
	b.WriteString(hardening + "\n\n[Install]\nWantedBy=multi-user.target\n")
	return b.String()
}

// RenderDataVMStartScript renders the data VM's start script (POSIX sh).
// The result holds secrets: pass it as Resource.Sensitive[SensitiveStartScript].
func RenderDataVMStartScript(b DataVMBootstrap, s DataVMSecrets) ([]byte, error) {
	if err := checkKey("DataVMSecrets.WireGuardPrivateKey", s.WireGuardPrivateKey); err != nil {
		return nil, err
	}
	if err := checkKey("DataVMSecrets.StoragePublicKey", s.StoragePublicKey); err != nil {
		return nil, err
	}
	if err := checkEndpoint("DataVMSecrets.StorageEndpoint", s.StorageEndpoint); err != nil {
		return nil, err
	}
	rel := DataReleases()
	d := dataVMScript{
		DataVMBootstrap: b, Hash: b.Hash(), Neo4jJRE: Neo4jJREPackage, JavaHome: Neo4jJavaHome, StateDir: DataVMStateDir,
		MinIOPort: MinIOPort, QdrantHTTP: QdrantHTTPPort, QdrantGRPC: QdrantGRPCPort, Neo4jBolt: Neo4jBoltPort,
		Neo4jHTTP: Neo4jHTTPPort, HealthFailed: HealthFailures, Units: map[string]string{},
	}
	for _, svc := range b.Services {
		r, ok := rel[svc]
		if !ok {
			return nil, fmt.Errorf("data VM of %s: unknown service %q (want %s, %s or %s)", b.Customer, svc, ServiceMinIO, ServiceNeo4j, ServiceQdrant)
		}
		switch svc {
		case ServiceMinIO:
			// MinIO's limits: root user 3-20, password 8-40 characters.
			if err := checkCred("DataVMSecrets.MinIOAccessKey", s.MinIOAccessKey, 3, 20); err != nil {
				return nil, err
			}
			if err := checkCred("DataVMSecrets.MinIOSecretKey", s.MinIOSecretKey, 8, 40); err != nil {
				return nil, err
			}
			d.MinIO, d.MinIOUser, d.MinIOPassword = &r, s.MinIOAccessKey, s.MinIOSecretKey
			d.Units[svc] = serviceUnit(unitSpec{Description: "MinIO object store (agentvdc)", User: "agentvdc-minio",
				EnvFile: "/etc/agentvdc/minio.env", ReadWrite: DataVMStateDir + "/minio", Extra: []string{"LimitNOFILE=65536"},
				Exec: fmt.Sprintf("/opt/agentvdc/minio-%s/minio server --quiet --address %s:%d %s/minio", r.Version, b.Address, MinIOPort, DataVMStateDir)})
		case ServiceNeo4j:
			// Neo4j 5 refuses passwords shorter than 8 characters.
			if err := checkCred("DataVMSecrets.Neo4jPassword", s.Neo4jPassword, 8, 128); err != nil {
				return nil, err
			}
			d.Neo4j, d.Neo4jPassword = &r, s.Neo4jPassword
			home := "/opt/agentvdc/neo4j-community-" + r.Version
			d.Units[svc] = serviceUnit(unitSpec{Description: "Neo4j graph database (agentvdc)", User: "agentvdc-neo4j",
				Env:  []string{"NEO4J_CONF=/etc/agentvdc/neo4j", "NEO4J_HOME=" + home, "JAVA_HOME=" + Neo4jJavaHome},
				Exec: home + "/bin/neo4j console", ReadWrite: DataVMStateDir + "/neo4j",
				Extra: []string{"RuntimeDirectory=agentvdc-neo4j", "LimitNOFILE=60000", "TimeoutStopSec=120"}})
		case ServiceQdrant:
			if err := checkCred("DataVMSecrets.QdrantAPIKey", s.QdrantAPIKey, 16, 128); err != nil {
				return nil, err
			}
			d.Qdrant, d.QdrantAPIKey = &r, s.QdrantAPIKey
			d.Units[svc] = serviceUnit(unitSpec{Description: "Qdrant vector store (agentvdc)", User: "agentvdc-qdrant",
				EnvFile: "/etc/agentvdc/qdrant.env", WorkDir: DataVMStateDir + "/qdrant", ReadWrite: DataVMStateDir + "/qdrant",
				Exec: "/opt/agentvdc/qdrant-" + r.Version + "/qdrant --disable-telemetry", Extra: []string{"LimitNOFILE=65536"}})
		}
	}
	for _, svc := range []string{ServiceMinIO, ServiceNeo4j, ServiceQdrant} {
		if !slices.Contains(b.Services, svc) {
			d.Disabled = append(d.Disabled, svc)
		}
	}
	d.WireGuard = dataVMWireGuard(b, s)
	t, err := template.New("datavm").Parse(dataVMTemplate)
	if err != nil {
		return nil, fmt.Errorf("data VM script template: %w", err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, d); err != nil {
		return nil, fmt.Errorf("render data VM script: %w", err)
	}
	return out.Bytes(), nil
}

// dataVMWireGuard is the data VM's wg0.conf.
func dataVMWireGuard(b DataVMBootstrap, s DataVMSecrets) string {
	return wgConfig(b.Address+"/25", false, s.WireGuardPrivateKey, []wgPeer{{
		Comment: BaseName(b.Customer) + "-storage", PublicKey: s.StoragePublicKey, Endpoint: wgEndpoint(s.StorageEndpoint),
		AllowedIPs: b.MeshSubnet, Keepalive: true,
	}})
}

// hardening is the systemd sandbox of every data service: credentials
// (own user, no capabilities, no new privileges), seccomp (address
// families, architectures, namespaces, personality) and a read-only file
// system but for the service's data (ProtectSystem=strict with
// ReadWritePaths). Where the container may not create mount namespaces,
// systemd starts the service without the mount-namespace options (it logs
// "Failed to set up namespace, assuming containerized execution and
// ignoring" at debug level) rather than failing it; PrivateDevices= is left
// out because some container setups refuse it outright.
const hardening = `NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
UMask=0077
Restart=always
RestartSec=5`

const dataVMTemplate = `#!/bin/sh
# agentvdc data VM of {{.Customer}} (bootstrap {{.Hash}}): WireGuard
# {{.Address}} in {{.MeshSubnet}}, services: {{range $i, $s := .Services}}{{if $i}}, {{end}}{{$s}}{{else}}none{{end}}.
# Run by OpenNebula's contextualization as root at every boot; idempotent.
# It holds the customer's credentials: it never prints them and writes
# them only to root-only files.
set -eu
umask 077
export DEBIAN_FRONTEND=noninteractive

log() { printf 'agentvdc-data: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

# put PATH MODE: replace PATH with standard input if it differs; succeeds
# only when PATH changed.
put() {
  tmp=$(mktemp "$1.XXXXXX")
  cat > "$tmp"
  chmod "$2" "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$1"
}

# fetch URL SHA256 FILE: download once into FILE, verified; a mismatch stops
# the script.
fetch() {
  if [ -f "$3" ] && printf '%s  %s\n' "$2" "$3" | sha256sum -c --status; then
    return 0
  fi
  log "downloading $1"
  curl -fsSL --retry 5 --retry-delay 5 -o "$3.part" "$1" || die "download of $1 failed"
  if ! printf '%s  %s\n' "$2" "$3.part" | sha256sum -c --status; then
    got=$(sha256sum "$3.part" | cut -d ' ' -f 1)
    rm -f "$3.part"
    die "checksum mismatch for $1: want $2, got $got; not installing it"
  fi
  mv -f "$3.part" "$3"
}

# sysuser NAME HOME: a system user for one service.
sysuser() {
  id -u "$1" >/dev/null 2>&1 || useradd --system --user-group --home-dir "$2" --no-create-home --shell /usr/sbin/nologin "$1"
}

# run_unit NAME CHANGED: enable NAME; restart it when its files changed.
run_unit() {
  systemctl enable "$1" >/dev/null 2>&1
  if [ "$2" = 1 ]; then
    systemctl restart "$1"
  else
    systemctl start "$1"
  fi
}

need=""
for p in ca-certificates curl tar wireguard-tools{{if .Neo4j}} {{.Neo4jJRE}}{{end}}; do
  dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
  log "installing packages:$need"
  apt-get update -q
  # shellcheck disable=SC2086 # a list of package names
  apt-get install -y -q --no-install-recommends $need
fi

install -d -m 0755 /etc/agentvdc /opt/agentvdc /var/cache/agentvdc {{.StateDir}}
install -d -m 0700 /etc/wireguard

# The customer's mesh: the storage node is the only peer (and the hub).
if put /etc/wireguard/wg0.conf 0600 <<'AGENTVDC_EOF'
{{.WireGuard}}AGENTVDC_EOF
then
  systemctl enable wg-quick@wg0.service >/dev/null 2>&1
  systemctl restart wg-quick@wg0.service
else
  systemctl enable --now wg-quick@wg0.service >/dev/null 2>&1
fi
ip -4 addr show dev wg0 | grep -qF 'inet {{.Address}}/' || die "wg0 has no address {{.Address}}"
{{- with .MinIO}}

# MinIO {{.Version}}: S3 on {{$.Address}}:{{$.MinIOPort}} (and loopback), console off.
sysuser agentvdc-minio {{$.StateDir}}/minio
install -d -o agentvdc-minio -g agentvdc-minio -m 0750 {{$.StateDir}}/minio
fetch '{{.URL}}' {{.SHA256}} /var/cache/agentvdc/minio-{{.Version}}
install -d -m 0755 /opt/agentvdc/minio-{{.Version}}
install -m 0755 /var/cache/agentvdc/minio-{{.Version}} /opt/agentvdc/minio-{{.Version}}/minio
minio_changed=0
put /etc/agentvdc/minio.env 0600 <<'AGENTVDC_EOF' && minio_changed=1
MINIO_ROOT_USER={{$.MinIOUser}}
MINIO_ROOT_PASSWORD={{$.MinIOPassword}}
MINIO_BROWSER=off
AGENTVDC_EOF
put /etc/systemd/system/agentvdc-minio.service 0644 <<'AGENTVDC_EOF' && minio_changed=1
{{$.Units.minio}}AGENTVDC_EOF
{{- end}}
{{- with .Qdrant}}

# Qdrant {{.Version}}: HTTP {{$.Address}}:{{$.QdrantHTTP}}, gRPC {{$.Address}}:{{$.QdrantGRPC}}, API key required.
sysuser agentvdc-qdrant {{$.StateDir}}/qdrant
install -d -o agentvdc-qdrant -g agentvdc-qdrant -m 0750 {{$.StateDir}}/qdrant
fetch '{{.URL}}' {{.SHA256}} /var/cache/agentvdc/qdrant-{{.Version}}.tar.gz
if [ ! -x /opt/agentvdc/qdrant-{{.Version}}/qdrant ]; then
  install -d -m 0755 /opt/agentvdc/qdrant-{{.Version}}
  tar -xzf /var/cache/agentvdc/qdrant-{{.Version}}.tar.gz -C /opt/agentvdc/qdrant-{{.Version}}
  chmod -R go-w,a+rX /opt/agentvdc/qdrant-{{.Version}}
fi
[ -x /opt/agentvdc/qdrant-{{.Version}}/qdrant ] || die "/opt/agentvdc/qdrant-{{.Version}}/qdrant missing after unpacking"
qdrant_changed=0
put /etc/agentvdc/qdrant.env 0600 <<'AGENTVDC_EOF' && qdrant_changed=1
QDRANT__SERVICE__HOST={{$.Address}}
QDRANT__SERVICE__HTTP_PORT={{$.QdrantHTTP}}
QDRANT__SERVICE__GRPC_PORT={{$.QdrantGRPC}}
QDRANT__SERVICE__API_KEY={{$.QdrantAPIKey}}
QDRANT__SERVICE__ENABLE_STATIC_CONTENT=false
QDRANT__STORAGE__STORAGE_PATH={{$.StateDir}}/qdrant/storage
QDRANT__STORAGE__SNAPSHOTS_PATH={{$.StateDir}}/qdrant/snapshots
QDRANT__TELEMETRY_DISABLED=true
AGENTVDC_EOF
put /etc/systemd/system/agentvdc-qdrant.service 0644 <<'AGENTVDC_EOF' && qdrant_changed=1
{{$.Units.qdrant}}AGENTVDC_EOF
{{- end}}
{{- with .Neo4j}}

# Neo4j {{.Version}} (Community, Java from {{$.Neo4jJRE}}): Bolt {{$.Address}}:{{$.Neo4jBolt}}, HTTP 127.0.0.1:{{$.Neo4jHTTP}}.
sysuser agentvdc-neo4j {{$.StateDir}}/neo4j
install -d -o agentvdc-neo4j -g agentvdc-neo4j -m 0750 {{$.StateDir}}/neo4j
for d in data logs import; do
  install -d -o agentvdc-neo4j -g agentvdc-neo4j -m 0750 "{{$.StateDir}}/neo4j/$d"
done
fetch '{{.URL}}' {{.SHA256}} /var/cache/agentvdc/neo4j-community-{{.Version}}-unix.tar.gz
neo4j_home=/opt/agentvdc/neo4j-community-{{.Version}}
if [ ! -x "$neo4j_home/bin/neo4j" ]; then
  tar -xzf /var/cache/agentvdc/neo4j-community-{{.Version}}-unix.tar.gz -C /opt/agentvdc
  chmod -R go-w,a+rX "$neo4j_home"
fi
[ -x "$neo4j_home/bin/neo4j" ] || die "$neo4j_home/bin/neo4j missing after unpacking"
install -d -m 0750 -g agentvdc-neo4j /etc/agentvdc/neo4j
for f in "$neo4j_home"/conf/*.xml; do
  [ -f "/etc/agentvdc/neo4j/${f##*/}" ] || install -m 0640 -g agentvdc-neo4j "$f" /etc/agentvdc/neo4j/
done
# Heap and page cache: an eighth of the VM's memory each (the VM runs the
# other services too), at least 256 and 128 MiB.
mem_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
# /proc/meminfo shows the host's memory unless lxcfs is in use: the
# container's cgroup limit is the truth.
limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || echo max)
case "$limit" in
  '' | max) ;;
  *) [ "$((limit / 1048576))" -ge "$mem_mb" ] || mem_mb=$((limit / 1048576)) ;;
esac
heap_mb=$((mem_mb / 8))
[ "$heap_mb" -ge 256 ] || heap_mb=256
cache_mb=$((mem_mb / 8))
[ "$cache_mb" -ge 128 ] || cache_mb=128
neo4j_changed=0
{
  cat <<'AGENTVDC_EOF'
server.default_listen_address=127.0.0.1
server.bolt.listen_address={{$.Address}}:{{$.Neo4jBolt}}
server.bolt.advertised_address={{$.Address}}:{{$.Neo4jBolt}}
server.http.listen_address=127.0.0.1:{{$.Neo4jHTTP}}
server.http.advertised_address=127.0.0.1:{{$.Neo4jHTTP}}
server.https.enabled=false
server.directories.data={{$.StateDir}}/neo4j/data
server.directories.logs={{$.StateDir}}/neo4j/logs
server.directories.import={{$.StateDir}}/neo4j/import
server.directories.run=/run/agentvdc-neo4j
dbms.usage_report.enabled=false
dbms.security.auth_enabled=true
server.jvm.additional=-XX:+ExitOnOutOfMemoryError
AGENTVDC_EOF
  printf 'server.memory.heap.initial_size=%sm\nserver.memory.heap.max_size=%sm\nserver.memory.pagecache.size=%sm\n' \
    "$heap_mb" "$heap_mb" "$cache_mb"
} | put /etc/agentvdc/neo4j/neo4j.conf 0640 && neo4j_changed=1
chgrp agentvdc-neo4j /etc/agentvdc/neo4j/neo4j.conf
# The initial password can only be set before the first start.
if [ ! -f {{$.StateDir}}/neo4j/data/dbms/auth.ini ]; then
  neo4j_password='{{$.Neo4jPassword}}'
  runuser -u agentvdc-neo4j -- env NEO4J_CONF=/etc/agentvdc/neo4j NEO4J_HOME="$neo4j_home" JAVA_HOME={{$.JavaHome}} \
    "$neo4j_home/bin/neo4j-admin" dbms set-initial-password "$neo4j_password" >/dev/null ||
    die "setting Neo4j's initial password failed"
  unset neo4j_password
fi
put /etc/systemd/system/agentvdc-neo4j.service 0644 <<'AGENTVDC_EOF' && neo4j_changed=1
{{$.Units.neo4j}}AGENTVDC_EOF
{{- end}}

# Health checks: every minute; HealthFailures failures in a row restart the service.
put /usr/local/sbin/agentvdc-health 0755 <<'AGENTVDC_EOF' || true
#!/bin/sh
# Health of the data services; the last result is in /run/agentvdc-health/status.
set -u
state=/run/agentvdc-health
mkdir -p "$state"
rc=0
: > "$state/status.new"
check() {
  if curl -fsS -o /dev/null --max-time 5 "$3"; then
    rm -f "$state/$1.failures"
    echo "$1 ok" >> "$state/status.new"
    return 0
  fi
  rc=1
  n=$(cat "$state/$1.failures" 2>/dev/null || echo 0)
  n=$((n + 1))
  echo "$n" > "$state/$1.failures"
  echo "$1 failing ($n)" >> "$state/status.new"
  if [ "$n" -ge {{.HealthFailed}} ]; then
    echo "agentvdc-health: restarting $2 after $n failed checks" >&2
    rm -f "$state/$1.failures"
    systemctl restart "$2" || true
  fi
}
{{- if .MinIO}}
check minio agentvdc-minio.service http://{{.Address}}:{{.MinIOPort}}/minio/health/live
{{- end}}
{{- if .Qdrant}}
check qdrant agentvdc-qdrant.service http://{{.Address}}:{{.QdrantHTTP}}/healthz
{{- end}}
{{- if .Neo4j}}
check neo4j agentvdc-neo4j.service http://127.0.0.1:{{.Neo4jHTTP}}/
{{- end}}
mv -f "$state/status.new" "$state/status"
exit "$rc"
AGENTVDC_EOF
put /etc/systemd/system/agentvdc-health.service 0644 <<'AGENTVDC_EOF' || true
[Unit]
Description=Health checks of the agentvdc data services

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/agentvdc-health
AGENTVDC_EOF
put /etc/systemd/system/agentvdc-health.timer 0644 <<'AGENTVDC_EOF' || true
[Unit]
Description=Health checks of the agentvdc data services, every minute

[Timer]
OnBootSec=3min
OnUnitActiveSec=1min

[Install]
WantedBy=timers.target
AGENTVDC_EOF

systemctl daemon-reload
{{- range .Disabled}}
if [ -f /etc/systemd/system/agentvdc-{{.}}.service ]; then
  log "{{.}} is not enabled any more: stopping it (its data stays)"
  systemctl disable --now agentvdc-{{.}}.service >/dev/null 2>&1 || true
fi
{{- end}}
{{- if .MinIO}}
run_unit agentvdc-minio.service "$minio_changed"
{{- end}}
{{- if .Qdrant}}
run_unit agentvdc-qdrant.service "$qdrant_changed"
{{- end}}
{{- if .Neo4j}}
run_unit agentvdc-neo4j.service "$neo4j_changed"
{{- end}}
systemctl enable --now agentvdc-health.timer >/dev/null 2>&1
log "configured{{range .Services}} {{.}}{{end}}"
`
