package plan

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// Per-customer address plan.
//
// Every customer gets one /24 (its "block") out of a pool that is
// configured once for the fleet (DefaultAddressPool). The allocation is
// made and persisted by the state package (never by plan, which stays
// pure): a block is stable across restarts and re-plans and is never
// reused while the customer exists. Within the block B.0/24:
//
//	B.0/25    WireGuard mesh (hub: the storage node)
//	  B.1       storage node (Exoscale; the only peer with a public endpoint)
//	  B.2       control plane (the daemon's userspace WireGuard peer)
//	  B.3       data VM (its services listen only here and on loopback)
//	  B.(10+N)  Hetzner server N (N = 1..ServerSlots)
//	B.128/25  VDC network (the OpenNebula vnet the VMs' NICs lease from)
//	  B.129     gateway address on the hosts' customer bridge
//	  B.130     data VM (fixed lease)
//	  B.131..   workers (address range of VNetARSize leases from B.130)
//
// The storage node forwards between its peers, so the control plane (one
// peer, one public endpoint) reaches the data VM, which has no public
// address, through it. The VDC network spans the customer's hosts as a
// VXLAN (VNI from the block's index in the pool) over the Hetzner private
// network, bridged on each host.
const (
	DefaultAddressPool = "10.64.0.0/10"
	// BlockBits is the prefix length of one customer's block.
	BlockBits = 24
	// VNetARSize is the number of leases in the VDC network's address range.
	VNetARSize = 120
)

// Addresses is one customer's block and the addresses derived from it.
type Addresses struct {
	// Block is the customer's /24.
	Block netip.Prefix
	// Index is the block's position in the pool (0-based); it is the
	// VXLAN network identifier minus one.
	Index int
}

// ParseBlock reads a stored block ("10.64.3.0/24") of a pool.
func ParseBlock(pool netip.Prefix, block string) (Addresses, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(block))
	if err != nil {
		return Addresses{}, fmt.Errorf("address block %q: %w", block, err)
	}
	if p.Bits() != BlockBits || p.Masked() != p || !p.Addr().Is4() {
		return Addresses{}, fmt.Errorf("address block %q: want an IPv4 /%d network address", block, BlockBits)
	}
	if !pool.Contains(p.Addr()) || pool.Bits() > BlockBits {
		return Addresses{}, fmt.Errorf("address block %s is outside the pool %s", p, pool)
	}
	return Addresses{Block: p, Index: BlockIndex(pool, p)}, nil
}

// PoolBlocks is the number of customer blocks in a pool.
func PoolBlocks(pool netip.Prefix) int {
	if pool.Bits() > BlockBits {
		return 0
	}
	return 1 << (BlockBits - pool.Bits())
}

// BlockAt is the i-th block of a pool (0-based).
func BlockAt(pool netip.Prefix, i int) netip.Prefix {
	b := pool.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i) << (32 - BlockBits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), BlockBits)
}

// BlockIndex is the position of block in pool.
func BlockIndex(pool, block netip.Prefix) int {
	p, b := pool.Masked().Addr().As4(), block.Addr().As4()
	pv := uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])
	bv := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return int((bv - pv) >> (32 - BlockBits))
}

func (a Addresses) host(n int) netip.Addr {
	b := a.Block.Addr().As4()
	b[3] = byte(n)
	return netip.AddrFrom4(b)
}

// IsZero reports whether no block is set.
func (a Addresses) IsZero() bool { return !a.Block.IsValid() }

// MeshSubnet is the WireGuard mesh, B.0/25.
func (a Addresses) MeshSubnet() netip.Prefix { return netip.PrefixFrom(a.host(0), 25) }

// StorageWG is the storage node's mesh address.
func (a Addresses) StorageWG() netip.Addr { return a.host(1) }

// ControlPlaneWG is the control plane's mesh address.
func (a Addresses) ControlPlaneWG() netip.Addr { return a.host(2) }

// DataVMWG is the data VM's mesh address, where its services listen.
func (a Addresses) DataVMWG() netip.Addr { return a.host(3) }

// ServerWG is server n's mesh address (n = 1..ServerSlots).
func (a Addresses) ServerWG(n int) netip.Addr { return a.host(10 + n) }

// VDCNetwork is the customer's VM network, B.128/25.
func (a Addresses) VDCNetwork() netip.Prefix { return netip.PrefixFrom(a.host(128), 25) }

// VDCGateway is the hosts' address on the customer bridge.
func (a Addresses) VDCGateway() netip.Addr { return a.host(129) }

// DataVMIP is the data VM's fixed lease in the VDC network.
func (a Addresses) DataVMIP() netip.Addr { return a.host(130) }

// VNetARStart is the first lease of the vnet's address range.
func (a Addresses) VNetARStart() netip.Addr { return a.host(130) }

// VXLANID is the customer's VXLAN network identifier.
func (a Addresses) VXLANID() int { return a.Index + 1 }

// BridgeName is the customer's bridge on its hosts (at most 15 bytes,
// unique per block).
func (a Addresses) BridgeName() string { return fmt.Sprintf("vdc%d", a.VXLANID()) }

// ErrPoolFull is returned when a customer needs a block and none is free.
var ErrPoolFull = errors.New("address pool is full")

// AssignBlocks gives every customer in want a block: its existing one
// (from held, customer → block) or the lowest free block of pool. It is
// pure; the state package persists the result. held must be blocks of this
// pool; a held block outside it is an error (the pool was changed under
// live customers, which would renumber them). When the pool runs out, the
// customers that got a block are returned with an ErrPoolFull error
// naming the others.
func AssignBlocks(pool netip.Prefix, held map[string]string, want []string) (map[string]Addresses, error) {
	if !pool.IsValid() || !pool.Addr().Is4() || pool.Masked() != pool || pool.Bits() > BlockBits {
		return nil, fmt.Errorf("address pool %s: want an IPv4 network of /%d or larger", pool, BlockBits)
	}
	out := make(map[string]Addresses, len(want))
	used := make(map[int]string, len(held))
	for name, b := range held {
		a, err := ParseBlock(pool, b)
		if err != nil {
			return nil, fmt.Errorf("customer %s: %w", name, err)
		}
		if other, dup := used[a.Index]; dup {
			return nil, fmt.Errorf("customers %s and %s hold the same address block %s", min(name, other), max(name, other), a.Block)
		}
		used[a.Index] = name
		out[name] = a
	}
	names := append([]string(nil), want...)
	sort.Strings(names)
	next, total := 0, PoolBlocks(pool)
	var without []string
	for _, name := range names {
		if _, ok := out[name]; ok {
			continue
		}
		for next < total && used[next] != "" {
			next++
		}
		if next >= total {
			without = append(without, name)
			continue
		}
		used[next] = name
		out[name] = Addresses{Block: BlockAt(pool, next), Index: next}
	}
	var err error
	if len(without) > 0 {
		err = fmt.Errorf("%w: %s has %d blocks of /%d, all held; no block for %s (widen address_pool in vdc.yaml; a block is freed only after its customer's resources are deleted)",
			ErrPoolFull, pool, total, BlockBits, strings.Join(without, ", "))
	}
	for name := range out {
		if !slices.Contains(want, name) {
			delete(out, name)
		}
	}
	return out, err
}
