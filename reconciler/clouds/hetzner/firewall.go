package hetzner

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/agentvdc/agentvdc/plan"
)

// firewallResource is a managed firewall as observed: its rules in the
// canonical form.
func firewallResource(f *hcloud.Firewall) plan.Resource {
	return plan.Resource{
		Kind: plan.HetznerFirewall, Name: f.Name, Customer: f.Labels[plan.LabelCustomer],
		ID: strconv.FormatInt(f.ID, 10), Attrs: map[string]string{"rules": FormatRules(f.Rules)},
		Labels: observedLabels(f.Labels),
	}
}

func (p *Provider) createFirewall(ctx context.Context, r plan.Resource, labels map[string]string) (plan.Resource, error) {
	rules, err := ParseRules(r.Attrs["rules"])
	if err != nil {
		return plan.Resource{}, err
	}
	res, _, err := p.c.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: r.Name, Labels: labels, Rules: rules})
	if hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
		f, _, gerr := p.c.Firewall.GetByName(ctx, r.Name)
		if gerr != nil {
			return plan.Resource{}, fmt.Errorf("look up existing: %w", gerr)
		}
		if f == nil {
			return plan.Resource{}, errors.New("name taken but no firewall found")
		}
		if err := adoptable(r, f.Labels); err != nil {
			return plan.Resource{}, err
		}
		p.log.Info("hetzner: adopted existing resource", "address", r.Address().String(), "id", f.ID)
		return firewallResource(f), nil
	}
	if err != nil {
		return plan.Resource{}, err
	}
	if err := p.wait(ctx, "", res.Actions...); err != nil {
		return plan.Resource{}, err
	}
	return firewallResource(res.Firewall), nil
}

func (p *Provider) updateFirewall(ctx context.Context, id int64, after plan.Resource, labels map[string]string) (plan.Resource, error) {
	rules, err := ParseRules(after.Attrs["rules"])
	if err != nil {
		return plan.Resource{}, err
	}
	f, _, err := p.c.Firewall.GetByID(ctx, id)
	if err != nil {
		return plan.Resource{}, err
	}
	if f == nil {
		return plan.Resource{}, fmt.Errorf("firewall %d not found", id)
	}
	if err := checkOwned(after, f.Labels); err != nil {
		return plan.Resource{}, err
	}
	if FormatRules(f.Rules) != FormatRules(rules) {
		actions, _, err := p.c.Firewall.SetRules(ctx, f, hcloud.FirewallSetRulesOpts{Rules: rules})
		if err != nil {
			return plan.Resource{}, fmt.Errorf("set rules: %w", err)
		}
		if err := p.wait(ctx, "rules", actions...); err != nil {
			return plan.Resource{}, err
		}
		f.Rules = rules
	}
	if !labelsEqual(f.Labels, labels) {
		if f, _, err = p.c.Firewall.Update(ctx, f, hcloud.FirewallUpdateOpts{Labels: labels}); err != nil {
			return plan.Resource{}, fmt.Errorf("set labels: %w", err)
		}
	}
	return firewallResource(f), nil
}

func (p *Provider) deleteFirewall(ctx context.Context, id int64, r plan.Resource) error {
	f, _, err := p.c.Firewall.GetByID(ctx, id)
	if err != nil {
		return err
	}
	if f == nil {
		return nil
	}
	if err := checkOwned(r, f.Labels); err != nil {
		return err
	}
	// A firewall still applied cannot be deleted (resource_in_use).
	if len(f.AppliedTo) > 0 {
		from := make([]hcloud.FirewallResource, 0, len(f.AppliedTo))
		for _, a := range f.AppliedTo {
			from = append(from, hcloud.FirewallResource{Type: a.Type, Server: a.Server, LabelSelector: a.LabelSelector})
		}
		actions, _, err := p.c.Firewall.RemoveResources(ctx, f, from)
		if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound, hcloud.ErrorCodeFirewallResourceNotFound) {
			return fmt.Errorf("remove from resources: %w", err)
		}
		if err := p.wait(ctx, "remove from resources", actions...); err != nil {
			return err
		}
	}
	if _, err := p.c.Firewall.Delete(ctx, f); err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		return err
	}
	return nil
}
