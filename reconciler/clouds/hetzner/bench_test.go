package hetzner

import (
	"fmt"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/agentvdc/agentvdc/reconciler/clouds/hetzner/hetznersim"
)

// BenchmarkObserve1000Customers observes 1,000 customers' worth of
// resources: 1,000 networks, 1,000 firewalls and 2,000 servers.
func BenchmarkObserve1000Customers(b *testing.B) {
	const customers, serversEach = 1000, 2
	h := newHarness(b, hetznersim.Options{}, nil)
	ctx := ctxT(b)
	for i := range customers {
		c := fmt.Sprintf("cust%04d", i)
		lbl := ownership(c)
		n, _, err := h.raw.Network.Create(ctx, hcloud.NetworkCreateOpts{Name: "agentvdc-" + c, IPRange: mustCIDR(b, "10.0.0.0/16"), Labels: lbl,
			Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, IPRange: mustCIDR(b, "10.0.1.0/24"), NetworkZone: "eu-central"}}})
		if err != nil {
			b.Fatal(err)
		}
		fw, _, err := h.raw.Firewall.Create(ctx, hcloud.FirewallCreateOpts{Name: "agentvdc-" + c, Labels: lbl})
		if err != nil {
			b.Fatal(err)
		}
		for s := 1; s <= serversEach; s++ {
			_, _, err := h.raw.Server.Create(ctx, hcloud.ServerCreateOpts{Name: fmt.Sprintf("agentvdc-%s-srv-%d", c, s),
				ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "ubuntu-24.04"}, Labels: lbl,
				Networks: []*hcloud.Network{n}, Firewalls: []*hcloud.ServerCreateFirewall{{Firewall: *fw.Firewall}}})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	h.sim.Control().ResetCounters()
	b.ResetTimer()
	for b.Loop() {
		obs, err := h.p.Observe(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(obs) != customers*(2+serversEach) {
			b.Fatalf("observed %d resources", len(obs))
		}
	}
	b.ReportMetric(float64(totalCalls(h.sim.Control()))/float64(b.N), "api_calls/op")
}
