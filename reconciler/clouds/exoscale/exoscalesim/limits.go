package exoscalesim

import (
	"fmt"
	"net/http"
	"strings"

	v3 "github.com/exoscale/egoscale/v3"
)

// Exoscale Block Storage limits, as the "Block Storage Overview" page of
// Exoscale's documentation states them (community.exoscale.com).
const (
	// MinVolumeGiB and MaxVolumeGiB bound a volume's size (create and
	// resize); the API reference also gives 10 as the create minimum.
	MinVolumeGiB = 10
	MaxVolumeGiB = 10 * 1024
	// MaxAttachmentsPerInstance is the number of volumes one instance may
	// have attached.
	MaxAttachmentsPerInstance = 5
	// DefaultMaxVolumes and DefaultMaxProvisionedGiB are the default
	// organisation quotas (volumes per organisation, total provisioned
	// size); Exoscale raises them on request.
	DefaultMaxVolumes        = 1000
	DefaultMaxProvisionedGiB = 20 * 1024
)

// DefaultBlockStorageZones are the zones that offer Block Storage: the
// documentation lists at-vie-1, ch-gva-2 and de-fra-1 (an earlier version
// listed only ch-gva-2 and at-vie-1).
func DefaultBlockStorageZones() []string { return []string{"at-vie-1", "ch-gva-2", "de-fra-1"} }

// tooSmallToAttach are the instance sizes below Small ("Minimum instance
// size to attach a volume: Small").
var tooSmallToAttach = map[v3.InstanceTypeSize]bool{"micro": true, "tiny": true}

// blockStorageIn reports whether the simulator offers Block Storage in zone.
func (s *Server) blockStorageIn(zone string) bool {
	for _, z := range s.opts.BlockStorageZones {
		if z == zone {
			return true
		}
	}
	return false
}

// refuseZone answers 400 when the call's zone has no Block Storage.
func (c *call) refuseZone() bool {
	if c.s.blockStorageIn(c.zone) {
		return false
	}
	c.fail(http.StatusBadRequest, fmt.Sprintf("block storage is not available in zone %s (available in %s)",
		c.zone, strings.Join(c.s.opts.BlockStorageZones, ", ")))
	return true
}

// refuseSize answers 400 for a size outside MinVolumeGiB..MaxVolumeGiB.
func (c *call) refuseSize(size int64) bool {
	if size >= MinVolumeGiB && size <= MaxVolumeGiB {
		return false
	}
	c.fail(http.StatusBadRequest, fmt.Sprintf("size: %d GiB is out of range (%d to %d GiB)", size, MinVolumeGiB, MaxVolumeGiB))
	return true
}

// refuseQuota answers 403 when adding volumes volumes of addGiB in total
// would exceed an organisation quota (all zones count). Callers hold s.mu.
func (c *call) refuseQuota(volumes int, addGiB int64) bool {
	s := c.s
	n, total := 0, int64(0)
	for _, v := range s.st.Volumes {
		n++
		total += v.Volume.Size
	}
	if max := s.opts.MaxVolumes; max > 0 && n+volumes > max {
		c.fail(http.StatusForbidden, fmt.Sprintf("quota exceeded: the organization has %d of %d block storage volumes", n, max))
		return true
	}
	if max := s.opts.MaxProvisionedGiB; max > 0 && total+addGiB > max {
		c.fail(http.StatusForbidden, fmt.Sprintf("quota exceeded: %d GiB more block storage would bring the organization to %d GiB, above its quota of %d GiB",
			addGiB, total+addGiB, max))
		return true
	}
	return false
}

// attachRefusal says why inst may not take one more volume ("" if it may).
// Callers hold s.mu.
func (c *call) attachRefusal(inst *instanceRec) string {
	if inst.Instance.InstanceType != nil {
		if it, ok := c.s.cat.typeByID[inst.Instance.InstanceType.ID]; ok && tooSmallToAttach[it.Size] {
			return fmt.Sprintf("instance %s is of type %s.%s: attaching a block storage volume needs at least a small instance",
				inst.Instance.ID, it.Family, it.Size)
		}
	}
	n := 0
	for _, v := range c.s.st.Volumes {
		if v.Volume.Instance != nil && v.Volume.Instance.ID == inst.Instance.ID {
			n++
		}
	}
	if n >= MaxAttachmentsPerInstance {
		return fmt.Sprintf("instance %s already has %d block storage volumes attached, the maximum", inst.Instance.ID, n)
	}
	return ""
}

// hasVolumes reports whether instance id has a volume attached. Callers
// hold s.mu.
func (s *Server) hasVolumes(id v3.UUID) bool {
	for _, v := range s.st.Volumes {
		if v.Volume.Instance != nil && v.Volume.Instance.ID == id {
			return true
		}
	}
	return false
}
