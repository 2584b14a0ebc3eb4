package exoscale

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentvdc/agentvdc/plan"
	v3 "github.com/exoscale/egoscale/v3"
)

// Security groups are global and carry no labels: the name prefix
// "agentvdc-" marks ownership and the rest of the name is the customer.

// findSecurityGroup looks for the group named name (one global list).
// Every name with the prefix is ours, so there is no unowned case here:
// createSecurityGroup refuses names without the prefix.
func (p *Provider) findSecurityGroup(ctx context.Context, name string) (v3.UUID, bool, error) {
	var resp *v3.ListSecurityGroupsResponse
	if err := p.retry(ctx, "list security groups", func(ctx context.Context) error {
		var err error
		resp, err = p.base.ListSecurityGroups(ctx, v3.ListSecurityGroupsWithVisibility(v3.ListSecurityGroupsVisibilityPrivate))
		return err
	}); err != nil {
		return "", false, err
	}
	for _, g := range resp.SecurityGroups {
		if g.Name == name {
			return g.ID, true, nil
		}
	}
	return "", false, nil
}

func (p *Provider) getSecurityGroup(ctx context.Context, id v3.UUID) (*v3.SecurityGroup, error) {
	var g *v3.SecurityGroup
	err := p.retry(ctx, "get security group", func(ctx context.Context) error {
		var err error
		g, err = p.base.GetSecurityGroup(ctx, id)
		return err
	})
	return g, err
}

// checkSGName refuses a name without the prefix or naming another customer.
func checkSGName(r plan.Resource) error {
	cust, ok := sgCustomer(r.Name)
	if !ok {
		return fmt.Errorf("security group name %q must be %q followed by the customer", r.Name, plan.NamePrefix)
	}
	if r.Customer != "" && cust != r.Customer {
		return fmt.Errorf("security group %q does not belong to customer %q", r.Name, r.Customer)
	}
	return nil
}

func (p *Provider) createSecurityGroup(ctx context.Context, r plan.Resource) (plan.Resource, error) {
	if err := checkSGName(r); err != nil {
		return plan.Resource{}, err
	}
	if r.Customer == "" {
		return plan.Resource{}, errors.New("customer is empty")
	}
	specs, err := parseRules(r.Attrs[attrRules])
	if err != nil {
		return plan.Resource{}, err
	}
	id, err := p.createOnce(ctx, p.base, "create security group",
		func(ctx context.Context) (v3.UUID, bool, error) { return p.findSecurityGroup(ctx, r.Name) },
		func(ctx context.Context) (*v3.Operation, error) {
			return p.base.CreateSecurityGroup(ctx, v3.CreateSecurityGroupRequest{
				Name: r.Name, Description: "agentvdc customer " + r.Customer,
			})
		})
	if err != nil {
		return plan.Resource{}, err
	}
	// The rules are added after the group: an adopted group (a crash
	// between the two) gets them now.
	return p.syncRules(ctx, id, specs)
}

func (p *Provider) updateSecurityGroup(ctx context.Context, before, after plan.Resource) (plan.Resource, error) {
	if err := checkSGName(before); err != nil {
		return plan.Resource{}, notOwned("security group", before.Name)
	}
	specs, err := parseRules(after.Attrs[attrRules])
	if err != nil {
		return plan.Resource{}, err
	}
	return p.syncRules(ctx, v3.UUID(before.ID), specs)
}

// syncRules makes the live group's rules exactly specs: it deletes the
// rules not wanted (and duplicates) and adds the missing ones. It reads
// the live group first, so it also refuses a group (by id) whose live
// name lacks the prefix.
func (p *Provider) syncRules(ctx context.Context, id v3.UUID, specs []ruleSpec) (plan.Resource, error) {
	g, err := p.getSecurityGroup(ctx, id)
	if err != nil {
		return plan.Resource{}, err
	}
	if _, ok := sgCustomer(g.Name); !ok {
		return plan.Resource{}, notOwned("security group", g.Name)
	}
	want := map[ruleSpec]bool{}
	for _, s := range specs {
		want[s] = true
	}
	have := map[ruleSpec]bool{}
	changed := false
	for _, rule := range g.Rules {
		s := specOf(rule)
		if want[s] && !have[s] {
			have[s] = true
			continue
		}
		changed = true
		ruleID := rule.ID
		if _, err := p.mutate(ctx, p.base, "delete security group rule", func(ctx context.Context) (*v3.Operation, error) {
			return p.base.DeleteRuleFromSecurityGroup(ctx, id, ruleID)
		}); err != nil && !gone(err) {
			return plan.Resource{}, err
		}
	}
	for _, s := range specs {
		if have[s] {
			continue
		}
		have[s] = true
		changed = true
		req := s.request()
		if _, err := p.mutate(ctx, p.base, "add security group rule", func(ctx context.Context) (*v3.Operation, error) {
			return p.base.AddRuleToSecurityGroup(ctx, id, req)
		}); err != nil && !errors.Is(err, v3.ErrConflict) {
			// 409: an identical rule exists (a retried add that had been applied).
			return plan.Resource{}, err
		}
	}
	if changed {
		if g, err = p.getSecurityGroup(ctx, id); err != nil {
			return plan.Resource{}, err
		}
	}
	r, _ := securityGroupResource(*g)
	return r, nil
}

func (p *Provider) deleteSecurityGroup(ctx context.Context, r plan.Resource, id v3.UUID) error {
	if _, ok := sgCustomer(r.Name); !ok {
		return notOwned("security group", r.Name)
	}
	g, err := p.getSecurityGroup(ctx, id)
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := sgCustomer(g.Name); !ok {
		return notOwned("security group", g.Name)
	}
	_, err = p.mutate(ctx, p.base, "delete security group", func(ctx context.Context) (*v3.Operation, error) {
		return p.base.DeleteSecurityGroup(ctx, id)
	})
	if gone(err) {
		return nil
	}
	return err
}
