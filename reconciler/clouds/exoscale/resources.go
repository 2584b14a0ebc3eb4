package exoscale

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"

	v3 "github.com/exoscale/egoscale/v3"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
)

// attrKeys returns the catalogue's attributes of kind (nil: not an
// Exoscale kind).
func attrKeys(k plan.Kind) []string {
	switch k {
	case plan.ExoPrivateNetwork:
		return []string{attrZone, attrStartIP, attrEndIP, attrNetmask}
	case plan.ExoSecurityGroup:
		return []string{attrRules}
	case plan.ExoInstance:
		return []string{attrZone, attrInstanceType, attrTemplate, attrDiskGB, attrPrivateNetwork,
			attrPrivateIP, attrSecurityGroup, attrBootstrap}
	case plan.ExoBlockVolume:
		return []string{attrZone, attrSizeGB, attrInstance}
	}
	return nil
}

// updatable reports whether attr of kind changes in place ("U").
func updatable(k plan.Kind, attr string) bool {
	switch k {
	case plan.ExoSecurityGroup:
		return attr == attrRules
	case plan.ExoInstance:
		return attr == attrInstanceType
	case plan.ExoBlockVolume:
		// A changed attachment is re-attached in place (the plan never
		// replaces a volume, which would lose the data).
		return attr == attrSizeGB || attr == attrInstance
	}
	return false
}

// checkAttrs refuses attributes the catalogue does not know for r's kind.
func checkAttrs(r plan.Resource) error {
	keys := attrKeys(r.Kind)
	if keys == nil {
		return fmt.Errorf("kind %q is not an Exoscale kind", r.Kind)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Attrs)) {
		if !slices.Contains(keys, k) {
			return fmt.Errorf("unknown attribute %q", k)
		}
	}
	return nil
}

// Create makes r (or adopts an owned resource of the same name) and returns
// it as observed.
func (p *Provider) Create(ctx context.Context, r plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	if err := checkAttrs(r); err != nil {
		return plan.Resource{}, fmt.Errorf("exoscale: %w", err)
	}
	p.log.Debug("create", "kind", string(r.Kind), "name", r.Name, "customer", r.Customer)
	var out plan.Resource
	var err error
	switch r.Kind {
	case plan.ExoPrivateNetwork:
		out, err = p.createNetwork(ctx, r)
	case plan.ExoSecurityGroup:
		out, err = p.createSecurityGroup(ctx, r)
	case plan.ExoInstance:
		out, err = p.createInstance(ctx, r, ids)
	case plan.ExoBlockVolume:
		out, err = p.createVolume(ctx, r, ids)
	}
	if err != nil {
		return plan.Resource{}, fmt.Errorf("exoscale: %w", err)
	}
	return out, nil
}

// Update changes the "U" attributes (and the labels) of before to after's.
// A change of any other attribute needs a replacement and is refused.
func (p *Provider) Update(ctx context.Context, before, after plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	if before.Kind != after.Kind || before.Name != after.Name {
		return plan.Resource{}, fmt.Errorf("exoscale: %s and %s are not the same resource", before.Address(), after.Address())
	}
	if err := checkAttrs(after); err != nil {
		return plan.Resource{}, fmt.Errorf("exoscale: %w", err)
	}
	if before.ID == "" {
		return plan.Resource{}, errors.New("exoscale: the observed resource has no id")
	}
	for _, k := range attrKeys(after.Kind) {
		if before.Attrs[k] != after.Attrs[k] && !updatable(after.Kind, k) {
			return plan.Resource{}, fmt.Errorf("exoscale: attribute %s cannot change in place (%q → %q); the resource must be replaced",
				k, before.Attrs[k], after.Attrs[k])
		}
	}
	p.log.Debug("update", "kind", string(after.Kind), "name", after.Name, "customer", after.Customer)
	var out plan.Resource
	var err error
	switch after.Kind {
	case plan.ExoPrivateNetwork:
		out, err = p.updateNetwork(ctx, before, after)
	case plan.ExoSecurityGroup:
		out, err = p.updateSecurityGroup(ctx, before, after)
	case plan.ExoInstance:
		out, err = p.updateInstance(ctx, before, after)
	case plan.ExoBlockVolume:
		out, err = p.updateVolume(ctx, before, after, ids)
	}
	if err != nil {
		return plan.Resource{}, fmt.Errorf("exoscale: %w", err)
	}
	return out, nil
}

// Delete removes r; a resource already gone is not an error. Ownership is
// checked on the live resource, not on r's labels.
func (p *Provider) Delete(ctx context.Context, r plan.Resource) error {
	if attrKeys(r.Kind) == nil {
		return fmt.Errorf("exoscale: kind %q is not an Exoscale kind", r.Kind)
	}
	if r.ID == "" {
		return errors.New("exoscale: the observed resource has no id")
	}
	id, err := v3.ParseUUID(r.ID)
	if err != nil {
		return fmt.Errorf("exoscale: id %q is not a UUID", r.ID)
	}
	p.log.Debug("delete", "kind", string(r.Kind), "name", r.Name, "customer", r.Customer)
	switch r.Kind {
	case plan.ExoPrivateNetwork:
		err = p.deleteNetwork(ctx, r, id)
	case plan.ExoSecurityGroup:
		err = p.deleteSecurityGroup(ctx, r, id)
	case plan.ExoInstance:
		err = p.deleteInstance(ctx, r, id)
	case plan.ExoBlockVolume:
		err = p.deleteVolume(ctx, r, id)
	}
	if err != nil {
		return fmt.Errorf("exoscale: %w", err)
	}
	return nil
}

// notOwned is the refusal for a live resource without ownership marks.
func notOwned(what, name string) error {
	return fmt.Errorf("%s %q: %w", what, name, reconciler.ErrNotOwned)
}

// createOnce creates a resource at most once: it looks for an existing
// one by name first (adoption after a crash), and again before repeating a
// POST that failed retryably or answered 409, since the first POST may
// have been applied although its answer was lost.
func (p *Provider) createOnce(ctx context.Context, c *v3.Client, what string,
	find func(ctx context.Context) (v3.UUID, bool, error),
	post func(ctx context.Context) (*v3.Operation, error),
) (v3.UUID, error) {
	for attempt := 0; ; attempt++ {
		id, found, err := find(ctx)
		if err != nil {
			return "", err
		}
		if found {
			if attempt == 0 {
				p.log.Info("adopting existing resource", "op", what, "id", string(id))
			}
			return id, nil
		}
		actx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
		op, err := post(actx)
		cancel()
		if err == nil {
			return p.wait(ctx, c, what, op)
		}
		conflict := errors.Is(err, v3.ErrConflict)
		if (!conflict && !p.retryable(ctx, err)) || attempt+1 >= p.cfg.Retry.Attempts {
			return "", fmt.Errorf("%s: %w", what, apiErr(err))
		}
		if !conflict {
			if serr := p.backoff(ctx, what, attempt, err); serr != nil {
				return "", fmt.Errorf("%s: %w (last error: %w)", what, serr, apiErr(err))
			}
		} else if attempt > 0 {
			// A conflict twice: the name is taken by something find does
			// not adopt.
			return "", fmt.Errorf("%s: %w", what, apiErr(err))
		}
	}
}

// lookup resolves a referenced resource's id: from the executor's Lookup
// when it knows it, else by name (find).
func lookup(ctx context.Context, ids plan.Lookup, kind plan.Kind, name string,
	find func(ctx context.Context) (v3.UUID, bool, error),
) (v3.UUID, error) {
	if name == "" {
		return "", fmt.Errorf("the %s reference is empty", kind)
	}
	if ids != nil {
		if id, ok := ids(plan.Address{Kind: kind, Name: name}); ok && id != "" {
			u, err := v3.ParseUUID(id)
			if err != nil {
				return "", fmt.Errorf("%s.%s: id %q is not a UUID", kind, name, id)
			}
			return u, nil
		}
	}
	id, ok, err := find(ctx)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s.%s does not exist", kind, name)
	}
	return id, nil
}

// parseIPv4 reads an optional IPv4 attribute ("" → nil).
func parseIPv4(attr, s string) (net.IP, error) {
	if s == "" {
		return nil, nil
	}
	ip := net.ParseIP(s)
	if ip == nil || ip.To4() == nil {
		return nil, fmt.Errorf("attribute %s: %q is not an IPv4 address", attr, s)
	}
	return ip.To4(), nil
}

// parseSize reads a positive integer GiB attribute within [lo, hi].
func parseSize(attr, s string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("attribute %s: %q is not a size between %d and %d GiB", attr, s, lo, hi)
	}
	return n, nil
}

// sameLabels compares label sets (nil equals empty).
func sameLabels(a, b map[string]string) bool {
	return len(a) == len(b) && maps.Equal(a, b)
}
