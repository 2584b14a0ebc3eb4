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
