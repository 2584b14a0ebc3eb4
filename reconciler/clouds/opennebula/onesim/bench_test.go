package onesim

import (
	"testing"
)

// seedVMs fills the simulator with n running VMs directly (the benchmark
// measures listing, not creation).
func seedVMs(b *testing.B, f *fixture, n int) {
	b.Helper()
	if _, err := f.ctrl.Hosts().Create("kvm1", "kvm", "kvm", -1); err != nil {
		b.Fatal(err)
	}
	tid, err := f.ctrl.Templates().Create("NAME=\"t\"\nCPU=0.01\nMEMORY=16\nAGENTVDC_MANAGED_BY=\"agentvdc\"\nAGENTVDC_CUSTOMER=\"acme\"" + bootDisk(b, f.ctrl))
	if err != nil {
		b.Fatal(err)
	}
	s := f.sim
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := s.d.Users[0]
	tpl := s.d.Templates[tid]
	for i := 0; i < n; i++ {
		if _, rerr := s.createVM(s.opts.Now(), "", tpl.Name, tpl.Tmpl.clone(), owner, false, tid); rerr != nil {
			b.Fatal(rerr)
		}
	}
}

func BenchmarkVMPoolInfo10k(b *testing.B) {
	f := newFixture(b, Options{})
	seedVMs(b, f, 10_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := f.ctrl.VMs().Info()
		if err != nil {
			b.Fatal(err)
		}
		if len(p.VMs) != 10_000 {
			b.Fatalf("%d VMs", len(p.VMs))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkVMPoolInfoPage100(b *testing.B) {
	f := newFixture(b, Options{})
	seedVMs(b, f, 10_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := f.ctrl.VMs().Info(-2, (i%100)*100, -100)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.VMs) != 100 {
			b.Fatalf("%d VMs", len(p.VMs))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkHostAndDatastorePool(b *testing.B) {
	f := newFixture(b, Options{})
	for i := 0; i < 200; i++ {
		if _, err := f.ctrl.Hosts().Create("h"+itoa(i), "kvm", "kvm", -1); err != nil {
			b.Fatal(err)
		}
		if _, err := f.ctrl.Datastores().Create("NAME=\"d"+itoa(i)+"\"\nDS_MAD=fs\nTM_MAD=shared", -1); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.ctrl.Hosts().Info(); err != nil {
			b.Fatal(err)
		}
		if _, err := f.ctrl.Datastores().Info(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "req/s")
}
