package autoscale_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/clouds/opennebula"
	"github.com/agentvdc/agentvdc/reconciler/clouds/opennebula/onesim"
	"github.com/agentvdc/agentvdc/reconciler/daemon/autoscale"
	"github.com/agentvdc/agentvdc/schema"
)

// mapMetrics serves fixed maps: it isolates the scaler's own cost.
type mapMetrics struct{ cpu, used map[string]float64 }

func (m mapMetrics) HostCPU(context.Context) (map[string]float64, error) { return m.cpu, nil }
func (m mapMetrics) DatastoreUsage(context.Context) (map[string]float64, error) {
	return m.used, nil
}

// fleet is n pro customers with 2 servers, 2 hosts and a 50 GB volume each.
func fleet(b *testing.B, n int) ([]schema.Customer, []plan.Resource) {
	b.Helper()
	l, err := schema.NewLoader()
	if err != nil {
		b.Fatal(err)
	}
	files := make([]schema.File, n)
	for i := range files {
		name := fmt.Sprintf("cust-%04d", i)
		files[i] = schema.File{Path: "customers/" + name + ".yaml", Data: fmt.Appendf(nil,
			"name: %s\ndisplayName: C%d\nowner: ops@c%d.example\ntier: pro\nregion: fsn1\n", name, i, i)}
	}
	res := l.Load(files)
	if !res.OK() {
		b.Fatal(res.Error())
	}
	var obs []plan.Resource
	for _, c := range res.Customers {
		labels := map[string]string{plan.LabelManagedBy: plan.ManagedByValue, plan.LabelCustomer: c.Name}
		for n := 1; n <= 2; n++ {
			obs = append(obs,
				plan.Resource{Kind: plan.HetznerServer, Name: plan.ServerName(c.Name, n), Customer: c.Name, Labels: labels},
				plan.Resource{Kind: plan.ONEHost, Name: plan.ServerName(c.Name, n), Customer: c.Name, Labels: labels})
		}
		obs = append(obs, plan.Resource{Kind: plan.ExoBlockVolume, Name: plan.BaseName(c.Name) + "-data", Customer: c.Name,
			Labels: labels, Attrs: map[string]string{"size_gb": "50"}})
	}
	return res.Customers, obs
}

// BenchmarkEvaluate1000Customers measures one evaluation tick for 1,000
// customers (2,000 hosts, 1,000 datastores) in steady state (CPU between
// the thresholds: samples are kept, no decision): "scaler" with in-memory
// maps, "onesim" with the OpenNebula adapter over HTTP on the simulator,
// which adds the two pool calls.
func BenchmarkEvaluate1000Customers(b *testing.B) {
	const n = 1000
	cs, obs := fleet(b, n)
	run := func(b *testing.B, m autoscale.Metrics) {
		now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		s := autoscale.New(autoscale.Options{Metrics: m, Now: func() time.Time { return now }})
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			now = now.Add(time.Minute)
			ds, err := s.Evaluate(context.Background(), cs, obs)
			if err != nil {
				b.Fatal(err)
			}
			if len(ds) != 0 {
				b.Fatalf("steady state made decisions: %v", ds[0])
			}
		}
	}
	b.Run("scaler", func(b *testing.B) {
		m := mapMetrics{cpu: map[string]float64{}, used: map[string]float64{}}
		for _, c := range cs {
			m.cpu[plan.ServerName(c.Name, 1)] = 50
			m.cpu[plan.ServerName(c.Name, 2)] = 60
			m.used[plan.SystemDatastoreName(c.Name)] = 40
		}
		run(b, m)
	})
	b.Run("onesim", func(b *testing.B) {
		sim, err := onesim.New(onesim.Options{})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(sim)
		defer func() { srv.Close(); sim.Close() }()
		user, pass := sim.Credentials()
		ctrl := goca.NewController(goca.NewClient(goca.NewConfig(user, pass, srv.URL+"/RPC2"), srv.Client()))
		marks := func(c string) string {
			return "AGENTVDC_MANAGED_BY=\"agentvdc\"\nAGENTVDC_CUSTOMER=\"" + c + "\"\n"
		}
		for _, c := range cs {
			for k := 1; k <= 2; k++ {
				id, err := ctrl.Hosts().Create(plan.ServerName(c.Name, k), "kvm", "kvm", -1)
				if err != nil {
					b.Fatal(err)
				}
				if err := ctrl.Host(id).Update(marks(c.Name), parameters.Merge); err != nil {
					b.Fatal(err)
				}
				if err := sim.SetHostCPU(id, float64(40+10*k)); err != nil {
					b.Fatal(err)
				}
			}
			id, err := ctrl.Datastores().Create("NAME=\""+plan.SystemDatastoreName(c.Name)+"\"\nTYPE=\"SYSTEM_DS\"\nTM_MAD=\"shared\"\n"+marks(c.Name), -1)
			if err != nil {
				b.Fatal(err)
			}
			if err := sim.SetDatastoreUsed(id, 40); err != nil {
				b.Fatal(err)
			}
		}
		p, err := opennebula.New(context.Background(), opennebula.Config{XMLRPCURL: srv.URL + "/RPC2", FlowURL: srv.URL + "/flow",
			User: user, Password: pass, HTTPClient: srv.Client()})
		if err != nil {
			b.Fatal(err)
		}
		cpu, err := p.HostCPU(context.Background())
		if err != nil || len(cpu) != 2*n {
			b.Fatalf("host cpu: %d hosts, %v; want %d", len(cpu), err, 2*n)
		}
		run(b, p)
	})
}
