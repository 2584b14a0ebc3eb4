package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentvdc/agentvdc/plan"
)

// Intent is a mutating cloud call about to be made.
type Intent struct {
	Customer string `json:"customer"`
	// ApplyID groups the intents of one apply.
	ApplyID string `json:"apply_id"`
	// Action is the call: create, update, delete (replace is a delete and
	// a create, journaled separately).
	Action  string       `json:"action"`
	Address plan.Address `json:"address"`
	// ID is the cloud id the call acts on (update, delete); empty for a
	// create, whose id is only known from the Outcome.
	ID string `json:"id,omitempty"`
	// Attrs are the non-sensitive attributes sent. Never put
	// plan.Resource.Sensitive values here: the journal is not encrypted.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Outcome is what the call did.
type Outcome struct {
	OK bool `json:"ok"`
	// ID is the cloud id of the resource created or changed.
	ID string `json:"id,omitempty"`
	// Err is the call's error message (already free of secrets).
	Err string `json:"err,omitempty"`
}

// JournalEntry is an intent and, once finished, its outcome.
type JournalEntry struct {
	Seq      uint64    `json:"seq"`
	Intent   Intent    `json:"intent"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Outcome  *Outcome  `json:"outcome,omitempty"`
}

// Done reports whether the entry has an outcome.
func (e JournalEntry) Done() bool { return e.Outcome != nil }

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Begin records an intent durably (the transaction is fsynced on commit)
// and returns its sequence number. Call it BEFORE the mutating call, and
// Finish after; an intent without outcome after a restart (Pending) is a
// call that may or may not have happened. Begin fails without writing if
// ctx is already done.
func (s *Store) Begin(ctx context.Context, in Intent) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("journal %s %s: %w", in.Action, in.Address, err)
	}
	if err := validName("intent customer", in.Customer); err != nil {
		return 0, err
	}
	if in.Action == "" || in.Address.Kind == "" || in.Address.Name == "" {
		return 0, invalid("intent needs an action and an address (got action %q, address %q)", in.Action, in.Address)
	}
	e := JournalEntry{Intent: in, Started: s.now()}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketJournal))
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		e.Seq = seq
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := b.Put(seqKey(seq), raw); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketJournalPending)).Put(seqKey(seq), nil)
	})
	if err != nil {
		return 0, fmt.Errorf("journal %s %s: %w", in.Action, in.Address, err)
	}
	return e.Seq, nil
}

func getEntry(tx *bolt.Tx, seq uint64) (JournalEntry, error) {
	raw := tx.Bucket([]byte(bucketJournal)).Get(seqKey(seq))
	if raw == nil {
		return JournalEntry{}, fmt.Errorf("journal entry %d: %w", seq, ErrNotFound)
	}
	var e JournalEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return JournalEntry{}, fmt.Errorf("journal entry %d: %w", seq, err)
	}
	return e, nil
}

// Finish records the outcome of entry seq (fsynced). It takes no context:
// the outcome of a call that happened must be recorded even when the
// caller is being cancelled. A second Finish fails with ErrAlreadyFinished.
func (s *Store) Finish(seq uint64, o Outcome) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		e, err := getEntry(tx, seq)
		if err != nil {
			return err
		}
		if e.Outcome != nil {
			return fmt.Errorf("journal entry %d: %w", seq, ErrAlreadyFinished)
		}
		e.Outcome, e.Finished = &o, s.now()
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucketJournal)).Put(seqKey(seq), raw); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketJournalPending)).Delete(seqKey(seq))
	})
}

// Entry returns journal entry seq, or ErrNotFound.
func (s *Store) Entry(seq uint64) (JournalEntry, error) {
	var e JournalEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = getEntry(tx, seq)
		return err
	})
	return e, err
}

// Pending returns the intents without an outcome, oldest first: after a
// crash, the calls a restart must resume or roll forward (look the
// resource up by its deterministic name and labels before retrying).
func (s *Store) Pending() ([]JournalEntry, error) {
	var out []JournalEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketJournalPending)).ForEach(func(k, _ []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("journal: malformed pending key %x", k)
			}
			e, err := getEntry(tx, binary.BigEndian.Uint64(k))
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read pending journal entries: %w", err)
	}
	return out, nil
}

// CompactJournal deletes finished entries that finished before cutoff and
// returns how many it deleted. Pending entries are always kept.
func (s *Store) CompactJournal(cutoff time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketJournal))
		var drop [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var e JournalEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("journal entry %x: %w", k, err)
			}
			if e.Outcome != nil && e.Finished.Before(cutoff) {
				drop = append(drop, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(drop)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("compact journal: %w", err)
	}
	return n, nil
}
