package exoscale

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	v3 "github.com/exoscale/egoscale/v3"

	"github.com/agentvdc/agentvdc/plan"
)

// Attribute keys of the catalogue (plan/doc.go).
const (
	attrZone           = "zone"
	attrStartIP        = "start_ip"
	attrEndIP          = "end_ip"
	attrNetmask        = "netmask"
	attrRules          = "rules"
	attrInstanceType   = "instance_type"
	attrTemplate       = "template"
	attrDiskGB         = "disk_gb"
	attrPrivateNetwork = "private_network"
	attrPrivateIP      = "private_ip"
	attrSecurityGroup  = "security_group"
	attrBootstrap      = "bootstrap"
	attrSizeGB         = "size_gb"
	attrInstance       = "instance"
)

// labelDiskGB records an instance's disk size at creation: egoscale's
// ListInstances answer has no disk size, and the disk is never resized in
// place (disk_gb replaces), so the label stays true. It is internal: not
// returned in Resource.Labels.
const labelDiskGB = "agentvdc.io/disk-gb"

// zoneLists is what one zone's three list calls return.
type zoneLists struct {
	zone      string
	instances []v3.ListInstancesResponseInstances
	networks  []v3.PrivateNetwork
	volumes   []v3.BlockStorageVolume
}

// Observe lists every managed resource: security groups once (they are
// global), then per configured zone (concurrently) instances, private
// networks and block volumes — one list call each, as the API does not
// paginate. The instance list carries neither private IPs nor disk sizes:
// the IPs come from the private networks' leases (already listed), the
// disk size from the agentvdc.io/disk-gb label set at creation.
func (p *Provider) Observe(ctx context.Context) ([]plan.Resource, error) {
	var sgs *v3.ListSecurityGroupsResponse
	if err := p.retry(ctx, "list security groups", func(ctx context.Context) error {
		var err error
		sgs, err = p.base.ListSecurityGroups(ctx, v3.ListSecurityGroupsWithVisibility(v3.ListSecurityGroupsVisibilityPrivate))
		return err
	}); err != nil {
		return nil, fmt.Errorf("exoscale observe: %w", err)
	}
	lists := make([]zoneLists, len(p.zones))
	errs := make([]error, len(p.zones))
	var wg sync.WaitGroup
	for i, zone := range p.zones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lists[i], errs[i] = p.listZone(ctx, zone)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("exoscale observe: %w", err)
	}

	var out []plan.Resource
	sgNames := map[v3.UUID]string{}
	for _, g := range sgs.SecurityGroups {
		sgNames[g.ID] = g.Name
		if r, ok := securityGroupResource(g); ok {
			out = append(out, r)
		}
	}
	for _, zl := range lists {
		rs, err := p.zoneResources(ctx, zl, sgNames)
		if err != nil {
			return nil, fmt.Errorf("exoscale observe: zone %s: %w", zl.zone, err)
		}
		out = append(out, rs...)
	}
	plan.SortResources(out)
	return out, nil
}

func (p *Provider) listZone(ctx context.Context, zone string) (zoneLists, error) {
	zl := zoneLists{zone: zone}
	c, err := p.zoneClient(ctx, zone)
	if err != nil {
		return zl, err
	}
	if err := p.retry(ctx, "list instances", func(ctx context.Context) error {
		resp, err := c.ListInstances(ctx)
		if err == nil {
			zl.instances = resp.Instances
		}
		return err
	}); err != nil {
		return zl, fmt.Errorf("zone %s: %w", zone, err)
	}
	if err := p.retry(ctx, "list private networks", func(ctx context.Context) error {
		resp, err := c.ListPrivateNetworks(ctx)
		if err == nil {
			zl.networks = resp.PrivateNetworks
		}
		return err
	}); err != nil {
		return zl, fmt.Errorf("zone %s: %w", zone, err)
	}
	if err := p.retry(ctx, "list block storage volumes", func(ctx context.Context) error {
		resp, err := c.ListBlockStorageVolumes(ctx)
		if err == nil {
			zl.volumes = resp.BlockStorageVolumes
		}
		return err
	}); err != nil {
		return zl, fmt.Errorf("zone %s: %w", zone, err)
	}
	return zl, nil
}

// netIndex maps a zone's private networks: names and leases.
type netIndex struct {
	names  map[v3.UUID]string
	leases map[[2]v3.UUID]net.IP // (network, instance) → IP
}

func indexNetworks(ns []v3.PrivateNetwork) netIndex {
	ix := netIndex{names: map[v3.UUID]string{}, leases: map[[2]v3.UUID]net.IP{}}
	for _, n := range ns {
		ix.names[n.ID] = n.Name
		for _, l := range n.Leases {
			ix.leases[[2]v3.UUID{n.ID, l.InstanceID}] = l.IP
		}
	}
	return ix
}

func (p *Provider) zoneResources(ctx context.Context, zl zoneLists, sgNames map[v3.UUID]string) ([]plan.Resource, error) {
	var out []plan.Resource
	nets := indexNetworks(zl.networks)
	for _, n := range zl.networks {
		if plan.Owned(n.Labels) {
			out = append(out, networkResource(zl.zone, n))
		}
	}
	instNames := map[v3.UUID]string{}
	for _, in := range zl.instances {
		instNames[in.ID] = in.Name
		if !plan.Owned(in.Labels) {
			continue
		}
		v := instanceView{
			ID: in.ID, Name: in.Name, Labels: in.Labels, PublicIP: in.PublicIP,
			SGs: refIDs(in.SecurityGroups, func(g v3.SecurityGroup) v3.UUID { return g.ID }),
			PNs: refIDs(in.PrivateNetworks, func(n v3.ListInstancesResponseInstancesPrivateNetworks) v3.UUID { return n.ID }),
		}
		if in.InstanceType != nil {
			v.TypeID = in.InstanceType.ID
		}
		if in.Template != nil {
			v.TemplateID = in.Template.ID
		}
		if _, ok := in.Labels[labelDiskGB]; !ok {
			// Not created by this adapter (or adopted from an older one):
			// the list has no disk size, so read this one instance rather
			// than report a disk_gb that would plan a replacement.
			disk, err := p.instanceDisk(ctx, zl.zone, in.ID)
			if err != nil {
				return nil, err
			}
			p.log.Warn("instance lacks the disk-size label; read it by GET", "zone", zl.zone, "name", in.Name)
			v.DiskGB = disk
		}
		r, err := p.instanceResource(ctx, zl.zone, v, nets, sgNames)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	for _, vol := range zl.volumes {
		if plan.Owned(vol.Labels) {
			out = append(out, volumeResource(zl.zone, vol, instNames))
		}
	}
	return out, nil
}

func refIDs[T any](xs []T, id func(T) v3.UUID) []v3.UUID {
	out := make([]v3.UUID, 0, len(xs))
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

// publicLabels are the labels a Resource carries: the cloud's minus the
// adapter's internal ones.
func publicLabels(l v3.Labels) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		if k != labelDiskGB {
			out[k] = v
		}
	}
	return out
}

func ipString(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}

func networkResource(zone string, n v3.PrivateNetwork) plan.Resource {
	return plan.Resource{
		Kind: plan.ExoPrivateNetwork, Name: n.Name, Customer: n.Labels[plan.LabelCustomer], ID: string(n.ID),
		Labels: publicLabels(n.Labels),
		Attrs: map[string]string{
			attrZone:    zone,
			attrStartIP: ipString(n.StartIP),
			attrEndIP:   ipString(n.EndIP),
			attrNetmask: ipString(n.Netmask),
		},
	}
}

// sgCustomer reports the customer of a security group named
// "agentvdc-C"; groups without the prefix are not managed.
func sgCustomer(name string) (string, bool) {
	c, ok := strings.CutPrefix(name, plan.NamePrefix)
	return c, ok && c != ""
}

func securityGroupResource(g v3.SecurityGroup) (plan.Resource, bool) {
	cust, ok := sgCustomer(g.Name)
	if !ok {
		return plan.Resource{}, false
	}
	specs := make([]ruleSpec, 0, len(g.Rules))
	for _, r := range g.Rules {
		specs = append(specs, specOf(r))
	}
	return plan.Resource{
		Kind: plan.ExoSecurityGroup, Name: g.Name, Customer: cust, ID: string(g.ID),
		// Security groups have no labels; these are implied by the name.
		Labels: map[string]string{plan.LabelManagedBy: plan.ManagedByValue, plan.LabelCustomer: cust},
		Attrs:  map[string]string{attrRules: formatRules(specs)},
	}, true
}

// instanceView is what the adapter needs of an instance, from the list
// call or a GET.
type instanceView struct {
	ID         v3.UUID
	Name       string
	Labels     v3.Labels
	TypeID     v3.UUID
	TemplateID v3.UUID
	SGs        []v3.UUID
	PNs        []v3.UUID
	DiskGB     int64 // 0: unknown (read the label)
	PublicIP   net.IP
}

// instanceResource builds the observed instance. Several private networks
// or security groups (attached out of band) show as sorted, comma-joined
// names so that they differ from the desired single name.
func (p *Provider) instanceResource(ctx context.Context, zone string, v instanceView, nets netIndex, sgNames map[v3.UUID]string) (plan.Resource, error) {
	typeNames, _, err := p.instanceTypes(ctx)
	if err != nil {
		return plan.Resource{}, err
	}
	typ, ok := typeNames[v.TypeID]
	if !ok {
		typ = string(v.TypeID)
	}
	c, err := p.zoneClient(ctx, zone)
	if err != nil {
		return plan.Resource{}, err
	}
	tpl := ""
	if v.TemplateID != "" {
		if tpl, err = p.templateName(ctx, c, zone, v.TemplateID); err != nil {
			return plan.Resource{}, err
		}
	}
	type att struct{ name, ip string }
	atts := make([]att, 0, len(v.PNs))
	for _, id := range v.PNs {
		name, ok := nets.names[id]
		if !ok {
			name = string(id)
		}
		atts = append(atts, att{name, ipString(nets.leases[[2]v3.UUID{id, v.ID}])})
	}
	slices.SortFunc(atts, func(a, b att) int { return strings.Compare(a.name, b.name) })
	var pnNames, ips []string
	for _, a := range atts {
		pnNames = append(pnNames, a.name)
		ips = append(ips, a.ip)
	}
	var sgs []string
	for _, id := range v.SGs {
		name, ok := sgNames[id]
		if !ok {
			name = string(id)
		}
		sgs = append(sgs, name)
	}
	slices.Sort(sgs)
	disk := v.Labels[labelDiskGB]
	if v.DiskGB > 0 {
		disk = strconv.FormatInt(v.DiskGB, 10)
	}
	return plan.Resource{
		Kind: plan.ExoInstance, Name: v.Name, Customer: v.Labels[plan.LabelCustomer], ID: string(v.ID),
		Labels: publicLabels(v.Labels),
		Attrs: map[string]string{
			attrZone:           zone,
			attrInstanceType:   typ,
			attrTemplate:       tpl,
			attrDiskGB:         disk,
			attrPrivateNetwork: strings.Join(pnNames, ","),
			attrPrivateIP:      strings.Join(ips, ","),
			attrSecurityGroup:  strings.Join(sgs, ","),
			attrBootstrap:      v.Labels[plan.LabelBootstrap],
		},
		Outputs: publicIPOutput(v.PublicIP),
	}, nil
}

func volumeResource(zone string, v v3.BlockStorageVolume, instNames map[v3.UUID]string) plan.Resource {
	inst := ""
	if v.Instance != nil && v.Instance.ID != "" {
		var ok bool
		if inst, ok = instNames[v.Instance.ID]; !ok {
			inst = string(v.Instance.ID)
		}
	}
	return plan.Resource{
		Kind: plan.ExoBlockVolume, Name: v.Name, Customer: v.Labels[plan.LabelCustomer], ID: string(v.ID),
		Labels: publicLabels(v.Labels),
		Attrs: map[string]string{
			attrZone:     zone,
			attrSizeGB:   strconv.FormatInt(v.Size, 10),
			attrInstance: inst,
		},
	}
}

// cloudLabels are the labels to write for r: its Labels plus the
// ownership marks (always derived from r.Customer, so a resource is never
// created unowned).
func cloudLabels(r plan.Resource) (v3.Labels, error) {
	if r.Customer == "" {
		return nil, errors.New("customer is empty")
	}
	l := v3.Labels{}
	maps.Copy(l, r.Labels)
	if c, ok := l[plan.LabelCustomer]; ok && c != r.Customer {
		return nil, fmt.Errorf("label %s=%q disagrees with customer %q", plan.LabelCustomer, c, r.Customer)
	}
	delete(l, labelDiskGB)
	l[plan.LabelManagedBy] = plan.ManagedByValue
	l[plan.LabelCustomer] = r.Customer
	return l, nil
}

// instanceDisk reads one instance's disk size (GET).
func (p *Provider) instanceDisk(ctx context.Context, zone string, id v3.UUID) (int64, error) {
	c, err := p.zoneClient(ctx, zone)
	if err != nil {
		return 0, err
	}
	var in *v3.Instance
	if err := p.retry(ctx, "get instance", func(ctx context.Context) error {
		var err error
		in, err = c.GetInstance(ctx, id)
		return err
	}); err != nil {
		return 0, fmt.Errorf("instance %s: %w", id, err)
	}
	return in.DiskSize, nil
}

// publicIPOutput reports the instance's public address: the servers'
// WireGuard endpoint, needed at apply time but never compared.
func publicIPOutput(ip net.IP) map[string]string {
	if len(ip) == 0 || ip.IsUnspecified() {
		return nil
	}
	return map[string]string{plan.OutputPublicIP: ip.String()}
}
