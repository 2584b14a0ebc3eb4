package exoscale

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/agentvdc/agentvdc/plan"
	v3 "github.com/exoscale/egoscale/v3"
)

// maxUserData is the API's bound on base64 user data.
const maxUserData = 32768

// findInstance looks for the instance named name in c's zone.
func (p *Provider) findInstance(ctx context.Context, c *v3.Client, name string) (v3.UUID, bool, error) {
	var resp *v3.ListInstancesResponse
	if err := p.retry(ctx, "list instances", func(ctx context.Context) error {
		var err error
		resp, err = c.ListInstances(ctx)
		return err
	}); err != nil {
		return "", false, err
	}
	for _, in := range resp.Instances {
		if in.Name != name {
			continue
		}
		if !plan.Owned(in.Labels) {
			return "", false, notOwned("instance", name)
		}
		return in.ID, true, nil
	}
	return "", false, nil
}

func (p *Provider) getInstance(ctx context.Context, c *v3.Client, id v3.UUID) (*v3.Instance, error) {
	var in *v3.Instance
	err := p.retry(ctx, "get instance", func(ctx context.Context) error {
		var err error
		in, err = c.GetInstance(ctx, id)
		return err
	})
	return in, err
}

// instanceSpec is a desired instance with its references resolved.
type instanceSpec struct {
	typeID, tplID v3.UUID
	disk          int64
	sgID, pnID    v3.UUID
	ip            net.IP
	labels        v3.Labels
	userData      string
}

func (p *Provider) resolveInstance(ctx context.Context, c *v3.Client, r plan.Resource, ids plan.Lookup) (instanceSpec, error) {
	var s instanceSpec
	a := r.Attrs
	_, typeIDs, err := p.instanceTypes(ctx)
	if err != nil {
		return s, err
	}
	var ok bool
	if s.typeID, ok = typeIDs[a[attrInstanceType]]; !ok {
		return s, fmt.Errorf("attribute %s: unknown instance type %q (want FAMILY.SIZE, e.g. standard.medium)", attrInstanceType, a[attrInstanceType])
	}
	tpls, err := p.templates(ctx, a[attrZone])
	if err != nil {
		return s, err
	}
	if s.tplID, ok = tpls[a[attrTemplate]]; !ok {
		return s, fmt.Errorf("attribute %s: no public template named %q in zone %s", attrTemplate, a[attrTemplate], a[attrZone])
	}
	if s.disk, err = parseSize(attrDiskGB, a[attrDiskGB], 10, 51200); err != nil {
		return s, err
	}
	if s.ip, err = parseIPv4(attrPrivateIP, a[attrPrivateIP]); err != nil {
		return s, err
	}
	if s.sgID, err = lookup(ctx, ids, plan.ExoSecurityGroup, a[attrSecurityGroup], func(ctx context.Context) (v3.UUID, bool, error) {
		return p.findSecurityGroup(ctx, a[attrSecurityGroup])
	}); err != nil {
		return s, err
	}
	if s.pnID, err = lookup(ctx, ids, plan.ExoPrivateNetwork, a[attrPrivateNetwork], func(ctx context.Context) (v3.UUID, bool, error) {
		return p.findNetwork(ctx, c, a[attrPrivateNetwork])
	}); err != nil {
		return s, err
	}
	if s.labels, err = instanceLabels(r, s.disk); err != nil {
		return s, err
	}
	if ud := r.Sensitive[plan.SensitiveUserData]; ud != "" {
		s.userData = base64.StdEncoding.EncodeToString([]byte(ud))
		if len(s.userData) > maxUserData {
			// The size only: the content is secret.
			return s, fmt.Errorf("user data is %d bytes base64-encoded, above the API's %d", len(s.userData), maxUserData)
		}
	}
	return s, nil
}

// instanceLabels are r's cloud labels plus the bootstrap and disk labels.
func instanceLabels(r plan.Resource, disk int64) (v3.Labels, error) {
	l, err := cloudLabels(r)
	if err != nil {
		return nil, err
	}
	if b := r.Attrs[attrBootstrap]; b != "" {
		l[plan.LabelBootstrap] = b
	} else {
		delete(l, plan.LabelBootstrap)
	}
	l[labelDiskGB] = strconv.FormatInt(disk, 10)
	return l, nil
}

func (p *Provider) createInstance(ctx context.Context, r plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	zone := r.Attrs[attrZone]
	if err := p.checkZone(zone); err != nil {
		return plan.Resource{}, err
	}
	c, err := p.zoneClient(ctx, zone)
	if err != nil {
		return plan.Resource{}, err
	}
	s, err := p.resolveInstance(ctx, c, r, ids)
	if err != nil {
		return plan.Resource{}, err
	}
	id, err := p.createOnce(ctx, c, "create instance",
		func(ctx context.Context) (v3.UUID, bool, error) { return p.findInstance(ctx, c, r.Name) },
		func(ctx context.Context) (*v3.Operation, error) {
			return c.CreateInstance(ctx, v3.CreateInstanceRequest{
				Name:           r.Name,
				InstanceType:   &v3.InstanceType{ID: s.typeID},
				Template:       &v3.Template{ID: s.tplID},
				DiskSize:       s.disk,
				Labels:         s.labels,
				SecurityGroups: []v3.SecurityGroup{{ID: s.sgID}},
				UserData:       s.userData,
			})
		})
	if err != nil {
		return plan.Resource{}, err
	}
	in, err := p.getInstance(ctx, c, id)
	if err != nil {
		return plan.Resource{}, err
	}
	// Attach the private network with the static IP (an adopted instance
	// may already be attached: a crash after the attach).
	attached := slices.ContainsFunc(in.PrivateNetworks, func(n v3.InstancePrivateNetworks) bool { return n.ID == s.pnID })
	if !attached {
		_, err := p.mutate(ctx, c, "attach instance to private network", func(ctx context.Context) (*v3.Operation, error) {
			return c.AttachInstanceToPrivateNetwork(ctx, s.pnID, v3.AttachInstanceToPrivateNetworkRequest{
				Instance: &v3.AttachInstanceToPrivateNetworkRequestInstance{ID: id},
				IP:       s.ip,
			})
		})
		if err != nil && !errors.Is(err, v3.ErrConflict) { // 409: a retried attach that had been applied
			return plan.Resource{}, err
		}
		if in, err = p.getInstance(ctx, c, id); err != nil {
			return plan.Resource{}, err
		}
	}
	return p.observedInstance(ctx, c, zone, in, map[v3.UUID]string{s.sgID: r.Attrs[attrSecurityGroup]})
}

// observedInstance builds the observed form of one instance from a GET,
// reading the leases of its private networks (one GET per attached
// network, normally one).
func (p *Provider) observedInstance(ctx context.Context, c *v3.Client, zone string, in *v3.Instance, sgNames map[v3.UUID]string) (plan.Resource, error) {
	var ns []v3.PrivateNetwork
	for _, pn := range in.PrivateNetworks {
		n, err := p.getNetwork(ctx, c, pn.ID)
		if err != nil {
			return plan.Resource{}, err
		}
		ns = append(ns, *n)
	}
	v := instanceView{
		ID: in.ID, Name: in.Name, Labels: in.Labels, DiskGB: in.DiskSize, PublicIP: in.PublicIP,
		SGs: refIDs(in.SecurityGroups, func(g v3.SecurityGroup) v3.UUID { return g.ID }),
		PNs: refIDs(in.PrivateNetworks, func(n v3.InstancePrivateNetworks) v3.UUID { return n.ID }),
	}
	for _, id := range v.SGs {
		if _, ok := sgNames[id]; !ok {
			g, err := p.getSecurityGroup(ctx, id)
			if err != nil {
				return plan.Resource{}, err
			}
			sgNames[id] = g.Name
		}
	}
	if in.InstanceType != nil {
		v.TypeID = in.InstanceType.ID
	}
	if in.Template != nil {
		v.TemplateID = in.Template.ID
	}
	return p.instanceResource(ctx, zone, v, indexNetworks(ns), sgNames)
}

// updateInstance scales the instance (stop, scale, start) when
// instance_type changes and rewrites the labels when they change.
func (p *Provider) updateInstance(ctx context.Context, before, after plan.Resource) (plan.Resource, error) {
	zone := before.Attrs[attrZone]
	c, err := p.zoneClient(ctx, zone)
	if err != nil {
		return plan.Resource{}, err
	}
	id := v3.UUID(before.ID)
	in, err := p.getInstance(ctx, c, id)
	if err != nil {
		return plan.Resource{}, err
	}
	if !plan.Owned(in.Labels) {
		return plan.Resource{}, notOwned("instance", in.Name)
	}
	disk := in.DiskSize
	labels, err := instanceLabels(after, disk)
	if err != nil {
		return plan.Resource{}, err
	}
	if !sameLabels(labels, in.Labels) {
		if _, err := p.mutate(ctx, c, "update instance labels", func(ctx context.Context) (*v3.Operation, error) {
			return c.UpdateInstance(ctx, id, v3.UpdateInstanceRequest{Labels: labels})
		}); err != nil {
			return plan.Resource{}, err
		}
	}
	if before.Attrs[attrInstanceType] != after.Attrs[attrInstanceType] {
		_, typeIDs, err := p.instanceTypes(ctx)
		if err != nil {
			return plan.Resource{}, err
		}
		typeID, ok := typeIDs[after.Attrs[attrInstanceType]]
		if !ok {
			return plan.Resource{}, fmt.Errorf("attribute %s: unknown instance type %q", attrInstanceType, after.Attrs[attrInstanceType])
		}
		if in.InstanceType == nil || in.InstanceType.ID != typeID {
			if err := p.scaleInstance(ctx, c, in, typeID); err != nil {
				return plan.Resource{}, err
			}
		}
	}
	if in, err = p.getInstance(ctx, c, id); err != nil {
		return plan.Resource{}, err
	}
	sgNames := map[v3.UUID]string{}
	if n := after.Attrs[attrSecurityGroup]; n != "" && !strings.Contains(n, ",") {
		if sgID, ok, err := p.findSecurityGroup(ctx, n); err == nil && ok {
			sgNames[sgID] = n
		}
	}
	return p.observedInstance(ctx, c, zone, in, sgNames)
}

// scaleInstance stops the instance, changes its type and starts it again
// (Exoscale scales stopped instances only). The instance is started even
// if it was stopped before: the storage node is meant to run.
func (p *Provider) scaleInstance(ctx context.Context, c *v3.Client, in *v3.Instance, typeID v3.UUID) error {
	id := in.ID
	if in.State != v3.InstanceStateStopped {
		if _, err := p.mutate(ctx, c, "stop instance", func(ctx context.Context) (*v3.Operation, error) {
			return c.StopInstance(ctx, id)
		}); err != nil {
			return err
		}
	}
	if _, err := p.mutate(ctx, c, "scale instance", func(ctx context.Context) (*v3.Operation, error) {
		return c.ScaleInstance(ctx, id, v3.ScaleInstanceRequest{InstanceType: &v3.InstanceType{ID: typeID}})
	}); err != nil {
		return err
	}
	_, err := p.mutate(ctx, c, "start instance", func(ctx context.Context) (*v3.Operation, error) {
		return c.StartInstance(ctx, id, v3.StartInstanceRequest{})
	})
	return err
}

func (p *Provider) deleteInstance(ctx context.Context, r plan.Resource, id v3.UUID) error {
	c, err := p.zoneClient(ctx, r.Attrs[attrZone])
	if err != nil {
		return err
	}
	in, err := p.getInstance(ctx, c, id)
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !plan.Owned(in.Labels) {
		return notOwned("instance", in.Name)
	}
	_, err = p.mutate(ctx, c, "delete instance", func(ctx context.Context) (*v3.Operation, error) {
		return c.DeleteInstance(ctx, id)
	})
	if gone(err) {
		return nil
	}
	return err
}
