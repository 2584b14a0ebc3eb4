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
	plan.ONEDatastore:    {"limit_mb", "bridge_list"},
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
		return plan.Resource{}, fmt.Errorf("opennebula: %w", redact(err, after.Sensitive))
	}
	p.log.DebugContext(ctx, "updated", logKeyKind, string(before.Kind), logKeyName, before.Name, logKeyID, out.ID)
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
	c := change{before: before, after: after, id: id, changed: changed, labelsChanged: labelsChanged, m: m, live: live, ids: ids}
	switch before.Kind {
	case plan.ONEDatastore:
		return p.updateDatastore(ctx, c, out)
	case plan.ONETemplate:
		return p.updateVMTemplate(ctx, c, out)
	case plan.ONEFlowTemplate:
		return p.updateFlowTemplateKind(ctx, c, out)
	case plan.ONEFlowService:
		return p.updateFlowService(ctx, c, out)
	}
	if labelsChanged {
		if err := p.updateTemplate(ctx, before.Kind, id, m.template()); err != nil {
			return plan.Resource{}, err
		}
	}
	return out, nil
}

// change is what one Update found, as the kinds' updates need it.
type change struct {
	before, after plan.Resource
	id            int
	// changed are the in-place attributes whose values differ (sorted).
	changed       []string
	labelsChanged bool
	// m are after's marks, live the object's current ones.
	m, live marks
	ids     plan.Lookup
}

// mergeTemplate adds the marks to t when the labels changed and merges t
// into the object's template unless it is empty.
func (p *Provider) mergeTemplate(ctx context.Context, c change, t *dyn.Template, out plan.Resource) (plan.Resource, error) {
	if c.labelsChanged {
		c.m.addTo(t)
	}
	if len(t.Elements) > 0 {
		if err := p.updateTemplate(ctx, c.before.Kind, c.id, t.String()); err != nil {
			return plan.Resource{}, err
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

// Delete removes r. A resource already gone succeeds; one whose labels or
// live marks are not agentvdc's is refused with ErrNotOwned. VMs are
// terminated and waited for until DONE (their leases free the vnet);
// OneFlow services are waited for until OneFlow has removed them.
func (p *Provider) Delete(ctx context.Context, r plan.Resource) error {
	if err := p.delete(ctx, r); err != nil {
		return fmt.Errorf("opennebula: %w", err)
	}
	p.log.DebugContext(ctx, "deleted", logKeyKind, string(r.Kind), logKeyName, r.Name, logKeyID, r.ID)
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
	case plan.ONEHost:
		return p.deleteHost(ctx, id)
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
		case plan.ONEImage:
			return c.Image(id).Delete()
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
		case plan.ONEImage:
			o, err := c.Image(id).Info(false)
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
