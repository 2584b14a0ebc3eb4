package plan

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestAddressLayout(t *testing.T) {
	pool := netip.MustParsePrefix(DefaultAddressPool)
	if PoolBlocks(pool) != 16384 {
		t.Fatalf("blocks in %s: %d", pool, PoolBlocks(pool))
	}
	a, err := ParseBlock(pool, "10.64.3.0/24")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want string }{
		{a.MeshSubnet().String(), "10.64.3.0/25"}, {a.StorageWG().String(), "10.64.3.1"},
		{a.ControlPlaneWG().String(), "10.64.3.2"}, {a.DataVMWG().String(), "10.64.3.3"},
		{a.ServerWG(1).String(), "10.64.3.11"}, {a.ServerWG(ServerSlots).String(), "10.64.3.42"},
		{a.VDCNetwork().String(), "10.64.3.128/25"}, {a.VDCGateway().String(), "10.64.3.129"},
		{a.DataVMIP().String(), "10.64.3.130"}, {a.BridgeName(), "vdc4"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	// The address range stays inside the VDC network.
	last := a.VNetARStart()
	for range VNetARSize - 1 {
		last = last.Next()
	}
	if !a.VDCNetwork().Contains(last) || last == a.VDCNetwork().Addr().Next() {
		t.Errorf("last lease %s outside %s", last, a.VDCNetwork())
	}
	if got := BlockAt(pool, PoolBlocks(pool)-1).String(); got != "10.127.255.0/24" {
		t.Errorf("last block %s", got)
	}
	for _, bad := range []string{"10.64.3.1/24", "10.64.3.0/25", "192.168.0.0/24", "fd00::/24", "x"} {
		if _, err := ParseBlock(pool, bad); err == nil {
			t.Errorf("ParseBlock(%q) accepted", bad)
		}
	}
}

func TestAssignBlocks(t *testing.T) {
	pool := netip.MustParsePrefix(DefaultAddressPool)
	got, err := AssignBlocks(pool, map[string]string{"b": "10.64.0.0/24"}, []string{"c", "a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	// b keeps its block; the others take the lowest free ones in name order.
	want := map[string]string{"a": "10.64.1.0/24", "b": "10.64.0.0/24", "c": "10.64.2.0/24"}
	for n, b := range want {
		if got[n].Block.String() != b {
			t.Errorf("%s got %s, want %s", n, got[n].Block, b)
		}
	}
	// Held customers outside want (being deleted) keep their block reserved.
	got, err = AssignBlocks(pool, map[string]string{"gone": "10.64.0.0/24"}, []string{"new"})
	if err != nil || got["new"].Block.String() != "10.64.1.0/24" || len(got) != 1 {
		t.Errorf("a held block was reused: %v %v", got, err)
	}

	small := netip.MustParsePrefix("10.64.0.0/23")
	got, err = AssignBlocks(small, map[string]string{"x": "10.64.1.0/24"}, []string{"x", "y", "z"})
	if !errors.Is(err, ErrPoolFull) || !strings.Contains(err.Error(), "no block for z") || got["y"].Block.String() != "10.64.0.0/24" {
		t.Errorf("full pool: %v %v", got, err)
	}
	if _, err := AssignBlocks(pool, map[string]string{"x": "10.1.0.0/24"}, nil); err == nil {
		t.Error("a held block outside the pool was accepted")
	}
	if _, err := AssignBlocks(pool, map[string]string{"x": "10.64.0.0/24", "y": "10.64.0.0/24"}, nil); err == nil {
		t.Error("two customers holding one block was accepted")
	}
	if _, err := AssignBlocks(netip.MustParsePrefix("10.64.0.0/25"), nil, nil); err == nil {
		t.Error("a pool smaller than a block was accepted")
	}
}

// TestBuildAddressBlocks: every customer of a plan gets its own block;
// held blocks and blocks the clouds show win; a full pool is an error of
// the customers left without one, not of the plan.
func TestBuildAddressBlocks(t *testing.T) {
	cs := exampleList(t)
	p, err := Build(Input{Customers: cs, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, c := range p.Customers {
		if c.AddressBlock == "" {
			t.Fatalf("%s has no block", c.Name)
		}
		if o, dup := seen[c.AddressBlock]; dup {
			t.Fatalf("%s and %s share %s", o, c.Name, c.AddressBlock)
		}
		seen[c.AddressBlock] = c.Name
		a, err := p.Addresses(c.Name)
		if err != nil || a.Block.String() != c.AddressBlock {
			t.Fatalf("Addresses(%s) = %v, %v", c.Name, a, err)
		}
	}
	// A plan of one target agrees with the full plan.
	one, err := Build(Input{Customers: cs, Now: testNow, Options: Options{Targets: []string{cs[2].Name}}})
	if err != nil || one.Blocks()[cs[2].Name] != p.Blocks()[cs[2].Name] {
		t.Errorf("targeted plan gave %v, full plan %v (%v)", one.Blocks(), p.Blocks(), err)
	}
	// Observed resources (a lost state file) keep their addresses.
	obs := observe(Expand(cs[0], Addresses{Block: netip.MustParsePrefix("10.64.9.0/24"), Index: 9}, nil))
	p2, err := Build(Input{Customers: cs[:1], Observed: obs, Now: testNow})
	if err != nil || p2.Customers[0].AddressBlock != "10.64.9.0/24" || p2.Summary.Counts.Changes() != 0 {
		t.Errorf("observed block not kept: %+v %v", p2.Customers[0], err)
	}
	// Held blocks win over the pool order.
	p3, err := Build(Input{Customers: cs[:1], HeldBlocks: map[string]string{cs[0].Name: "10.64.77.0/24"}, Now: testNow})
	if err != nil || p3.Customers[0].AddressBlock != "10.64.77.0/24" {
		t.Errorf("held block ignored: %+v %v", p3.Customers[0], err)
	}
	// A full pool: the customer without a block is an error and plans nothing.
	held := map[string]string{"other": "10.64.0.0/24"}
	p4, err := Build(Input{Customers: cs[:1], HeldBlocks: held, AddressPool: netip.MustParsePrefix("10.64.0.0/24"), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	c := p4.Customers[0]
	if c.Status != StatusError || !strings.Contains(c.Blocked, "address pool is full") || len(p4.Steps) != 0 {
		t.Errorf("full pool: status %s blocked %q steps %d", c.Status, c.Blocked, len(p4.Steps))
	}
}
