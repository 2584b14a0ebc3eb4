package plan

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/agentvdc/agentvdc/schema"
)

// Fixed values of the catalogue (doc.go). They are part of the contract
// with the adapters: changing one replaces resources of every customer.
const (
	HetznerIPRange       = "10.0.0.0/16"
	HetznerSubnet        = "10.0.1.0/24"
	HetznerNetworkZone   = "eu-central"
	HetznerImage         = "ubuntu-24.04"
	HetznerFirewallRules = "in icmp - 0.0.0.0/0,::/0;in tcp 22 0.0.0.0/0,::/0;in udp 51820 0.0.0.0/0,::/0"

	ExoStartIP   = "172.16.0.10"
	ExoEndIP     = "172.16.0.250"
	ExoNetmask   = "255.255.255.0"
	ExoStorageIP = "172.16.0.10"
	ExoTemplate  = "Linux Ubuntu 24.04 LTS 64-bit"
	ExoDiskGB    = 50
	// ExoSecurityRules: the storage node answers only WireGuard publicly
	// (NFS is served inside the tunnel; nothing needs SSH to it).
	ExoSecurityRules = "in udp 51820 0.0.0.0/0"

	NFSPath = "/export/agentvdc"

	// ONEDriver is the IM and VM driver of the customers' hosts:
	// OpenNebula's LXC driver (system containers), since Hetzner Cloud
	// servers expose no hardware virtualisation (/dev/kvm) for KVM.
	ONEDriver = "lxc"
	// The OS image of every customer's VMs: one app of OpenNebula's public
	// marketplace, pinned by name and version, exported into the customer's
	// image datastore. Changing either replaces every customer's image
	// (and, through their DISK, the templates).
	ONEMarketplace     = "OpenNebula Public"
	ONEImageApp        = "Ubuntu 24.04"
	ONEImageAppVersion = "6.10.0-2-20240514"

	// WorkersRole is the OneFlow role that carries the elasticity policies.
	WorkersRole = "workers"
	// PolicyPeriod and PolicyPeriodNumber: a policy fires after
	// PolicyPeriodNumber consecutive true evaluations PolicyPeriod seconds apart.
	PolicyPeriod       = 60
	PolicyPeriodNumber = 3
)

// Sizing is what a tier gets besides the file's values: the Exoscale
// storage instance type and the two OpenNebula VM templates.
type Sizing struct {
	StorageInstanceType string
	DataCPU             int
	DataMemoryMB        int
	WorkerCPU           int
	WorkerMemoryMB      int
}

// TierSizing returns the sizing of a tier (pro for an unknown tier).
//
// CPU is OpenNebula's CPU attribute, the share of physical cores the
// scheduler reserves, checked against the hosts' monitored capacity: a
// tier's data VM plus its minWorkers workers must fit on its minServers
// servers of the default type (casual cx22: 2 cores/4 GB, pro ccx13:
// 2/8, enterprise 2 × ccx33: 8/32 each), or the workers stay PENDING.
func TierSizing(t schema.Tier) Sizing {
	switch t {
	case schema.TierCasual:
		// standard.small, not tiny: Exoscale attaches Block Storage only to
		// instances of size Small or larger.
		return Sizing{StorageInstanceType: "standard.small", DataCPU: 1, DataMemoryMB: 2048, WorkerCPU: 1, WorkerMemoryMB: 1024}
	case schema.TierEnterprise:
		return Sizing{StorageInstanceType: "standard.medium", DataCPU: 4, DataMemoryMB: 8192, WorkerCPU: 2, WorkerMemoryMB: 4096}
	default:
		return Sizing{StorageInstanceType: "standard.small", DataCPU: 1, DataMemoryMB: 4096, WorkerCPU: 1, WorkerMemoryMB: 2048}
	}
}

// Names of a customer's resources (doc.go catalogue).

// BaseName is "agentvdc-C", the name of the customer's singleton resources.
func BaseName(customer string) string { return NamePrefix + customer }

// ServerName is the name of the customer's Nth Hetzner server and of its
// OpenNebula host.
func ServerName(customer string, n int) string {
	return NamePrefix + customer + "-srv-" + strconv.Itoa(n)
}

// ServerSlot reads N from a server or host name of the customer; ok is
// false for any other name.
func ServerSlot(customer, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, NamePrefix+customer+"-srv-")
	if !ok || rest == "" || rest[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// ServerPrivateIP is the Hetzner private address of server N.
func ServerPrivateIP(n int) string { return "10.0.1." + strconv.Itoa(n+10) }

// Policy is one OneFlow elasticity policy as the catalogue stores it
// (field order is the canonical JSON order).
type Policy struct {
	Type         string `json:"type"`
	Adjust       int    `json:"adjust"`
	Expression   string `json:"expression"`
	Period       int    `json:"period"`
	PeriodNumber int    `json:"period_number"`
	Cooldown     int    `json:"cooldown"`
}

// Policies returns the workers role's elasticity policies of a customer:
// scale out by step above cpuPercent, in by step below lowWaterPercent.
func Policies(c schema.Customer) []Policy {
	a := c.Compute.Autoscale
	cd := int(a.Cooldown.Seconds())
	return []Policy{
		{Type: "CHANGE", Adjust: a.Step, Expression: "CPU > " + strconv.Itoa(a.CPUPercent), Period: PolicyPeriod, PeriodNumber: PolicyPeriodNumber, Cooldown: cd},
		{Type: "CHANGE", Adjust: -a.Step, Expression: "CPU < " + strconv.Itoa(a.LowWaterPercent), Period: PolicyPeriod, PeriodNumber: PolicyPeriodNumber, Cooldown: cd},
	}
}

// PoliciesJSON is the canonical form of policies (the "policies" attribute).
func PoliciesJSON(ps []Policy) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)               // "CPU > 80", not "CPU \u003e 80"
	if err := enc.Encode(ps); err != nil { // cannot happen: only ints and strings
		return "[]"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Expand returns every desired resource of customer c, sorted by
// SortResources. observed may hold any customers' resources; only c's are
// read, for the attributes the autoscalers own:
//   - servers: N = clamp(observed hetzner_server count, minServers,
//     maxServers); the N lowest-numbered observed servers are kept and gaps
//     are filled from srv-1 upwards, so scale-in removes the highest numbers
//     and a converged customer keeps its names.
//   - volume: size_gb = max(initialGB, observed size_gb); an observed size
//     above maxGB yields maxGB, which Diff reports as a shrink (an error).
//   - the datastores' limit_mb follows the volume.
//
// a is the customer's address block (allocated by the caller).
func Expand(c schema.Customer, a Addresses, observed []Resource) []Resource {
	return ExpandScaled(c, a, observed, Scale{})
}

// Scale is an autoscaler's target for a customer; zero fields leave the
// observed value. Targets are clamped to the file's bounds, and the volume
// never shrinks.
type Scale struct {
	Servers  int `json:"servers,omitempty"`
	VolumeGB int `json:"volume_gb,omitempty"`
}

// ExpandScaled is Expand with the autoscaler's target for the customer.
func ExpandScaled(c schema.Customer, a Addresses, observed []Resource, sc Scale) []Resource {
	var mine []Resource
	for _, r := range observed {
		if customerOf(r) == c.Name {
			mine = append(mine, r)
		}
	}
	return expand(c, a, mine, sc)
}

// customerOf is the customer a resource belongs to.
func customerOf(r Resource) string {
	if r.Customer != "" {
		return r.Customer
	}
	return r.Labels[LabelCustomer]
}

// expand is Expand on the customer's own observed resources.
func expand(c schema.Customer, addrs Addresses, mine []Resource, sc Scale) []Resource {
	name := c.Name
	base := BaseName(name)
	sz := TierSizing(c.Tier)
	labels := customerLabels(c)

	var observedSlots []int
	observedSize := 0
	for _, r := range mine {
		switch r.Kind {
		case HetznerServer:
			if n, ok := ServerSlot(name, r.Name); ok {
				observedSlots = append(observedSlots, n)
			}
		case ExoBlockVolume:
			if r.Name == base+"-data" {
				if v, err := strconv.Atoi(strings.TrimSpace(r.Attrs["size_gb"])); err == nil {
					observedSize = v
				}
			}
		}
	}
	want := len(observedSlots)
	if sc.Servers > 0 {
		want = sc.Servers
	}
	slots := serverSlots(observedSlots, want, c.Compute.MinServers, c.Compute.MaxServers)
	size := max(c.Storage.InitialGB, observedSize, sc.VolumeGB)
	if c.Storage.MaxGB > 0 && size > c.Storage.MaxGB {
		size = c.Storage.MaxGB
	}

	out := make([]Resource, 0, 17+2*len(slots))
	add := func(k Kind, n string, attrs map[string]string, deps ...Address) {
		l := make(map[string]string, len(labels))
		for k, v := range labels {
			l[k] = v
		}
		out = append(out, Resource{Kind: k, Name: n, Customer: name, Attrs: attrs, Labels: l, DependsOn: deps})
	}
	addr := func(k Kind, n string) Address { return Address{Kind: k, Name: n} }

	// Hetzner.
	add(HetznerNetwork, base, map[string]string{"ip_range": HetznerIPRange, "subnet": HetznerSubnet, "network_zone": HetznerNetworkZone})
	add(HetznerFirewall, base, map[string]string{"rules": HetznerFirewallRules})
	// Exoscale.
	zone := c.Placement.ExoscaleZone
	add(ExoPrivateNetwork, base, map[string]string{"zone": zone, "start_ip": ExoStartIP, "end_ip": ExoEndIP, "netmask": ExoNetmask})
	add(ExoSecurityGroup, base, map[string]string{"rules": ExoSecurityRules})
	storage := base + "-storage"
	add(ExoInstance, storage, map[string]string{
		"zone": zone, "instance_type": sz.StorageInstanceType, "template": ExoTemplate,
		"disk_gb": strconv.Itoa(ExoDiskGB), "private_network": base, "private_ip": ExoStorageIP,
		"security_group": base, "bootstrap": StorageBootstrapFor(name, addrs).Hash(),
	}, addr(ExoPrivateNetwork, base), addr(ExoSecurityGroup, base))
	add(ExoBlockVolume, base+"-data", map[string]string{"zone": zone, "size_gb": strconv.Itoa(size), "instance": storage},
		addr(ExoInstance, storage))
	for _, n := range slots {
		add(HetznerServer, ServerName(name, n), map[string]string{
			"server_type": c.Compute.ServerType, "image": HetznerImage, "location": c.Placement.HetznerLocation,
			"network": base, "firewall": base, "private_ip": ServerPrivateIP(n),
			"bootstrap": ServerBootstrapFor(name, n, addrs).Hash(),
		}, addr(HetznerNetwork, base), addr(HetznerFirewall, base), addr(ExoInstance, storage))
	}
	// OpenNebula.
	add(ONEGroup, base, map[string]string{})
	add(ONECluster, base, map[string]string{})
	add(ONEUser, base+"-admin", map[string]string{"group": base, "auth_driver": "core"}, addr(ONEGroup, base))
	add(ONEVDC, base, map[string]string{"group": base, "cluster": base}, addr(ONEGroup, base), addr(ONECluster, base))
	var hosts []string
	for _, n := range slots {
		sn := ServerName(name, n)
		add(ONEHost, sn, map[string]string{"cluster": base, "im_mad": ONEDriver, "vm_mad": ONEDriver},
			addr(ONECluster, base), addr(HetznerServer, sn))
		hosts = append(hosts, sn)
	}
	vnet, images, system, img := base+"-net", ImagesDatastoreName(name), SystemDatastoreName(name), ImageName(name)
	add(ONEVNet, vnet, map[string]string{"cluster": base, "vn_mad": "bridge", "bridge": addrs.BridgeName(),
		"ar_ip": addrs.VNetARStart().String(), "ar_size": strconv.Itoa(VNetARSize)}, addr(ONECluster, base))
	limit := strconv.Itoa(size * 1024)
	// The image datastore is reached through its BRIDGE_LIST hosts (they
	// mount the NFS export), so the front-end needs no mount of its own.
	// It does not depend on the hosts: a replaced server (and host) must
	// never cascade into replacing the datastore; bridge_list is updated
	// in place, and hosts come first in kind order.
	add(ONEDatastore, images, map[string]string{"cluster": base, "type": DatastoreImage, "ds_mad": "fs", "tm_mad": "shared",
		"bridge_list": strings.Join(hosts, " "), "limit_mb": limit},
		addr(ONECluster, base), addr(ExoInstance, storage), addr(ExoBlockVolume, base+"-data"))
	add(ONEDatastore, system, map[string]string{"cluster": base, "type": DatastoreSystem, "ds_mad": "", "tm_mad": "shared",
		"bridge_list": "", "limit_mb": limit},
		addr(ONECluster, base), addr(ExoInstance, storage), addr(ExoBlockVolume, base+"-data"))
	add(ONEImage, img, map[string]string{"datastore": images, "marketplace": ONEMarketplace, "app": ONEImageApp, "app_version": ONEImageAppVersion},
		addr(ONEDatastore, images))
	tmplDeps := []Address{addr(ONEVNet, vnet), addr(ONEDatastore, system), addr(ONEImage, img)}
	add(ONETemplate, base+"-data", map[string]string{"cpu": strconv.Itoa(sz.DataCPU), "memory_mb": strconv.Itoa(sz.DataMemoryMB),
		"vnet": vnet, "ip": addrs.DataVMIP().String(), "datastore": system, "image": img, "services": servicesList(c.Services)},
		tmplDeps...)
	add(ONETemplate, base+"-worker", map[string]string{"cpu": strconv.Itoa(sz.WorkerCPU), "memory_mb": strconv.Itoa(sz.WorkerMemoryMB),
		"vnet": vnet, "ip": "", "datastore": system, "image": img, "services": ""},
		tmplDeps...)
	add(ONEVM, base+"-data", map[string]string{"template": base + "-data"}, addr(ONETemplate, base+"-data"))
	pol := PoliciesJSON(Policies(c))
	minVMs, maxVMs := strconv.Itoa(c.Compute.MinWorkers), strconv.Itoa(c.Compute.MaxWorkers)
	flow := base + "-workers"
	add(ONEFlowTemplate, flow, map[string]string{"role": WorkersRole, "vm_template": base + "-worker",
		"min_vms": minVMs, "max_vms": maxVMs, "cooldown": strconv.Itoa(int(c.Compute.Autoscale.Cooldown.Seconds())), "policies": pol},
		addr(ONETemplate, base+"-worker"))
	add(ONEFlowService, flow, map[string]string{"flow_template": flow, "min_vms": minVMs, "max_vms": maxVMs, "policies": pol},
		addr(ONEFlowTemplate, flow))

	SortResources(out)
	return out
}

// serverSlots picks the server numbers to keep: clamp(len(observed), lo,
// hi) of them, the lowest observed first, then free numbers from 1 up.
func serverSlots(observed []int, want, lo, hi int) []int {
	if hi < lo {
		hi = lo
	}
	n := want
	if n < lo {
		n = lo
	}
	if n > hi {
		n = hi
	}
	sort.Ints(observed)
	used := make(map[int]bool, n)
	slots := make([]int, 0, n)
	for _, s := range observed {
		if len(slots) == n {
			break
		}
		if !used[s] {
			used[s] = true
			slots = append(slots, s)
		}
	}
	for s := 1; len(slots) < n; s++ {
		if !used[s] {
			used[s] = true
			slots = append(slots, s)
		}
	}
	sort.Ints(slots)
	return slots
}

// customerLabels are the labels every resource of c carries.
func customerLabels(c schema.Customer) map[string]string {
	l := make(map[string]string, len(c.Labels)+3)
	for k, v := range c.Labels {
		l[k] = v
	}
	l[LabelManagedBy] = ManagedByValue
	l[LabelCustomer] = c.Name
	l[LabelProtected] = strconv.FormatBool(c.Protection.DeletionProtection)
	return l
}

// Datastore types (the "type" attribute of opennebula_datastore).
const (
	DatastoreImage  = "image"
	DatastoreSystem = "system"
)

// ImagesDatastoreName is the customer's IMAGE datastore (its OS image).
func ImagesDatastoreName(customer string) string { return BaseName(customer) + "-images" }

// SystemDatastoreName is the customer's SYSTEM datastore (its VMs' disks).
func SystemDatastoreName(customer string) string { return BaseName(customer) + "-system" }

// servicesList is the sorted, comma-joined list of enabled services.
func servicesList(s schema.Services) string {
	var l []string
	if s.MinIO {
		l = append(l, ServiceMinIO)
	}
	if s.Neo4j {
		l = append(l, ServiceNeo4j)
	}
	if s.Qdrant {
		l = append(l, ServiceQdrant)
	}
	return strings.Join(l, ",")
}
