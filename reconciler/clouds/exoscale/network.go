package exoscale

import (
	"context"

	"github.com/agentvdc/agentvdc/plan"
	v3 "github.com/exoscale/egoscale/v3"
)

// findNetwork looks for the private network named name in c's zone. An
// unowned network of that name is an ErrNotOwned error (never adopted,
// never shadowed by a second network of the same name).
func (p *Provider) findNetwork(ctx context.Context, c *v3.Client, name string) (v3.UUID, bool, error) {
	var resp *v3.ListPrivateNetworksResponse
	if err := p.retry(ctx, "list private networks", func(ctx context.Context) error {
		var err error
		resp, err = c.ListPrivateNetworks(ctx)
		return err
	}); err != nil {
		return "", false, err
	}
	for _, n := range resp.PrivateNetworks {
		if n.Name != name {
			continue
		}
		if !plan.Owned(n.Labels) {
			return "", false, notOwned("private network", name)
		}
		return n.ID, true, nil
	}
	return "", false, nil
}

func (p *Provider) getNetwork(ctx context.Context, c *v3.Client, id v3.UUID) (*v3.PrivateNetwork, error) {
	var n *v3.PrivateNetwork
	err := p.retry(ctx, "get private network", func(ctx context.Context) error {
		var err error
		n, err = c.GetPrivateNetwork(ctx, id)
		return err
	})
	return n, err
}

func (p *Provider) createNetwork(ctx context.Context, r plan.Resource) (plan.Resource, error) {
	zone := r.Attrs[attrZone]
	if err := p.checkZone(zone); err != nil {
		return plan.Resource{}, err
	}
	labels, err := cloudLabels(r)
	if err != nil {
		return plan.Resource{}, err
	}
	start, err := parseIPv4(attrStartIP, r.Attrs[attrStartIP])
	if err != nil {
		return plan.Resource{}, err
	}
	end, err := parseIPv4(attrEndIP, r.Attrs[attrEndIP])
	if err != nil {
		return plan.Resource{}, err
	}
	mask, err := parseIPv4(attrNetmask, r.Attrs[attrNetmask])
	if err != nil {
		return plan.Resource{}, err
	}
	c, err := p.zoneClient(ctx, zone)
	if err != nil {
		return plan.Resource{}, err
	}
	id, err := p.createOnce(ctx, c, "create private network",
		func(ctx context.Context) (v3.UUID, bool, error) { return p.findNetwork(ctx, c, r.Name) },
		func(ctx context.Context) (*v3.Operation, error) {
			return c.CreatePrivateNetwork(ctx, v3.CreatePrivateNetworkRequest{
				Name: r.Name, Description: "agentvdc customer " + r.Customer, Labels: labels,
				StartIP: start, EndIP: end, Netmask: mask,
			})
		})
	if err != nil {
		return plan.Resource{}, err
	}
	n, err := p.getNetwork(ctx, c, id)
	if err != nil {
		return plan.Resource{}, err
	}
	return networkResource(zone, *n), nil
}

// updateNetwork has no "U" attribute; it rewrites the labels.
func (p *Provider) updateNetwork(ctx context.Context, before, after plan.Resource) (plan.Resource, error) {
	zone := before.Attrs[attrZone]
	c, err := p.zoneClient(ctx, zone)
	if err != nil {
		return plan.Resource{}, err
	}
	id := v3.UUID(before.ID)
	n, err := p.getNetwork(ctx, c, id)
	if err != nil {
		return plan.Resource{}, err
	}
	if !plan.Owned(n.Labels) {
		return plan.Resource{}, notOwned("private network", n.Name)
	}
	labels, err := cloudLabels(after)
	if err != nil {
		return plan.Resource{}, err
	}
	if !sameLabels(labels, n.Labels) {
		if _, err := p.mutate(ctx, c, "update private network labels", func(ctx context.Context) (*v3.Operation, error) {
			return c.UpdatePrivateNetwork(ctx, id, v3.UpdatePrivateNetworkRequest{Labels: labels})
		}); err != nil {
			return plan.Resource{}, err
		}
		if n, err = p.getNetwork(ctx, c, id); err != nil {
			return plan.Resource{}, err
		}
	}
	return networkResource(zone, *n), nil
}

func (p *Provider) deleteNetwork(ctx context.Context, r plan.Resource, id v3.UUID) error {
	c, err := p.zoneClient(ctx, r.Attrs[attrZone])
	if err != nil {
		return err
	}
	n, err := p.getNetwork(ctx, c, id)
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !plan.Owned(n.Labels) {
		return notOwned("private network", n.Name)
	}
	_, err = p.mutate(ctx, c, "delete private network", func(ctx context.Context) (*v3.Operation, error) {
		return c.DeletePrivateNetwork(ctx, id)
	})
	if gone(err) {
		return nil
	}
	return err
}
