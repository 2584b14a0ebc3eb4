package hetzner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
)

// networkResource is a managed network as observed: ip_range, and the
// first subnet's range and zone.
func networkResource(n *hcloud.Network) plan.Resource {
	attrs := map[string]string{"ip_range": "", "subnet": "", "network_zone": ""}
	if n.IPRange != nil {
		attrs["ip_range"] = cidrString(*n.IPRange)
	}
	if len(n.Subnets) > 0 {
		sn := n.Subnets[0]
		if sn.IPRange != nil {
			attrs["subnet"] = cidrString(*sn.IPRange)
		}
		attrs["network_zone"] = string(sn.NetworkZone)
	}
	return plan.Resource{
		Kind: plan.HetznerNetwork, Name: n.Name, Customer: n.Labels[plan.LabelCustomer],
		ID: strconv.FormatInt(n.ID, 10), Attrs: attrs, Labels: observedLabels(n.Labels),
	}
}

func parseCIDR(r plan.Resource, attr string) (*net.IPNet, error) {
	p, err := netip.ParsePrefix(r.Attrs[attr])
	if err != nil || !p.Addr().Is4() || p != p.Masked() {
		return nil, fmt.Errorf("%s %q is not an IPv4 CIDR range without host bits", attr, r.Attrs[attr])
	}
	n := prefixToIPNet(p)
	return &n, nil
}

func (p *Provider) createNetwork(ctx context.Context, r plan.Resource, labels map[string]string) (plan.Resource, error) {
	ipRange, err := parseCIDR(r, "ip_range")
	if err != nil {
		return plan.Resource{}, err
	}
	subnet, err := parseCIDR(r, "subnet")
	if err != nil {
		return plan.Resource{}, err
	}
	zone := r.Attrs["network_zone"]
	if zone == "" {
		return plan.Resource{}, errors.New("network_zone is required")
	}
	n, _, err := p.c.Network.Create(ctx, hcloud.NetworkCreateOpts{
		Name: r.Name, IPRange: ipRange, Labels: labels,
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: subnet, NetworkZone: hcloud.NetworkZone(zone)}},
	})
	if hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
		return p.adoptNetwork(ctx, r)
	}
	if err != nil {
		return plan.Resource{}, err
	}
	return networkResource(n), nil
}

// adoptNetwork returns the existing network named like r when it is owned
// by r's customer (a create that succeeded before a crash or a lost answer).
func (p *Provider) adoptNetwork(ctx context.Context, r plan.Resource) (plan.Resource, error) {
	n, _, err := p.c.Network.GetByName(ctx, r.Name)
	if err != nil {
		return plan.Resource{}, fmt.Errorf("look up existing: %w", err)
	}
	if n == nil {
		return plan.Resource{}, errors.New("name taken but no network found")
	}
	if err := adoptable(r, n.Labels); err != nil {
		return plan.Resource{}, err
	}
	p.log.Info("hetzner: adopted existing resource", "address", r.Address().String(), "id", n.ID)
	return networkResource(n), nil
}

// adoptable checks that an existing resource with r's name belongs to r.
func adoptable(r plan.Resource, labels map[string]string) error {
	if !plan.Owned(labels) {
		return fmt.Errorf("the name is taken by a resource agentvdc does not manage: %w", reconciler.ErrNotOwned)
	}
	if labels[plan.LabelCustomer] != r.Customer {
		return fmt.Errorf("the name is taken by customer %q's resource: %w", labels[plan.LabelCustomer], reconciler.ErrNotOwned)
	}
	return nil
}

func (p *Provider) updateNetwork(ctx context.Context, id int64, after plan.Resource, labels map[string]string) (plan.Resource, error) {
	n, _, err := p.c.Network.GetByID(ctx, id)
	if err != nil {
		return plan.Resource{}, err
	}
	if n == nil {
		return plan.Resource{}, fmt.Errorf("network %d not found", id)
	}
	if err := checkOwned(after, n.Labels); err != nil {
		return plan.Resource{}, err
	}
	if !labelsEqual(n.Labels, labels) {
		n, _, err = p.c.Network.Update(ctx, n, hcloud.NetworkUpdateOpts{Labels: labels})
		if err != nil {
			return plan.Resource{}, fmt.Errorf("set labels: %w", err)
		}
	}
	return networkResource(n), nil
}

func (p *Provider) deleteNetwork(ctx context.Context, id int64, r plan.Resource) error {
	n, _, err := p.c.Network.GetByID(ctx, id)
	if err != nil {
		return err
	}
	if n == nil {
		return nil
	}
	if err := checkOwned(r, n.Labels); err != nil {
		return err
	}
	// Detach the servers still attached first, so none is left half-wired
	// while the network goes (the API would detach them in the background).
	for _, s := range n.Servers {
		a, _, err := p.c.Server.DetachFromNetwork(ctx, s, hcloud.ServerDetachFromNetworkOpts{Network: n})
		if hcloud.IsError(err, hcloud.ErrorCodeNotFound, hcloud.ErrorCodeServerNotAttachedToNetwork) {
			continue
		}
		if err != nil {
			return fmt.Errorf("detach server %d: %w", s.ID, err)
		}
		if err := p.wait(ctx, "detach server", a); err != nil {
			return err
		}
	}
	if _, err := p.c.Network.Delete(ctx, n); err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		return err
	}
	return nil
}
