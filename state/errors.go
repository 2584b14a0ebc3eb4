package state

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Callers test them with errors.Is; the typed errors
// below match them too.
var (
	// ErrNotFound is returned when a record (status, journal entry,
	// cursor, secrets) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrFileInUse is returned by Open when another process holds the
	// state file (bbolt's exclusive flock) past Options.LockTimeout.
	ErrFileInUse = errors.New("state file is in use by another process")
	// ErrNewerFormat is returned by Open when the file was written by a
	// newer binary (its format version is above FormatVersion).
	ErrNewerFormat = errors.New("state file format is newer than this binary")
	// ErrNeedsUpgrade is returned by a read-only Open of a file whose
	// format is older than FormatVersion (upgrading needs a writer).
	ErrNeedsUpgrade = errors.New("state file format needs an upgrade")
	// ErrLocked is returned by Acquire when another holder has an
	// unexpired lease on the customer. The concrete error is *LockedError.
	ErrLocked = errors.New("customer is locked")
	// ErrLeaseLost is returned by Renew and Release when the caller no
	// longer holds the lease (it expired, or another holder took it).
	ErrLeaseLost = errors.New("lease is not held by this holder")
	// ErrAlreadyFinished is returned by Finish for a journal entry that
	// already has an outcome.
	ErrAlreadyFinished = errors.New("journal entry already finished")
	// ErrInvalid is returned for bad input (empty names, unknown kinds,
	// unknown statuses, non-positive TTLs...).
	ErrInvalid = errors.New("invalid input")
	// ErrSecretsKey is returned when the secrets key file is missing while
	// secrets exist, malformed, readable by others, or does not decrypt
	// the stored secrets.
	ErrSecretsKey = errors.New("secrets key problem")
)

// LockedError says who holds a customer's lease and until when.
type LockedError struct {
	Customer string
	Holder   string
	Expires  time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("customer %q is locked by %q until %s", e.Customer, e.Holder, e.Expires.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// FormatError reports a file whose format version this binary cannot use
// as is: newer than FormatVersion (matches ErrNewerFormat) or, when opened
// read-only, older (matches ErrNeedsUpgrade).
type FormatError struct {
	Path    string
	Version int
	Binary  int
}

func (e *FormatError) Error() string {
	if e.Version > e.Binary {
		return fmt.Sprintf("state file %s has format version %d, newer than this binary supports (%d): use a newer vdc, or restore a backup", e.Path, e.Version, e.Binary)
	}
	return fmt.Sprintf("state file %s has format version %d, older than this binary's %d: open it read-write once to upgrade it", e.Path, e.Version, e.Binary)
}

// Is matches ErrNewerFormat or ErrNeedsUpgrade according to the versions.
func (e *FormatError) Is(target error) bool {
	if e.Version > e.Binary {
		return target == ErrNewerFormat
	}
	return target == ErrNeedsUpgrade
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
