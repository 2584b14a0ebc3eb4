package opennebula

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"
	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/cluster"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/datastore"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/group"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/host"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/image"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/template"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/user"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/vdc"
	vn "github.com/OpenNebula/one/src/oca/go/src/goca/schemas/virtualnetwork"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
)

// Create makes r. Kinds whose names oned keeps unique (group, cluster,
// user, VDC, host, vnet, datastore, VM template) are allocated directly:
// a duplicate answers ALLOCATE and the existing object is looked up by
// name in its pool and adopted when it carries r's marks. Kinds whose
// names may repeat (VM, flow template, flow service) are looked up in
// their pool first, and again before every retry, so that a lost answer
// never produces a twin.
func (p *Provider) Create(ctx context.Context, r plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	if r.Kind.Cloud() != plan.OpenNebula {
		return plan.Resource{}, errors.New("opennebula: not an OpenNebula kind")
	}
	if !strings.HasPrefix(r.Name, plan.NamePrefix) {
		return plan.Resource{}, fmt.Errorf("opennebula: name must start with %q", plan.NamePrefix)
	}
	if strings.ContainsAny(r.Name, " \t\n\r:\"") {
		return plan.Resource{}, errors.New("opennebula: name contains spaces, quotes or ':'")
	}
	m, err := marksOf(r)
	if err != nil {
		return plan.Resource{}, fmt.Errorf("opennebula: %w", err)
	}
	if ids == nil {
		ids = func(plan.Address) (string, bool) { return "", false }
	}
	note := &createNote{}
	out, err := p.create(context.WithValue(ctx, createNoteKey{}, note), r, m, ids)
	if err != nil {
		return plan.Resource{}, fmt.Errorf("opennebula: %w", redact(err, r.Sensitive))
	}
	msg := "created"
	if note.adopted {
		msg = "adopted existing resource" // ours already, from an earlier attempt
	}
	p.log.DebugContext(ctx, msg, logKeyKind, string(r.Kind), logKeyName, r.Name, logKeyID, out.ID)
	return out, nil
}

// createNote lets adopt tell Create that nothing was created, so that the
// log says which happened once.
type createNote struct{ adopted bool }

type createNoteKey struct{}

// noteAdopted records, for Create's log line, that the resource existed.
func noteAdopted(ctx context.Context) {
	if n, ok := ctx.Value(createNoteKey{}).(*createNote); ok {
		n.adopted = true
	}
}

// create dispatches to the kind's create (in the kind's file).
func (p *Provider) create(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	switch r.Kind {
	case plan.ONEGroup:
		return p.createGroup(ctx, r, m, ids)
	case plan.ONECluster:
		return p.createCluster(ctx, r, m, ids)
	case plan.ONEUser:
		return p.createUser(ctx, r, m, ids)
	case plan.ONEVDC:
		return p.createVDC(ctx, r, m, ids)
	case plan.ONEHost:
		return p.createHost(ctx, r, m, ids)
	case plan.ONEVNet:
		return p.createVNet(ctx, r, m, ids)
	case plan.ONEDatastore:
		return p.createDatastore(ctx, r, m, ids)
	case plan.ONEImage:
		return p.createImage(ctx, r, m, ids)
	case plan.ONETemplate:
		return p.createTemplate(ctx, r, m, ids)
	case plan.ONEVM:
		return p.createVM(ctx, r, m, ids)
	case plan.ONEFlowTemplate:
		return p.createFlowTemplate(ctx, r, m, ids)
	case plan.ONEFlowService:
		return p.createFlowService(ctx, r, m, ids)
	}
	return plan.Resource{}, fmt.Errorf("kind %q is not managed by the OpenNebula adapter", r.Kind)
}

// finisher completes an object found half-created (allocated, but the
// marks never written) or just allocated.
type finisher func(ctx context.Context, id int, r plan.Resource, m marks) error

// finishMarks writes the marks into the object's template (merge).
func (p *Provider) finishMarks(ctx context.Context, id int, r plan.Resource, m marks) error {
	return p.updateTemplate(ctx, r.Kind, id, m.template())
}

// allocate runs an allocate call for a kind with unique names. On ALLOCATE
// (name taken, possibly by our own earlier attempt whose answer was lost)
// it adopts the existing object if it is ours.
func (p *Provider) allocate(ctx context.Context, r plan.Resource, m marks, op string, alloc func(c *goca.Controller) (int, error), finish finisher) (plan.Resource, error) {
	var id int
	err := p.call(ctx, op, func(c *goca.Controller, _ *callState) error {
		var err error
		id, err = alloc(c)
		return err
	})
	if err != nil {
		if !isAllocate(err) {
			return plan.Resource{}, err
		}
		out, found, aerr := p.adopt(ctx, r, m, finish)
		if aerr != nil {
			return plan.Resource{}, aerr
		}
		if !found {
			return plan.Resource{}, err // ALLOCATE for another reason
		}
		return out, nil
	}
	if finish != nil {
		if err := finish(ctx, id, r, m); err != nil {
			return plan.Resource{}, fmt.Errorf("allocated id %d, then: %w", id, err)
		}
	}
	return created(r, m, id), nil
}

// createLooked creates a kind whose names may repeat: look up, create
// once, and on a transient failure look up again before retrying.
func (p *Provider) createLooked(ctx context.Context, r plan.Resource, m marks, op string, create func(ctx context.Context) (int, error)) (plan.Resource, error) {
	var err error
	for attempt := 1; attempt <= p.cfg.Retry.Attempts; attempt++ {
		out, found, aerr := p.adopt(ctx, r, m, nil)
		if aerr != nil {
			return plan.Resource{}, aerr
		}
		if found {
			return out, nil
		}
		var id int
		id, err = create(ctx)
		if err == nil {
			return created(r, m, id), nil
		}
		if !retryable(ctx, err) {
			return plan.Resource{}, err
		}
		if p.cfg.Retry.Retry(attempt) && backoff.Sleep(ctx, p.backoff(attempt, 0)) != nil {
			return plan.Resource{}, fmt.Errorf("%s: %w (last error: %w)", op, ctx.Err(), err)
		}
	}
	return plan.Resource{}, fmt.Errorf("%s (after %d attempts): %w", op, p.cfg.Retry.Attempts, err)
}

// adopt looks r up by name in its pool (plus the pools its references
// need). An object with r's marks is returned as observed; one without
// any mark is finished (marks written) when finish is given, since the
// reserved name prefix and a missing template mean our own allocate
// succeeded and the crash or lost answer came before the marks; anything
// else is refused with ErrNotOwned.
func (p *Provider) adopt(ctx context.Context, r plan.Resource, m marks, finish finisher) (plan.Resource, bool, error) {
	// A miss (the usual case) costs one call: the kind's own pool (for VMs
	// filtered server-side by customer). The pools of referenced kinds are
	// read only to describe an object that was found.
	s := &snapshot{vmFilter: attrCustomer + "=" + m.Customer}
	if err := p.fetchKind(ctx, s, r.Kind); err != nil {
		return plan.Resource{}, false, fmt.Errorf("look up existing: %w", err)
	}
	id, live, found := s.find(r.Kind, r.Name, m)
	if !found {
		return plan.Resource{}, false, nil
	}
	switch {
	case live.owned() && live.Customer == m.Customer:
	case live.owned():
		return plan.Resource{}, true, fmt.Errorf("the name is taken by customer %q: %w", live.Customer, reconciler.ErrNotOwned)
	case !hasAnyMark(live) && finish != nil:
		p.log.WarnContext(ctx, "finishing half-created resource", logKeyKind, string(r.Kind), logKeyName, r.Name, logKeyID, id)
		if err := finish(ctx, id, r, m); err != nil {
			return plan.Resource{}, true, fmt.Errorf("finish half-created id %d: %w", id, err)
		}
	default:
		return plan.Resource{}, true, fmt.Errorf("the name is taken by a resource without agentvdc's marks: %w", reconciler.ErrNotOwned)
	}
	s, err := p.fetch(ctx, append([]plan.Kind{r.Kind}, refKinds[r.Kind]...)...)
	if err != nil {
		return plan.Resource{}, true, fmt.Errorf("read existing: %w", err)
	}
	for _, o := range s.resources(r.Kind) {
		if o.ID == strconv.Itoa(id) {
			noteAdopted(ctx)
			return o, true, nil
		}
	}
	return plan.Resource{}, true, fmt.Errorf("%w: %s %d vanished while adopting", errMalformed, r.Kind, id)
}

// cand is an object found by name, with its marks.
type cand struct {
	id int
	m  marks
}

// named returns the objects of list called name.
func named[T any](list []T, name string, get func(*T) (string, int, *dyn.Template)) []cand {
	var out []cand
	for i := range list {
		if n, id, t := get(&list[i]); n == name {
			out = append(out, cand{id, marksFrom(t)})
		}
	}
	return out
}

// find returns the id and marks of the object named name (preferring one
// with marks m when names may repeat).
func (s *snapshot) find(k plan.Kind, name string, m marks) (int, marks, bool) {
	var cs []cand
	switch k {
	case plan.ONEGroup:
		cs = named(s.groups, name, func(o *group.GroupShort) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template })
	case plan.ONECluster:
		cs = named(s.clusters, name, func(o *cluster.Cluster) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template.Template })
	case plan.ONEUser:
		cs = named(s.users, name, func(o *user.User) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template })
	case plan.ONEVDC:
		cs = named(s.vdcs, name, func(o *vdc.VDC) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template.Template })
	case plan.ONEHost:
		cs = named(s.hosts, name, func(o *host.Host) (string, int, *dyn.Template) { return hostName(o), o.ID, &o.Template.Template })
	case plan.ONEVNet:
		cs = named(s.vnets, name, func(o *vn.VirtualNetwork) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template.Template })
	case plan.ONEDatastore:
		cs = named(s.datastores, name, func(o *datastore.Datastore) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template.Template })
	case plan.ONEImage:
		cs = named(s.images, name, func(o *image.Image) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template.Template })
	case plan.ONETemplate:
		cs = named(s.templates, name, func(o *template.Template) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template.Template })
	case plan.ONEVM, plan.ONEFlowTemplate, plan.ONEFlowService:
		// Names repeat: only our own objects count (the pool of VMs is
		// already filtered by the marks).
		for _, o := range s.resources(k) {
			if o.Name == name && o.Customer == m.Customer {
				id, _ := strconv.Atoi(o.ID)
				return id, m, true
			}
		}
		return 0, marks{}, false
	}
	for _, c := range cs {
		if c.m.owned() && c.m.Customer == m.Customer {
			return c.id, c.m, true
		}
	}
	if len(cs) > 0 {
		return cs[0].id, cs[0].m, true
	}
	return 0, marks{}, false
}

// created is the observed form of a resource just made from r.
func created(r plan.Resource, m marks, id int) plan.Resource {
	attrs := maps.Clone(r.Attrs)
	if attrs == nil {
		attrs = map[string]string{}
	}
	if pol, ok := attrs["policies"]; ok {
		if ps, err := parsePolicies(pol); err == nil {
			attrs["policies"] = canonicalPolicies(ps)
		}
	}
	if r.Kind == plan.ONEUser && attrs["auth_driver"] == "" {
		attrs["auth_driver"] = "core"
	}
	return plan.Resource{Kind: r.Kind, Name: r.Name, Customer: r.Customer, ID: strconv.Itoa(id), Attrs: attrs, Labels: m.labels(), DependsOn: r.DependsOn}
}

// updateTemplate merges tpl into an object's template.
func (p *Provider) updateTemplate(ctx context.Context, k plan.Kind, id int, tpl string) error {
	op := "one." + rpcPrefix[k] + ".update"
	return p.call(ctx, op, func(c *goca.Controller, _ *callState) error {
		switch k {
		case plan.ONEGroup:
			return c.Group(id).Update(tpl, parameters.Merge)
		case plan.ONECluster:
			return c.Cluster(id).Update(tpl, parameters.Merge)
		case plan.ONEUser:
			return c.User(id).Update(tpl, parameters.Merge)
		case plan.ONEVDC:
			return c.VDC(id).Update(tpl, parameters.Merge)
		case plan.ONEHost:
			return c.Host(id).Update(tpl, parameters.Merge)
		case plan.ONEVNet:
			return c.VirtualNetwork(id).Update(tpl, parameters.Merge)
		case plan.ONEDatastore:
			return c.Datastore(id).Update(tpl, parameters.Merge)
		case plan.ONEImage:
			return c.Image(id).Update(tpl, parameters.Merge)
		case plan.ONETemplate:
			return c.Template(id).Update(tpl, parameters.Merge)
		case plan.ONEVM:
			return c.VM(id).Update(tpl, parameters.Merge)
		}
		return fmt.Errorf("kind %q has no template", k)
	})
}

var rpcPrefix = map[plan.Kind]string{
	plan.ONEGroup: "group", plan.ONECluster: "cluster", plan.ONEUser: "user", plan.ONEVDC: "vdc",
	plan.ONEHost: "host", plan.ONEVNet: "vn", plan.ONEDatastore: "datastore", plan.ONEImage: "image", plan.ONETemplate: "template",
	plan.ONEVM: "vm",
}

// ref resolves a referenced resource's name to its id.
func ref(ids plan.Lookup, k plan.Kind, name string) (int, error) {
	if name == "" {
		return 0, fmt.Errorf("reference to %s is empty", k)
	}
	s, ok := ids(plan.Address{Kind: k, Name: name})
	if !ok {
		return 0, fmt.Errorf("referenced %s.%s has no id yet", k, name)
	}
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("referenced %s.%s has id %q, not an OpenNebula id", k, name, s)
	}
	return id, nil
}

func positiveInt(a map[string]string, key string) error {
	n, err := strconv.Atoi(a[key])
	if err != nil || n <= 0 {
		return fmt.Errorf("%s=%q must be a positive integer", key, a[key])
	}
	return nil
}

// redact removes Sensitive values from an error's text.
func redact(err error, sensitive map[string]string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, v := range sensitive {
		if v != "" && strings.Contains(msg, v) {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg, notOwned: errors.Is(err, reconciler.ErrNotOwned)}
}

type redactedError struct {
	msg      string
	notOwned bool
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Is(target error) bool { return e.notOwned && target == reconciler.ErrNotOwned }
