package hetzner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/agentvdc/agentvdc/plan"
)

// serverResource is a managed server as observed. names resolves the
// network and firewall ids it refers to.
func serverResource(s *hcloud.Server, names refNames) plan.Resource {
	attrs := map[string]string{
		"server_type": "", "image": "", "location": "", "network": "", "private_ip": "",
		"firewall": "", "bootstrap": s.Labels[plan.LabelBootstrap],
	}
	if s.ServerType != nil {
		attrs["server_type"] = s.ServerType.Name
	}
	if s.Image != nil {
		attrs["image"] = s.Image.Name
		if s.Image.Name == "" { // snapshots and backups have no name
			attrs["image"] = unknownRef(s.Image.ID)
		}
	}
	if s.Location != nil {
		attrs["location"] = s.Location.Name
	}
	if len(s.PrivateNet) > 0 && s.PrivateNet[0].Network != nil {
		pn := s.PrivateNet[0]
		attrs["network"] = names.networks[pn.Network.ID]
		if attrs["network"] == "" {
			attrs["network"] = unknownRef(pn.Network.ID)
		}
		if pn.IP != nil {
			attrs["private_ip"] = pn.IP.String()
		}
	}
	var fws []string
	for _, f := range s.PublicNet.Firewalls {
		if f == nil {
			continue
		}
		n := names.firewalls[f.Firewall.ID]
		if n == "" {
			n = unknownRef(f.Firewall.ID)
		}
		fws = append(fws, n)
	}
	sort.Strings(fws)
	attrs["firewall"] = strings.Join(fws, ",")
	out := map[string]string{plan.OutputState: string(s.Status)}
	if ip := s.PublicNet.IPv4.IP; ip != nil && !ip.IsUnspecified() {
		out[plan.OutputPublicIP] = ip.String()
	}
	return plan.Resource{
		Kind: plan.HetznerServer, Name: s.Name, Customer: s.Labels[plan.LabelCustomer],
		ID: strconv.FormatInt(s.ID, 10), Attrs: attrs, Labels: observedLabels(s.Labels), Outputs: out,
	}
}

// serverRefs resolves the network and firewall a server resource names.
type serverRefs struct {
	netID, fwID int64
	ip          net.IP
}

func resolveRef(r plan.Resource, kind plan.Kind, name string, ids plan.Lookup) (int64, error) {
	if name == "" {
		return 0, nil
	}
	if ids == nil {
		return 0, fmt.Errorf("no lookup to resolve %s.%s", kind, name)
	}
	v, ok := ids(plan.Address{Kind: kind, Name: name})
	if !ok {
		return 0, fmt.Errorf("%s.%s does not exist (create it first)", kind, name)
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s.%s has id %q, not a Hetzner id", kind, name, v)
	}
	return id, nil
}

func resolveServerRefs(r plan.Resource, ids plan.Lookup) (serverRefs, error) {
	var out serverRefs
	var err error
	if out.netID, err = resolveRef(r, plan.HetznerNetwork, r.Attrs["network"], ids); err != nil {
		return out, err
	}
	if out.fwID, err = resolveRef(r, plan.HetznerFirewall, r.Attrs["firewall"], ids); err != nil {
		return out, err
	}
	if v := r.Attrs["private_ip"]; v != "" {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return out, fmt.Errorf("private_ip %q is not an IPv4 address", v)
		}
		if out.netID == 0 {
			return out, errors.New("private_ip without network")
		}
		out.ip = net.IP(a.AsSlice())
	}
	return out, nil
}

// names maps the ids a server resource refers to back to their names.
func (sr serverRefs) names(r plan.Resource) refNames {
	n := refNames{networks: map[int64]string{}, firewalls: map[int64]string{}}
	if sr.netID != 0 {
		n.networks[sr.netID] = r.Attrs["network"]
	}
	if sr.fwID != 0 {
		n.firewalls[sr.fwID] = r.Attrs["firewall"]
	}
	return n
}

func (p *Provider) createServer(ctx context.Context, r plan.Resource, labels map[string]string, ids plan.Lookup) (plan.Resource, error) {
	for _, k := range []string{"server_type", "image", "location"} {
		if r.Attrs[k] == "" {
			return plan.Resource{}, fmt.Errorf("%s is required", k)
		}
	}
	refs, err := resolveServerRefs(r, ids)
	if err != nil {
		return plan.Resource{}, err
	}
	opts := hcloud.ServerCreateOpts{
		Name:       r.Name,
		ServerType: &hcloud.ServerType{Name: r.Attrs["server_type"]},
		Image:      &hcloud.Image{Name: r.Attrs["image"]},
		Location:   &hcloud.Location{Name: r.Attrs["location"]},
		Labels:     labels,
		UserData:   r.Sensitive[plan.SensitiveUserData],
	}
	start := true
	opts.StartAfterCreate = &start
	if refs.fwID != 0 {
		opts.Firewalls = []*hcloud.ServerCreateFirewall{{Firewall: hcloud.Firewall{ID: refs.fwID}}}
	}
	// The network is attached afterwards: only attach_to_network takes
	// the catalogue's fixed private IP.
	res, _, err := p.c.Server.Create(ctx, opts)
	var s *hcloud.Server
	switch {
	case hcloud.IsError(err, hcloud.ErrorCodeUniquenessError):
		s, _, err = p.c.Server.GetByName(ctx, r.Name)
		if err != nil {
			return plan.Resource{}, fmt.Errorf("look up existing: %w", err)
		}
		if s == nil {
			return plan.Resource{}, errors.New("name taken but no server found")
		}
		if err := adoptable(r, s.Labels); err != nil {
			return plan.Resource{}, err
		}
		p.log.Info("hetzner: adopted existing resource", "address", r.Address().String(), "id", s.ID)
	case hcloud.IsError(err, hcloud.ErrorCodeResourceLimitExceeded):
		return plan.Resource{}, fmt.Errorf("the Hetzner project's server quota is reached (ask Hetzner to raise it; --hetzner-server-quota makes plans refuse before applying): %w", err)
	case err != nil:
		return plan.Resource{}, err
	default:
		s = res.Server
		if err := p.wait(ctx, "", append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
			return plan.Resource{}, err
		}
	}
	if err := p.ensureAttached(ctx, r, s, refs); err != nil {
		return plan.Resource{}, err
	}
	return p.readServer(ctx, r, s.ID, refs)
}

// ensureAttached attaches the network (with the fixed IP) and applies the
// firewall when they are missing: after a fresh create, and when adopting
// a server whose create was interrupted.
func (p *Provider) ensureAttached(ctx context.Context, r plan.Resource, s *hcloud.Server, refs serverRefs) error {
	if refs.netID != 0 {
		attached := false
		for _, pn := range s.PrivateNet {
			attached = attached || (pn.Network != nil && pn.Network.ID == refs.netID)
		}
		if !attached {
			a, _, err := p.c.Server.AttachToNetwork(ctx, s, hcloud.ServerAttachToNetworkOpts{Network: &hcloud.Network{ID: refs.netID}, IP: refs.ip})
			if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeServerAlreadyAttached) {
				return fmt.Errorf("attach to network: %w", err)
			}
			if err := p.wait(ctx, "attach to network", a); err != nil {
				return err
			}
		}
	}
	if refs.fwID != 0 && !hasFirewall(s, refs.fwID) {
		if err := p.applyFirewall(ctx, r, s.ID, refs.fwID); err != nil {
			return err
		}
	}
	return nil
}

func hasFirewall(s *hcloud.Server, id int64) bool {
	for _, f := range s.PublicNet.Firewalls {
		if f != nil && f.Firewall.ID == id {
			return true
		}
	}
	return false
}

func (p *Provider) applyFirewall(ctx context.Context, r plan.Resource, serverID, fwID int64) error {
	actions, _, err := p.c.Firewall.ApplyResources(ctx, &hcloud.Firewall{ID: fwID},
		[]hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: serverID}}})
	if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeFirewallAlreadyApplied) {
		return fmt.Errorf("apply firewall %d: %w", fwID, err)
	}
	return p.wait(ctx, "apply firewall", actions...)
}

// readServer reads a server back as observed.
func (p *Provider) readServer(ctx context.Context, r plan.Resource, id int64, refs serverRefs) (plan.Resource, error) {
	s, _, err := p.c.Server.GetByID(ctx, id)
	if err != nil {
		return plan.Resource{}, fmt.Errorf("read back: %w", err)
	}
	if s == nil {
		return plan.Resource{}, fmt.Errorf("server %d vanished", id)
	}
	return serverResource(s, refs.names(r)), nil
}

func (p *Provider) updateServer(ctx context.Context, id int64, before, after plan.Resource, labels map[string]string, ids plan.Lookup) (plan.Resource, error) {
	refs, err := resolveServerRefs(after, ids)
	if err != nil {
		return plan.Resource{}, err
	}
	s, _, err := p.c.Server.GetByID(ctx, id)
	if err != nil {
		return plan.Resource{}, err
	}
	if s == nil {
		return plan.Resource{}, fmt.Errorf("server %d not found", id)
	}
	if err := checkOwned(before, s.Labels); err != nil {
		return plan.Resource{}, err
	}
	if want := after.Attrs["server_type"]; want != "" && (s.ServerType == nil || s.ServerType.Name != want) {
		if err := p.changeType(ctx, after, s, want); err != nil {
			return plan.Resource{}, err
		}
	}
	// Firewall: remove every other one, apply the wanted one.
	for _, f := range s.PublicNet.Firewalls {
		if f == nil || f.Firewall.ID == refs.fwID {
			continue
		}
		actions, _, err := p.c.Firewall.RemoveResources(ctx, &hcloud.Firewall{ID: f.Firewall.ID},
			[]hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: s.ID}}})
		if err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound, hcloud.ErrorCodeFirewallResourceNotFound) {
			return plan.Resource{}, fmt.Errorf("remove firewall %d: %w", f.Firewall.ID, err)
		}
		if err := p.wait(ctx, "remove firewall", actions...); err != nil {
			return plan.Resource{}, err
		}
	}
	if refs.fwID != 0 && !hasFirewall(s, refs.fwID) {
		if err := p.applyFirewall(ctx, after, s.ID, refs.fwID); err != nil {
			return plan.Resource{}, err
		}
	}
	if !labelsEqual(s.Labels, labels) {
		if _, _, err := p.c.Server.Update(ctx, s, hcloud.ServerUpdateOpts{Labels: labels}); err != nil {
			return plan.Resource{}, fmt.Errorf("set labels: %w", err)
		}
	}
	return p.readServer(ctx, after, s.ID, refs)
}

// changeType stops the server (graceful shutdown, power off when that takes
// longer than ShutdownTimeout), changes its type keeping the disk (so it
// can be changed back down) and powers it on again. The server is always
// powered on at the end, also when the change failed, so a retried update
// after a crash converges to a running server.
func (p *Provider) changeType(ctx context.Context, r plan.Resource, s *hcloud.Server, want string) error {
	const what = "server_type"
	if err := p.stop(ctx, what, s); err != nil {
		return err
	}
	a, _, err := p.c.Server.ChangeType(ctx, s, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: want}, UpgradeDisk: false})
	if err == nil {
		err = p.wait(ctx, what, a)
	} else {
		err = fmt.Errorf("%s: %w", what, err)
	}
	on, _, perr := p.c.Server.Poweron(ctx, s)
	if perr == nil {
		perr = p.wait(ctx, what+": power on", on)
	} else {
		perr = fmt.Errorf("%s: power on: %w", what, perr)
	}
	return errors.Join(err, perr)
}

// stop brings a server to "off".
func (p *Provider) stop(ctx context.Context, what string, s *hcloud.Server) error {
	if s.Status == hcloud.ServerStatusOff {
		return nil
	}
	a, _, err := p.c.Server.Shutdown(ctx, s)
	if err != nil {
		return fmt.Errorf("%s: shutdown: %w", what, err)
	}
	if err := p.wait(ctx, what+": shutdown", a); err != nil {
		return err
	}
	// The shutdown action only sends the ACPI signal; wait for "off".
	off, err := p.waitStatus(ctx, s.ID, hcloud.ServerStatusOff, p.shutTO)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if off {
		return nil
	}
	p.log.Info("hetzner: graceful shutdown timed out, powering off", "server_id", s.ID, "timeout", p.shutTO)
	a, _, err = p.c.Server.Poweroff(ctx, s)
	if err != nil {
		return fmt.Errorf("%s: poweroff: %w", what, err)
	}
	if err := p.wait(ctx, what+": poweroff", a); err != nil {
		return err
	}
	if off, err = p.waitStatus(ctx, s.ID, hcloud.ServerStatusOff, p.actionTO); err != nil || !off {
		return fmt.Errorf("%s: server %d is not off after poweroff: %w", what, s.ID, errors.Join(err, errNotOff))
	}
	return nil
}

var errNotOff = errors.New("server did not reach status off")

// waitStatus polls the server until it has status want or timeout passes.
func (p *Provider) waitStatus(ctx context.Context, id int64, want hcloud.ServerStatus, timeout time.Duration) (bool, error) {
	deadline := p.now().Add(timeout)
	for {
		s, _, err := p.c.Server.GetByID(ctx, id)
		if err != nil {
			return false, fmt.Errorf("read server %d: %w", id, err)
		}
		if s == nil {
			return false, fmt.Errorf("server %d vanished", id)
		}
		if s.Status == want {
			return true, nil
		}
		if !p.now().Before(deadline) {
			return false, nil
		}
		if err := p.lim.sleep(ctx, p.poll); err != nil {
			return false, err
		}
	}
}

func (p *Provider) deleteServer(ctx context.Context, id int64, r plan.Resource) error {
	s, _, err := p.c.Server.GetByID(ctx, id)
	if err != nil {
		return err
	}
	if s == nil {
		return nil
	}
	if err := checkOwned(r, s.Labels); err != nil {
		return err
	}
	res, _, err := p.c.Server.DeleteWithResult(ctx, s)
	if hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return p.wait(ctx, "", res.Action)
}
