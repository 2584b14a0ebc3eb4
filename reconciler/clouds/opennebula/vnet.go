package opennebula

import (
	"context"
	"errors"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"
	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"
	vn "github.com/OpenNebula/one/src/oca/go/src/goca/schemas/virtualnetwork"

	"github.com/agentvdc/agentvdc/plan"
)

// createVNet allocates a virtual network with one IP4 address range.
func (p *Provider) createVNet(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
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
}

// vnetResources converts the owned virtual networks.
func (s *snapshot) vnetResources() []plan.Resource {
	var out owned
	clusters := s.clusterNames()
	for _, n := range s.vnets {
		m := marksFrom(&n.Template.Template)
		arIP, arSize := "", ""
		if len(n.ARs) > 0 {
			arIP = str(&dyn.Template{Elements: pairsOf(n.ARs[0].Vector)}, "IP")
			arSize = str(&dyn.Template{Elements: pairsOf(n.ARs[0].Vector)}, "SIZE")
		}
		out.add(res(plan.ONEVNet, n.Name, n.ID, m, map[string]string{
			"cluster": namesOf(clusters, n.Clusters.ID),
			"vn_mad":  n.VNMad,
			"bridge":  n.Bridge,
			"ar_ip":   arIP,
			"ar_size": arSize,
		}), m)
	}
	return out
}

func (s *snapshot) vnetNames() map[int]string {
	return idNames(s.vnets, func(o *vn.VirtualNetwork) (int, string) { return o.ID, o.Name })
}

func pairsOf(v dyn.Vector) []dyn.Element {
	out := make([]dyn.Element, 0, len(v.Pairs))
	for i := range v.Pairs {
		out = append(out, &v.Pairs[i])
	}
	return out
}

// fetchVNets reads the pool of virtual networks (paged) into s.
func (p *Provider) fetchVNets(ctx context.Context, s *snapshot) error {
	return pagedInto(ctx, p, "one.vnpool.info", &s.vnets, func(n *vn.VirtualNetwork) int { return n.ID },
		func(c *goca.Controller, start, end int) ([]vn.VirtualNetwork, error) {
			pool, err := c.VirtualNetworks().Info(parameters.PoolWhoAll, start, end)
			if err != nil {
				return nil, err
			}
			return pool.VirtualNetworks, nil
		})
}
