package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Status is a customer's sync status as the daemon reports it.
type Status string

// The statuses (the same words as Argo CD and Flux where they overlap).
const (
	StatusSynced      Status = "Synced"      // live state matches the commit
	StatusOutOfSync   Status = "OutOfSync"   // a plan has changes not applied yet
	StatusProgressing Status = "Progressing" // an apply is running
	StatusDegraded    Status = "Degraded"    // applied, but a resource is unhealthy
	StatusSuspended   Status = "Suspended"   // reconcile paused by on-call
	StatusError       Status = "Error"       // the last reconcile failed
)

// Statuses lists every valid Status.
func Statuses() []Status {
	return []Status{StatusSynced, StatusOutOfSync, StatusProgressing, StatusDegraded, StatusSuspended, StatusError}
}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses(), s) }

// ConditionStatus is the truth value of a Condition.
type ConditionStatus string

// Condition truth values (Kubernetes convention).
const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// Condition is one observation about a customer, e.g. Type "Ready",
// Status "False", Reason "ApplyFailed".
type Condition struct {
	Type    string          `json:"type"`
	Status  ConditionStatus `json:"status"`
	Reason  string          `json:"reason,omitempty"`
	Message string          `json:"message,omitempty"`
	// LastTransition is when Status last changed (not when the condition
	// was last written).
	LastTransition time.Time `json:"last_transition"`
}

// Condition types.
const (
	// ConditionReconciling: True when the customer's clouds match its
	// file; False with the reason why not.
	ConditionReconciling = "Reconciling"
	// ConditionGitValid: False while the customer's file fails validation
	// (the last good version stays in force).
	ConditionGitValid = "GitValid"
)

// Condition reasons.
const (
	ReasonSynced      = "Synced"      // Reconciling True: nothing to change
	ReasonApplied     = "Applied"     // Reconciling True: an apply made it match
	ReasonApplyFailed = "ApplyFailed" // Reconciling False: a step failed
	ReasonRefused     = "Refused"     // Reconciling False: the plan may not be applied
	ReasonSuspended   = "Suspended"   // Reconciling False: suspended in its file or on hold
	ReasonValid       = "Valid"       // GitValid True
	ReasonInvalidFile = "InvalidFile" // GitValid False
)

// CustomerStatus is what the daemon knows about one customer.
type CustomerStatus struct {
	Name              string      `json:"name"`
	Status            Status      `json:"status"`
	LastAppliedCommit string      `json:"last_applied_commit,omitempty"`
	LastAppliedAt     time.Time   `json:"last_applied_at,omitzero"`
	LastPlanSummary   string      `json:"last_plan_summary,omitempty"`
	LastError         string      `json:"last_error,omitempty"`
	Conditions        []Condition `json:"conditions,omitempty"`
	// Drift counts resources that differ from the desired state.
	Drift     int       `json:"drift"`
	UpdatedAt time.Time `json:"updated_at"`
	// Provisioning is how far the customer's VDC has come up.
	Provisioning *Provisioning `json:"provisioning,omitempty"`
}

// SetCondition sets the condition of c.Type: LastTransition moves to now
// only when the condition is new or its Status changes; Reason and Message
// are always updated. It reports whether Status changed (or was added).
func (cs *CustomerStatus) SetCondition(c Condition, now time.Time) bool {
	for i := range cs.Conditions {
		old := &cs.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		changed := old.Status != c.Status
		if changed {
			old.LastTransition = now
		}
		old.Status, old.Reason, old.Message = c.Status, c.Reason, c.Message
		return changed
	}
	c.LastTransition = now
	cs.Conditions = append(cs.Conditions, c)
	return true
}

// Condition returns the condition of type t.
func (cs *CustomerStatus) Condition(t string) (Condition, bool) {
	for _, c := range cs.Conditions {
		if c.Type == t {
			return c, true
		}
	}
	return Condition{}, false
}

func (cs *CustomerStatus) validate() error {
	if err := validName("customer name", cs.Name); err != nil {
		return err
	}
	if !cs.Status.Valid() {
		return invalid("customer %q: unknown status %q", cs.Name, cs.Status)
	}
	seen := map[string]bool{}
	for _, c := range cs.Conditions {
		if c.Type == "" {
			return invalid("customer %q: condition with an empty type", cs.Name)
		}
		if seen[c.Type] {
			return invalid("customer %q: condition %q appears twice", cs.Name, c.Type)
		}
		seen[c.Type] = true
		switch c.Status {
		case ConditionTrue, ConditionFalse, ConditionUnknown:
		default:
			return invalid("customer %q: condition %q has status %q (want True, False or Unknown)", cs.Name, c.Type, c.Status)
		}
	}
	return nil
}

func getStatus(tx *bolt.Tx, name string) (CustomerStatus, error) {
	raw := tx.Bucket([]byte(bucketStatus)).Get([]byte(name))
	if raw == nil {
		return CustomerStatus{}, fmt.Errorf("status of customer %q: %w", name, ErrNotFound)
	}
	var cs CustomerStatus
	if err := json.Unmarshal(raw, &cs); err != nil {
		return CustomerStatus{}, fmt.Errorf("status of customer %q: %w", name, err)
	}
	return cs, nil
}

func (s *Store) putStatus(tx *bolt.Tx, cs *CustomerStatus) error {
	if cs.UpdatedAt.IsZero() {
		cs.UpdatedAt = s.now()
	}
	if err := cs.validate(); err != nil {
		return err
	}
	raw, err := json.Marshal(cs)
	if err != nil {
		return fmt.Errorf("encode status of customer %q: %w", cs.Name, err)
	}
	return tx.Bucket([]byte(bucketStatus)).Put([]byte(cs.Name), raw)
}

// GetStatus returns a customer's status, or ErrNotFound.
func (s *Store) GetStatus(name string) (CustomerStatus, error) {
	var cs CustomerStatus
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		cs, err = getStatus(tx, name)
		return err
	})
	return cs, err
}

// PutStatus stores cs (replacing the previous status). A zero UpdatedAt is
// set from the store's clock.
func (s *Store) PutStatus(cs CustomerStatus) error {
	return s.db.Update(func(tx *bolt.Tx) error { return s.putStatus(tx, &cs) })
}

// UpdateStatus reads, changes and writes a customer's status in one
// transaction, so concurrent updates are not lost. fn gets the stored
// status, or a new one with Name set if there is none; an error from fn
// aborts without writing. UpdatedAt is set from the store's clock.
func (s *Store) UpdateStatus(name string, fn func(*CustomerStatus) error) (CustomerStatus, error) {
	if err := validName("customer name", name); err != nil {
		return CustomerStatus{}, err
	}
	var cs CustomerStatus
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		cs, err = s.updateStatus(tx, name, fn)
		return err
	})
	if err != nil {
		return CustomerStatus{}, err
	}
	return cs, nil
}

// UpdateStatuses applies fn to the status of each customer in names in
// one transaction (as UpdateStatus does for one): a fleet-wide apply
// records every customer's outcome with one write. An error from fn
// aborts the whole update.
func (s *Store) UpdateStatuses(names []string, fn func(*CustomerStatus) error) error {
	for _, name := range names {
		if err := validName("customer name", name); err != nil {
			return err
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range names {
			if _, err := s.updateStatus(tx, name, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) updateStatus(tx *bolt.Tx, name string, fn func(*CustomerStatus) error) (CustomerStatus, error) {
	cs, err := getStatus(tx, name)
	if errors.Is(err, ErrNotFound) {
		cs, err = CustomerStatus{Name: name}, nil
	}
	if err != nil {
		return CustomerStatus{}, err
	}
	if err := fn(&cs); err != nil {
		return CustomerStatus{}, err
	}
	if cs.Name != name {
		return CustomerStatus{}, invalid("status update of customer %q renamed it to %q", name, cs.Name)
	}
	cs.UpdatedAt = s.now()
	return cs, s.putStatus(tx, &cs)
}

// ListStatus returns every customer's status ordered by name.
func (s *Store) ListStatus() ([]CustomerStatus, error) {
	var out []CustomerStatus
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketStatus)).ForEach(func(k, v []byte) error {
			var cs CustomerStatus
			if err := json.Unmarshal(v, &cs); err != nil {
				return fmt.Errorf("status of customer %q: %w", k, err)
			}
			out = append(out, cs)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list statuses: %w", err)
	}
	return out, nil
}

// DeleteStatus removes a customer's status; deleting a missing one is not
// an error.
func (s *Store) DeleteStatus(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketStatus)).Delete([]byte(name))
	})
}
