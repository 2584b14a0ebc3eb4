package opennebula

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/datastore"

	"github.com/agentvdc/agentvdc/plan"
)

// Datastore TYPE values oned takes in a template and reports as numbers.
var dsTypes = map[string]struct{ tmpl, num string }{
	plan.DatastoreImage:  {"IMAGE_DS", "0"},
	plan.DatastoreSystem: {"SYSTEM_DS", "1"},
}

// createDatastore allocates an IMAGE or SYSTEM datastore in its cluster.
// An image datastore's BRIDGE_LIST names the hosts (by the addresses oned
// reaches them at) that run its driver operations, since they mount the
// NFS export and the front-end does not.
func (p *Provider) createDatastore(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
	cid, err := ref(ids, plan.ONECluster, a["cluster"])
	if err != nil {
		return plan.Resource{}, err
	}
	if err := positiveInt(a, "limit_mb"); err != nil {
		return plan.Resource{}, err
	}
	typ, ok := dsTypes[a["type"]]
	if !ok {
		return plan.Resource{}, fmt.Errorf("type=%q must be %q or %q", a["type"], plan.DatastoreImage, plan.DatastoreSystem)
	}
	if a["tm_mad"] == "" || (a["type"] == plan.DatastoreImage && a["ds_mad"] == "") {
		return plan.Resource{}, fmt.Errorf("tm_mad (and ds_mad for an image datastore) are required")
	}
	bridges, err := bridgeAddrs(ids, a["bridge_list"])
	if err != nil {
		return plan.Resource{}, err
	}
	t := dyn.NewTemplate()
	t.AddPair("NAME", r.Name)
	t.AddPair("TYPE", typ.tmpl)
	if a["ds_mad"] != "" {
		t.AddPair("DS_MAD", a["ds_mad"])
	}
	t.AddPair("TM_MAD", a["tm_mad"])
	if bridges != "" {
		t.AddPair("BRIDGE_LIST", bridges)
	}
	t.AddPair("LIMIT_MB", a["limit_mb"])
	m.addTo(t)
	return p.allocate(ctx, r, m, "one.datastore.allocate", func(c *goca.Controller) (int, error) {
		return c.Datastores().Create(t.String(), cid)
	}, nil)
}

// bridgeAddrs turns bridge_list's host names into the servers' public
// IPv4s, " "-joined as oned's BRIDGE_LIST.
func bridgeAddrs(ids plan.Lookup, list string) (string, error) {
	var out []string
	for _, name := range strings.Fields(list) {
		ip, err := serverAddress(ids, name)
		if err != nil {
			return "", fmt.Errorf("bridge_list: %w", err)
		}
		out = append(out, ip)
	}
	return strings.Join(out, " "), nil
}

// datastoreResources converts the owned datastores. BRIDGE_LIST addresses
// read as the hosts' catalogue names; an address no host has stays as it
// is (the diff shows it).
func (s *snapshot) datastoreResources() []plan.Resource {
	var out owned
	clusters := s.clusterNames()
	_, byAddr := s.hostAddrs()
	for _, d := range s.datastores {
		m := marksFrom(&d.Template.Template)
		typ := "#" + d.Type
		for name, t := range dsTypes {
			if t.num == d.Type {
				typ = name
			}
		}
		var bridges []string
		for _, addr := range strings.Fields(str(&d.Template.Template, "BRIDGE_LIST")) {
			if n, ok := byAddr[addr]; ok {
				addr = n
			}
			bridges = append(bridges, addr)
		}
		sort.Strings(bridges)
		out.add(res(plan.ONEDatastore, d.Name, d.ID, m, map[string]string{
			"cluster":     namesOf(clusters, d.Clusters.ID),
			"type":        typ,
			"ds_mad":      d.DSMad,
			"tm_mad":      d.TMMad,
			"bridge_list": strings.Join(bridges, " "),
			"limit_mb":    str(&d.Template.Template, "LIMIT_MB"),
		}), m)
	}
	return out
}

func (s *snapshot) datastoreNames() map[int]string {
	return idNames(s.datastores, func(o *datastore.Datastore) (int, string) { return o.ID, o.Name })
}

// updateDatastore changes limit_mb and bridge_list (and the marks).
func (p *Provider) updateDatastore(ctx context.Context, c change, out plan.Resource) (plan.Resource, error) {
	a := c.after.Attrs
	t := dyn.NewTemplate()
	if slices.Contains(c.changed, "limit_mb") {
		if err := positiveInt(a, "limit_mb"); err != nil {
			return plan.Resource{}, err
		}
		t.AddPair("LIMIT_MB", a["limit_mb"])
	}
	if slices.Contains(c.changed, "bridge_list") {
		bridges, err := bridgeAddrs(c.ids, a["bridge_list"])
		if err != nil {
			return plan.Resource{}, err
		}
		t.AddPair("BRIDGE_LIST", bridges)
	}
	return p.mergeTemplate(ctx, c, t, out)
}

// fetchDatastores reads the pool of datastores into s.
func (p *Provider) fetchDatastores(ctx context.Context, s *snapshot) error {
	return p.call(ctx, "one.datastorepool.info", func(c *goca.Controller, _ *callState) error {
		pool, err := c.Datastores().Info()
		if err == nil {
			s.datastores = pool.Datastores
		}
		return err
	})
}
