package plan

import (
	"fmt"
	"sort"
	"strings"
)

// Cloud names a provider.
type Cloud string

// The three clouds.
const (
	OpenNebula Cloud = "opennebula"
	Hetzner    Cloud = "hetzner"
	Exoscale   Cloud = "exoscale"
)

// Kind is a resource type. Its prefix names its cloud.
type Kind string

// Every kind the project manages; see the catalogue in doc.go for names,
// attributes and update semantics.
const (
	ONEGroup        Kind = "opennebula_group"
	ONECluster      Kind = "opennebula_cluster"
	ONEVDC          Kind = "opennebula_vdc"
	ONEUser         Kind = "opennebula_user"
	ONEHost         Kind = "opennebula_host"
	ONEVNet         Kind = "opennebula_vnet"
	ONEDatastore    Kind = "opennebula_datastore"
	ONEImage        Kind = "opennebula_image"
	ONETemplate     Kind = "opennebula_template"
	ONEVM           Kind = "opennebula_vm"
	ONEFlowTemplate Kind = "opennebula_flow_template"
	ONEFlowService  Kind = "opennebula_flow_service"

	HetznerNetwork  Kind = "hetzner_network"
	HetznerFirewall Kind = "hetzner_firewall"
	HetznerServer   Kind = "hetzner_server"

	ExoPrivateNetwork Kind = "exoscale_private_network"
	ExoSecurityGroup  Kind = "exoscale_security_group"
	ExoInstance       Kind = "exoscale_instance"
	ExoBlockVolume    Kind = "exoscale_block_volume"
)

// Kinds lists every kind in creation order (parents before children).
var Kinds = []Kind{
	HetznerNetwork, HetznerFirewall, ExoPrivateNetwork, ExoSecurityGroup,
	ExoInstance, ExoBlockVolume, HetznerServer,
	ONEGroup, ONECluster, ONEUser, ONEVDC, ONEHost, ONEVNet, ONEDatastore,
	ONEImage, ONETemplate, ONEVM, ONEFlowTemplate, ONEFlowService,
}

// Cloud returns the provider a kind belongs to.
func (k Kind) Cloud() Cloud {
	c, _, _ := strings.Cut(string(k), "_")
	return Cloud(c)
}

// Ownership labels carried by every managed resource. OpenNebula has no
// labels: the adapter stores them as template attributes (see doc.go).
const (
	LabelManagedBy = "agentvdc.io/managed-by"
	LabelCustomer  = "agentvdc.io/customer"
	LabelBootstrap = "agentvdc.io/bootstrap"
	// LabelProtected mirrors protection.deletionProtection ("true" or
	// "false") so a customer whose file was removed can still be known to
	// be protected; a missing label counts as protected.
	LabelProtected    = "agentvdc.io/protected"
	ManagedByValue    = "agentvdc"
	NamePrefix        = "agentvdc-"
	SensitiveUserData = "user_data"
	SensitivePassword = "password"
)

// Address identifies a resource: its kind and deterministic name.
type Address struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
}

func (a Address) String() string { return string(a.Kind) + "." + a.Name }

// ParseAddress reads "kind.name".
func ParseAddress(s string) (Address, error) {
	k, n, ok := strings.Cut(s, ".")
	if !ok || k == "" || n == "" {
		return Address{}, fmt.Errorf("address %q is not KIND.NAME", s)
	}
	return Address{Kind: Kind(k), Name: n}, nil
}

// Resource is one cloud resource, desired (from expansion) or observed
// (from a provider). Attributes are canonical strings so desired and
// observed compare with ==; references to other resources are by name.
type Resource struct {
	Kind     Kind   `json:"kind"`
	Name     string `json:"name"`
	Customer string `json:"customer"`
	// ID is the cloud's id; set on observed resources only.
	ID string `json:"id,omitempty"`
	// Attrs are the compared attributes (catalogue in doc.go).
	Attrs map[string]string `json:"attrs"`
	// Labels are the ownership labels plus the customer's own labels.
	Labels map[string]string `json:"labels,omitempty"`
	// Outputs are observed facts that are never compared (a server's or
	// the storage node's public_ip, needed at apply time for the WireGuard
	// endpoint). Providers may set them; expansion never does.
	Outputs map[string]string `json:"outputs,omitempty"`
	// DependsOn are resources that must exist before this one.
	DependsOn []Address `json:"depends_on,omitempty"`
	// Sensitive holds inputs that must never be printed or stored in a
	// plan (user data with keys, passwords). The apply executor fills it
	// from state right before a create or update.
	Sensitive map[string]string `json:"-"`
}

// Address returns the resource's address.
func (r Resource) Address() Address { return Address{Kind: r.Kind, Name: r.Name} }

// Owned reports whether labels carry the ownership marks.
func Owned(labels map[string]string) bool {
	return labels[LabelManagedBy] == ManagedByValue && labels[LabelCustomer] != ""
}

// Lookup resolves a resource's name to its cloud id (observed or just
// created); providers use it for references in attributes. Given an
// OutputRef address it answers that resource's output instead (a
// provider needs another cloud's fact, e.g. the public IPv4 of the
// hetzner_server an opennebula_host is registered by).
type Lookup func(Address) (id string, ok bool)

// outputSep separates a resource's name from an output key in an OutputRef
// address; no resource name contains it (names are agentvdc-C-..., C a
// DNS label).
const outputSep = "/output/"

// OutputRef is the address under which a Lookup answers output key of the
// resource at a.
func OutputRef(a Address, key string) Address {
	return Address{Kind: a.Kind, Name: a.Name + outputSep + key}
}

// SplitOutputRef reads an OutputRef address back; ok is false for an
// ordinary address.
func SplitOutputRef(ref Address) (a Address, key string, ok bool) {
	name, key, ok := strings.Cut(ref.Name, outputSep)
	if !ok || name == "" || key == "" {
		return ref, "", false
	}
	return Address{Kind: ref.Kind, Name: name}, key, true
}

// SortResources orders resources by kind (creation order) then name.
func SortResources(rs []Resource) {
	rank := map[Kind]int{}
	for i, k := range Kinds {
		rank[k] = i
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if rank[rs[i].Kind] != rank[rs[j].Kind] {
			return rank[rs[i].Kind] < rank[rs[j].Kind]
		}
		return rs[i].Name < rs[j].Name
	})
}
