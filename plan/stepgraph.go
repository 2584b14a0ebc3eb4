package plan

// StepWaits returns, for each step of Steps(actions), the earlier steps it
// must wait for; steps that wait for nothing still pending may run at the
// same time. Steps is a valid sequential order, so keeping its order for
// every pair of related steps keeps every dependency while unrelated steps
// (a customer's Hetzner network, Exoscale network and OpenNebula group, or
// two of its servers) overlap.
//
// Two steps of a customer are related when they touch the same address
// (the halves of a replace), when either resource depends on the other
// through DependsOn (transitively, over the Before and After of every
// action of the customer, no-ops included when the plan has them), when
// either is a delete (an observed resource carries no DependsOn, so deletes
// keep the plan's children-first order against every other step), or by
// an ordering the clouds impose without a DependsOn edge:
//   - an OpenNebula datastore is reached through its BRIDGE_LIST hosts, so
//     datastore steps follow host steps (see Expand);
//   - the data VM takes its fixed address from the VDC network's range
//     before the OneFlow service's workers lease from it, or a worker can
//     take it (oned: "Cannot get IP/MAC lease").
//
// Steps of different customers are never related: they already run side
// by side.
func StepWaits(actions []Action, steps []Step) [][]int {
	waits := make([][]int, len(steps))
	for start := 0; start < len(steps); {
		customer := actions[steps[start].Index].Customer
		end := start
		for end < len(steps) && actions[steps[end].Index].Customer == customer {
			end++
		}
		deps := dependencyClosure(actions, customer)
		for i := start; i < end; i++ {
			ai := actions[steps[i].Index].Addr()
			for j := start; j < i; j++ {
				aj := actions[steps[j].Index].Addr()
				deletes := steps[i].Op == ActionDelete || steps[j].Op == ActionDelete
				if deletes || ai == aj || deps[ai][aj] || deps[aj][ai] || implicitOrder(aj.Kind, ai.Kind) {
					waits[i] = append(waits[i], j)
				}
			}
		}
		start = end
	}
	return waits
}

// implicitOrder reports whether a step on kind before must finish before a
// step on kind after that the catalogue orders without a DependsOn edge.
func implicitOrder(before, after Kind) bool {
	pair := func(a, b Kind) bool { return (before == a && after == b) || (before == b && after == a) }
	return pair(ONEHost, ONEDatastore) || pair(ONEVM, ONEFlowService)
}

// Addr is the action's resource address as a value (Action.Address is
// its printed form).
func (a Action) Addr() Address { return Address{Kind: a.Kind, Name: a.Name} }

// dependencyClosure maps each address of the customer's actions to every
// address it depends on, directly or not.
func dependencyClosure(actions []Action, customer string) map[Address]map[Address]bool {
	direct := map[Address][]Address{}
	for _, a := range actions {
		if a.Customer != customer {
			continue
		}
		addr := a.Addr()
		for _, r := range []*Resource{a.Before, a.After} {
			if r != nil {
				direct[addr] = append(direct[addr], r.DependsOn...)
			}
		}
	}
	closure := make(map[Address]map[Address]bool, len(direct))
	var visit func(Address) map[Address]bool
	visit = func(a Address) map[Address]bool {
		if c, ok := closure[a]; ok {
			return c
		}
		c := map[Address]bool{}
		closure[a] = c // a cycle (never produced by Expand) stops here
		for _, d := range direct[a] {
			if d == a {
				continue
			}
			c[d] = true
			for dd := range visit(d) {
				c[dd] = true
			}
		}
		return c
	}
	for a := range direct {
		visit(a)
	}
	return closure
}
