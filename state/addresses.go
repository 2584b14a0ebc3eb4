package state

import (
	"errors"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// Customers' address blocks (plan/addressing.go): bucket address_blocks,
// key customer → block ("10.64.3.0/24"). The bucket is created by the first
// HoldBlocks, so files of earlier versions need no migration. A block is
// held from the first apply of its customer until DeleteCustomer, which
// runs only once the customer is gone from git and from the clouds.
const bucketAddressBlocks = "address_blocks"

// ErrBlockTaken is returned when a block to hold belongs to another customer.
var ErrBlockTaken = errors.New("address block is held by another customer")

// AddressBlocks returns every held block (customer → block).
func (s *Store) AddressBlocks() (map[string]string, error) {
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAddressBlocks))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read address blocks: %w", err)
	}
	return out, nil
}

// HoldBlocks records blocks (customer → block) in one transaction. A
// customer that already holds a block keeps it: asking for another is an
// error, as is a block held by someone else (a plan computed before
// another apply took it: re-plan). Nothing is written on error.
func (s *Store) HoldBlocks(blocks map[string]string) error {
	names := make([]string, 0, len(blocks))
	for c := range blocks {
		if err := validName("customer name", c); err != nil {
			return err
		}
		names = append(names, c)
	}
	sort.Strings(names)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketAddressBlocks))
		if err != nil {
			return err
		}
		owner := map[string]string{}
		if err := b.ForEach(func(k, v []byte) error {
			owner[string(v)] = string(k)
			return nil
		}); err != nil {
			return err
		}
		for _, c := range names {
			want := blocks[c]
			if have := b.Get([]byte(c)); have != nil {
				if string(have) != want {
					return fmt.Errorf("customer %s holds address block %s, not %s: re-plan", c, have, want)
				}
				continue
			}
			if o, ok := owner[want]; ok && o != c {
				return fmt.Errorf("%w: %s belongs to %s, not %s: re-plan", ErrBlockTaken, want, o, c)
			}
			if err := b.Put([]byte(c), []byte(want)); err != nil {
				return err
			}
			owner[want] = c
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("hold address blocks: %w", err)
	}
	return nil
}

// AddressBlock returns the block a customer holds ("" when none).
func (s *Store) AddressBlock(customer string) (string, error) {
	var out string
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(bucketAddressBlocks)); b != nil {
			out = string(b.Get([]byte(customer)))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read address block of %q: %w", customer, err)
	}
	return out, nil
}
