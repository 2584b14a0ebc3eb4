package opennebula

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/host"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
)

// createHost registers a host in its cluster by the address the
// front-end reaches it at: oned's host NAME is the hostname its drivers
// ssh to, so it is the public IPv4 of the hetzner_server of the same
// catalogue name (plan.OutputRef through ids). The catalogue name is kept
// as AGENTVDC_NAME, written with the marks right after the allocate.
func (p *Provider) createHost(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
	cid, err := ref(ids, plan.ONECluster, a["cluster"])
	if err != nil {
		return plan.Resource{}, err
	}
	if a["im_mad"] == "" || a["vm_mad"] == "" {
		return plan.Resource{}, errors.New("im_mad and vm_mad are required")
	}
	addr, err := serverAddress(ids, r.Name)
	if err != nil {
		return plan.Resource{}, err
	}
	finish := func(ctx context.Context, id int, r plan.Resource, m marks) error {
		return p.updateTemplate(ctx, plan.ONEHost, id, m.template()+"\n"+tplName+"=\""+r.Name+"\"")
	}
	var id int
	err = p.call(ctx, "one.host.allocate", func(c *goca.Controller, _ *callState) error {
		var err error
		id, err = c.Hosts().Create(addr, a["im_mad"], a["vm_mad"], cid)
		return err
	})
	switch {
	case err == nil:
		if err := finish(ctx, id, r, m); err != nil {
			return plan.Resource{}, fmt.Errorf("allocated id %d, then: %w", id, err)
		}
		out := created(r, m, id)
		out.Outputs = map[string]string{plan.OutputState: "INIT"}
		return out, nil
	case !isAllocate(err):
		return plan.Resource{}, err
	}
	// The address is taken: our own earlier allocate (answer lost, or a
	// crash before the marks) or another host.
	s, ferr := p.fetch(ctx, plan.ONEHost, plan.ONECluster)
	if ferr != nil {
		return plan.Resource{}, fmt.Errorf("look up existing: %w", ferr)
	}
	for i := range s.hosts {
		h := &s.hosts[i]
		if h.Name != addr {
			continue
		}
		live := marksFrom(&h.Template.Template)
		switch {
		case live.owned() && live.Customer == m.Customer && str(&h.Template.Template, tplName) == r.Name:
		case !hasAnyMark(live) && str(&h.Template.Template, tplName) == "":
			p.log.WarnContext(ctx, "finishing half-created resource", logKeyKind, string(r.Kind), logKeyName, r.Name, logKeyID, h.ID)
			if err := finish(ctx, h.ID, r, m); err != nil {
				return plan.Resource{}, fmt.Errorf("finish half-created id %d: %w", h.ID, err)
			}
			s, ferr = p.fetch(ctx, plan.ONEHost, plan.ONECluster)
			if ferr != nil {
				return plan.Resource{}, fmt.Errorf("read existing: %w", ferr)
			}
		default:
			return plan.Resource{}, fmt.Errorf("host %s is registered as %q by someone else: %w", addr, hostName(h), reconciler.ErrNotOwned)
		}
		for _, o := range s.hostResources() {
			if o.ID == strconv.Itoa(h.ID) {
				noteAdopted(ctx)
				return o, nil
			}
		}
		return plan.Resource{}, fmt.Errorf("%w: host %d vanished while adopting", errMalformed, h.ID)
	}
	return plan.Resource{}, err
}

// serverAddress is the public IPv4 of the hetzner_server called name.
func serverAddress(ids plan.Lookup, name string) (string, error) {
	srv := plan.Address{Kind: plan.HetznerServer, Name: name}
	ip, ok := ids(plan.OutputRef(srv, plan.OutputPublicIP))
	if !ok || ip == "" {
		return "", fmt.Errorf("%s has no %s yet (the host is registered by it)", srv, plan.OutputPublicIP)
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return "", fmt.Errorf("%s has %s %q, not an IPv4 address", srv, plan.OutputPublicIP, ip)
	}
	return a.String(), nil
}

// hostName is a host's catalogue name: AGENTVDC_NAME, else oned's NAME.
func hostName(h *host.Host) string {
	if n := str(&h.Template.Template, tplName); n != "" {
		return n
	}
	return h.Name
}

// hostStateName is oned's name of a host state (goca host.State).
func hostStateName(h *host.Host) string {
	if st, err := h.StateString(); err == nil {
		return st
	}
	return "UNKNOWN"
}

// hostResources converts the owned hosts; Outputs[state] is oned's state
// name (INIT, MONITORED, ERROR, ...).
func (s *snapshot) hostResources() []plan.Resource {
	var out owned
	clusters := s.clusterNames()
	for i := range s.hosts {
		h := &s.hosts[i]
		m := marksFrom(&h.Template.Template)
		r := res(plan.ONEHost, hostName(h), h.ID, m, map[string]string{
			"cluster": nameOf(clusters, h.ClusterID),
			"im_mad":  h.IMMAD,
			"vm_mad":  h.VMMAD,
		})
		r.Outputs = map[string]string{plan.OutputState: hostStateName(h)}
		out.add(r, m)
	}
	return out
}

// hostAddrs maps the hosts' catalogue names to oned's host NAMEs (their
// addresses), and back.
func (s *snapshot) hostAddrs() (byName, byAddr map[string]string) {
	byName, byAddr = map[string]string{}, map[string]string{}
	for i := range s.hosts {
		h := &s.hosts[i]
		byName[hostName(h)] = h.Name
		byAddr[h.Name] = hostName(h)
	}
	return byName, byAddr
}

// deleteHost drains and deletes a host. oned refuses to delete a host
// with VMs ("Can not remove a host with running VMs"), so the host is
// disabled first (the scheduler places nothing new there), each of its
// VMs is flagged for rescheduling (the scheduler migrates it to another
// host of the cluster with room), and the delete waits until the host is
// empty; with no room elsewhere the wait times out and the host stays.
func (p *Provider) deleteHost(ctx context.Context, id int) error {
	hostVMs := func(ctx context.Context) ([]int, error) {
		var vms []int
		err := p.call(ctx, "one.host.info", func(c *goca.Controller, _ *callState) error {
			h, err := c.Host(id).Info(false)
			if err == nil {
				vms = h.VMs.ID
			}
			return err
		})
		return vms, err
	}
	vms, err := hostVMs(ctx)
	if isNoExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(vms) > 0 {
		if err := p.call(ctx, "one.host.status", func(c *goca.Controller, _ *callState) error {
			return c.Host(id).Status(hostStatusDisabled)
		}); err != nil {
			return err
		}
		for _, vid := range vms {
			err := p.call(ctx, "one.vm.action", func(c *goca.Controller, _ *callState) error {
				return c.VM(vid).Resched()
			})
			if err != nil && !isNoExists(err) {
				return fmt.Errorf("reschedule vm %d off host %d: %w", vid, id, err)
			}
		}
		if err := p.wait(ctx, "host "+strconv.Itoa(id)+" drained", func(ctx context.Context) (bool, error) {
			vms, err := hostVMs(ctx)
			return len(vms) == 0, err
		}); err != nil {
			return err
		}
	}
	err = p.call(ctx, "one.host.delete", func(c *goca.Controller, _ *callState) error {
		return c.Host(id).Delete()
	})
	if isNoExists(err) {
		return nil
	}
	return err
}

// hostStatusDisabled is one.host.status's DISABLED (0 enabled, 2 offline).
const hostStatusDisabled = 1

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
