package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ApplyRecord is one apply in the history.
type ApplyRecord struct {
	ID        string        `json:"id"`
	When      time.Time     `json:"when"`
	Commit    string        `json:"commit"`
	Who       string        `json:"who"`
	Customers []string      `json:"customers"`
	Result    Result        `json:"result"`
	Actions   int           `json:"actions"`
	Errors    []string      `json:"errors,omitempty"`
	Duration  time.Duration `json:"duration"`
}

// Result is an apply's outcome.
type Result string

// The apply outcomes. Records written before these words were fixed say
// "success" or "failure"; History reads them as ResultSucceeded and
// ResultFailed.
const (
	ResultSucceeded Result = "succeeded" // every customer's steps succeeded
	ResultFailed    Result = "failed"    // no customer's steps all succeeded
	ResultPartial   Result = "partial"   // some customers succeeded, some failed
)

// Results lists every Result.
func Results() []Result { return []Result{ResultSucceeded, ResultFailed, ResultPartial} }

// UnmarshalJSON reads the current words and the legacy ones.
func (r *Result) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch s {
	case "success":
		s = string(ResultSucceeded)
	case "failure":
		s = string(ResultFailed)
	}
	*r = Result(s)
	return nil
}

// historyKey sorts by When, then by append order: the signed nanosecond
// time with its sign bit flipped (order-preserving), then a sequence.
func historyKey(when time.Time, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(when.UnixNano())^(1<<63))
	return binary.BigEndian.AppendUint64(k, seq)
}

func historyIndexKey(customer string, key []byte) []byte {
	k := make([]byte, 0, len(customer)+1+len(key))
	return append(append(append(k, customer...), 0), key...)
}

// AppendHistory stores r. A zero When is set from the store's clock.
func (s *Store) AppendHistory(r ApplyRecord) error {
	if r.ID == "" {
		return invalid("apply record has no id")
	}
	for _, c := range r.Customers {
		if err := validName("apply record customer", c); err != nil {
			return err
		}
	}
	if r.When.IsZero() {
		r.When = s.now()
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode apply record %s: %w", r.ID, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketHistory))
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		key := historyKey(r.When, seq)
		if err := b.Put(key, raw); err != nil {
			return err
		}
		idx := tx.Bucket([]byte(bucketHistoryCustomer))
		for _, c := range r.Customers {
			if err := idx.Put(historyIndexKey(c, key), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append apply record %s: %w", r.ID, err)
	}
	return nil
}

// History returns the applies that touched customer, newest first (by
// When); customer "" means every apply. limit <= 0 means no limit.
func (s *Store) History(customer string, limit int) ([]ApplyRecord, error) {
	var out []ApplyRecord
	full := func() bool { return limit > 0 && len(out) >= limit }
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketHistory))
		decode := func(key []byte) error {
			raw := b.Get(key)
			if raw == nil {
				return fmt.Errorf("history index points to missing record %x", key)
			}
			var r ApplyRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("apply record %x: %w", key, err)
			}
			out = append(out, r)
			return nil
		}
		if customer == "" {
			c := b.Cursor()
			for k, _ := c.Last(); k != nil && !full(); k, _ = c.Prev() {
				if err := decode(k); err != nil {
					return err
				}
			}
			return nil
		}
		prefix := historyIndexKey(customer, nil)
		c := tx.Bucket([]byte(bucketHistoryCustomer)).Cursor()
		// Last key with the prefix: seek past it (NAME\x01), step back.
		k, _ := c.Seek(append([]byte(customer), 1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && !full(); k, _ = c.Prev() {
			if err := decode(k[len(prefix):]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read apply history: %w", err)
	}
	return out, nil
}

// PruneHistory deletes apply records older than cutoff and returns how
// many it deleted.
func (s *Store) PruneHistory(cutoff time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketHistory))
		idx := tx.Bucket([]byte(bucketHistoryCustomer))
		limit := historyKey(cutoff, 0)
		type old struct {
			key       []byte
			customers []string
		}
		var drop []old
		c := b.Cursor()
		for k, v := c.First(); k != nil && bytes.Compare(k, limit) < 0; k, v = c.Next() {
			var r ApplyRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("apply record %x: %w", k, err)
			}
			drop = append(drop, old{bytes.Clone(k), r.Customers})
		}
		for _, d := range drop {
			if err := b.Delete(d.key); err != nil {
				return err
			}
			for _, cu := range d.customers {
				if err := idx.Delete(historyIndexKey(cu, d.key)); err != nil {
					return err
				}
			}
		}
		n = len(drop)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune apply history: %w", err)
	}
	return n, nil
}
