package opennebula

import (
	"context"
	"errors"
	"fmt"
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

// idNames maps the ids of a pool's objects to their names.
func idNames[T any](list []T, get func(*T) (int, string)) map[int]string {
	m := make(map[int]string, len(list))
	for i := range list {
		id, name := get(&list[i])
		m[id] = name
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

// ---------------------------------------------------------------- resources

func res(k plan.Kind, name string, id int, m marks, attrs map[string]string) plan.Resource {
	return plan.Resource{Kind: k, Name: name, Customer: m.Customer, ID: strconv.Itoa(id), Attrs: attrs, Labels: m.labels()}
}

// resources converts the owned objects of kind k.
func (s *snapshot) resources(k plan.Kind) []plan.Resource {
	switch k {
	case plan.ONEGroup:
		return s.groupResources()
	case plan.ONECluster:
		return s.clusterResources()
	case plan.ONEUser:
		return s.userResources()
	case plan.ONEVDC:
		return s.vdcResources()
	case plan.ONEHost:
		return s.hostResources()
	case plan.ONEVNet:
		return s.vnetResources()
	case plan.ONEDatastore:
		return s.datastoreResources()
	case plan.ONETemplate:
		return s.templateResources()
	case plan.ONEVM:
		return s.vmResources()
	case plan.ONEFlowTemplate:
		return s.flowTemplateResources()
	case plan.ONEFlowService:
		return s.flowServiceResources()
	}
	return nil
}

// owned collects the objects that carry agentvdc's marks.
type owned []plan.Resource

func (o *owned) add(r plan.Resource, m marks) {
	if m.owned() {
		*o = append(*o, r)
	}
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
