// Package plan owns the resource model and the pure computations on it:
// expansion of a customer into desired resources, the diff of desired
// against observed resources into ordered actions, cost, and the renderers
// (text, markdown, json) and the bootstrap renderers (the servers' and the
// storage node's cloud-init, the data VM's start script, with the releases
// it installs pinned in releases.go). It does no I/O: everything is
// testable with values.
//
// # Resource catalogue (the contract between expansion and the adapters)
//
// Names are deterministic: C is the customer name, N counts from 1.
// Attributes are canonical strings; a reference to another resource is that
// resource's name. Providers observe the same attributes in the same form,
// so a converged customer diffs empty. "U" marks attributes updated in
// place; any other attribute change replaces the resource. "A" marks
// attributes owned by an autoscaler (not drift within the file's bounds).
//
//	kind                       name                    attributes
//	hetzner_network            agentvdc-C              ip_range=10.0.0.0/16, subnet=10.0.1.0/24, network_zone (eu-central)
//	hetzner_firewall           agentvdc-C              rules (U) = "in icmp - 0.0.0.0/0,::/0;in tcp 22 0.0.0.0/0,::/0;in udp 51820 0.0.0.0/0,::/0"
//	                                                   (rules sorted, ";"-joined, each "DIR PROTO PORT|- CIDR,CIDR")
//	hetzner_server             agentvdc-C-srv-N        server_type (U), image (ubuntu-24.04), location, network, firewall (U),
//	                                                   private_ip (10.0.1.(N+10)), bootstrap (sha256 prefix of the non-secret
//	                                                   cloud-init inputs; stored as label agentvdc.io/bootstrap)
//	                                                   count per customer (A) within minServers..maxServers
//	exoscale_private_network   agentvdc-C              zone, start_ip=172.16.0.10, end_ip=172.16.0.250, netmask=255.255.255.0
//	exoscale_security_group    agentvdc-C              rules (U) = "in udp 51820 0.0.0.0/0" (no labels in
//	                                                   Exoscale: ownership is the name prefix agentvdc-, customer from the name)
//	exoscale_instance          agentvdc-C-storage      zone, instance_type (U, e.g. standard.medium), template
//	                                                   ("Linux Ubuntu 24.04 LTS 64-bit"), disk_gb=50, private_network,
//	                                                   private_ip=172.16.0.10, security_group, bootstrap (label)
//	exoscale_block_volume      agentvdc-C-data         zone, size_gb (U grow only, A), instance (attached to; U: a changed
//	                                                   or missing attachment is re-attached, never a replace)
//	opennebula_group           agentvdc-C              (none)
//	opennebula_cluster         agentvdc-C              (none)
//	opennebula_user            agentvdc-C-admin        group, auth_driver=core (password: Sensitive["password"])
//	opennebula_vdc             agentvdc-C              group, cluster (zone 0)
//	opennebula_host            agentvdc-C-srv-N        cluster, im_mad=lxc, vm_mad=lxc (ONEDriver; one per hetzner_server, same
//	                                                   name; registered in oned by that server's public IPv4, the name
//	                                                   kept as the template attribute AGENTVDC_NAME)
//	opennebula_vnet            agentvdc-C-net          cluster, vn_mad=bridge, bridge (vdcK, Addresses.BridgeName), ar_ip (B.130),
//	                                                   ar_size=120
//	opennebula_datastore       agentvdc-C-images       cluster, type=image, ds_mad=fs, tm_mad=shared, bridge_list (U: the
//	                                                   customer's host names, " "-joined; oned gets their public IPv4s),
//	                                                   limit_mb (U, A: volume size_gb*1024)
//	opennebula_datastore       agentvdc-C-system       cluster, type=system, ds_mad="", tm_mad=shared, bridge_list="",
//	                                                   limit_mb (U, A: as above); both live on the storage node's NFS
//	                                                   export, mounted by the hosts at /var/lib/one/datastores/<ID>
//	opennebula_image           agentvdc-C-os           datastore (agentvdc-C-images), marketplace ("OpenNebula Public"), app
//	                                                   ("Ubuntu 24.04"), app_version (ONEImageApp/ONEImageAppVersion: the
//	                                                   marketplace app exported into the datastore)
//	opennebula_template        agentvdc-C-data         cpu (U), memory_mb (U), vnet, ip (B.130, Addresses.DataVMIP: the NIC's
//	                                                   fixed lease), datastore (agentvdc-C-system: SCHED_DS_REQUIREMENTS),
//	                                                   image (agentvdc-C-os: the DISK), services (U, sorted enabled
//	                                                   services "minio,neo4j,qdrant")
//	opennebula_template        agentvdc-C-worker       cpu (U), memory_mb (U), vnet, ip="", datastore, image, services="" (U)
//	opennebula_vm              agentvdc-C-data         template
//	opennebula_flow_template   agentvdc-C-workers      role=workers, vm_template, min_vms (U), max_vms (U), cooldown (U,
//	                                                   seconds), policies (U: canonical JSON array of
//	                                                   {"type","adjust","expression","period","period_number","cooldown"})
//	opennebula_flow_service    agentvdc-C-workers      flow_template, min_vms (U), max_vms (U), policies (U);
//	                                                   the role's cardinality (A) is observed as "cardinality" and never diffed
//
// Labels: every resource carries agentvdc.io/managed-by=agentvdc,
// agentvdc.io/customer=C and agentvdc.io/protected=true|false (from
// protection.deletionProtection) plus the customer's own labels. In OpenNebula
// they are template attributes: AGENTVDC_MANAGED_BY, AGENTVDC_CUSTOMER,
// AGENTVDC_BOOTSTRAP and AGENTVDC_LABELS ("k=v,k2=v2", sorted).
//
// Sensitive inputs (Resource.Sensitive) are never in Attrs, plans or logs:
// "user_data" (cloud-init with WireGuard keys) for hetzner_server and
// exoscale_instance, "password" for opennebula_user, and for the data
// template (opennebula_template agentvdc-C-data) the generated credentials
// of the services it enables: "minio_access_key" and "minio_secret_key"
// (MinIO root user and password), "neo4j_password" (user neo4j),
// "qdrant_api_key", and "start_script" (SensitiveStartScript: the data VM's
// start script, which holds its WireGuard key and those credentials). The
// OpenNebula adapter writes them into the template's CONTEXT
// (MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, NEO4J_PASSWORD, QDRANT_API_KEY;
// the script base64-encoded as START_SCRIPT_BASE64, which OpenNebula's
// contextualization runs as root at every boot); they are never read back.
//
// Outputs (Resource.Outputs, observed facts, never compared): "public_ip"
// (OutputPublicIP) of hetzner_server and exoscale_instance; "state"
// (OutputState, readiness.go) of hetzner_server, opennebula_host,
// opennebula_image and opennebula_vm; "ip" of opennebula_vm, the
// address of its first NIC (oned's lease from the customer's vnet, e.g.
// the data VM's B.130). The agents reach the customer's data services there, on
// fixed ports: MinIO (S3, HTTP) 9000, Qdrant gRPC 6334, Neo4j Bolt 7687
// (constants in reconciler/daemon).
//
// # Expansion, diff and plan
//
// Expand turns a customer into its desired resources, reading the observed
// ones only for what the autoscalers own (server count, volume size).
// Diff compares desired with observed resources into ordered actions;
// Build runs both for every customer and adds the safety rules (invalid
// files plan nothing, protected or not-allowed deletes are blocked, the
// mass-deletion breaker), the cost estimate and the observed-state
// fingerprint. Steps gives the exact execution order for apply.
//
// # Bootstrap
//
// ServerBootstrapFor, StorageBootstrapFor and DataVMBootstrapFor describe
// the non-secret inputs (hashed into the "bootstrap" attribute; a change
// replaces the machine). RenderServerUserData and RenderStorageUserData
// render cloud-init user data once the executor supplies the WireGuard
// keys, the storage node's public address and, for servers, the
// front-end's SSH public key (required); RenderDataVMStartScript renders
// the data VM's start script. bootstrap.go and datavm.go say what each
// machine does:
//
//   - a server is an OpenNebula LXC node (package NodePackage; Hetzner
//     Cloud servers have no /dev/kvm) whose oneadmin trusts the front-end's
//     key, with the customer's NFS export mounted on ServerMountPoint
//     (/var/lib/one/datastores, the parent of every datastore's BASE_PATH),
//     WireGuard to the storage node, and the customer's bridge
//     (Addresses.BridgeName, gateway VDCGateway) joined to its other hosts
//     by VXLAN VXLANID over the Hetzner private network;
//   - the storage node is the mesh hub (peers: every server slot, the
//     control plane, the data VM), forwards only wg0 → wg0, and accepts on
//     its public address only WireGuard; NFS only from the servers' mesh
//     addresses;
//   - the data VM brings up its own wg0 and runs MinIO, Qdrant and Neo4j
//     (DataReleases, checksums verified) as systemd services bound to
//     DataVMWG and loopback only, data under DataVMStateDir, with health
//     checks (MinIO /minio/health/live, Qdrant /healthz, Neo4j's HTTP
//     discovery endpoint).
//
// The rendered files pass Debian's validators (cloud-init schema,
// wg-quick strip, sh -n, shellcheck, nft -c) in rendered_validate_test.go;
// testdata/bootstrap-*.golden show one customer's (go test ./plan -run
// GoldenBootstrap -update).
//
// # Renderers
//
// RenderText, RenderMarkdown and RenderJSON format a Plan and compute
// nothing; docs/plan-json.md documents the JSON field by field.
package plan
