package opennebula

import (
	"context"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"
	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/vm"

	"github.com/agentvdc/agentvdc/plan"
)

// createVM instantiates a VM from its template; names repeat, so it is looked up before each attempt.
func (p *Provider) createVM(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
	tid, err := ref(ids, plan.ONETemplate, a["template"])
	if err != nil {
		return plan.Resource{}, err
	}
	t := dyn.NewTemplate()
	m.addTo(t)
	return p.createLooked(ctx, r, m, "one.template.instantiate", func(ctx context.Context) (int, error) {
		var id int
		err := p.once(ctx, "one.template.instantiate", func(c *goca.Controller, _ *callState) error {
			var err error
			id, err = c.Template(tid).Instantiate(r.Name, false, t.String(), false)
			return err
		})
		return id, err
	})
}

// vmResources converts the owned VMs (not those of a OneFlow role, not DONE).
func (s *snapshot) vmResources() []plan.Resource {
	var out owned
	tmpls := s.templateNames()
	for _, v := range s.vms {
		m := marksFrom(&v.UserTemplate.Template, &v.Template.Template)
		// VMs of a OneFlow role inherit the worker template's marks;
		// they belong to the flow service, not to opennebula_vm.
		if str(&v.UserTemplate.Template, "SERVICE_ID") != "" || str(&v.Template.Template, "SERVICE_ID") != "" {
			continue
		}
		if v.StateRaw == vmStateDone {
			continue
		}
		tid, err := v.Template.GetInt("TEMPLATE_ID")
		tname := ""
		if err == nil {
			tname = nameOf(tmpls, tid)
		}
		r := res(plan.ONEVM, v.Name, v.ID, m, map[string]string{"template": tname})
		r.Outputs = map[string]string{plan.OutputState: vmStateName(&v)}
		if ip := nicIP(&v.Template.Template); ip != "" {
			// plan.OutputIP: the first NIC's (lowest NIC_ID) address,
			// leased by oned and read from the same vmpool answer.
			r.Outputs[plan.OutputIP] = ip
		}
		out.add(r, m)
	}
	return out
}

// vmStateName is the LCM state name of an ACTIVE VM (RUNNING, PROLOG,
// BOOT, ...), else the VM state name (PENDING, POWEROFF, ...).
func vmStateName(v *vm.VM) string {
	st, lcm, err := v.StateString()
	if err != nil {
		return "UNKNOWN"
	}
	if st == "ACTIVE" {
		return lcm
	}
	return st
}

// nicIP returns the IP of the VM's first NIC, "" when it has none.
func nicIP(t *dyn.Template) string {
	best, ip := -1, ""
	for _, nic := range t.GetVectors("NIC") {
		addr, err := nic.GetStr("IP")
		if err != nil || addr == "" {
			continue
		}
		id, err := nic.GetInt("NIC_ID")
		if err != nil {
			id = 1 << 30
		}
		if best < 0 || id < best {
			best, ip = id, addr
		}
	}
	return ip
}

// fetchVMs reads the pool of VMs of agentvdc (paged, filtered by the ownership mark or s.vmFilter) into s.
func (p *Provider) fetchVMs(ctx context.Context, s *snapshot) error {
	return pagedInto(ctx, p, "one.vmpool.info", &s.vms, func(v *vm.VM) int { return v.ID },
		func(c *goca.Controller, start, end int) ([]vm.VM, error) {
			// Server-side filter on the ownership attribute; state -1 is
			// every state but DONE.
			f := goca.NewVMFilter(parameters.PoolWhoAll, start, end, -1)
			f.Pair = attrManagedBy + "=" + plan.ManagedByValue
			if s.vmFilter != "" {
				f.Pair = s.vmFilter
			}
			pool, err := c.VMs().InfoFilter(f)
			if err != nil {
				return nil, err
			}
			return pool.VMs, nil
		})
}
