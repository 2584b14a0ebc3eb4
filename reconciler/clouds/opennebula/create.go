package opennebula

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"
	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/cluster"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/datastore"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/group"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/host"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/template"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/user"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/vdc"
	vn "github.com/OpenNebula/one/src/oca/go/src/goca/schemas/virtualnetwork"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
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
		return plan.Resource{}, fmt.Errorf("opennebula: create %s: not an OpenNebula kind", r.Address())
	}
	if !strings.HasPrefix(r.Name, plan.NamePrefix) {
		return plan.Resource{}, fmt.Errorf("opennebula: create %s: name must start with %q", r.Address(), plan.NamePrefix)
	}
	if strings.ContainsAny(r.Name, " \t\n\r:\"") {
		return plan.Resource{}, fmt.Errorf("opennebula: create %s: name contains spaces, quotes or ':'", r.Address())
	}
	m, err := marksOf(r)
	if err != nil {
		return plan.Resource{}, fmt.Errorf("opennebula: create: %w", err)
	}
	if ids == nil {
		ids = func(plan.Address) (string, bool) { return "", false }
	}
	out, err := p.create(ctx, r, m, ids)
	if err != nil {
		return plan.Resource{}, fmt.Errorf("opennebula: create %s: %w", r.Address(), redact(err, r.Sensitive))
	}
	p.log.InfoContext(ctx, "created", logKeyKind, string(r.Kind), logKeyName, r.Name, logKeyID, out.ID)
	return out, nil
}

func (p *Provider) create(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
	switch r.Kind {
	case plan.ONEGroup:
		return p.allocate(ctx, r, m, "one.group.allocate", func(c *goca.Controller) (int, error) {
			return c.Groups().Create(r.Name)
		}, p.finishMarks)
	case plan.ONECluster:
		return p.allocate(ctx, r, m, "one.cluster.allocate", func(c *goca.Controller) (int, error) {
			return c.Clusters().Create(r.Name)
		}, p.finishMarks)
	case plan.ONEUser:
		gid, err := ref(ids, plan.ONEGroup, a["group"])
		if err != nil {
			return plan.Resource{}, err
		}
		driver := a["auth_driver"]
		if driver == "" {
			driver = "core"
		}
		pw := r.Sensitive[plan.SensitivePassword]
		if driver == "core" && (pw == "" || strings.ContainsAny(pw, " \t\n")) {
			return plan.Resource{}, errors.New(`Sensitive["password"] is required for the core driver and must not contain spaces`)
		}
		finish := func(ctx context.Context, id int, r plan.Resource, m marks) error {
			if err := p.finishMarks(ctx, id, r, m); err != nil {
				return err
			}
			// A half-created user gets the password and group it should
			// have had.
			return p.call(ctx, "one.user.passwd/chgrp", func(c *goca.Controller, _ *callState) error {
				if pw != "" {
					if err := c.User(id).Passwd(pw); err != nil {
						return err
					}
				}
				return c.User(id).Chgrp(gid)
			})
		}
		return p.allocate(ctx, r, m, "one.user.allocate", func(c *goca.Controller) (int, error) {
			return c.Users().Create(r.Name, pw, driver, []int{gid})
		}, finish)
	case plan.ONEVDC:
		gid, err := ref(ids, plan.ONEGroup, a["group"])
		if err != nil {
			return plan.Resource{}, err
		}
		cid, err := ref(ids, plan.ONECluster, a["cluster"])
		if err != nil {
			return plan.Resource{}, err
		}
		t := dyn.NewTemplate()
		t.AddPair("NAME", r.Name)
		m.addTo(t)
		out, err := p.allocate(ctx, r, m, "one.vdc.allocate", func(c *goca.Controller) (int, error) {
			return c.VDCs().Create(t.String(), -1)
		}, nil)
		if err != nil {
			return out, err
		}
		id, _ := strconv.Atoi(out.ID)
		if err := p.ensureVDC(ctx, id, gid, cid); err != nil {
			return plan.Resource{}, err
		}
		out.Attrs = map[string]string{"group": a["group"], "cluster": a["cluster"]}
		return out, nil
	case plan.ONEHost:
		cid, err := ref(ids, plan.ONECluster, a["cluster"])
		if err != nil {
			return plan.Resource{}, err
		}
		if a["im_mad"] == "" || a["vm_mad"] == "" {
			return plan.Resource{}, errors.New("im_mad and vm_mad are required")
		}
		return p.allocate(ctx, r, m, "one.host.allocate", func(c *goca.Controller) (int, error) {
			return c.Hosts().Create(r.Name, a["im_mad"], a["vm_mad"], cid)
		}, p.finishMarks)
	case plan.ONEVNet:
		cid, err := ref(ids, plan.ONECluster, a["cluster"])
		if err != nil {
			return plan.Resource{}, err
		}
		if err := positiveInt(a, "ar_size"); err != nil {
			return plan.Resource{}, err
		}
		if a["vn_mad"] == "" || a["ar_ip"] == "" {
			return plan.Resource{}, errors.New("vn_mad and ar_ip are required")
		}
		t := dyn.NewTemplate()
		t.AddPair("NAME", r.Name)
		t.AddPair("VN_MAD", a["vn_mad"])
		if a["bridge"] != "" {
			t.AddPair("BRIDGE", a["bridge"])
		}
		ar := t.AddVector("AR")
		ar.AddPair("TYPE", "IP4")
		ar.AddPair("IP", a["ar_ip"])
		ar.AddPair("SIZE", a["ar_size"])
		m.addTo(t)
		return p.allocate(ctx, r, m, "one.vn.allocate", func(c *goca.Controller) (int, error) {
			return c.VirtualNetworks().Create(t.String(), cid)
		}, nil)
	case plan.ONEDatastore:
		cid, err := ref(ids, plan.ONECluster, a["cluster"])
		if err != nil {
			return plan.Resource{}, err
		}
		if err := positiveInt(a, "limit_mb"); err != nil {
			return plan.Resource{}, err
		}
		if a["ds_mad"] == "" || a["tm_mad"] == "" {
			return plan.Resource{}, errors.New("ds_mad and tm_mad are required")
		}
		t := dyn.NewTemplate()
		t.AddPair("NAME", r.Name)
		t.AddPair("TYPE", "IMAGE_DS")
		t.AddPair("DS_MAD", a["ds_mad"])
		t.AddPair("TM_MAD", a["tm_mad"])
		if a["nfs_server"] != "" {
			t.AddPair(tplNFSServer, a["nfs_server"])
		}
		if a["nfs_path"] != "" {
			t.AddPair(tplNFSPath, a["nfs_path"])
		}
		t.AddPair("LIMIT_MB", a["limit_mb"])
		m.addTo(t)
		return p.allocate(ctx, r, m, "one.datastore.allocate", func(c *goca.Controller) (int, error) {
			return c.Datastores().Create(t.String(), cid)
		}, nil)
	case plan.ONETemplate:
		nid, err := ref(ids, plan.ONEVNet, a["vnet"])
		if err != nil {
			return plan.Resource{}, err
		}
		did, err := ref(ids, plan.ONEDatastore, a["datastore"])
		if err != nil {
			return plan.Resource{}, err
		}
		if err := checkCompute(a); err != nil {
			return plan.Resource{}, err
		}
		t := dyn.NewTemplate()
		t.AddPair("NAME", r.Name)
		t.AddPair("CPU", a["cpu"])
		t.AddPair("MEMORY", a["memory_mb"])
		nic := t.AddVector("NIC")
		nic.AddPair("NETWORK_ID", nid)
		t.AddPair("SCHED_DS_REQUIREMENTS", "ID="+strconv.Itoa(did))
		if err := addContext(t, a["services"], r.Sensitive); err != nil {
			return plan.Resource{}, err
		}
		m.addTo(t)
		return p.allocate(ctx, r, m, "one.template.allocate", func(c *goca.Controller) (int, error) {
			return c.Templates().Create(t.String())
		}, nil)
	case plan.ONEVM:
		tid, err := ref(ids, plan.ONETemplate, a["template"])
		if err != nil {
			return plan.Resource{}, err
		}
		t := dyn.NewTemplate()
		m.addTo(t)
		return p.createLooked(ctx, r, m, "one.template.instantiate", func(ctx context.Context) (int, error) {
			var id int
			err := p.once(ctx, "one.template.instantiate", func(c *goca.Controller, _ *callState) error {
				var err error
				id, err = c.Template(tid).Instantiate(r.Name, false, t.String(), false)
				return err
			})
			return id, err
		})
	case plan.ONEFlowTemplate:
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
	case plan.ONEFlowService:
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
	for attempt := 1; attempt <= p.cfg.MaxAttempts; attempt++ {
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
		if attempt < p.cfg.MaxAttempts && !sleep(ctx, p.backoff(attempt, 0)) {
			return plan.Resource{}, fmt.Errorf("%s: %w (last error: %w)", op, ctx.Err(), err)
		}
	}
	return plan.Resource{}, fmt.Errorf("%s (after %d attempts): %w", op, p.cfg.MaxAttempts, err)
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
		return plan.Resource{}, false, fmt.Errorf("look up existing %s: %w", r.Name, err)
	}
	id, live, found := s.find(r.Kind, r.Name, m)
	if !found {
		return plan.Resource{}, false, nil
	}
	switch {
	case live.owned() && live.Customer == m.Customer:
	case live.owned():
		return plan.Resource{}, true, fmt.Errorf("name %s is taken by customer %q: %w", r.Name, live.Customer, reconciler.ErrNotOwned)
	case !hasAnyMark(live) && finish != nil:
		p.log.WarnContext(ctx, "finishing half-created resource", logKeyKind, string(r.Kind), logKeyName, r.Name, logKeyID, id)
		if err := finish(ctx, id, r, m); err != nil {
			return plan.Resource{}, true, fmt.Errorf("finish half-created id %d: %w", id, err)
		}
	default:
		return plan.Resource{}, true, fmt.Errorf("name %s is taken by a resource without agentvdc's marks: %w", r.Name, reconciler.ErrNotOwned)
	}
	s, err := p.fetch(ctx, append([]plan.Kind{r.Kind}, refKinds[r.Kind]...)...)
	if err != nil {
		return plan.Resource{}, true, fmt.Errorf("read existing %s: %w", r.Name, err)
	}
	for _, o := range s.resources(r.Kind) {
		if o.ID == strconv.Itoa(id) {
			p.log.InfoContext(ctx, "adopted existing resource", logKeyKind, string(r.Kind), logKeyName, r.Name, logKeyID, id)
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
		cs = named(s.hosts, name, func(o *host.Host) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template.Template })
	case plan.ONEVNet:
		cs = named(s.vnets, name, func(o *vn.VirtualNetwork) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template.Template })
	case plan.ONEDatastore:
		cs = named(s.datastores, name, func(o *datastore.Datastore) (string, int, *dyn.Template) { return o.Name, o.ID, &o.Template.Template })
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

// ensureVDC adds the group and the cluster (zone 0) a VDC lacks.
func (p *Provider) ensureVDC(ctx context.Context, id, gid, cid int) error {
	var have struct{ group, cluster bool }
	err := p.call(ctx, "one.vdc.info", func(c *goca.Controller, _ *callState) error {
		v, err := c.VDC(id).Info(false)
		if err != nil {
			return err
		}
		for _, g := range v.Groups.ID {
			have.group = have.group || g == gid
		}
		for _, cl := range v.Clusters {
			have.cluster = have.cluster || (cl.ZoneID == 0 && cl.ClusterID == cid)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !have.group {
		if err := p.call(ctx, "one.vdc.addgroup", func(c *goca.Controller, _ *callState) error {
			return c.VDC(id).AddGroup(gid)
		}); err != nil && !alreadyDone(err) {
			return err
		}
	}
	if !have.cluster {
		if err := p.call(ctx, "one.vdc.addcluster", func(c *goca.Controller, _ *callState) error {
			return c.VDC(id).AddCluster(0, cid)
		}); err != nil && !alreadyDone(err) {
			return err
		}
	}
	return nil
}

// alreadyDone recognises oned's "already assigned" ACTION answer, which a
// retried add (whose first answer was lost) gets.
func alreadyDone(err error) bool {
	c, ok := oneCode(err)
	return ok && c == 0x0800 && strings.Contains(err.Error(), "already assigned")
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
	plan.ONEHost: "host", plan.ONEVNet: "vn", plan.ONEDatastore: "datastore", plan.ONETemplate: "template",
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

func checkCompute(a map[string]string) error {
	if f, err := strconv.ParseFloat(a["cpu"], 64); err != nil || f <= 0 {
		return fmt.Errorf("cpu=%q must be a positive number", a["cpu"])
	}
	if err := positiveInt(a, "memory_mb"); err != nil {
		return err
	}
	if strings.ContainsAny(a["services"], "\"\n\\") {
		return fmt.Errorf("services=%q must not contain quotes, backslashes or newlines", a["services"])
	}
	return nil
}

// addContext writes CONTEXT=[NETWORK="YES", SERVICES="...", credentials]:
// the VM reads the services to start, and their credentials, from its
// context (OpenNebula contextualization). Empty services are left out
// (oned drops empty attributes anyway). sensitive holds the data
// services' credentials (reconciler.Sensitive* keys), written under
// contextVars' names; they are never read back (Observe reads SERVICES
// only), so they cause no drift and never reach Attrs, plans or logs.
// Errors name the offending key, never its value.
func addContext(t *dyn.Template, services string, sensitive map[string]string) error {
	keys := make([]string, 0, len(sensitive))
	for k := range sensitive {
		if _, ok := contextVars[k]; !ok {
			return fmt.Errorf("Sensitive[%q] is not a context variable of a VM template", k)
		}
		if v := sensitive[k]; v == "" || strings.ContainsAny(v, "\"\\\n\r]") {
			return fmt.Errorf("Sensitive[%q] is empty or contains quotes, backslashes, ']' or newlines", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ctx := t.AddVector("CONTEXT")
	ctx.AddPair("NETWORK", "YES")
	if services != "" {
		ctx.AddPair(tplServices, services)
	}
	for _, k := range keys {
		ctx.AddPair(contextVars[k], sensitive[k])
	}
	return nil
}

// contextVars maps the Sensitive keys of the data template to the CONTEXT
// variables the data VM's start scripts read.
var contextVars = map[string]string{
	reconciler.SensitiveMinIOAccessKey: "MINIO_ROOT_USER",
	reconciler.SensitiveMinIOSecretKey: "MINIO_ROOT_PASSWORD",
	reconciler.SensitiveNeo4jPassword:  "NEO4J_PASSWORD",
	reconciler.SensitiveQdrantAPIKey:   "QDRANT_API_KEY",
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
