package opennebula

import (
	"context"
	"fmt"
	"strconv"

	"github.com/agentvdc/agentvdc/plan"
)

// createFlowService instantiates a OneFlow service from its flow template, starting at min_vms.
func (p *Provider) createFlowService(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
	tid, err := ref(ids, plan.ONEFlowTemplate, a["flow_template"])
	if err != nil {
		return plan.Resource{}, err
	}
	merge, err := serviceMerge(r, m, -1)
	if err != nil {
		return plan.Resource{}, err
	}
	out, err := p.createLooked(ctx, r, m, "instantiate service_template", func(ctx context.Context) (int, error) {
		return p.instantiateService(ctx, tid, merge)
	})
	if err != nil {
		return out, err
	}
	if _, ok := out.Attrs[attrCardinality]; !ok {
		out.Attrs[attrCardinality] = a["min_vms"]
	}
	return out, nil
}

// flowServiceResources converts the owned flow services (not DONE).
func (s *snapshot) flowServiceResources() []plan.Resource {
	var out owned
	fts := s.flowTemplateNames()
	for _, d := range s.services {
		b := d.Template.Body
		if int(b.State) == flowDone {
			continue
		}
		m := marksFromDescription(b.Description)
		out.add(res(plan.ONEFlowService, docName(d), int(d.ID), m, flowServiceAttrs(b, fts)), m)
	}
	return out
}

func flowServiceAttrs(b flowBody, fts map[int]string) map[string]string {
	r, _ := workersRole(b)
	ft := ""
	if b.TemplateID != nil {
		ft = nameOf(fts, int(*b.TemplateID))
	}
	return map[string]string{
		"flow_template": ft,
		"min_vms":       optInt(r.MinVMs),
		"max_vms":       optInt(r.MaxVMs),
		"policies":      canonicalPolicies(r.Policies),
		attrCardinality: strconv.Itoa(r.card()),
	}
}

// serviceMerge is the merge_template of a service instantiation: name,
// marks and the workers role's bounds; card < 0 starts at min_vms.
func serviceMerge(r plan.Resource, m marks, card int) (map[string]any, error) {
	minV, maxV, _, err := roleBounds(r.Attrs)
	if err != nil {
		return nil, err
	}
	ps, err := parsePolicies(r.Attrs["policies"])
	if err != nil {
		return nil, err
	}
	if card < 0 {
		card = minV
	}
	return map[string]any{
		"name":        r.Name,
		"description": m.description(),
		"roles": []any{map[string]any{
			"name":                roleWorkers,
			"cardinality":         card,
			"min_vms":             minV,
			"max_vms":             maxV,
			"elasticity_policies": policiesJSON(ps),
		}},
	}, nil
}

// instantiateService instantiates flow template tid once.
func (p *Provider) instantiateService(ctx context.Context, tid int, merge map[string]any) (int, error) {
	body := map[string]any{"action": map[string]any{"perform": "instantiate", "params": map[string]any{"merge_template": merge}}}
	var resp struct {
		Doc flowDoc `json:"DOCUMENT"`
	}
	err := p.flow(ctx, "POST /service_template/{id}/action", "POST", "service_template/"+strconv.Itoa(tid)+"/action", body, &resp, true)
	return int(resp.Doc.ID), err
}

// replaceService deletes a flow service and instantiates it again with
// after's role bounds (see Update).
func (p *Provider) replaceService(ctx context.Context, before, after plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	tid, err := ref(ids, plan.ONEFlowTemplate, after.Attrs["flow_template"])
	if err != nil {
		return plan.Resource{}, err
	}
	minV, maxV, _, err := roleBounds(after.Attrs)
	if err != nil {
		return plan.Resource{}, err
	}
	card := minV
	if c, err := strconv.Atoi(before.Attrs[attrCardinality]); err == nil {
		card = min(max(c, minV), maxV)
	}
	merge, err := serviceMerge(after, m, card)
	if err != nil {
		return plan.Resource{}, err
	}
	id, _ := strconv.Atoi(before.ID)
	p.log.InfoContext(ctx, "replacing flow service (OneFlow cannot change role bounds or policies in place)",
		logKeyName, before.Name, logKeyID, id)
	if err := p.deleteService(ctx, id); err != nil {
		return plan.Resource{}, fmt.Errorf("replace: delete old service: %w", err)
	}
	out, err := p.createLooked(ctx, after, m, "instantiate service_template", func(ctx context.Context) (int, error) {
		return p.instantiateService(ctx, tid, merge)
	})
	if err != nil {
		return plan.Resource{}, fmt.Errorf("replace: old service %d deleted, new one not created: %w", id, err)
	}
	if _, ok := out.Attrs[attrCardinality]; !ok || out.ID != before.ID {
		out.Attrs[attrCardinality] = strconv.Itoa(card)
	}
	return out, nil
}

// deleteService deletes a OneFlow service and waits until it is gone (or
// DONE): OneFlow undeploys the role VMs first.
func (p *Provider) deleteService(ctx context.Context, id int) error {
	path := "service/" + strconv.Itoa(id)
	err := p.flow(ctx, "DELETE /service/{id}", "DELETE", path, nil, nil, false)
	if isNoExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return p.wait(ctx, "flow service "+strconv.Itoa(id)+" removal", func(ctx context.Context) (bool, error) {
		d, err := p.flowDocByID(ctx, "service", id)
		if isNoExists(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return int(d.Template.Body.State) == flowDone, nil
	})
}

// updateFlowService replaces the service when its role changed (see
// Update); a service's description cannot be updated, so its marks stay.
func (p *Provider) updateFlowService(ctx context.Context, c change, out plan.Resource) (plan.Resource, error) {
	if len(c.changed) == 0 {
		out.Labels = c.live.labels()
		return out, nil
	}
	return p.replaceService(ctx, c.before, c.after, c.m, c.ids)
}

// fetchFlowServices reads the pool of OneFlow services into s.
func (p *Provider) fetchFlowServices(ctx context.Context, s *snapshot) error {
	docs, err := p.flowPool(ctx, "service")
	s.services = docs
	return err
}
