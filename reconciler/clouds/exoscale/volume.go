package exoscale

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentvdc/agentvdc/plan"
	v3 "github.com/exoscale/egoscale/v3"
)

// Block storage volume size bounds (GiB).
const (
	minVolumeGB = 1
	maxVolumeGB = 10240
)

// ErrShrink is returned by Update when size_gb would decrease: block
// volumes only grow, and a shrink is never turned into a replacement.
var ErrShrink = errors.New("block storage volumes cannot shrink")

func (p *Provider) findVolume(ctx context.Context, c *v3.Client, name string) (v3.UUID, bool, error) {
	var resp *v3.ListBlockStorageVolumesResponse
	if err := p.retry(ctx, "list block storage volumes", func(ctx context.Context) error {
		var err error
		resp, err = c.ListBlockStorageVolumes(ctx)
		return err
	}); err != nil {
		return "", false, err
	}
	for _, v := range resp.BlockStorageVolumes {
		if v.Name != name {
			continue
		}
		if !plan.Owned(v.Labels) {
			return "", false, notOwned("block storage volume", name)
		}
		return v.ID, true, nil
	}
	return "", false, nil
}

func (p *Provider) getVolume(ctx context.Context, c *v3.Client, id v3.UUID) (*v3.BlockStorageVolume, error) {
	var v *v3.BlockStorageVolume
	err := p.retry(ctx, "get block storage volume", func(ctx context.Context) error {
		var err error
		v, err = c.GetBlockStorageVolume(ctx, id)
		return err
	})
	return v, err
}

func (p *Provider) createVolume(ctx context.Context, r plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	zone := r.Attrs[attrZone]
	if err := p.checkZone(zone); err != nil {
		return plan.Resource{}, err
	}
	size, err := parseSize(attrSizeGB, r.Attrs[attrSizeGB], minVolumeGB, maxVolumeGB)
	if err != nil {
		return plan.Resource{}, err
	}
	labels, err := cloudLabels(r)
	if err != nil {
		return plan.Resource{}, err
	}
	c, err := p.zoneClient(ctx, zone)
	if err != nil {
		return plan.Resource{}, err
	}
	instName := r.Attrs[attrInstance]
	var instID v3.UUID
	if instName != "" {
		if instID, err = lookup(ctx, ids, plan.ExoInstance, instName, func(ctx context.Context) (v3.UUID, bool, error) {
			return p.findInstance(ctx, c, instName)
		}); err != nil {
			return plan.Resource{}, err
		}
	}
	id, err := p.createOnce(ctx, c, "create block storage volume",
		func(ctx context.Context) (v3.UUID, bool, error) { return p.findVolume(ctx, c, r.Name) },
		func(ctx context.Context) (*v3.Operation, error) {
			return c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: r.Name, Size: size, Labels: labels})
		})
	if err != nil {
		return plan.Resource{}, err
	}
	v, err := p.getVolume(ctx, c, id)
	if err != nil {
		return plan.Resource{}, err
	}
	if instID != "" {
		if v, err = p.attachVolume(ctx, c, v, instID); err != nil {
			return plan.Resource{}, err
		}
	}
	return volumeResource(zone, *v, map[v3.UUID]string{instID: instName}), nil
}

// attachVolume attaches v to the instance unless it already is; a volume
// attached to another instance is an error.
func (p *Provider) attachVolume(ctx context.Context, c *v3.Client, v *v3.BlockStorageVolume, instID v3.UUID) (*v3.BlockStorageVolume, error) {
	if v.Instance != nil && v.Instance.ID != "" {
		if v.Instance.ID == instID {
			return v, nil
		}
		return nil, fmt.Errorf("volume %q is attached to another instance (%s)", v.Name, v.Instance.ID)
	}
	id := v.ID
	_, err := p.mutate(ctx, c, "attach block storage volume", func(ctx context.Context) (*v3.Operation, error) {
		return c.AttachBlockStorageVolumeToInstance(ctx, id, v3.AttachBlockStorageVolumeToInstanceRequest{
			Instance: &v3.InstanceTarget{ID: instID},
		})
	})
	if err != nil && !errors.Is(err, v3.ErrConflict) {
		return nil, err
	}
	nv, gerr := p.getVolume(ctx, c, id)
	if gerr != nil {
		return nil, gerr
	}
	if nv.Instance == nil || nv.Instance.ID != instID {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("volume %q: attach reported success but the volume is not attached", v.Name)
	}
	return nv, nil
}

// updateVolume grows the volume (size_gb, grow only) and rewrites labels.
func (p *Provider) updateVolume(ctx context.Context, before, after plan.Resource, ids plan.Lookup) (plan.Resource, error) {
	zone := before.Attrs[attrZone]
	want, err := parseSize(attrSizeGB, after.Attrs[attrSizeGB], minVolumeGB, maxVolumeGB)
	if err != nil {
		return plan.Resource{}, err
	}
	c, err := p.zoneClient(ctx, zone)
	if err != nil {
		return plan.Resource{}, err
	}
	id := v3.UUID(before.ID)
	v, err := p.getVolume(ctx, c, id)
	if err != nil {
		return plan.Resource{}, err
	}
	if !plan.Owned(v.Labels) {
		return plan.Resource{}, notOwned("block storage volume", v.Name)
	}
	if want < v.Size {
		return plan.Resource{}, fmt.Errorf("size_gb %d → %d: %w (grow it or keep %d)", v.Size, want, ErrShrink, v.Size)
	}
	labels, err := cloudLabels(after)
	if err != nil {
		return plan.Resource{}, err
	}
	if !sameLabels(labels, v.Labels) {
		if _, err := p.mutate(ctx, c, "update block storage volume labels", func(ctx context.Context) (*v3.Operation, error) {
			return c.UpdateBlockStorageVolume(ctx, id, v3.UpdateBlockStorageVolumeRequest{Labels: labels})
		}); err != nil {
			return plan.Resource{}, err
		}
	}
	if want > v.Size {
		// The resize answers with the volume, not an operation. A retry
		// after an applied resize answers 400 (not a growth): re-read.
		err := p.retry(ctx, "resize block storage volume", func(ctx context.Context) error {
			_, err := c.ResizeBlockStorageVolume(ctx, id, v3.ResizeBlockStorageVolumeRequest{Size: want})
			return err
		})
		if err != nil {
			nv, gerr := p.getVolume(ctx, c, id)
			if gerr != nil || nv.Size < want {
				return plan.Resource{}, err
			}
		}
	}
	if v, err = p.getVolume(ctx, c, id); err != nil {
		return plan.Resource{}, err
	}
	instNames := map[v3.UUID]string{}
	if v.Instance != nil {
		instNames[v.Instance.ID] = before.Attrs[attrInstance]
	}
	if instName := after.Attrs[attrInstance]; instName != before.Attrs[attrInstance] {
		if v, err = p.reattachVolume(ctx, c, v, instName, ids); err != nil {
			return plan.Resource{}, err
		}
		instNames = map[v3.UUID]string{}
		if v.Instance != nil {
			instNames[v.Instance.ID] = instName
		}
	}
	return volumeResource(zone, *v, instNames), nil
}

// reattachVolume moves the volume to the named instance (the storage
// instance was replaced): detach from the old one, attach to the new one.
func (p *Provider) reattachVolume(ctx context.Context, c *v3.Client, v *v3.BlockStorageVolume, instName string, ids plan.Lookup) (*v3.BlockStorageVolume, error) {
	var instID v3.UUID
	if instName != "" {
		var err error
		if instID, err = lookup(ctx, ids, plan.ExoInstance, instName, func(ctx context.Context) (v3.UUID, bool, error) {
			return p.findInstance(ctx, c, instName)
		}); err != nil {
			return nil, err
		}
	}
	if v.Instance != nil && v.Instance.ID != "" && v.Instance.ID != instID {
		_, err := p.mutate(ctx, c, "detach block storage volume", func(ctx context.Context) (*v3.Operation, error) {
			return c.DetachBlockStorageVolume(ctx, v.ID)
		})
		if err != nil && !errors.Is(err, v3.ErrBadRequest) { // 400: already detached
			return nil, err
		}
		if v, err = p.getVolume(ctx, c, v.ID); err != nil {
			return nil, err
		}
	}
	if instID == "" {
		return v, nil
	}
	return p.attachVolume(ctx, c, v, instID)
}

func (p *Provider) deleteVolume(ctx context.Context, r plan.Resource, id v3.UUID) error {
	c, err := p.zoneClient(ctx, r.Attrs[attrZone])
	if err != nil {
		return err
	}
	v, err := p.getVolume(ctx, c, id)
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !plan.Owned(v.Labels) {
		return notOwned("block storage volume", v.Name)
	}
	if v.Instance != nil && v.Instance.ID != "" {
		_, err := p.mutate(ctx, c, "detach block storage volume", func(ctx context.Context) (*v3.Operation, error) {
			return c.DetachBlockStorageVolume(ctx, id)
		})
		if err != nil && !errors.Is(err, v3.ErrBadRequest) { // 400: already detached (a retried detach)
			return err
		}
	}
	_, err = p.mutate(ctx, c, "delete block storage volume", func(ctx context.Context) (*v3.Operation, error) {
		return c.DeleteBlockStorageVolume(ctx, id)
	})
	if gone(err) {
		return nil
	}
	return err
}
