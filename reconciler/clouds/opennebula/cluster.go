package opennebula

import (
	"context"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/cluster"

	"github.com/agentvdc/agentvdc/plan"
)

// createCluster allocates a cluster (unique name, marks written after allocate).
func (p *Provider) createCluster(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	return p.allocate(ctx, r, m, "one.cluster.allocate", func(c *goca.Controller) (int, error) {
		return c.Clusters().Create(r.Name)
	}, p.finishMarks)
}

// clusterResources converts the owned clusters.
func (s *snapshot) clusterResources() []plan.Resource {
	var out owned
	for _, c := range s.clusters {
		m := marksFrom(&c.Template.Template)
		out.add(res(plan.ONECluster, c.Name, c.ID, m, map[string]string{}), m)
	}
	return out
}

func (s *snapshot) clusterNames() map[int]string {
	return idNames(s.clusters, func(o *cluster.Cluster) (int, string) { return o.ID, o.Name })
}

// fetchClusters reads the pool of clusters into s.
func (p *Provider) fetchClusters(ctx context.Context, s *snapshot) error {
	return p.call(ctx, "one.clusterpool.info", func(c *goca.Controller, _ *callState) error {
		pool, err := c.Clusters().Info(false)
		if err == nil {
			s.clusters = pool.Clusters
		}
		return err
	})
}
