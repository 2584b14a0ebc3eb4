package exoscalesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	v3 "github.com/exoscale/egoscale/v3"
	"github.com/google/uuid"
)

func (c *call) volume(id v3.UUID) *volumeRec {
	rec, ok := c.s.st.Volumes[string(id)]
	if !ok || rec.Zone != c.zone {
		return nil
	}
	return rec
}

func (c *call) listVolumes() {
	instFilter := c.r.URL.Query().Get("instance-id")
	c.s.mu.RLock()
	recs := make([]*volumeRec, 0, len(c.s.st.Volumes))
	for _, rec := range c.s.st.Volumes {
		if rec.Zone != c.zone {
			continue
		}
		if instFilter != "" && (rec.Volume.Instance == nil || string(rec.Volume.Instance.ID) != instFilter) {
			continue
		}
		recs = append(recs, rec)
	}
	byCreated(recs, func(r *volumeRec) time.Time { return r.Volume.CreatedAT }, func(r *volumeRec) v3.UUID { return r.Volume.ID })
	out := make([]v3.BlockStorageVolume, len(recs))
	for i, rec := range recs {
		out[i] = rec.Volume
	}
	b, err := json.Marshal(v3.ListBlockStorageVolumesResponse{BlockStorageVolumes: out})
	c.s.mu.RUnlock()
	c.raw(b, err)
}

func (c *call) getVolume() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	rec := c.volume(id)
	if rec == nil {
		c.notFound("block storage volume", id)
		return
	}
	c.ok(rec.Volume)
}

func (c *call) createVolume() {
	var req v3.CreateBlockStorageVolumeRequest
	if !c.decode(&req) {
		return
	}
	if req.BlockStorageSnapshot != nil {
		c.fail(http.StatusNotFound, fmt.Sprintf("block storage snapshot %s not found", req.BlockStorageSnapshot.ID))
		return
	}
	if c.refuseZone() || c.refuseSize(req.Size) {
		return
	}
	if len(req.Name) > 255 {
		c.fail(http.StatusBadRequest, "name: must be at most 255 characters")
		return
	}
	if msg := validLabels(req.Labels); msg != "" {
		c.fail(http.StatusBadRequest, "labels: "+msg)
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.refuseQuota(1, req.Size) {
		return
	}
	id := v3.UUID(uuid.NewString())
	name := req.Name
	if name == "" {
		name = "volume-" + string(id)[:8]
	}
	c.operation("create-block-storage-volume", "block-storage", id, func() {
		s.st.Volumes[string(id)] = &volumeRec{Zone: c.zone, Volume: v3.BlockStorageVolume{
			ID:        id,
			Name:      name,
			Size:      req.Size,
			Blocksize: 4096,
			State:     v3.BlockStorageVolumeStateDetached,
			Labels:    copyLabels(req.Labels),
			CreatedAT: c.now(),
			Encrypted: v3.Bool(false),
		}}
	})
}

func (c *call) updateVolume() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	var req v3.UpdateBlockStorageVolumeRequest
	if !c.decode(&req) {
		return
	}
	if req.Name != nil && (*req.Name == "" || len(*req.Name) > 255) {
		c.fail(http.StatusBadRequest, "name: must be 1 to 255 characters")
		return
	}
	if msg := validLabels(req.Labels); msg != "" {
		c.fail(http.StatusBadRequest, "labels: "+msg)
		return
	}
	setLabels := rawLabels(c.body)
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := c.volume(id)
	if rec == nil {
		c.notFound("block storage volume", id)
		return
	}
	c.operation("update-block-storage-volume", "block-storage", id, func() {
		if req.Name != nil {
			rec.Volume.Name = *req.Name
		}
		if setLabels {
			rec.Volume.Labels = copyLabels(req.Labels)
		}
	})
}

func (c *call) deleteVolume() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := c.volume(id)
	if rec == nil {
		c.notFound("block storage volume", id)
		return
	}
	if rec.Volume.Instance != nil {
		c.fail(http.StatusConflict, fmt.Sprintf("block storage volume %s is attached to instance %s: detach it first", id, rec.Volume.Instance.ID))
		return
	}
	c.operation("delete-block-storage-volume", "block-storage", id, func() {
		delete(s.st.Volumes, string(id))
	})
}

func (c *call) attachVolume() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	var req v3.AttachBlockStorageVolumeToInstanceRequest
	if !c.decode(&req) {
		return
	}
	if req.Instance == nil || req.Instance.ID == "" {
		c.fail(http.StatusBadRequest, "instance: an instance id is required")
		return
	}
	if c.refuseZone() {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := c.volume(id)
	if rec == nil {
		c.notFound("block storage volume", id)
		return
	}
	inst := c.instance(req.Instance.ID)
	if inst == nil {
		c.notFound("instance", req.Instance.ID)
		return
	}
	if rec.Volume.Instance != nil {
		c.fail(http.StatusConflict, fmt.Sprintf("block storage volume %s is already attached to instance %s", id, rec.Volume.Instance.ID))
		return
	}
	if msg := c.attachRefusal(inst); msg != "" {
		c.fail(http.StatusBadRequest, msg)
		return
	}
	c.operation("attach-block-storage-volume-to-instance", "block-storage", id, func() {
		rec.Volume.Instance = &v3.InstanceTarget{ID: inst.Instance.ID}
		rec.Volume.State = v3.BlockStorageVolumeStateAttached
	})
}

func (c *call) detachVolume() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := c.volume(id)
	if rec == nil {
		c.notFound("block storage volume", id)
		return
	}
	if rec.Volume.Instance == nil {
		c.fail(http.StatusBadRequest, fmt.Sprintf("block storage volume %s is not attached", id))
		return
	}
	c.operation("detach-block-storage-volume", "block-storage", id, func() {
		rec.Volume.Instance = nil
		rec.Volume.State = v3.BlockStorageVolumeStateDetached
	})
}

// resizeVolume grows a volume. Unlike the other mutations it answers with
// the volume itself, not an operation (as the real API does).
func (c *call) resizeVolume() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	var req v3.ResizeBlockStorageVolumeRequest
	if !c.decode(&req) {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := c.volume(id)
	if rec == nil {
		c.notFound("block storage volume", id)
		return
	}
	if req.Size <= rec.Volume.Size {
		c.fail(http.StatusBadRequest, fmt.Sprintf("size: a volume can only grow (current %d GiB, requested %d GiB)", rec.Volume.Size, req.Size))
		return
	}
	if req.Size > MaxVolumeGiB {
		c.fail(http.StatusBadRequest, fmt.Sprintf("size: %d GiB is above the maximum of %d GiB", req.Size, MaxVolumeGiB))
		return
	}
	if c.refuseQuota(0, req.Size-rec.Volume.Size) {
		return
	}
	rec.Volume.Size = req.Size
	s.markDirty()
	c.ok(rec.Volume)
}
