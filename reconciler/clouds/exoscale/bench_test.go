package exoscale

import (
	"context"
	"fmt"
	"maps"
	"net"
	"sync"
	"testing"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/clouds/exoscale/exoscalesim"
	v3 "github.com/exoscale/egoscale/v3"
)

const benchCustomers = 1000

// seedCustomers makes n customers' four resources directly through the
// real client (as the adapter would, without its per-create look-ups),
// spread over de-fra-1 and de-muc-1, 8 at a time.
func seedCustomers(b *testing.B, h *harness, n int) {
	b.Helper()
	ctx := context.Background()
	types, err := h.raw.ListInstanceTypes(ctx)
	if err != nil {
		b.Fatal(err)
	}
	it, err := types.FindInstanceTypeByIdOrFamilyAndSize("standard.medium")
	if err != nil {
		b.Fatal(err)
	}
	zones := map[string]*v3.Client{}
	tplIDs := map[string]v3.UUID{}
	for _, z := range []string{"de-fra-1", "at-vie-1"} {
		zones[z] = h.zone(b, z)
		tpls, err := zones[z].ListTemplates(ctx)
		if err != nil {
			b.Fatal(err)
		}
		tpl, err := tpls.FindTemplate("Linux Ubuntu 24.04 LTS 64-bit")
		if err != nil {
			b.Fatal(err)
		}
		tplIDs[z] = tpl.ID
	}
	ref := func(op *v3.Operation, err error) (v3.UUID, error) {
		if err != nil {
			return "", err
		}
		return h.p.wait(ctx, h.raw, "seed", op) // operations are global in the simulator
	}
	one := func(i int) error {
		cust := fmt.Sprintf("c%04d", i)
		name := plan.NamePrefix + cust
		z := []string{"de-fra-1", "at-vie-1"}[i%2]
		c := zones[z]
		l := v3.Labels(owned(cust))
		netID, err := ref(c.CreatePrivateNetwork(ctx, v3.CreatePrivateNetworkRequest{Name: name, Labels: l,
			StartIP: net.ParseIP("172.16.0.10"), EndIP: net.ParseIP("172.16.0.250"), Netmask: net.ParseIP("255.255.255.0")}))
		if err != nil {
			return err
		}
		sgID, err := ref(h.raw.CreateSecurityGroup(ctx, v3.CreateSecurityGroupRequest{Name: name}))
		if err != nil {
			return err
		}
		for _, s := range []string{"in tcp 22 0.0.0.0/0", "in udp 51820 0.0.0.0/0"} {
			specs, _ := parseRules(s)
			if _, err := ref(h.raw.AddRuleToSecurityGroup(ctx, sgID, specs[0].request())); err != nil {
				return err
			}
		}
		il, _ := instanceLabels(plan.Resource{Customer: cust, Labels: owned(cust), Attrs: map[string]string{attrBootstrap: "3f9a1c0d"}}, 50)
		instID, err := ref(c.CreateInstance(ctx, v3.CreateInstanceRequest{Name: name + "-storage", InstanceType: &v3.InstanceType{ID: it.ID},
			Template: &v3.Template{ID: tplIDs[z]}, DiskSize: 50, Labels: il, SecurityGroups: []v3.SecurityGroup{{ID: sgID}}}))
		if err != nil {
			return err
		}
		if _, err := ref(c.AttachInstanceToPrivateNetwork(ctx, netID, v3.AttachInstanceToPrivateNetworkRequest{
			Instance: &v3.AttachInstanceToPrivateNetworkRequestInstance{ID: instID}, IP: net.ParseIP("172.16.0.10")})); err != nil {
			return err
		}
		volID, err := ref(c.CreateBlockStorageVolume(ctx, v3.CreateBlockStorageVolumeRequest{Name: name + "-data", Size: 100, Labels: l}))
		if err != nil {
			return err
		}
		_, err = ref(c.AttachBlockStorageVolumeToInstance(ctx, volID, v3.AttachBlockStorageVolumeToInstanceRequest{Instance: &v3.InstanceTarget{ID: instID}}))
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := one(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

// BenchmarkObserve1000Customers: a full refresh of 1,000 customers (4,000
// resources over two zones). Reports the API calls per Observe.
func BenchmarkObserve1000Customers(b *testing.B) {
	h := newHarness(b, exoscalesim.Options{ImmediateOperations: true}, nil)
	seedCustomers(b, h, benchCustomers)
	ctx := context.Background()
	warm, err := h.p.Observe(ctx) // warms the catalogues and zone endpoints
	if err != nil {
		b.Fatal(err)
	}
	// The seed is what the adapter would have made: c0001 converges.
	want := map[plan.Address]map[string]string{}
	for _, d := range desired("c0001", "at-vie-1") {
		want[d.Address()] = d.Attrs
	}
	for _, r := range warm {
		if w, ok := want[r.Address()]; ok && !maps.Equal(w, r.Attrs) {
			b.Fatalf("%s: %v, want %v", r.Address(), r.Attrs, w)
		}
	}
	ctl := h.sim.Control()
	ctl.ResetCounters()
	b.ResetTimer()
	for b.Loop() {
		rs, err := h.p.Observe(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) != 4*benchCustomers {
			b.Fatalf("observed %d resources, want %d", len(rs), 4*benchCustomers)
		}
	}
	b.StopTimer()
	var calls int64
	for _, n := range ctl.Counters() {
		calls += n
	}
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
}

// BenchmarkCreateCustomer: the four creates of one new customer through
// the adapter (with the look-ups that make them idempotent), against a
// simulator holding 100 customers. Reports the API calls per customer.
func BenchmarkCreateCustomer(b *testing.B) {
	h := newHarness(b, exoscalesim.Options{}, nil)
	seedCustomers(b, h, 100)
	ctx := context.Background()
	if _, err := h.p.Observe(ctx); err != nil {
		b.Fatal(err)
	}
	ctl := h.sim.Control()
	ctl.ResetCounters()
	i := 0
	b.ResetTimer()
	for b.Loop() {
		l := newIDs()
		for _, r := range desired(fmt.Sprintf("new%04d", i), "de-fra-1") {
			got, err := h.p.Create(ctx, r, l.lookup)
			if err != nil {
				b.Fatal(err)
			}
			l.put(got)
		}
		i++
	}
	b.StopTimer()
	var calls int64
	for _, n := range ctl.Counters() {
		calls += n
	}
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
}
