package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Lease is a time-bounded lock on one customer. The holder renews it
// while it works; if the holder dies, the lease expires and another
// holder may take it over. Times are always passed in (injectable clock).
type Lease struct {
	Customer string `json:"customer"`
	Holder   string `json:"holder"`
	// Token is a fencing token: it increases with every new acquisition
	// (not with renewals), so work started under an older token can be
	// recognised as stale.
	Token    uint64    `json:"token"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// Expired reports whether the lease is over at now.
func (l Lease) Expired(now time.Time) bool { return !now.Before(l.Expires) }

func getLease(tx *bolt.Tx, customer string) (Lease, bool, error) {
	raw := tx.Bucket([]byte(bucketLeases)).Get([]byte(customer))
	if raw == nil {
		return Lease{}, false, nil
	}
	var l Lease
	if err := json.Unmarshal(raw, &l); err != nil {
		return Lease{}, false, fmt.Errorf("lease on customer %q: %w", customer, err)
	}
	return l, true, nil
}

func putLease(tx *bolt.Tx, l Lease) error {
	raw, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return tx.Bucket([]byte(bucketLeases)).Put([]byte(l.Customer), raw)
}

func checkLeaseArgs(customer, holder string, ttl time.Duration) error {
	if err := validName("customer name", customer); err != nil {
		return err
	}
	if err := validName("lease holder", holder); err != nil {
		return err
	}
	if ttl <= 0 {
		return invalid("lease ttl %s is not positive", ttl)
	}
	return nil
}

// Acquire takes customer's lease for holder until now+ttl. If another
// holder's lease is unexpired it fails with a *LockedError (errors.Is
// ErrLocked) naming that holder and the expiry. An expired lease is taken
// over. Acquiring a lease one already holds extends it (same token).
func (s *Store) Acquire(customer, holder string, ttl time.Duration, now time.Time) (Lease, error) {
	if err := checkLeaseArgs(customer, holder, ttl); err != nil {
		return Lease{}, err
	}
	var out Lease
	err := s.db.Update(func(tx *bolt.Tx) error {
		cur, ok, err := getLease(tx, customer)
		if err != nil {
			return err
		}
		if ok && !cur.Expired(now) {
			if cur.Holder != holder {
				return &LockedError{Customer: customer, Holder: cur.Holder, Expires: cur.Expires}
			}
			cur.Expires = now.Add(ttl)
			out = cur
			return putLease(tx, cur)
		}
		token, err := tx.Bucket([]byte(bucketLeases)).NextSequence()
		if err != nil {
			return err
		}
		if ok {
			s.log.Info("expired lease taken over", "customer", customer, "holder", holder, "previous_holder", cur.Holder, "expired", cur.Expires)
		}
		out = Lease{Customer: customer, Holder: holder, Token: token, Acquired: now, Expires: now.Add(ttl)}
		return putLease(tx, out)
	})
	if err != nil {
		var le *LockedError
		if errors.As(err, &le) {
			return Lease{}, err
		}
		return Lease{}, fmt.Errorf("acquire lease on customer %q: %w", customer, err)
	}
	return out, nil
}

// Renew extends holder's unexpired lease to now+ttl. It fails with
// ErrLeaseLost if the lease expired (even if nobody took it: the holder
// must treat its work as interrupted and Acquire again) or another holder
// has it.
func (s *Store) Renew(customer, holder string, ttl time.Duration, now time.Time) (Lease, error) {
	if err := checkLeaseArgs(customer, holder, ttl); err != nil {
		return Lease{}, err
	}
	var out Lease
	err := s.db.Update(func(tx *bolt.Tx) error {
		cur, ok, err := getLease(tx, customer)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			return fmt.Errorf("%w: no lease", ErrLeaseLost)
		case cur.Holder != holder:
			return fmt.Errorf("%w: held by %q", ErrLeaseLost, cur.Holder)
		case cur.Expired(now):
			return fmt.Errorf("%w: expired at %s", ErrLeaseLost, cur.Expires.UTC().Format(time.RFC3339))
		}
		cur.Expires = now.Add(ttl)
		out = cur
		return putLease(tx, cur)
	})
	if err != nil {
		return Lease{}, fmt.Errorf("renew lease on customer %q for %q: %w", customer, holder, err)
	}
	return out, nil
}

// Release gives up holder's lease. Releasing a lease that does not exist
// is not an error; releasing one another holder has taken over fails with
// ErrLeaseLost and leaves it alone.
func (s *Store) Release(customer, holder string) error {
	if err := checkLeaseArgs(customer, holder, time.Nanosecond); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		cur, ok, err := getLease(tx, customer)
		if err != nil || !ok {
			return err
		}
		if cur.Holder != holder {
			return fmt.Errorf("%w: held by %q", ErrLeaseLost, cur.Holder)
		}
		return tx.Bucket([]byte(bucketLeases)).Delete([]byte(customer))
	})
	if err != nil {
		return fmt.Errorf("release lease on customer %q for %q: %w", customer, holder, err)
	}
	return nil
}

// CurrentLease returns the stored lease on customer (possibly expired), or
// ErrNotFound.
func (s *Store) CurrentLease(customer string) (Lease, error) {
	var l Lease
	err := s.db.View(func(tx *bolt.Tx) error {
		var ok bool
		var err error
		l, ok, err = getLease(tx, customer)
		if err == nil && !ok {
			err = fmt.Errorf("lease on customer %q: %w", customer, ErrNotFound)
		}
		return err
	})
	return l, err
}
