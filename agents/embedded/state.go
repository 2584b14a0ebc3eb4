package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/agentvdc/agentvdc/agents"
)

// State is the embedded agents.State: ROOT/CUSTOMER/state.db.
type State struct {
	root string
	mu   sync.Mutex
	dbs  map[string]*bolt.DB
}

var _ agents.State = (*State)(nil)

// NewState returns the state store rooted at root (DATA/agents).
func NewState(root string) *State { return &State{root: root, dbs: map[string]*bolt.DB{}} }

// Close closes every open customer file.
func (s *State) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for c, db := range s.dbs {
		errs = append(errs, db.Close())
		delete(s.dbs, c)
	}
	return errors.Join(errs...)
}

func (s *State) db(customer string) (*bolt.DB, error) {
	if err := agents.ValidateCustomer(customer); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if db, ok := s.dbs[customer]; ok {
		return db, nil
	}
	db, err := openBolt(filepath.Join(s.root, customer, "state.db"))
	if err != nil {
		return nil, err
	}
	s.dbs[customer] = db
	return db, nil
}

// Get implements agents.State.
func (s *State) Get(ctx context.Context, customer, bucket, key string) ([]byte, error) {
	db, err := s.db(customer)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(key)); v != nil {
			out = append([]byte{}, v...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state get: %w", err)
	}
	if out == nil {
		return nil, fmt.Errorf("state %s/%s: %w", bucket, key, agents.ErrNotFound)
	}
	return out, nil
}

// Scan implements agents.State.
func (s *State) Scan(ctx context.Context, customer, bucket, from string, fn func(string, []byte) (bool, error)) error {
	db, err := s.db(customer)
	if err != nil {
		return err
	}
	return db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(from)); k != nil; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			more, err := fn(string(k), bytes.Clone(v))
			if err != nil || !more {
				return err
			}
		}
		return nil
	})
}

type stateTx struct{ tx *bolt.Tx }

func (w stateTx) Get(bucket, key string) []byte {
	b := w.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.Get([]byte(key))
}

func (w stateTx) Put(bucket, key string, val []byte) error {
	b, err := w.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return err
	}
	return b.Put([]byte(key), bytes.Clone(val))
}

func (w stateTx) Delete(bucket, key string) error {
	b := w.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.Delete([]byte(key))
}

func (w stateTx) DeleteBucket(bucket string) error {
	err := w.tx.DeleteBucket([]byte(bucket))
	if errors.Is(err, bolt.ErrBucketNotFound) {
		return nil
	}
	return err
}

// Update implements agents.State.
func (s *State) Update(ctx context.Context, customer string, fn func(agents.StateWriter) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db, err := s.db(customer)
	if err != nil {
		return err
	}
	if err := db.Update(func(tx *bolt.Tx) error { return fn(stateTx{tx}) }); err != nil {
		return fmt.Errorf("state update: %w", err)
	}
	return nil
}
