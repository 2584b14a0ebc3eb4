package opennebula

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

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
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/vm"

	"github.com/agentvdc/agentvdc/plan"
)

// kinds are the OpenNebula kinds in creation order.
var kinds = []plan.Kind{
	plan.ONEGroup, plan.ONECluster, plan.ONEUser, plan.ONEVDC, plan.ONEHost, plan.ONEVNet,
	plan.ONEDatastore, plan.ONETemplate, plan.ONEVM, plan.ONEFlowTemplate, plan.ONEFlowService,
}

// refKinds are the kinds whose names a kind's attributes refer to.
var refKinds = map[plan.Kind][]plan.Kind{
	plan.ONEUser:         {plan.ONEGroup},
	plan.ONEVDC:          {plan.ONEGroup, plan.ONECluster},
	plan.ONEHost:         {plan.ONECluster},
	plan.ONEVNet:         {plan.ONECluster},
	plan.ONEDatastore:    {plan.ONECluster},
	plan.ONETemplate:     {plan.ONEVNet, plan.ONEDatastore},
	plan.ONEVM:           {plan.ONETemplate},
	plan.ONEFlowTemplate: {plan.ONETemplate},
	plan.ONEFlowService:  {plan.ONEFlowTemplate},
}

// snapshot holds the pools read by one pass; nil/absent pools were not read.
type snapshot struct {
	groups        []group.GroupShort
	clusters      []cluster.Cluster
	users         []user.User
	vdcs          []vdc.VDC
	hosts         []host.Host
	vnets         []vn.VirtualNetwork
	datastores    []datastore.Datastore
	templates     []template.Template
	vms           []vm.VM
	flowTemplates []flowDoc
	services      []flowDoc
	// vmFilter overrides the vmpool's server-side KEY=VALUE filter.
	vmFilter string
}

// Observe lists every managed OpenNebula resource: one pool call per kind
// (pages of PageSize for vnets, VM templates and VMs when PageSize > 0),
// the calls running concurrently. References are resolved from the same
// pools.
func (p *Provider) Observe(ctx context.Context) ([]plan.Resource, error) {
	s, err := p.fetch(ctx, kinds...)
	if err != nil {
		return nil, fmt.Errorf("opennebula: observe: %w", err)
	}
	var out []plan.Resource
	for _, k := range kinds {
		out = append(out, s.resources(k)...)
	}
	plan.SortResources(out)
	return out, nil
}

// fetch reads the pools of the given kinds concurrently.
func (p *Provider) fetch(ctx context.Context, ks ...plan.Kind) (*snapshot, error) {
	s := &snapshot{}
	var uniq []plan.Kind
	for _, k := range ks {
		if !slices.Contains(uniq, k) {
			uniq = append(uniq, k)
		}
	}
	errs := make([]error, len(uniq))
	var wg sync.WaitGroup
	for i, k := range uniq {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.fetchKind(ctx, s, k)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// fetchKind reads one pool into s (each kind writes its own field).
func (p *Provider) fetchKind(ctx context.Context, s *snapshot, k plan.Kind) error {
	switch k {
	case plan.ONEGroup:
		return p.call(ctx, "one.grouppool.info", func(c *goca.Controller, _ *callState) error {
			pool, err := c.Groups().Info()
			if err == nil {
				s.groups = pool.Groups
			}
			return err
		})
	case plan.ONECluster:
		return p.call(ctx, "one.clusterpool.info", func(c *goca.Controller, _ *callState) error {
			pool, err := c.Clusters().Info(false)
			if err == nil {
				s.clusters = pool.Clusters
			}
			return err
		})
	case plan.ONEUser:
		return p.call(ctx, "one.userpool.info", func(c *goca.Controller, _ *callState) error {
			pool, err := c.Users().Info()
			if err == nil {
				s.users = pool.Users
			}
			return err
		})
	case plan.ONEVDC:
		return p.call(ctx, "one.vdcpool.info", func(c *goca.Controller, _ *callState) error {
			pool, err := c.VDCs().Info()
			if err == nil {
				s.vdcs = pool.VDCs
			}
			return err
		})
	case plan.ONEHost:
		return p.call(ctx, "one.hostpool.info", func(c *goca.Controller, _ *callState) error {
			pool, err := c.Hosts().Info()
			if err == nil {
				s.hosts = pool.Hosts
			}
			return err
		})
	case plan.ONEDatastore:
		return p.call(ctx, "one.datastorepool.info", func(c *goca.Controller, _ *callState) error {
			pool, err := c.Datastores().Info()
			if err == nil {
				s.datastores = pool.Datastores
			}
			return err
		})
	case plan.ONEVNet:
		got := map[int]bool{}
		return p.paged(ctx, "one.vnpool.info", func(c *goca.Controller, start, end int) (int, error) {
			pool, err := c.VirtualNetworks().Info(parameters.PoolWhoAll, start, end)
			if err != nil {
				return 0, err
			}
			for _, n := range pool.VirtualNetworks {
				if !got[n.ID] {
					got[n.ID] = true
					s.vnets = append(s.vnets, n)
				}
			}
			return len(pool.VirtualNetworks), nil
		})
	case plan.ONETemplate:
		got := map[int]bool{}
		return p.paged(ctx, "one.templatepool.info", func(c *goca.Controller, start, end int) (int, error) {
			pool, err := c.Templates().Info(parameters.PoolWhoAll, start, end)
			if err != nil {
				return 0, err
			}
			for _, t := range pool.Templates {
				if !got[t.ID] {
					got[t.ID] = true
					s.templates = append(s.templates, t)
				}
			}
			return len(pool.Templates), nil
		})
	case plan.ONEVM:
		got := map[int]bool{}
		return p.paged(ctx, "one.vmpool.info", func(c *goca.Controller, start, end int) (int, error) {
			// Server-side filter on the ownership attribute; state -1 is
			// every state but DONE.
			f := goca.NewVMFilter(parameters.PoolWhoAll, start, end, -1)
			f.Pair = attrManagedBy + "=" + plan.ManagedByValue
			if s.vmFilter != "" {
				f.Pair = s.vmFilter
			}
			pool, err := c.VMs().InfoFilter(f)
			if err != nil {
				return 0, err
			}
			for _, v := range pool.VMs {
				if !got[v.ID] {
					got[v.ID] = true
					s.vms = append(s.vms, v)
				}
			}
			return len(pool.VMs), nil
		})
	case plan.ONEFlowTemplate:
		docs, err := p.flowPool(ctx, "service_template")
		s.flowTemplates = docs
		return err
	case plan.ONEFlowService:
		docs, err := p.flowPool(ctx, "service")
		s.services = docs
		return err
	}
	return fmt.Errorf("kind %q is not an OpenNebula kind", k)
}

// paged reads a paginated pool: one call with PageSize 0, else pages of
// PageSize (oned: start = offset, end = -page size) until a short page.
// Objects created while paging may shift a page (the pool is ordered by
// id, descending); fetch callbacks drop repeated ids.
func (p *Provider) paged(ctx context.Context, op string, fetch func(c *goca.Controller, start, end int) (int, error)) error {
	size := p.cfg.PageSize
	if size == 0 {
		return p.call(ctx, op, func(c *goca.Controller, _ *callState) error {
			_, err := fetch(c, -1, -1)
			return err
		})
	}
	for offset := 0; ; offset += size {
		n := 0
		err := p.call(ctx, op, func(c *goca.Controller, _ *callState) error {
			var err error
			n, err = fetch(c, offset, -size)
			return err
		})
		if err != nil {
			return err
		}
		if n < size {
			return nil
		}
	}
}

// ---------------------------------------------------------------- maps

func (s *snapshot) groupNames() map[int]string {
	m := map[int]string{}
	for _, g := range s.groups {
		m[g.ID] = g.Name
	}
	return m
}

func (s *snapshot) clusterNames() map[int]string {
	m := map[int]string{}
	for _, c := range s.clusters {
		m[c.ID] = c.Name
	}
	return m
}

func (s *snapshot) vnetNames() map[int]string {
	m := map[int]string{}
	for _, n := range s.vnets {
		m[n.ID] = n.Name
	}
	return m
}

func (s *snapshot) datastoreNames() map[int]string {
	m := map[int]string{}
	for _, d := range s.datastores {
		m[d.ID] = d.Name
	}
	return m
}

func (s *snapshot) templateNames() map[int]string {
	m := map[int]string{}
	for _, t := range s.templates {
		m[t.ID] = t.Name
	}
	return m
}

func (s *snapshot) flowTemplateNames() map[int]string {
	m := map[int]string{}
	for _, d := range s.flowTemplates {
		m[int(d.ID)] = docName(d)
	}
	return m
}

// nameOf maps an id to a name; an unknown id reads "#id" so that it never
// equals a desired name (the diff then shows it).
func nameOf(m map[int]string, id int) string {
	if n, ok := m[id]; ok {
		return n
	}
	return "#" + strconv.Itoa(id)
}

func namesOf(m map[int]string, ids []int) string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		names = append(names, nameOf(m, id))
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func docName(d flowDoc) string {
	if d.Name != "" {
		return d.Name
	}
	return d.Template.Body.Name
}

func str(t *dyn.Template, key string) string {
	v, _ := t.GetStr(key)
	return v
}

// dsReq reads the datastore id from SCHED_DS_REQUIREMENTS = "ID=100".
var dsReq = regexp.MustCompile(`^\s*ID\s*=\s*"?(\d+)"?\s*$`)

// ---------------------------------------------------------------- resources

func res(k plan.Kind, name string, id int, m marks, attrs map[string]string) plan.Resource {
	return plan.Resource{Kind: k, Name: name, Customer: m.Customer, ID: strconv.Itoa(id), Attrs: attrs, Labels: m.labels()}
}

// resources converts the owned objects of kind k.
func (s *snapshot) resources(k plan.Kind) []plan.Resource {
	var out []plan.Resource
	add := func(r plan.Resource, m marks) {
		if m.owned() {
			out = append(out, r)
		}
	}
	switch k {
	case plan.ONEGroup:
		for _, g := range s.groups {
			m := marksFrom(&g.Template)
			add(res(k, g.Name, g.ID, m, map[string]string{}), m)
		}
	case plan.ONECluster:
		for _, c := range s.clusters {
			m := marksFrom(&c.Template.Template)
			add(res(k, c.Name, c.ID, m, map[string]string{}), m)
		}
	case plan.ONEUser:
		groups := s.groupNames()
		for _, u := range s.users {
			m := marksFrom(&u.Template)
			add(res(k, u.Name, u.ID, m, map[string]string{
				"group":       nameOf(groups, u.GID),
				"auth_driver": u.AuthDriver,
			}), m)
		}
	case plan.ONEVDC:
		groups, clusters := s.groupNames(), s.clusterNames()
		for _, v := range s.vdcs {
			m := marksFrom(&v.Template.Template)
			var cids []int
			for _, c := range v.Clusters {
				if c.ZoneID == 0 {
					cids = append(cids, c.ClusterID)
				}
			}
			add(res(k, v.Name, v.ID, m, map[string]string{
				"group":   namesOf(groups, v.Groups.ID),
				"cluster": namesOf(clusters, cids),
			}), m)
		}
	case plan.ONEHost:
		clusters := s.clusterNames()
		for _, h := range s.hosts {
			m := marksFrom(&h.Template.Template)
			add(res(k, h.Name, h.ID, m, map[string]string{
				"cluster": nameOf(clusters, h.ClusterID),
				"im_mad":  h.IMMAD,
				"vm_mad":  h.VMMAD,
			}), m)
		}
	case plan.ONEVNet:
		clusters := s.clusterNames()
		for _, n := range s.vnets {
			m := marksFrom(&n.Template.Template)
			arIP, arSize := "", ""
			if len(n.ARs) > 0 {
				arIP = str(&dyn.Template{Elements: pairsOf(n.ARs[0].Vector)}, "IP")
				arSize = str(&dyn.Template{Elements: pairsOf(n.ARs[0].Vector)}, "SIZE")
			}
			add(res(k, n.Name, n.ID, m, map[string]string{
				"cluster": namesOf(clusters, n.Clusters.ID),
				"vn_mad":  n.VNMad,
				"bridge":  n.Bridge,
				"ar_ip":   arIP,
				"ar_size": arSize,
			}), m)
		}
	case plan.ONEDatastore:
		clusters := s.clusterNames()
		for _, d := range s.datastores {
			m := marksFrom(&d.Template.Template)
			add(res(k, d.Name, d.ID, m, map[string]string{
				"cluster":    namesOf(clusters, d.Clusters.ID),
				"ds_mad":     d.DSMad,
				"tm_mad":     d.TMMad,
				"nfs_server": str(&d.Template.Template, tplNFSServer),
				"nfs_path":   str(&d.Template.Template, tplNFSPath),
				"limit_mb":   str(&d.Template.Template, "LIMIT_MB"),
			}), m)
		}
	case plan.ONETemplate:
		vnets, dss := s.vnetNames(), s.datastoreNames()
		for _, t := range s.templates {
			tt := &t.Template.Template
			m := marksFrom(tt)
			vnet := ""
			if nic, err := tt.GetVector("NIC"); err == nil {
				if id, err := nic.GetInt("NETWORK_ID"); err == nil {
					vnet = nameOf(vnets, id)
				} else {
					vnet, _ = nic.GetStr("NETWORK")
				}
			}
			ds := ""
			if sm := dsReq.FindStringSubmatch(str(tt, "SCHED_DS_REQUIREMENTS")); sm != nil {
				id, _ := strconv.Atoi(sm[1])
				ds = nameOf(dss, id)
			}
			services := ""
			if ctx, err := tt.GetVector("CONTEXT"); err == nil {
				services, _ = ctx.GetStr(tplServices)
			}
			add(res(k, t.Name, t.ID, m, map[string]string{
				"cpu":       str(tt, "CPU"),
				"memory_mb": str(tt, "MEMORY"),
				"vnet":      vnet,
				"datastore": ds,
				"services":  services,
			}), m)
		}
	case plan.ONEVM:
		tmpls := s.templateNames()
		for _, v := range s.vms {
			m := marksFrom(&v.UserTemplate.Template, &v.Template.Template)
			// VMs of a OneFlow role inherit the worker template's marks;
			// they belong to the flow service, not to opennebula_vm.
			if str(&v.UserTemplate.Template, "SERVICE_ID") != "" || str(&v.Template.Template, "SERVICE_ID") != "" {
				continue
			}
			if v.StateRaw == vmStateDone {
				continue
			}
			tid, err := v.Template.GetInt("TEMPLATE_ID")
			tname := ""
			if err == nil {
				tname = nameOf(tmpls, tid)
			}
			r := res(k, v.Name, v.ID, m, map[string]string{"template": tname})
			if ip := nicIP(&v.Template.Template); ip != "" {
				// plan.OutputIP: the first NIC's (lowest NIC_ID) address,
				// leased by oned and read from the same vmpool answer.
				r.Outputs = map[string]string{plan.OutputIP: ip}
			}
			add(r, m)
		}
	case plan.ONEFlowTemplate:
		tmpls := s.templateNames()
		for _, d := range s.flowTemplates {
			m := marksFromDescription(d.Template.Body.Description)
			add(res(k, docName(d), int(d.ID), m, flowTemplateAttrs(d.Template.Body, tmpls)), m)
		}
	case plan.ONEFlowService:
		fts := s.flowTemplateNames()
		for _, d := range s.services {
			b := d.Template.Body
			if int(b.State) == flowDone {
				continue
			}
			m := marksFromDescription(b.Description)
			add(res(k, docName(d), int(d.ID), m, flowServiceAttrs(b, fts)), m)
		}
	}
	return out
}

// nicIP returns the IP of the VM's first NIC, "" when it has none.
func nicIP(t *dyn.Template) string {
	best, ip := -1, ""
	for _, nic := range t.GetVectors("NIC") {
		addr, err := nic.GetStr("IP")
		if err != nil || addr == "" {
			continue
		}
		id, err := nic.GetInt("NIC_ID")
		if err != nil {
			id = 1 << 30
		}
		if best < 0 || id < best {
			best, ip = id, addr
		}
	}
	return ip
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

func optInt(v *flexInt) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(int(*v))
}

func pairsOf(v dyn.Vector) []dyn.Element {
	out := make([]dyn.Element, 0, len(v.Pairs))
	for i := range v.Pairs {
		out = append(out, &v.Pairs[i])
	}
	return out
}

// attrCardinality is the autoscaler-owned attribute of a flow service.
const attrCardinality = "cardinality"

// Template attribute names the adapter writes besides oned's own.
const (
	tplNFSServer = "NFS_SERVER"
	tplNFSPath   = "NFS_PATH"
	tplServices  = "SERVICES"
)

// OneFlow and VM states used here.
const (
	flowDone    = 5
	vmStateDone = 6
)
