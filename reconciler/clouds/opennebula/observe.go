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
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/cluster"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/datastore"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/group"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/host"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/image"
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
	plan.ONEDatastore, plan.ONEImage, plan.ONETemplate, plan.ONEVM, plan.ONEFlowTemplate, plan.ONEFlowService,
}

// refKinds are the kinds whose names a kind's attributes refer to.
var refKinds = map[plan.Kind][]plan.Kind{
	plan.ONEUser:         {plan.ONEGroup},
	plan.ONEVDC:          {plan.ONEGroup, plan.ONECluster},
	plan.ONEHost:         {plan.ONECluster},
	plan.ONEVNet:         {plan.ONECluster},
	plan.ONEDatastore:    {plan.ONECluster, plan.ONEHost},
	plan.ONEImage:        {plan.ONEDatastore},
	plan.ONETemplate:     {plan.ONEVNet, plan.ONEDatastore, plan.ONEImage},
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
	images        []image.Image
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
		return p.fetchGroups(ctx, s)
	case plan.ONECluster:
		return p.fetchClusters(ctx, s)
	case plan.ONEUser:
		return p.fetchUsers(ctx, s)
	case plan.ONEVDC:
		return p.fetchVDCs(ctx, s)
	case plan.ONEHost:
		return p.fetchHosts(ctx, s)
	case plan.ONEDatastore:
		return p.fetchDatastores(ctx, s)
	case plan.ONEVNet:
		return p.fetchVNets(ctx, s)
	case plan.ONEImage:
		return p.fetchImages(ctx, s)
	case plan.ONETemplate:
		return p.fetchTemplates(ctx, s)
	case plan.ONEVM:
		return p.fetchVMs(ctx, s)
	case plan.ONEFlowTemplate:
		return p.fetchFlowTemplates(ctx, s)
	case plan.ONEFlowService:
		return p.fetchFlowServices(ctx, s)
	}
	return fmt.Errorf("kind %q is not an OpenNebula kind", k)
}

// pagedInto reads a paginated pool (see paged) into *dst; an id already
// read on an earlier page is dropped.
func pagedInto[T any](ctx context.Context, p *Provider, op string, dst *[]T, id func(*T) int, page func(c *goca.Controller, start, end int) ([]T, error)) error {
	got := map[int]bool{}
	return p.paged(ctx, op, func(c *goca.Controller, start, end int) (int, error) {
		items, err := page(c, start, end)
		if err != nil {
			return 0, err
		}
		for i := range items {
			if k := id(&items[i]); !got[k] {
				got[k] = true
				*dst = append(*dst, items[i])
			}
		}
		return len(items), nil
	})
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
	case plan.ONEImage:
		return s.imageResources()
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
	tplServices = "SERVICES"
	// tplName keeps a host's catalogue name: oned knows the host by the
	// address the front-end reaches it at.
	tplName = "AGENTVDC_NAME"
)

// OneFlow and VM states used here.
const (
	flowDone    = 5
	vmStateDone = 6
)
