package exoscalesim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/plan"
	v3 "github.com/exoscale/egoscale/v3"
)

func createTyped(t *testing.T, c *v3.Client, name, typ string) v3.UUID {
	t.Helper()
	it, tpl := catalogIDs(t, c, typ, "ubuntu")
	return done(t)(c.CreateInstance(context.Background(), v3.CreateInstanceRequest{
		Name: name, InstanceType: &it, Template: &tpl, DiskSize: 10}))
}

func attach(c *v3.Client, vol, inst v3.UUID) error {
	_, err := c.AttachBlockStorageVolumeToInstance(context.Background(), vol,
		v3.AttachBlockStorageVolumeToInstanceRequest{Instance: &v3.InstanceTarget{ID: inst}})
	return err
}

// TestBlockStorageLimits drives each documented limit through egoscale.
func TestBlockStorageLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("size", func(t *testing.T) {
		h := newHarness(t, immediate())
		for _, size := range []int64{5, 9, MaxVolumeGiB + 1} {
			_, err := h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "v", Size: size})
			wantStatus(t, err, v3.ErrBadRequest, fmt.Sprintf("%d GiB is out of range (10 to 10240 GiB)", size))
		}
		id := done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "v", Size: MinVolumeGiB}))
		_, err := h.c.ResizeBlockStorageVolume(ctx, id, v3.ResizeBlockStorageVolumeRequest{Size: MaxVolumeGiB + 1})
		wantStatus(t, err, v3.ErrBadRequest, "above the maximum of 10240 GiB")
		if v, err := h.c.ResizeBlockStorageVolume(ctx, id, v3.ResizeBlockStorageVolumeRequest{Size: MaxVolumeGiB}); err != nil || v.Size != MaxVolumeGiB {
			t.Fatalf("resize to the maximum = %+v, %v", v, err)
		}
	})
	t.Run("sixth attachment", func(t *testing.T) {
		h := newHarness(t, immediate())
		inst := createTyped(t, h.c, "node", "standard.small")
		var vols []v3.UUID
		for i := range MaxAttachmentsPerInstance + 1 {
			vols = append(vols, done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: fmt.Sprint("v", i), Size: 10})))
		}
		for _, v := range vols[:MaxAttachmentsPerInstance] {
			if err := attach(h.c, v, inst); err != nil {
				t.Fatal(err)
			}
		}
		wantStatus(t, attach(h.c, vols[5], inst), v3.ErrBadRequest, "already has 5 block storage volumes attached")
		// Detaching one makes room again.
		done(t)(h.c.DetachBlockStorageVolume(ctx, vols[0]))
		if err := attach(h.c, vols[5], inst); err != nil {
			t.Fatalf("attach after detach: %v", err)
		}
	})
	t.Run("instance below small", func(t *testing.T) {
		h := newHarness(t, immediate())
		vol := done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "v", Size: 10}))
		for _, typ := range []string{"standard.tiny", "standard.micro"} {
			inst := createTyped(t, h.c, typ, typ)
			wantStatus(t, attach(h.c, vol, inst), v3.ErrBadRequest, "is of type "+typ+": attaching a block storage volume needs at least a small instance")
		}
		small := createTyped(t, h.c, "small", "standard.small")
		if err := attach(h.c, vol, small); err != nil {
			t.Fatal(err)
		}
		// An instance holding a volume cannot be scaled below small.
		done(t)(h.c.StopInstance(ctx, small))
		tiny, _ := catalogIDs(t, h.c, "standard.tiny", "ubuntu")
		_, err := h.c.ScaleInstance(ctx, small, v3.ScaleInstanceRequest{InstanceType: &tiny})
		wantStatus(t, err, v3.ErrBadRequest, "cannot be scaled to standard.tiny")
	})
	t.Run("zone without block storage", func(t *testing.T) {
		h := newHarness(t, immediate())
		for _, zone := range []v3.ZoneName{v3.ZoneNameDEMuc1, v3.ZoneNameCHDk2, v3.ZoneNameBGSof1, v3.ZoneNameATVie2, v3.ZoneNameHrZag1} {
			ep, err := h.c.GetZoneAPIEndpoint(ctx, zone)
			if err != nil {
				t.Fatal(err)
			}
			cz := h.c.WithEndpoint(ep)
			_, err = cz.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "v", Size: 50})
			wantStatus(t, err, v3.ErrBadRequest, "block storage is not available in zone "+string(zone)+" (available in at-vie-1, ch-gva-2, de-fra-1)")
			if list, err := cz.ListBlockStorageVolumes(ctx); err != nil || len(list.BlockStorageVolumes) != 0 {
				t.Fatalf("%s: list = %+v, %v", zone, list, err)
			}
		}
		for _, zone := range []v3.ZoneName{v3.ZoneNameATVie1, v3.ZoneNameCHGva2, v3.ZoneNameDEFra1} {
			ep, _ := h.c.GetZoneAPIEndpoint(ctx, zone)
			done(t)(h.c.WithEndpoint(ep).CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "v", Size: 50}))
		}
	})
	t.Run("zones are an option", func(t *testing.T) {
		h := newHarness(t, Options{ImmediateOperations: true, BlockStorageZones: []string{"de-muc-1"}})
		ep, _ := h.c.GetZoneAPIEndpoint(ctx, v3.ZoneNameDEMuc1)
		done(t)(h.c.WithEndpoint(ep).CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "v", Size: 50}))
		_, err := h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "v", Size: 50})
		wantStatus(t, err, v3.ErrBadRequest, "not available in zone de-fra-1")
		if _, err := New(Options{BlockStorageZones: []string{"xx-nowhere-1"}}); err == nil || !strings.Contains(err.Error(), `"xx-nowhere-1" is not a zone`) {
			t.Fatalf("bad zone option: %v", err)
		}
	})
	t.Run("volume quota", func(t *testing.T) {
		h := newHarness(t, Options{ImmediateOperations: true, MaxVolumes: 3})
		gva, _ := h.c.GetZoneAPIEndpoint(ctx, v3.ZoneNameCHGva2)
		done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "a", Size: 10}))
		done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "b", Size: 10}))
		last := done(t)(h.c.WithEndpoint(gva).CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "c", Size: 10}))
		// The quota is the organisation's: volumes in every zone count.
		_, err := h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "d", Size: 10})
		wantStatus(t, err, v3.ErrForbidden, "quota exceeded: the organization has 3 of 3 block storage volumes")
		done(t)(h.c.WithEndpoint(gva).DeleteBlockStorageVolume(ctx, last))
		done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "d", Size: 10}))
	})
	t.Run("provisioned quota", func(t *testing.T) {
		h := newHarness(t, Options{ImmediateOperations: true, MaxProvisionedGiB: 100})
		a := done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "a", Size: 60}))
		_, err := h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "b", Size: 50})
		wantStatus(t, err, v3.ErrForbidden, "above its quota of 100 GiB")
		done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "b", Size: 40}))
		_, err = h.c.ResizeBlockStorageVolume(ctx, a, v3.ResizeBlockStorageVolumeRequest{Size: 61})
		wantStatus(t, err, v3.ErrForbidden, "would bring the organization to 101 GiB")
	})
	t.Run("default quotas", func(t *testing.T) {
		h := newHarness(t, immediate())
		if h.sim.opts.MaxVolumes != 1000 || h.sim.opts.MaxProvisionedGiB != 20480 {
			t.Fatalf("default quotas = %d volumes, %d GiB", h.sim.opts.MaxVolumes, h.sim.opts.MaxProvisionedGiB)
		}
		// 20 TiB: two maximal volumes fill it, a third 10 GiB one is refused.
		done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "a", Size: MaxVolumeGiB}))
		done(t)(h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "b", Size: MaxVolumeGiB}))
		_, err := h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: "c", Size: 10})
		wantStatus(t, err, v3.ErrForbidden, "above its quota of 20480 GiB")
	})
}

// TestLimitsAgreeWithThePlan: the plan refuses exactly what the simulator
// (and Exoscale) would.
func TestLimitsAgreeWithThePlan(t *testing.T) {
	if !slices.Equal(DefaultBlockStorageZones(), plan.BlockStorageZones()) {
		t.Errorf("zones: sim %v, plan %v", DefaultBlockStorageZones(), plan.BlockStorageZones())
	}
	if MinVolumeGiB != plan.MinVolumeGB || MaxVolumeGiB != plan.MaxVolumeGB || MaxAttachmentsPerInstance != plan.MaxVolumesPerInstance {
		t.Errorf("limits: sim %d–%d GiB × %d, plan %d–%d × %d", MinVolumeGiB, MaxVolumeGiB, MaxAttachmentsPerInstance,
			plan.MinVolumeGB, plan.MaxVolumeGB, plan.MaxVolumesPerInstance)
	}
	for _, it := range newCatalog().types {
		name := string(it.Family) + "." + string(it.Size)
		if plan.CanAttachVolumes(name) == tooSmallToAttach[it.Size] {
			t.Errorf("%s: plan says can attach %v, sim refuses %v", name, plan.CanAttachVolumes(name), tooSmallToAttach[it.Size])
		}
	}
}
