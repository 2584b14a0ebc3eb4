package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the state file to w: one read
// transaction, so writers go on meanwhile. It returns the bytes written.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := guard(s.path, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			var err error
			n, err = tx.WriteTo(w)
			return err
		})
	})
	if err != nil {
		return n, fmt.Errorf("back up state file %s: %w", s.path, err)
	}
	return n, nil
}

// BackupFile writes a consistent copy to path, mode 0600, atomically: a
// temporary file beside it, synced, then renamed.
func (s *Store) BackupFile(path string) error {
	return WriteAtomic(path, func(w io.Writer) error {
		_, err := s.Backup(w)
		return err
	})
}

// WriteAtomic writes path, mode 0600, through a synced temporary file
// beside it that is renamed into place: readers see the old file or the
// whole new one.
func WriteAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // gone after the rename; cleans up a failure
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// RestoreResult says what Restore did.
type RestoreResult struct {
	// Previous is where the replaced state file was kept ("" when there
	// was none).
	Previous string
	Bytes    int64
}

// Restore replaces the state file at dst with the backup at src. The
// backup must pass Check, including decrypting its secrets with dst's key
// file (opts.KeyFile, default dst+".key"): a copy that does not belong to
// this key is refused. No process may hold dst (stop the daemon first).
// The replaced file is kept as dst.before-restore-TIME.
func Restore(src, dst string, opts Options) (RestoreResult, error) {
	var res RestoreResult
	if opts.KeyFile == "" {
		opts.KeyFile = dst + ".key"
	}
	vo := opts
	vo.ReadOnly = true
	b, err := Open(src, vo)
	if err != nil {
		return res, fmt.Errorf("restore from %s: %w", src, err)
	}
	problems := b.Check()
	if len(problems) > 0 {
		b.Close()
		return res, fmt.Errorf("restore from %s: the backup fails its check: %w", src, errors.Join(problems...))
	}
	defer b.Close()
	unlock, err := lockExclusive(dst)
	if err != nil {
		return res, err
	}
	defer unlock()
	if _, err := os.Stat(dst); err == nil {
		res.Previous = dst + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
	}
	err = WriteAtomic(dst+".restoring", func(w io.Writer) error {
		n, err := b.Backup(w)
		res.Bytes = n
		return err
	})
	if err != nil {
		return res, fmt.Errorf("restore from %s: %w", src, err)
	}
	if res.Previous != "" {
		if err := os.Rename(dst, res.Previous); err != nil {
			os.Remove(dst + ".restoring")
			return res, fmt.Errorf("restore: keep the current state file: %w", err)
		}
	}
	if err := os.Rename(dst+".restoring", dst); err != nil {
		return res, fmt.Errorf("restore: put the backup in place: %w", err)
	}
	return res, syncDir(filepath.Dir(dst))
}

// lockExclusive takes bbolt's file lock on path (if it exists) without
// waiting, to prove that no daemon has it open.
func lockExclusive(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("restore: state file %s: %w (stop the daemon first)", path, ErrFileInUse)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// BackupName is the file name of a periodic backup taken at t.
func BackupName(t time.Time) string {
	return "state-" + t.UTC().Format("20060102T150405Z") + ".db"
}

// RunBackups writes a backup into dir every interval until ctx ends,
// keeping the newest keep of them. Failures are logged and retried at the
// next tick; they never stop the daemon.
func RunBackups(ctx context.Context, s *Store, dir string, every time.Duration, keep int, log *slog.Logger) {
	if every <= 0 {
		return
	}
	if keep <= 0 {
		keep = 1
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p := filepath.Join(dir, BackupName(now))
			if err := s.BackupFile(p); err != nil {
				log.Warn("state backup failed", "path", p, "err", err)
				continue
			}
			removed, err := pruneBackups(dir, keep)
			if err != nil {
				log.Warn("prune state backups", "dir", dir, "err", err)
			}
			log.Info("state backed up", "path", p, "pruned", removed)
		}
	}
}

// pruneBackups removes all but the newest keep backups in dir.
func pruneBackups(dir string, keep int) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, "state-") && strings.HasSuffix(n, ".db") && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	sort.Strings(names) // the time stamp sorts
	removed := 0
	for len(names) > keep {
		if err := os.Remove(filepath.Join(dir, names[0])); err != nil {
			return removed, err
		}
		names = names[1:]
		removed++
	}
	return removed, nil
}
