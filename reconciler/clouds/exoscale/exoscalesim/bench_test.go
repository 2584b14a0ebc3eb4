package exoscalesim

import (
	"context"
	"fmt"
	"sync"
	"testing"

	v3 "github.com/exoscale/egoscale/v3"
)

const benchResources = 10000

// seed creates n resources through the real client, 8 at a time.
func seed(b *testing.B, n int, create func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := create(i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

func BenchmarkListInstances10k(b *testing.B) {
	h := newHarness(b, immediate())
	ctx := context.Background()
	it, tpl := catalogIDs(b, h.c, "standard.small", "ubuntu")
	labels := v3.Labels{"agentvdc.io/managed-by": "agentvdc"}
	seed(b, benchResources, func(i int) error {
		_, err := h.c.CreateInstance(ctx, v3.CreateInstanceRequest{
			Name: fmt.Sprintf("vm-%d", i), InstanceType: &it, Template: &tpl, DiskSize: 10, Labels: labels})
		return err
	})
	b.ResetTimer()
	for b.Loop() {
		list, err := h.c.ListInstances(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(list.Instances) != benchResources {
			b.Fatalf("listed %d instances, want %d", len(list.Instances), benchResources)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkListVolumes10k(b *testing.B) {
	h := newHarness(b, immediate())
	ctx := context.Background()
	seed(b, benchResources, func(i int) error {
		_, err := h.c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{
			Name: fmt.Sprintf("vol-%d", i), Size: 10, Labels: v3.Labels{"agentvdc.io/customer": fmt.Sprintf("c%d", i%100)}})
		return err
	})
	b.ResetTimer()
	for b.Loop() {
		list, err := h.c.ListBlockStorageVolumes(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(list.BlockStorageVolumes) != benchResources {
			b.Fatalf("listed %d volumes, want %d", len(list.BlockStorageVolumes), benchResources)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
