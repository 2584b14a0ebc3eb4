package opennebula

import (
	"context"
	"errors"
	"slices"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/datastore"

	"github.com/agentvdc/agentvdc/plan"
)

// createDatastore allocates an image datastore in its cluster.
func (p *Provider) createDatastore(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
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
}

// datastoreResources converts the owned datastores.
func (s *snapshot) datastoreResources() []plan.Resource {
	var out owned
	clusters := s.clusterNames()
	for _, d := range s.datastores {
		m := marksFrom(&d.Template.Template)
		out.add(res(plan.ONEDatastore, d.Name, d.ID, m, map[string]string{
			"cluster":    namesOf(clusters, d.Clusters.ID),
			"ds_mad":     d.DSMad,
			"tm_mad":     d.TMMad,
			"nfs_server": str(&d.Template.Template, tplNFSServer),
			"nfs_path":   str(&d.Template.Template, tplNFSPath),
			"limit_mb":   str(&d.Template.Template, "LIMIT_MB"),
		}), m)
	}
	return out
}

func (s *snapshot) datastoreNames() map[int]string {
	return idNames(s.datastores, func(o *datastore.Datastore) (int, string) { return o.ID, o.Name })
}

// updateDatastore changes limit_mb (and the marks).
func (p *Provider) updateDatastore(ctx context.Context, c change, out plan.Resource) (plan.Resource, error) {
	a := c.after.Attrs
	t := dyn.NewTemplate()
	if slices.Contains(c.changed, "limit_mb") {
		if err := positiveInt(a, "limit_mb"); err != nil {
			return plan.Resource{}, err
		}
		t.AddPair("LIMIT_MB", a["limit_mb"])
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
