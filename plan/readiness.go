package plan

// Readiness: a customer is Ready when everything it needs runs, not when
// the last apply returned. The phases below are what provisioning goes
// through, in order; each infrastructure phase is read from observed
// state (the adapters report it in Outputs[OutputState]), and the last one
// is checked by the daemon through the customer's WireGuard tunnel.

// OutputState is the Outputs key of a resource's provider-side state as
// the provider names it: a hetzner_server's status ("running"), an
// opennebula_host's state ("MONITORED"), an opennebula_image's ("READY"),
// an opennebula_vm's LCM state ("RUNNING").
const OutputState = "state"

// The provisioning phases.
const (
	PhaseServersRunning  = "servers-running"  // every Hetzner server of the customer is running
	PhaseHostsMonitored  = "hosts-monitored"  // every OpenNebula host of the customer is MONITORED
	PhaseImageReady      = "image-ready"      // the customer's OS image is READY
	PhaseDataVMRunning   = "data-vm-running"  // the data VM is RUNNING
	PhaseServicesHealthy = "services-healthy" // the data services answer their health checks through the tunnel
)

// Phases lists the provisioning phases in order.
func Phases() []string {
	return []string{PhaseServersRunning, PhaseHostsMonitored, PhaseImageReady, PhaseDataVMRunning, PhaseServicesHealthy}
}

// ImageName is the name of the customer's OS image (opennebula_image).
func ImageName(customer string) string { return BaseName(customer) + "-os" }

// DataVMName is the name of the customer's data VM (opennebula_vm).
func DataVMName(customer string) string { return BaseName(customer) + "-data" }

// InfraPhases reports which infrastructure phases (all but
// PhaseServicesHealthy) the observed resources of customer show done. A
// phase with no resource observed yet is not done.
func InfraPhases(customer string, observed []Resource) map[string]bool {
	count := map[Kind]int{}
	ok := map[Kind]int{}
	want := map[Kind]string{HetznerServer: "running", ONEHost: "MONITORED"}
	done := map[string]bool{}
	for _, r := range observed {
		if customerOf(r) != customer {
			continue
		}
		st := r.Outputs[OutputState]
		switch {
		case want[r.Kind] != "":
			count[r.Kind]++
			if st == want[r.Kind] {
				ok[r.Kind]++
			}
		case r.Kind == ONEImage && r.Name == ImageName(customer):
			// A READY image becomes USED while VMs run from it.
			done[PhaseImageReady] = st == "READY" || st == "USED"
		case r.Kind == ONEVM && r.Name == DataVMName(customer):
			done[PhaseDataVMRunning] = st == "RUNNING"
		}
	}
	done[PhaseServersRunning] = count[HetznerServer] > 0 && ok[HetznerServer] == count[HetznerServer]
	done[PhaseHostsMonitored] = count[ONEHost] > 0 && ok[ONEHost] == count[ONEHost]
	return done
}
