package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
)

// populated writes a state file with secrets, observed resources, history
// and a journal entry, closes it and returns its path.
func populated(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSecrets("acme", map[string]string{"wg_private_key": "k1"}); err != nil {
		t.Fatal(err)
	}
	var rs []plan.Resource
	for i := 0; i < 300; i++ {
		rs = append(rs, plan.Resource{Kind: plan.HetznerServer, Name: fmt.Sprintf("acme-%03d", i), Customer: "acme", ID: fmt.Sprint(i + 1),
			Attrs: map[string]string{"type": "cx22", "note": strings.Repeat("n", 200)}})
	}
	if err := s.PutObserved(plan.HetznerServer, rs, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendHistory(ApplyRecord{ID: "a1", Customers: []string{"acme"}, Result: ResultSucceeded}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(context.Background(), Intent{Customer: "acme", Action: "create", Address: plan.Address{Kind: plan.HetznerServer, Name: "acme-001"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantCorrupt(t *testing.T, err error, contains string) {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want a *CorruptError", err)
	}
	if !strings.Contains(err.Error(), contains) || !strings.Contains(err.Error(), "vdc state restore") {
		t.Fatalf("error %q lacks %q or the restore hint", err, contains)
	}
}

// TestCorruptStateFileRefused (issue 11, item 4): an empty, truncated,
// damaged or lost state file is refused with what is wrong and how to
// restore; nothing is re-initialised, no key is regenerated, no panic.
func TestCorruptStateFileRefused(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string)
		opts    Options
		problem string
	}{
		{"zero bytes", func(t *testing.T, p string) { os.Truncate(p, 0) }, Options{}, "is empty (0 bytes)"},
		{"half truncated", func(t *testing.T, p string) {
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()/2)
		}, Options{}, "is truncated"},
		{"both headers damaged", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			for i := 0; i < 2*4096 && i < len(b); i++ {
				b[i] ^= 0x5a
			}
			os.WriteFile(p, b, 0o600)
		}, Options{}, "no valid bbolt header"},
		{"not a state file", func(t *testing.T, p string) { os.WriteFile(p, bytes.Repeat([]byte("junk"), 5000), 0o600) }, Options{}, "no valid bbolt header"},
		{"lost file, key left", func(t *testing.T, p string) { os.Remove(p) }, Options{}, "the state file was lost"},
		{"damaged page, verified", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			// Overwrite every page after the two meta pages and the
			// first data pages with junk that keeps the size.
			for i := 6 * 4096; i < len(b); i++ {
				b[i] = 0xff
			}
			os.WriteFile(p, b, 0o600)
		}, Options{Verify: true}, "is damaged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := populated(t)
			key, err := os.ReadFile(path + ".key")
			if err != nil {
				t.Fatal(err)
			}
			tc.damage(t, path)
			before, _ := os.ReadFile(path)
			_, err = Open(path, tc.opts)
			wantCorrupt(t, err, tc.problem)
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Errorf("the damaged file was changed by Open")
			}
			if k, _ := os.ReadFile(path + ".key"); !bytes.Equal(k, key) {
				t.Errorf("the key file was changed")
			}
		})
	}
}

func TestCheckFindsNothingOnAGoodFile(t *testing.T) {
	path := populated(t)
	s, err := Open(path, Options{ReadOnly: true, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p := s.Check(); p != nil {
		t.Fatalf("problems on a good file: %v", p)
	}
}

func TestCheckFindsBrokenInvariants(t *testing.T) {
	path := populated(t)
	// A wrong key: the stored secrets no longer decrypt.
	if err := os.WriteFile(path+".key", []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := s.Check()
	if len(p) != 1 || !errors.Is(p[0], ErrSecretsKey) {
		t.Fatalf("problems %v, want one secrets-key problem", p)
	}
}

func TestBackupAndRestore(t *testing.T) {
	path := populated(t)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "copy.db")
	if err := s.BackupFile(backup); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(backup); fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	// Restoring while the store is open (the daemon) is refused.
	if _, err := Restore(backup, path, Options{}); !errors.Is(err, ErrFileInUse) {
		t.Fatalf("restore under a running daemon: %v, want ErrFileInUse", err)
	}
	s.Close()
	// The file is destroyed; the backup brings everything back.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	res, err := Restore(backup, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(res.Previous); err != nil || fi.Size() != 0 {
		t.Fatalf("the replaced file was not kept at %q: %v", res.Previous, err)
	}
	s, err = Open(path, Options{Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sec, err := s.Secrets("acme")
	if err != nil || sec["wg_private_key"] != "k1" {
		t.Fatalf("secrets after restore: %v %v", sec, err)
	}
	if h, err := s.History("acme", 10); err != nil || len(h) != 1 {
		t.Fatalf("history after restore: %v %v", h, err)
	}
}

func TestRestoreRefusesACopyOfAnotherKey(t *testing.T) {
	mine, theirs := populated(t), populated(t)
	if _, err := Restore(theirs, mine, Options{}); !errors.Is(err, ErrSecretsKey) {
		t.Fatalf("got %v, want a secrets-key refusal", err)
	}
}

func TestRunBackupsKeepsTheNewest(t *testing.T) {
	s := openTest(t, Options{})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { RunBackups(ctx, s, dir, 1100*time.Millisecond, 2, slog.New(slog.DiscardHandler)); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ents, _ := os.ReadDir(dir)
		n := 0
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "state-") {
				n++
			}
		}
		if n > 2 {
			t.Fatalf("%d backups kept, want at most 2", n)
		}
		if n == 2 && time.Now().After(deadline.Add(-15*time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d backups after 20s", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-done
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "state-") {
			b, err := Open(filepath.Join(dir, e.Name()), Options{ReadOnly: true, Verify: true, KeyFile: s.keyFile})
			if err != nil {
				t.Fatalf("backup %s: %v", e.Name(), err)
			}
			b.Close()
		}
	}
}

func FuzzOpenStateFile(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.db")
	s, err := Open(seed, Options{})
	if err != nil {
		f.Fatal(err)
	}
	_ = s.PutSecrets("acme", map[string]string{"k": "v"})
	s.Close()
	good, _ := os.ReadFile(seed)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "state.db")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(p, Options{ReadOnly: true, Verify: true, KeyFile: seed + ".key"})
		if err != nil {
			return // refused with an error: fine; a panic fails the fuzzer
		}
		s.Check()
		s.Close()
	})
}

// TestRotateKey (issue 15, rotate keys): every customer's secrets are
// re-encrypted under a new key; the old key is kept for older backups; a
// backup from before the rotation restores only with the old key.
func TestRotateKey(t *testing.T) {
	path := populated(t)
	before := filepath.Join(t.TempDir(), "before.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSecrets("bravo", map[string]string{"wg": "k2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.BackupFile(before); err != nil {
		t.Fatal(err)
	}
	oldKey, _ := os.ReadFile(path + ".key")
	res, err := s.RotateKey(time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if res.Customers != 2 || !strings.HasSuffix(res.OldKey, ".old-20261204T030000Z") {
		t.Fatalf("result %+v", res)
	}
	if kept, _ := os.ReadFile(res.OldKey); !bytes.Equal(kept, oldKey) {
		t.Fatal("the old key was not kept")
	}
	if k, _ := os.ReadFile(path + ".key"); bytes.Equal(k, oldKey) {
		t.Fatal("the key did not change")
	}
	if fi, _ := os.Stat(path + ".key"); fi.Mode().Perm() != 0o600 {
		t.Fatalf("new key mode %v", fi.Mode().Perm())
	}
	if sec, err := s.Secrets("acme"); err != nil || sec["wg_private_key"] != "k1" {
		t.Fatalf("secrets after rotation in the same store: %v %v", sec, err)
	}
	s.Close()
	s, err = Open(path, Options{Verify: true})
	if err != nil {
		t.Fatalf("reopen after rotation: %v", err)
	}
	if sec, err := s.Secrets("bravo"); err != nil || sec["wg"] != "k2" {
		t.Fatalf("secrets after reopening: %v %v", sec, err)
	}
	s.Close()
	if _, err := Restore(before, path, Options{}); !errors.Is(err, ErrSecretsKey) {
		t.Fatalf("a pre-rotation backup restored with the new key: %v", err)
	}
	if _, err := Restore(before, filepath.Join(t.TempDir(), "state.db"), Options{KeyFile: res.OldKey}); err != nil {
		t.Fatalf("the pre-rotation backup with the old key: %v", err)
	}
}
