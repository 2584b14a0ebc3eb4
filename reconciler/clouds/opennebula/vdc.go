package opennebula

import (
	"context"
	"strconv"
	"strings"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"

	"github.com/agentvdc/agentvdc/plan"
)

// createVDC allocates a VDC and adds its group and cluster (zone 0).
func (p *Provider) createVDC(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
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
}

// vdcResources converts the owned VDCs.
func (s *snapshot) vdcResources() []plan.Resource {
	var out owned
	groups, clusters := s.groupNames(), s.clusterNames()
	for _, v := range s.vdcs {
		m := marksFrom(&v.Template.Template)
		var cids []int
		for _, c := range v.Clusters {
			if c.ZoneID == 0 {
				cids = append(cids, c.ClusterID)
			}
		}
		out.add(res(plan.ONEVDC, v.Name, v.ID, m, map[string]string{
			"group":   namesOf(groups, v.Groups.ID),
			"cluster": namesOf(clusters, cids),
		}), m)
	}
	return out
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

// fetchVDCs reads the pool of VDCs into s.
func (p *Provider) fetchVDCs(ctx context.Context, s *snapshot) error {
	return p.call(ctx, "one.vdcpool.info", func(c *goca.Controller, _ *callState) error {
		pool, err := c.VDCs().Info()
		if err == nil {
			s.vdcs = pool.VDCs
		}
		return err
	})
}
