package opennebula

import (
	"context"
	"fmt"
	"strconv"

	"github.com/agentvdc/agentvdc/plan"
)

// createFlowTemplate creates a OneFlow service template; names repeat, so it is looked up before each attempt.
func (p *Provider) createFlowTemplate(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	body, err := flowTemplateBody(r, m, ids)
	if err != nil {
		return plan.Resource{}, err
	}
	return p.createLooked(ctx, r, m, "POST /service_template", func(ctx context.Context) (int, error) {
		var resp struct {
			Doc flowDoc `json:"DOCUMENT"`
		}
		err := p.flow(ctx, "POST /service_template", "POST", "service_template", body, &resp, true)
		return int(resp.Doc.ID), err
	})
}

// flowTemplateResources converts the owned flow templates.
func (s *snapshot) flowTemplateResources() []plan.Resource {
	var out owned
	tmpls := s.templateNames()
	for _, d := range s.flowTemplates {
		m := marksFromDescription(d.Template.Body.Description)
		out.add(res(plan.ONEFlowTemplate, docName(d), int(d.ID), m, flowTemplateAttrs(d.Template.Body, tmpls)), m)
	}
	return out
}

func (s *snapshot) flowTemplateNames() map[int]string {
	return idNames(s.flowTemplates, func(o *flowDoc) (int, string) { return int(o.ID), docName(*o) })
}

func flowTemplateAttrs(b flowBody, tmpls map[int]string) map[string]string {
	r, _ := workersRole(b)
	return map[string]string{
		"role":        r.Name,
		"vm_template": nameOf(tmpls, int(r.VMTemplate)),
		"min_vms":     optInt(r.MinVMs),
		"max_vms":     optInt(r.MaxVMs),
		"cooldown":    strconv.Itoa(int(r.Cooldown)),
		"policies":    canonicalPolicies(r.Policies),
	}
}

// flowTemplateBody is the service template with its one role "workers".
func flowTemplateBody(r plan.Resource, m marks, ids plan.Lookup) (map[string]any, error) {
	a := r.Attrs
	if role := a["role"]; role != "" && role != roleWorkers {
		return nil, fmt.Errorf("role=%q: the flow template has one role, %q", role, roleWorkers)
	}
	tid, err := ref(ids, plan.ONETemplate, a["vm_template"])
	if err != nil {
		return nil, err
	}
	minV, maxV, cooldown, err := roleBounds(a)
	if err != nil {
		return nil, err
	}
	ps, err := parsePolicies(a["policies"])
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"name":        r.Name,
		"deployment":  "straight",
		"description": m.description(),
		"roles": []any{map[string]any{
			"name":                roleWorkers,
			"vm_template":         tid,
			"cardinality":         minV,
			"min_vms":             minV,
			"max_vms":             maxV,
			"cooldown":            cooldown,
			"elasticity_policies": policiesJSON(ps),
		}},
	}, nil
}

// updateFlowTemplate replaces a service template's body.
func (p *Provider) updateFlowTemplate(ctx context.Context, id int, body map[string]any) error {
	raw, err := jsonString(body)
	if err != nil {
		return err
	}
	action := map[string]any{"action": map[string]any{"perform": "update", "params": map[string]any{"append": false, "template_json": raw}}}
	return p.flow(ctx, "POST /service_template/{id}/action", "POST", "service_template/"+strconv.Itoa(id)+"/action", action, nil, false)
}

// updateFlowTemplateKind rewrites the service template's body when its
// role bounds, policies or marks changed.
func (p *Provider) updateFlowTemplateKind(ctx context.Context, c change, out plan.Resource) (plan.Resource, error) {
	if len(c.changed) == 0 && !c.labelsChanged {
		return out, nil
	}
	body, err := flowTemplateBody(c.after, c.m, c.ids)
	if err != nil {
		return plan.Resource{}, err
	}
	if err := p.updateFlowTemplate(ctx, c.id, body); err != nil {
		return plan.Resource{}, err
	}
	out.Attrs["policies"] = canonicalOrSame(c.after.Attrs["policies"])
	return out, nil
}

// fetchFlowTemplates reads the pool of OneFlow service templates into s.
func (p *Provider) fetchFlowTemplates(ctx context.Context, s *snapshot) error {
	docs, err := p.flowPool(ctx, "service_template")
	s.flowTemplates = docs
	return err
}
