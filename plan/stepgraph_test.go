package plan

import (
	"testing"
)

func TestStepWaits(t *testing.T) {
	acme := example(t, "acme-analytics") // two servers
	casa := example(t, "casa-verde")
	actions := Diff(append(Expand(acme, addrsOf(acme.Name), nil), Expand(casa, addrsOf(casa.Name), nil)...), nil, DiffOptions{})
	steps := Steps(actions)
	waits := StepWaits(actions, steps)
	index := map[string]int{}
	for i, s := range steps {
		index[s.Address] = i
	}
	waitsFor := func(a, b string) bool {
		i, ok1 := index[a]
		j, ok2 := index[b]
		if !ok1 || !ok2 {
			t.Fatalf("no step %s or %s", a, b)
		}
		for _, w := range waits[i] {
			if w == j {
				return true
			}
		}
		return false
	}
	base := "agentvdc-acme-analytics"
	tests := []struct {
		step, on string
		want     bool
	}{
		{"hetzner_server." + base + "-srv-1", "exoscale_instance." + base + "-storage", true},    // user data needs its address
		{"hetzner_server." + base + "-srv-1", "exoscale_security_group." + base, true},           // transitively
		{"opennebula_host." + base + "-srv-2", "hetzner_server." + base + "-srv-2", true},        // registered by its address
		{"opennebula_datastore." + base + "-images", "opennebula_host." + base + "-srv-1", true}, // BRIDGE_LIST
		{"opennebula_flow_service." + base + "-workers", "opennebula_vm." + base + "-data", true},
		{"opennebula_vm." + base + "-data", "exoscale_block_volume." + base + "-data", true},
		{"exoscale_private_network." + base, "hetzner_network." + base, false},
		{"opennebula_group." + base, "exoscale_instance." + base + "-storage", false},
		{"hetzner_server." + base + "-srv-2", "hetzner_server." + base + "-srv-1", false},
		{"exoscale_block_volume." + base + "-data", "hetzner_server." + base + "-srv-1", false},
	}
	for _, tt := range tests {
		if got := waitsFor(tt.step, tt.on); got != tt.want {
			t.Errorf("%s waits for %s = %v, want %v", tt.step, tt.on, got, tt.want)
		}
	}
	// Every wait is an earlier step of the same customer.
	for i, ws := range waits {
		for _, j := range ws {
			if j >= i || actions[steps[j].Index].Customer != actions[steps[i].Index].Customer {
				t.Errorf("step %d (%s) waits for step %d (%s)", i, steps[i].Address, j, steps[j].Address)
			}
		}
	}
}

func TestStepWaitsDeletesKeepTheirOrder(t *testing.T) {
	c := example(t, "casa-verde")
	obs := Expand(c, addrsOf(c.Name), nil)
	for i := range obs {
		obs[i].ID = "id-" + obs[i].Name
		obs[i].DependsOn = nil // observed resources carry no dependencies
	}
	actions := Diff(nil, obs, DiffOptions{})
	steps := Steps(actions)
	if len(steps) != len(obs) {
		t.Fatalf("%d delete steps for %d resources", len(steps), len(obs))
	}
	for i, ws := range StepWaits(actions, steps) {
		if len(ws) != i {
			t.Errorf("delete step %d (%s) waits for %d earlier steps, want all %d", i, steps[i].Address, len(ws), i)
		}
	}
}
