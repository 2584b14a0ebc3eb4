package plan

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Exoscale Block Storage limits ("Block Storage Overview" in Exoscale's
// documentation); exoscalesim enforces the same.
const (
	// MinVolumeGB and MaxVolumeGB bound a block volume's size_gb (GiB).
	MinVolumeGB = 10
	MaxVolumeGB = 10 * 1024
	// MaxVolumesPerInstance is how many volumes one instance may carry.
	MaxVolumesPerInstance = 5
)

// BlockStorageZones returns the Exoscale zones that offer Block Storage
// (the schema's #BlockStorageZones says the same; a test keeps them equal).
func BlockStorageZones() []string { return []string{"at-vie-1", "ch-gva-2", "de-fra-1"} }

// CanAttachVolumes reports whether an Exoscale instance type may have
// Block Storage attached: Small or larger (micro and tiny may not).
func CanAttachVolumes(instanceType string) bool {
	_, size, _ := strings.Cut(strings.ToLower(instanceType), ".")
	return size != "micro" && size != "tiny"
}

// ErrQuota: the plan would grow past a cloud quota of Options
// (HetznerServerQuota, ExoscaleVolumeQuota, ExoscaleStorageQuotaGB).
var ErrQuota = errors.New("cloud quota: plan refused")

// storageLimitErrors lists the Exoscale Block Storage limits the desired
// resources of one customer would break, each naming the limit.
func storageLimitErrors(desired []Resource) []string {
	var errs []string
	instances := map[string]Resource{}
	attached := map[string]int{}
	for _, r := range desired {
		switch r.Kind {
		case ExoInstance:
			instances[r.Name] = r
		case ExoBlockVolume:
			at := string(r.Kind) + "." + r.Name
			if z := r.Attrs["zone"]; !slices.Contains(BlockStorageZones(), z) {
				errs = append(errs, fmt.Sprintf("%s: Exoscale zone %q has no Block Storage (zones with it: %s)",
					at, z, strings.Join(BlockStorageZones(), ", ")))
			}
			size, err := strconv.Atoi(strings.TrimSpace(r.Attrs["size_gb"]))
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("%s: size_gb %q is not a number", at, r.Attrs["size_gb"]))
			case size < MinVolumeGB:
				errs = append(errs, fmt.Sprintf("%s: %d GB is below Exoscale Block Storage's minimum volume size of %d GiB", at, size, MinVolumeGB))
			case size > MaxVolumeGB:
				errs = append(errs, fmt.Sprintf("%s: %d GB is above Exoscale Block Storage's maximum volume size of %d GiB (10 TiB)", at, size, MaxVolumeGB))
			}
			if in := r.Attrs["instance"]; in != "" {
				attached[in]++
			}
		}
	}
	names := make([]string, 0, len(attached))
	for n := range attached {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		at := string(ExoInstance) + "." + n
		if attached[n] > MaxVolumesPerInstance {
			errs = append(errs, fmt.Sprintf("%s: %d block volumes attached, above Exoscale's limit of %d per instance", at, attached[n], MaxVolumesPerInstance))
		}
		if in, ok := instances[n]; ok && !CanAttachVolumes(in.Attrs["instance_type"]) {
			errs = append(errs, fmt.Sprintf("%s: instance type %s cannot attach Block Storage (Exoscale's minimum is standard.small)", at, in.Attrs["instance_type"]))
		}
	}
	return errs
}

// volumeUsage counts block volumes and their GB.
func volumeUsage(rs []Resource) [2]int {
	var u [2]int
	for _, r := range rs {
		if r.Kind == ExoBlockVolume {
			u[0]++
			if n, err := strconv.Atoi(strings.TrimSpace(r.Attrs["size_gb"])); err == nil {
				u[1] += n
			}
		}
	}
	return u
}

// exoscaleQuota refuses the plan when it would grow the Exoscale
// organisation's volumes or provisioned GB past its quota (0: no check),
// counting as hetznerQuota does: out-of-scope and blocked customers keep
// their observed volumes, converging ones get their desired volumes,
// removed ones none.
func (b *builder) exoscaleQuota(p *Plan, opts Options) bool {
	if opts.ExoscaleVolumeQuota <= 0 && opts.ExoscaleStorageQuotaGB <= 0 {
		return false
	}
	inScope := make(map[string]bool, len(p.Scope))
	for _, n := range p.Scope {
		inScope[n] = true
	}
	var before, after [2]int
	add := func(to *[2]int, u [2]int) { to[0] += u[0]; to[1] += u[1] }
	for name, rs := range b.obs {
		u := volumeUsage(rs)
		add(&before, u)
		if !inScope[name] {
			add(&after, u)
		}
	}
	for _, cp := range p.Customers {
		switch d, ok := b.desiredVolumes[cp.Name]; {
		case cp.Blocked != "" || cp.Status == StatusSuspended:
			add(&after, volumeUsage(b.obs[cp.Name]))
		case ok:
			add(&after, d)
		}
	}
	var why string
	switch {
	case opts.ExoscaleVolumeQuota > 0 && after[0] > opts.ExoscaleVolumeQuota && after[0] > before[0]:
		why = fmt.Sprintf("the plan would hold %d Exoscale block volumes (%d now), above the organisation's quota of %d (--exoscale-volume-quota)",
			after[0], before[0], opts.ExoscaleVolumeQuota)
	case opts.ExoscaleStorageQuotaGB > 0 && after[1] > opts.ExoscaleStorageQuotaGB && after[1] > before[1]:
		why = fmt.Sprintf("the plan would provision %d GB of Exoscale Block Storage (%d GB now), above the organisation's quota of %d GB (--exoscale-storage-quota-gb)",
			after[1], before[1], opts.ExoscaleStorageQuotaGB)
	default:
		return false
	}
	p.Refused = why + ": ask Exoscale to raise it or plan fewer or smaller volumes"
	for i := range p.Actions {
		if !p.Actions[i].Blocked {
			p.Actions[i].Blocked, p.Actions[i].BlockedReason = true, "exoscale block storage quota: "+p.Refused
		}
	}
	return true
}

// hetznerQuota refuses the plan (Plan.Refused, every action blocked) when
// it would grow the Hetzner project's servers beyond quota (0: no check).
// Servers are counted over every observed customer: those outside the
// plan's scope keep theirs, blocked customers keep what they have, and
// the others end with ServersAfter. A plan that shrinks or keeps the
// count passes even above the quota, so getting back under it stays
// possible.
func hetznerQuota(p *Plan, obs map[string][]Resource, quota int) bool {
	if quota <= 0 {
		return false
	}
	inScope := make(map[string]bool, len(p.Scope))
	for _, n := range p.Scope {
		inScope[n] = true
	}
	before, after := 0, 0
	for name, rs := range obs {
		n := countKind(rs, HetznerServer)
		before += n
		if !inScope[name] {
			after += n
		}
	}
	for _, cp := range p.Customers {
		if cp.Blocked != "" {
			after += cp.ServersBefore
		} else {
			after += cp.ServersAfter
		}
	}
	if after <= quota || after <= before {
		return false
	}
	p.Refused = fmt.Sprintf("the plan would run %d Hetzner servers (%d now), above the project's server quota of %d (--hetzner-server-quota): ask Hetzner to raise it or lower the customers' servers",
		after, before, quota)
	for i := range p.Actions {
		if !p.Actions[i].Blocked {
			p.Actions[i].Blocked, p.Actions[i].BlockedReason = true, "hetzner server quota: "+p.Refused
		}
	}
	return true
}
