package opennebula

import (
	"context"
	"errors"
	"strings"

	"github.com/OpenNebula/one/src/oca/go/src/goca"

	"github.com/agentvdc/agentvdc/plan"
)

// createUser allocates a user in its group; a half-created one gets its password and group.
func (p *Provider) createUser(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
	gid, err := ref(ids, plan.ONEGroup, a["group"])
	if err != nil {
		return plan.Resource{}, err
	}
	driver := a["auth_driver"]
	if driver == "" {
		driver = "core"
	}
	pw := r.Sensitive[plan.SensitivePassword]
	if driver == "core" && (pw == "" || strings.ContainsAny(pw, " \t\n")) {
		return plan.Resource{}, errors.New(`Sensitive["password"] is required for the core driver and must not contain spaces`)
	}
	finish := func(ctx context.Context, id int, r plan.Resource, m marks) error {
		if err := p.finishMarks(ctx, id, r, m); err != nil {
			return err
		}
		// A half-created user gets the password and group it should
		// have had.
		return p.call(ctx, "one.user.passwd/chgrp", func(c *goca.Controller, _ *callState) error {
			if pw != "" {
				if err := c.User(id).Passwd(pw); err != nil {
					return err
				}
			}
			return c.User(id).Chgrp(gid)
		})
	}
	return p.allocate(ctx, r, m, "one.user.allocate", func(c *goca.Controller) (int, error) {
		return c.Users().Create(r.Name, pw, driver, []int{gid})
	}, finish)
}

// userResources converts the owned users.
func (s *snapshot) userResources() []plan.Resource {
	var out owned
	groups := s.groupNames()
	for _, u := range s.users {
		m := marksFrom(&u.Template)
		out.add(res(plan.ONEUser, u.Name, u.ID, m, map[string]string{
			"group":       nameOf(groups, u.GID),
			"auth_driver": u.AuthDriver,
		}), m)
	}
	return out
}

// fetchUsers reads the pool of users into s.
func (p *Provider) fetchUsers(ctx context.Context, s *snapshot) error {
	return p.call(ctx, "one.userpool.info", func(c *goca.Controller, _ *callState) error {
		pool, err := c.Users().Info()
		if err == nil {
			s.users = pool.Users
		}
		return err
	})
}
