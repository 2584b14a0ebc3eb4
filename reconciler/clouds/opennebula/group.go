package opennebula

import (
	"context"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/group"

	"github.com/agentvdc/agentvdc/plan"
)

// createGroup allocates a group (unique name, marks written after allocate).
func (p *Provider) createGroup(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	return p.allocate(ctx, r, m, "one.group.allocate", func(c *goca.Controller) (int, error) {
		return c.Groups().Create(r.Name)
	}, p.finishMarks)
}

// groupResources converts the owned groups.
func (s *snapshot) groupResources() []plan.Resource {
	var out owned
	for _, g := range s.groups {
		m := marksFrom(&g.Template)
		out.add(res(plan.ONEGroup, g.Name, g.ID, m, map[string]string{}), m)
	}
	return out
}

func (s *snapshot) groupNames() map[int]string {
	return idNames(s.groups, func(o *group.GroupShort) (int, string) { return o.ID, o.Name })
}

// fetchGroups reads the pool of groups into s.
func (p *Provider) fetchGroups(ctx context.Context, s *snapshot) error {
	return p.call(ctx, "one.grouppool.info", func(c *goca.Controller, _ *callState) error {
		pool, err := c.Groups().Info()
		if err == nil {
			s.groups = pool.Groups
		}
		return err
	})
}
