package opennebula

import (
	"context"
	"errors"

	"github.com/OpenNebula/one/src/oca/go/src/goca"

	"github.com/agentvdc/agentvdc/plan"
)

// createHost allocates a host in its cluster.
func (p *Provider) createHost(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
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
}

// hostResources converts the owned hosts.
func (s *snapshot) hostResources() []plan.Resource {
	var out owned
	clusters := s.clusterNames()
	for _, h := range s.hosts {
		m := marksFrom(&h.Template.Template)
		out.add(res(plan.ONEHost, h.Name, h.ID, m, map[string]string{
			"cluster": nameOf(clusters, h.ClusterID),
			"im_mad":  h.IMMAD,
			"vm_mad":  h.VMMAD,
		}), m)
	}
	return out
}

// fetchHosts reads the pool of hosts into s.
func (p *Provider) fetchHosts(ctx context.Context, s *snapshot) error {
	return p.call(ctx, "one.hostpool.info", func(c *goca.Controller, _ *callState) error {
		pool, err := c.Hosts().Info()
		if err == nil {
			s.hosts = pool.Hosts
		}
		return err
	})
}
