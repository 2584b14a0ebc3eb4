package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// ErrCorrupt is returned by Open and Check for a state file that is
// empty, truncated or damaged, or missing while its secrets key shows it
// existed. The concrete error is *CorruptError.
var ErrCorrupt = errors.New("state file is damaged")

// CorruptError says what is wrong with a state file and how to recover.
type CorruptError struct {
	Path    string
	Problem string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s %s. Nothing was changed. Restore the last good copy with `vdc state restore BACKUP` "+
		"(vdc serve keeps copies in DATA/backups), or move the file and its key away to start from nothing: "+
		"the next apply adopts the clouds' labelled resources, but every generated secret (WireGuard keys, service passwords) "+
		"is regenerated and the customers' VDCs must be rebuilt", e.Path, e.Problem)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// bbolt's meta page: a 16-byte page header, then magic, version, page
// size, flags, the root bucket (root, sequence), freelist, high-water
// page id, txid and an FNV-64a checksum of what precedes it.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltPageHeader = 16
	boltMetaSize   = 64
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

func parseMeta(b []byte) (boltMeta, bool) {
	if len(b) < boltPageHeader+boltMetaSize {
		return boltMeta{}, false
	}
	m := b[boltPageHeader : boltPageHeader+boltMetaSize]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}

// preflight refuses, before bbolt maps it, a state file that bbolt would
// silently re-initialise (empty) or crash on (truncated below its last
// transaction's high-water mark), and a missing file whose secrets key
// exists. It returns whether the file exists.
func preflight(path, keyFile string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, kerr := os.Stat(keyFile); kerr == nil {
			return false, &CorruptError{Path: path, Problem: fmt.Sprintf("does not exist, but its secrets key %s does: the state file was lost", keyFile)}
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open state file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return true, &CorruptError{Path: path, Problem: "is not a regular file"}
	}
	if fi.Size() == 0 {
		return true, &CorruptError{Path: path, Problem: "is empty (0 bytes): it was truncated or overwritten"}
	}
	f, err := os.Open(path)
	if err != nil {
		return true, fmt.Errorf("open state file %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return true, fmt.Errorf("read state file %s: %w", path, err)
	}
	head = head[:n]
	best, ok := parseMeta(head)
	if ok && best.pageSize >= 512 && int(best.pageSize) < len(head) {
		if m, ok2 := parseMeta(head[best.pageSize:]); ok2 && m.txid > best.txid {
			best = m
		}
	} else if !ok {
		// The first meta page is damaged: bbolt falls back to the second.
		for _, ps := range []int{os.Getpagesize(), 4096, 16384, 65536} {
			if ps < len(head) {
				if m, ok2 := parseMeta(head[ps:]); ok2 {
					best, ok = m, true
					break
				}
			}
		}
	}
	if !ok {
		return true, &CorruptError{Path: path, Problem: fmt.Sprintf("has no valid bbolt header (%d bytes; both meta pages damaged, or not a state file)", fi.Size())}
	}
	if need := int64(best.pgid) * int64(best.pageSize); fi.Size() < need {
		return true, &CorruptError{Path: path, Problem: fmt.Sprintf("is truncated: %d bytes, but its last transaction (%d) needs %d", fi.Size(), best.txid, need)}
	}
	return true, nil
}

// guard turns a fault or panic inside bbolt (a damaged page that passed
// preflight) into an error instead of a crash with a stack trace.
func guard(path string, f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if p := recover(); p != nil {
			err = &CorruptError{Path: path, Problem: fmt.Sprintf("is damaged (reading it failed: %v)", p)}
		}
	}()
	return f()
}

// maxCheckErrors bounds the problems Check reports.
const maxCheckErrors = 20

// Check verifies the whole file: bbolt's own consistency check (every
// page reachable once, no page beyond the high-water mark, ordered keys),
// then this package's invariants (format version, every pending journal
// entry and history index entry points at a record, observed records
// decode, stored secrets decrypt with the key). It returns the problems
// found, nil when there are none.
func (s *Store) Check() []error {
	var problems []error
	add := func(err error) bool {
		problems = append(problems, err)
		return len(problems) < maxCheckErrors
	}
	err := guard(s.path, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				if !add(fmt.Errorf("bbolt: %w", err)) {
					break
				}
			}
			return nil
		})
	})
	if err != nil {
		add(err)
	}
	if len(problems) > 0 {
		return problems // the invariants need readable pages
	}
	if err := guard(s.path, func() error { return s.checkInvariants(add) }); err != nil {
		add(err)
	}
	return problems
}

func (s *Store) checkInvariants(add func(error) bool) error {
	if v, err := s.Version(); err != nil {
		add(err)
	} else if v != FormatVersion {
		add(fmt.Errorf("format version %d, want %d", v, FormatVersion))
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		journal := tx.Bucket([]byte(bucketJournal))
		if p := tx.Bucket([]byte(bucketJournalPending)); p != nil {
			_ = p.ForEach(func(k, _ []byte) error {
				if journal == nil || journal.Get(k) == nil {
					add(fmt.Errorf("journal_pending entry %x has no journal record", k))
				}
				return nil
			})
		}
		hist := tx.Bucket([]byte(bucketHistory))
		if idx := tx.Bucket([]byte(bucketHistoryCustomer)); idx != nil {
			_ = idx.ForEach(func(k, v []byte) error {
				target := v
				if len(target) == 0 && len(k) >= 16 {
					target = k[len(k)-16:]
				}
				if hist == nil || hist.Get(target) == nil {
					add(fmt.Errorf("history_by_customer entry %q points at no history record", k))
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, _, err := s.Observed(); err != nil {
		add(fmt.Errorf("observed resources: %w", err))
	}
	var customers []string
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSecrets)).ForEach(func(k, _ []byte) error {
			customers = append(customers, string(k))
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, c := range customers {
		if _, err := s.Secrets(c); err != nil {
			add(err)
		}
	}
	return nil
}
