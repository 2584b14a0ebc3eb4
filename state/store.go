package state

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the on-disk format this binary reads and writes. Older
// files are upgraded by Open; newer ones are refused (see doc.go).
const FormatVersion = 2

// DefaultLockTimeout bounds how long Open waits for the file lock held by
// another process before failing with ErrFileInUse.
const DefaultLockTimeout = time.Second

// Bucket names (the layout is described in doc.go).
const (
	bucketMeta            = "meta"
	bucketObserved        = "observed"
	bucketStatus          = "status"
	bucketJournal         = "journal"
	bucketJournalPending  = "journal_pending"
	bucketHistory         = "history"
	bucketHistoryCustomer = "history_by_customer"
	bucketLeases          = "leases"
	bucketSecrets         = "secrets"
	bucketCursors         = "cursors"

	keyFormatVersion = "format_version"
	keyCreatedAt     = "created_at"
)

// Options tune Open. The zero value is usable.
type Options struct {
	// LockTimeout bounds the wait for a file held by another process.
	// Zero or negative means DefaultLockTimeout.
	LockTimeout time.Duration
	// KeyFile is the secrets key (32 random bytes, hex). Default: the
	// state file's path with ".key" appended. Created 0600 on first use.
	KeyFile string
	// ReadOnly opens the file with a shared lock; writes fail and an old
	// format is refused with ErrNeedsUpgrade instead of being upgraded.
	ReadOnly bool
	// Now is the clock for times the caller does not pass (journal start
	// and finish, status update time). Default time.Now.
	Now func() time.Time
	// Verify runs Check's consistency check at Open and refuses a file
	// that fails it (the daemon verifies at start; a damaged page found
	// later would otherwise fault mid-run).
	Verify bool
	// Logger receives migrations and permission fixes. Default: discard.
	// Secret values are never logged.
	Logger *slog.Logger
}

// Store is the daemon's state file. It is safe for concurrent use by many
// goroutines; one process holds the file at a time.
type Store struct {
	db      *bolt.DB
	path    string
	keyFile string
	now     func() time.Time
	log     *slog.Logger

	keyMu sync.Mutex
	aead  cipher.AEAD // secrets cipher, loaded on first use
}

// Open opens (creating if needed) the state file at path, upgrades an older
// format in place (one transaction per step, after writing a backup copy
// PATH.vN.bak) and refuses a newer one. It fails within
// Options.LockTimeout with ErrFileInUse if another process holds the file.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, invalid("state file path is empty")
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	s := &Store{path: path, keyFile: opts.KeyFile, now: opts.Now, log: opts.Logger}
	if s.keyFile == "" {
		s.keyFile = path + ".key"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if _, err := preflight(path, s.keyFile); err != nil {
		return nil, err
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open state file %s: %w", path, err)
		}
	}
	var db *bolt.DB
	err := guard(path, func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:      timeout,
			ReadOnly:     opts.ReadOnly,
			FreelistType: bolt.FreelistMapType,
		})
		return err
	})
	var ce *CorruptError
	if errors.As(err, &ce) {
		return nil, err
	}
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open state file %s: %w (lock not obtained within %s; if a vdc daemon runs, use its API)", path, ErrFileInUse, timeout)
		}
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
			return nil, &CorruptError{Path: path, Problem: fmt.Sprintf("is not readable as a state file (%v)", err)}
		}
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	s.db = db
	if !opts.ReadOnly {
		if err := s.tightenMode(); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	if err := guard(path, func() error { return s.upgrade(opts.ReadOnly) }); err != nil {
		_ = db.Close()
		return nil, err
	}
	if opts.Verify {
		if problems := s.Check(); len(problems) > 0 {
			_ = db.Close()
			for _, p := range problems {
				if errors.Is(p, ErrSecretsKey) {
					// The file is fine; its key is not (mode, missing, wrong):
					// that error says what to do.
					return nil, fmt.Errorf("open state file %s: %w", path, p)
				}
			}
			return nil, &CorruptError{Path: path, Problem: "fails its consistency check: " + errors.Join(problems...).Error()}
		}
	}
	return s, nil
}

// Close releases the file. Later calls on the Store fail.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state file %s: %w", s.path, err)
	}
	return nil
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// Version returns the file's format version (FormatVersion once open).
func (s *Store) Version() (int, error) {
	var v int
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx)
		return err
	})
	return v, err
}

func (s *Store) tightenMode() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("stat state file %s: %w", s.path, err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(s.path, 0o600); err != nil {
		return fmt.Errorf("restrict state file %s to mode 0600: %w", s.path, err)
	}
	s.log.Warn("state file was readable by others; mode set to 0600", "path", s.path, "old_mode", fi.Mode().Perm().String())
	return nil
}

// readVersion returns 0 for a file without a meta bucket (new, or written
// before versioning).
func readVersion(tx *bolt.Tx) (int, error) {
	b := tx.Bucket([]byte(bucketMeta))
	if b == nil {
		return 0, nil
	}
	raw := b.Get([]byte(keyFormatVersion))
	if raw == nil {
		return 0, fmt.Errorf("state file: meta bucket has no %s", keyFormatVersion)
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil || v < 0 {
		return 0, fmt.Errorf("state file: malformed %s %q", keyFormatVersion, strings.ToValidUTF8(string(raw), "?"))
	}
	return v, nil
}

func writeVersion(tx *bolt.Tx, v int) error {
	b, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
	if err != nil {
		return err
	}
	return b.Put([]byte(keyFormatVersion), []byte(strconv.Itoa(v)))
}

func (s *Store) upgrade(readOnly bool) error {
	v, err := s.Version()
	if err != nil {
		return fmt.Errorf("open state file %s: %w", s.path, err)
	}
	switch {
	case v > FormatVersion:
		return &FormatError{Path: s.path, Version: v, Binary: FormatVersion}
	case v == FormatVersion:
		return nil
	case readOnly:
		return &FormatError{Path: s.path, Version: v, Binary: FormatVersion}
	}
	if v > 0 {
		backup := fmt.Sprintf("%s.v%d.bak", s.path, v)
		if err := s.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(backup, 0o600) }); err != nil {
			return fmt.Errorf("back up state file %s before upgrade: %w", s.path, err)
		}
		s.log.Info("state file backed up before upgrade", "path", s.path, "backup", backup, "from", v)
	}
	for _, m := range migrations() {
		if m.from < v {
			continue
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			if err := m.up(tx, s); err != nil {
				return err
			}
			return writeVersion(tx, m.from+1)
		})
		if err != nil {
			return fmt.Errorf("upgrade state file %s from format %d to %d (%s): %w", s.path, m.from, m.from+1, m.name, err)
		}
		s.log.Info("state file upgraded", "path", s.path, "from", m.from, "to", m.from+1, "step", m.name)
	}
	return nil
}

// validName checks a customer, holder or namespace name used as a key.
func validName(what, s string) error {
	switch {
	case s == "":
		return invalid("%s is empty", what)
	case len(s) > 253:
		return invalid("%s is longer than 253 bytes", what)
	case strings.ContainsRune(s, 0):
		return invalid("%s contains a NUL byte", what)
	}
	return nil
}
