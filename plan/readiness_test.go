package plan

import "testing"

func TestInfraPhases(t *testing.T) {
	res := func(k Kind, name, customer, st string) Resource {
		r := Resource{Kind: k, Name: name, Customer: customer}
		if st != "" {
			r.Outputs = map[string]string{OutputState: st}
		}
		return r
	}
	all := []Resource{
		res(HetznerServer, ServerName("a", 1), "a", "running"),
		res(HetznerServer, ServerName("a", 2), "a", "running"),
		res(ONEHost, ServerName("a", 1), "a", "MONITORED"),
		res(ONEImage, ImageName("a"), "a", "READY"),
		res(ONEVM, DataVMName("a"), "a", "RUNNING"),
		res(ONEVM, BaseName("a")+"-worker-0", "a", "PENDING"), // not the data VM
		res(HetznerServer, ServerName("b", 1), "b", "initializing"),
	}
	got := InfraPhases("a", all)
	for _, p := range []string{PhaseServersRunning, PhaseHostsMonitored, PhaseImageReady, PhaseDataVMRunning} {
		if !got[p] {
			t.Errorf("%s not done: %v", p, got)
		}
	}
	if got[PhaseServicesHealthy] {
		t.Error("services-healthy is not an infrastructure phase")
	}
	// One server still booting, a host in INIT, the image LOCKED, no data VM.
	partial := []Resource{
		res(HetznerServer, ServerName("a", 1), "a", "running"),
		res(HetznerServer, ServerName("a", 2), "a", "initializing"),
		res(ONEHost, ServerName("a", 1), "a", "INIT"),
		res(ONEImage, ImageName("a"), "a", "LOCKED"),
	}
	for p, v := range InfraPhases("a", partial) {
		if v {
			t.Errorf("%s done in %v", p, partial)
		}
	}
	if b := InfraPhases("b", all); b[PhaseServersRunning] || b[PhaseHostsMonitored] {
		t.Errorf("another customer's resources counted: %v", b)
	}
	if n := InfraPhases("nobody", nil); len(n) == 0 || n[PhaseServersRunning] {
		t.Errorf("nothing observed: %v", n)
	}
}
