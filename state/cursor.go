package state

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// PutCursor stores an opaque cursor for a customer in namespace ns (for
// example "autoscaler/compute", "agent/ingest"): the position an
// autoscaler or agent resumes from. v is copied.
func (s *Store) PutCursor(ns, customer string, v []byte) error {
	if err := validName("cursor namespace", ns); err != nil {
		return err
	}
	if err := validName("customer name", customer); err != nil {
		return err
	}
	if v == nil {
		v = []byte{} // bbolt stores nil as empty, make it explicit
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket([]byte(bucketCursors)).CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		return b.Put([]byte(customer), v)
	})
	if err != nil {
		return fmt.Errorf("store cursor %s of customer %q: %w", ns, customer, err)
	}
	return nil
}

// Cursor returns a copy of the cursor stored by PutCursor, or ErrNotFound.
func (s *Store) Cursor(ns, customer string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketCursors)).Bucket([]byte(ns))
		if b == nil {
			return ErrNotFound
		}
		v := b.Get([]byte(customer))
		if v == nil {
			return ErrNotFound
		}
		out = append([]byte{}, v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cursor %s of customer %q: %w", ns, customer, err)
	}
	return out, nil
}

// DeleteCustomer forgets a customer that is gone from git and the clouds:
// its status, secrets, lease, cursors and address block, in one
// transaction (the block may then go to a new customer). The apply
// history keeps its records (it is history).
func (s *Store) DeleteCustomer(customer string) error {
	if err := validName("customer name", customer); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		key := []byte(customer)
		for _, name := range []string{bucketStatus, bucketSecrets, bucketLeases} {
			if err := tx.Bucket([]byte(name)).Delete(key); err != nil {
				return err
			}
		}
		if b := tx.Bucket([]byte(bucketAddressBlocks)); b != nil {
			if err := b.Delete(key); err != nil {
				return err
			}
		}
		cursors := tx.Bucket([]byte(bucketCursors))
		return cursors.ForEachBucket(func(ns []byte) error {
			return cursors.Bucket(ns).Delete(key)
		})
	})
	if err != nil {
		return fmt.Errorf("delete customer %q: %w", customer, err)
	}
	return nil
}
