package state

import (
	"errors"
	"maps"
	"testing"
)

// TestAddressBlocks: blocks survive a restart, a customer keeps its block,
// a block of another customer is refused without writing anything, and
// DeleteCustomer frees the block.
func TestAddressBlocks(t *testing.T) {
	path := t.TempDir() + "/state.db"
	s, err := Open(path, Options{})
	must(t, err)
	if got, err := s.AddressBlocks(); err != nil || len(got) != 0 {
		t.Fatalf("new store: %v %v", got, err)
	}
	must(t, s.HoldBlocks(map[string]string{"acme": "10.64.0.0/24", "beta": "10.64.1.0/24"}))
	must(t, s.HoldBlocks(map[string]string{"acme": "10.64.0.0/24"})) // idempotent
	must(t, s.Close())

	s, err = Open(path, Options{})
	must(t, err)
	defer s.Close()
	want := map[string]string{"acme": "10.64.0.0/24", "beta": "10.64.1.0/24"}
	if got, _ := s.AddressBlocks(); !maps.Equal(got, want) {
		t.Fatalf("after restart %v, want %v", got, want)
	}
	if err := s.HoldBlocks(map[string]string{"gamma": "10.64.2.0/24", "delta": "10.64.1.0/24"}); !errors.Is(err, ErrBlockTaken) {
		t.Errorf("a taken block: %v", err)
	}
	if err := s.HoldBlocks(map[string]string{"acme": "10.64.5.0/24"}); err == nil {
		t.Error("a customer was renumbered")
	}
	if got, _ := s.AddressBlocks(); !maps.Equal(got, want) {
		t.Fatalf("a refused HoldBlocks wrote %v", got)
	}
	if b, err := s.AddressBlock("beta"); err != nil || b != "10.64.1.0/24" {
		t.Errorf("AddressBlock(beta) = %q, %v", b, err)
	}
	must(t, s.DeleteCustomer("beta"))
	if b, err := s.AddressBlock("beta"); err != nil || b != "" {
		t.Errorf("AddressBlock after delete = %q, %v", b, err)
	}
	must(t, s.HoldBlocks(map[string]string{"delta": "10.64.1.0/24"}))
	if got, _ := s.AddressBlocks(); got["delta"] != "10.64.1.0/24" || got["beta"] != "" {
		t.Errorf("after delete %v", got)
	}
}
