package reconciler

import (
	"errors"
	"time"

	"github.com/agentvdc/agentvdc/state"
)

// Leaser is the lease part of state.Store.
type Leaser interface {
	Acquire(customer, holder string, ttl time.Duration, now time.Time) (state.Lease, error)
	Release(customer, holder string) error
}

// TakeLease acquires the customer's lease for holder. The state file is
// held exclusively by one process, so a lease held by another holder can
// only belong to a process that died (a killed apply or daemon): it is
// released and taken over. It returns the previous holder when it did so.
func TakeLease(st Leaser, customer, holder string, ttl time.Duration, now time.Time) (previous string, err error) {
	_, err = st.Acquire(customer, holder, ttl, now)
	var locked *state.LockedError
	if !errors.As(err, &locked) || locked.Holder == holder {
		return "", err
	}
	if err := st.Release(customer, locked.Holder); err != nil && !errors.Is(err, state.ErrLeaseLost) {
		return "", err
	}
	_, err = st.Acquire(customer, holder, ttl, now)
	return locked.Holder, err
}

// PendingJournal is the part of state.Store that settles interrupted calls.
type PendingJournal interface {
	Pending() ([]state.JournalEntry, error)
	Finish(seq uint64, o state.Outcome) error
}

// SettleJournal closes the intents an interrupted apply (a killed CLI or
// daemon) left without an outcome and returns them. Nothing is replayed:
// the refresh that follows reads what really happened, and Create adopts
// what a lost response created, so a rerun never duplicates.
func SettleJournal(j PendingJournal) ([]state.JournalEntry, error) {
	pending, err := j.Pending()
	if err != nil {
		return nil, err
	}
	for _, p := range pending {
		if err := j.Finish(p.Seq, state.Outcome{Err: "interrupted: outcome unknown, settled by the next refresh"}); err != nil && !errors.Is(err, state.ErrAlreadyFinished) {
			return nil, err
		}
	}
	return pending, nil
}
