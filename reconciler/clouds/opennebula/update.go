package opennebula

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
)

// inPlace lists the attributes each kind updates in place (catalogue "U").
var inPlace = map[plan.Kind][]string{
	plan.ONEDatastore:    {"limit_mb"},
	plan.ONETemplate:     {"cpu", "memory_mb", "services"},
	plan.ONEFlowTemplate: {"min_vms", "max_vms", "cooldown", "policies"},
	plan.ONEFlowService:  {"min_vms", "max_vms", "policies"},
}

// Update changes before's in-place attributes to after's. A change of any
// other attribute is refused (the plan replaces such resources). A change
// of the customer's own labels rewrites the marks (not for flow services,
// whose description OneFlow cannot update).
//
// OneFlow offers no in-place change of a running service's role through
// goca (no service update call; the simulator, like goca, has only scale,
// actions and delete), so a flow service whose min_vms, max_vms or
// policies change is replaced: the old service is deleted (waiting until
// OneFlow has removed it and its VMs), then the flow template is
// instantiated again with the new role bounds and the old cardinality
// clamped into them. Deleting first means a crash in between leaves no
// service (the next plan creates it) rather than two with one name.
func (p *Provider) Update(ctx context.Context, before, after plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	out, err := p.update(ctx, before, after, ids)
	if err != nil {
		return plan.Resource{}, fmt.Errorf("opennebula: update %s: %w", before.Address(), redact(err, after.Sensitive))
	}
	p.log.InfoContext(ctx, "updated", logKeyKind, string(before.Kind), logKeyName, before.Name, logKeyID, out.ID)
	return out, nil
}

func (p *Provider) update(ctx context.Context, before, after plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	if before.Kind != after.Kind || before.Name != after.Name {
		return plan.Resource{}, fmt.Errorf("before %s and after %s are not the same resource", before.Address(), after.Address())
	}
	if !plan.Owned(before.Labels) {
		return plan.Resource{}, reconciler.ErrNotOwned
	}
	id, err := strconv.Atoi(before.ID)
	if err != nil || id < 0 {
		return plan.Resource{}, fmt.Errorf("id %q is not an OpenNebula id", before.ID)
	}
	if ids == nil {
		ids = func(plan.Address) (string, bool) { return "", false }
	}
	m, err := marksOf(after)
	if err != nil {
		return plan.Resource{}, err
	}
	var changed []string
	for k, v := range after.Attrs {
		if k != attrCardinality && before.Attrs[k] != v {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	for _, k := range changed {
		if !slices.Contains(inPlace[before.Kind], k) {
			return plan.Resource{}, fmt.Errorf("attribute %s cannot change in place (%q → %q); the resource must be replaced", k, before.Attrs[k], after.Attrs[k])
		}
	}
	live, exists, err := p.liveMarks(ctx, before.Kind, id)
	if err != nil {
		return plan.Resource{}, err
	}
	if !exists {
		return plan.Resource{}, fmt.Errorf("id %d no longer exists", id)
	}
	if !live.owned() || live.Customer != before.Labels[plan.LabelCustomer] {
		return plan.Resource{}, reconciler.ErrNotOwned
	}
	labelsChanged := !maps.Equal(live.labels(), m.labels())

	out := before
	out.Attrs = maps.Clone(before.Attrs)
	for _, k := range changed {
		out.Attrs[k] = after.Attrs[k]
	}
	out.Labels = m.labels()
	a := after.Attrs

	switch before.Kind {
	case plan.ONEDatastore:
		t := dyn.NewTemplate()
		if slices.Contains(changed, "limit_mb") {
			if err := positiveInt(a, "limit_mb"); err != nil {
				return plan.Resource{}, err
			}
			t.AddPair("LIMIT_MB", a["limit_mb"])
		}
		if labelsChanged {
			m.addTo(t)
		}
		if len(t.Elements) > 0 {
			if err := p.updateTemplate(ctx, before.Kind, id, t.String()); err != nil {
				return plan.Resource{}, err
			}
		}
	case plan.ONETemplate:
		t := dyn.NewTemplate()
		if len(changed) > 0 {
			if err := checkCompute(a); err != nil {
				return plan.Resource{}, err
			}
			t.AddPair("CPU", a["cpu"])
			t.AddPair("MEMORY", a["memory_mb"])
			// Merge replaces the whole CONTEXT vector: the credentials
			// (after.Sensitive) are written again with it.
			if err := addContext(t, a["services"], after.Sensitive); err != nil {
				return plan.Resource{}, err
			}
		}
		if labelsChanged {
			m.addTo(t)
		}
		if len(t.Elements) > 0 {
			if err := p.updateTemplate(ctx, before.Kind, id, t.String()); err != nil {
				return plan.Resource{}, err
			}
		}
	case plan.ONEFlowTemplate:
		if len(changed) == 0 && !labelsChanged {
			break
		}
		body, err := flowTemplateBody(after, m, ids)
		if err != nil {
			return plan.Resource{}, err
		}
		if err := p.updateFlowTemplate(ctx, id, body); err != nil {
			return plan.Resource{}, err
		}
		out.Attrs["policies"] = canonicalOrSame(a["policies"])
	case plan.ONEFlowService:
		if len(changed) == 0 {
			// A service's description cannot be updated: its marks stay.
			out.Labels = live.labels()
			break
		}
		return p.replaceService(ctx, before, after, m, ids)
	default:
		if labelsChanged {
			if err := p.updateTemplate(ctx, before.Kind, id, m.template()); err != nil {
				return plan.Resource{}, err
			}
		}
	}
	return out, nil
}

func canonicalOrSame(s string) string {
	if ps, err := parsePolicies(s); err == nil {
		return canonicalPolicies(ps)
	}
	return s
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

// Delete removes r. A resource already gone succeeds; one whose labels or
// live marks are not agentvdc's is refused with ErrNotOwned. VMs are
// terminated and waited for until DONE (their leases free the vnet);
// OneFlow services are waited for until OneFlow has removed them.
func (p *Provider) Delete(ctx context.Context, r plan.Resource) error {
	if err := p.delete(ctx, r); err != nil {
		return fmt.Errorf("opennebula: delete %s: %w", r.Address(), err)
	}
	p.log.InfoContext(ctx, "deleted", logKeyKind, string(r.Kind), logKeyName, r.Name, logKeyID, r.ID)
	return nil
}

func (p *Provider) delete(ctx context.Context, r plan.Resource) error {
	if r.Kind.Cloud() != plan.OpenNebula {
		return errors.New("not an OpenNebula kind")
	}
	if !plan.Owned(r.Labels) {
		return reconciler.ErrNotOwned
	}
	id, err := strconv.Atoi(r.ID)
	if err != nil || id < 0 {
		return fmt.Errorf("id %q is not an OpenNebula id", r.ID)
	}
	live, exists, err := p.liveMarks(ctx, r.Kind, id)
	if err != nil {
		return err
	}
	if !exists {
		return nil
	}
	if !live.owned() || live.Customer != r.Labels[plan.LabelCustomer] {
		return reconciler.ErrNotOwned
	}
	switch r.Kind {
	case plan.ONEFlowService:
		return p.deleteService(ctx, id)
	case plan.ONEFlowTemplate:
		err := p.flow(ctx, "DELETE /service_template/{id}", "DELETE", "service_template/"+strconv.Itoa(id), nil, nil, false)
		if isNoExists(err) {
			return nil
		}
		return err
	case plan.ONEVM:
		err := p.call(ctx, "one.vm.action", func(c *goca.Controller, _ *callState) error {
			return c.VM(id).TerminateHard()
		})
		if isNoExists(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return p.wait(ctx, "vm "+strconv.Itoa(id)+" DONE", func(ctx context.Context) (bool, error) {
			var done bool
			err := p.call(ctx, "one.vm.info", func(c *goca.Controller, _ *callState) error {
				v, err := c.VM(id).Info(false)
				if err != nil {
					return err
				}
				done = v.StateRaw == vmStateDone
				return nil
			})
			if isNoExists(err) {
				return true, nil
			}
			return done, err
		})
	}
	err = p.call(ctx, "one."+rpcPrefix[r.Kind]+".delete", func(c *goca.Controller, _ *callState) error {
		switch r.Kind {
		case plan.ONEGroup:
			return c.Group(id).Delete()
		case plan.ONECluster:
			return c.Cluster(id).Delete()
		case plan.ONEUser:
			return c.User(id).Delete()
		case plan.ONEVDC:
			return c.VDC(id).Delete()
		case plan.ONEHost:
			return c.Host(id).Delete()
		case plan.ONEVNet:
			return c.VirtualNetwork(id).Delete()
		case plan.ONEDatastore:
			return c.Datastore(id).Delete()
		case plan.ONETemplate:
			return c.Template(id).Delete()
		}
		return fmt.Errorf("kind %q is not managed by the OpenNebula adapter", r.Kind)
	})
	if isNoExists(err) {
		return nil
	}
	return err
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

// liveMarks reads one object's marks (one info call); exists is false when
// it is gone.
func (p *Provider) liveMarks(ctx context.Context, k plan.Kind, id int) (marks, bool, error) {
	switch k {
	case plan.ONEFlowTemplate, plan.ONEFlowService:
		what := "service_template"
		if k == plan.ONEFlowService {
			what = "service"
		}
		d, err := p.flowDocByID(ctx, what, id)
		if isNoExists(err) {
			return marks{}, false, nil
		}
		if err != nil {
			return marks{}, false, err
		}
		return marksFromDescription(d.Template.Body.Description), true, nil
	}
	var m marks
	err := p.call(ctx, "one."+rpcPrefix[k]+".info", func(c *goca.Controller, _ *callState) error {
		switch k {
		case plan.ONEGroup:
			o, err := c.Group(id).Info(false)
			if err == nil {
				m = marksFrom(&o.Template)
			}
			return err
		case plan.ONECluster:
			o, err := c.Cluster(id).Info()
			if err == nil {
				m = marksFrom(&o.Template.Template)
			}
			return err
		case plan.ONEUser:
			o, err := c.User(id).Info(false)
			if err == nil {
				m = marksFrom(&o.Template)
			}
			return err
		case plan.ONEVDC:
			o, err := c.VDC(id).Info(false)
			if err == nil {
				m = marksFrom(&o.Template.Template)
			}
			return err
		case plan.ONEHost:
			o, err := c.Host(id).Info(false)
			if err == nil {
				m = marksFrom(&o.Template.Template)
			}
			return err
		case plan.ONEVNet:
			o, err := c.VirtualNetwork(id).Info(false)
			if err == nil {
				m = marksFrom(&o.Template.Template)
			}
			return err
		case plan.ONEDatastore:
			o, err := c.Datastore(id).Info(false)
			if err == nil {
				m = marksFrom(&o.Template.Template)
			}
			return err
		case plan.ONETemplate:
			o, err := c.Template(id).Info(false, false)
			if err == nil {
				m = marksFrom(&o.Template.Template)
			}
			return err
		case plan.ONEVM:
			o, err := c.VM(id).Info(false)
			if err != nil {
				return err
			}
			if o.StateRaw == vmStateDone {
				return errNotFound
			}
			m = marksFrom(&o.UserTemplate.Template, &o.Template.Template)
			return nil
		}
		return fmt.Errorf("kind %q is not managed by the OpenNebula adapter", k)
	})
	if isNoExists(err) {
		return marks{}, false, nil
	}
	if err != nil {
		return marks{}, false, err
	}
	return m, true, nil
}

// ---------------------------------------------------------------- OneFlow bodies

// roleBounds reads min_vms, max_vms and cooldown.
func roleBounds(a map[string]string) (minV, maxV, cooldown int, err error) {
	minV, err1 := strconv.Atoi(a["min_vms"])
	maxV, err2 := strconv.Atoi(a["max_vms"])
	if err1 != nil || err2 != nil || minV < 0 || maxV < minV {
		return 0, 0, 0, fmt.Errorf("min_vms=%q and max_vms=%q must be integers with 0 <= min_vms <= max_vms", a["min_vms"], a["max_vms"])
	}
	if s, ok := a["cooldown"]; ok {
		cooldown, err = strconv.Atoi(s)
		if err != nil || cooldown < 0 {
			return 0, 0, 0, fmt.Errorf("cooldown=%q must be an integer >= 0 (seconds)", s)
		}
	}
	return minV, maxV, cooldown, nil
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

// updateFlowTemplate replaces a service template's body.
func (p *Provider) updateFlowTemplate(ctx context.Context, id int, body map[string]any) error {
	raw, err := jsonString(body)
	if err != nil {
		return err
	}
	action := map[string]any{"action": map[string]any{"perform": "update", "params": map[string]any{"append": false, "template_json": raw}}}
	return p.flow(ctx, "POST /service_template/{id}/action", "POST", "service_template/"+strconv.Itoa(id)+"/action", action, nil, false)
}
