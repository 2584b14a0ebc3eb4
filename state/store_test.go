package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"

	"github.com/agentvdc/agentvdc/plan"
)

func TestOpenCreatesPrivateFileAtCurrentVersion(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "state.db") // parent created
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
	v, err := s.Version()
	if err != nil || v != FormatVersion {
		t.Fatalf("Version() = %d, %v; want %d", v, err, FormatVersion)
	}
	if _, err := os.Stat(path + ".key"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("key file exists before any secret was stored: %v", err)
	}
	if matches, _ := filepath.Glob(path + ".v*.bak"); len(matches) != 0 {
		t.Errorf("a new file was backed up: %v", matches)
	}
}

func TestOpenTightensMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, _ := os.Stat(path)
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode after reopen = %v, want 0600", got)
	}
}

func TestOpenBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a bolt file "), 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	badVersion := filepath.Join(dir, "badversion.db")
	writeRaw(t, badVersion, func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte(bucketMeta))
		return b.Put([]byte(keyFormatVersion), []byte("two"))
	})
	for _, tc := range []struct {
		name, path, want string
	}{
		{"empty path", "", "path is empty"},
		{"not a bolt file", garbage, "garbage.db"},
		{"malformed version", badVersion, `malformed format_version "two"`},
		{"read-only missing", filepath.Join(dir, "missing.db"), "missing.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.path, Options{ReadOnly: strings.Contains(tc.name, "read-only")})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestOpenFileHeldByAnotherProcessFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	cmd, stdin, line := startHelper(t, "hold", path)
	if line != "ready" {
		t.Fatalf("helper said %q", line)
	}
	start := time.Now()
	s, err := Open(path, Options{LockTimeout: 300 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("Open of a held file succeeded")
	}
	if !errors.Is(err, ErrFileInUse) || !strings.Contains(err.Error(), path) {
		t.Errorf("error = %v; want ErrFileInUse naming the path", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("Open took %s; want it to fail within about the 300ms timeout", elapsed)
	}
	// The holder dies without closing: the kernel drops its lock.
	_ = stdin.Close()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	s, err = Open(path, Options{LockTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("Open after the holder died: %v", err)
	}
	s.Close()
}

func TestOpenRefusesNewerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	writeRaw(t, path, func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte(bucketMeta))
		return b.Put([]byte(keyFormatVersion), []byte(strconv.Itoa(FormatVersion+1)))
	})
	before, _ := os.ReadFile(path)
	for _, ro := range []bool{false, true} {
		s, err := Open(path, Options{ReadOnly: ro})
		if err == nil {
			s.Close()
			t.Fatalf("read-only=%v: Open of a newer file succeeded", ro)
		}
		var fe *FormatError
		if !errors.Is(err, ErrNewerFormat) || !errors.As(err, &fe) || fe.Version != FormatVersion+1 {
			t.Fatalf("read-only=%v: error = %v; want a FormatError matching ErrNewerFormat", ro, err)
		}
		want := "format version " + strconv.Itoa(FormatVersion+1) + ", newer than this binary supports (" + strconv.Itoa(FormatVersion) + ")"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("refusing a newer file modified it")
	}
}

func TestMigrationsAreContiguous(t *testing.T) {
	ms := migrations()
	for i, m := range ms {
		if m.from != i {
			t.Errorf("migration %d (%s) starts at version %d", i, m.name, m.from)
		}
	}
	if len(ms) != FormatVersion {
		t.Errorf("%d migrations end at version %d, FormatVersion is %d", len(ms), len(ms), FormatVersion)
	}
}

func TestUpgradeFromV0(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	// An unversioned file: bbolt, no meta bucket, one foreign bucket.
	writeRaw(t, path, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("prototype"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.Version(); v != FormatVersion {
		t.Fatalf("version after upgrade = %d", v)
	}
	// Usable at once, every bucket present.
	if err := s.PutObserved(plan.ONEGroup, []plan.Resource{{Kind: plan.ONEGroup, Name: "agentvdc-a", Customer: "a"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.PutStatus(CustomerStatus{Name: "a", Status: StatusSynced}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(t.Context(), crashIntent); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCursor("agent/ingest", "a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".v0.bak"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("version 0 file backed up: %v", err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(v1BucketObservedFetched)) != nil {
			return errors.New("version 1 bucket observed_fetched left behind")
		}
		if string(tx.Bucket([]byte("prototype")).Get([]byte("k"))) != "v" {
			return errors.New("foreign bucket lost")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// writeV1 builds a version 1 file as a binary of that version wrote it.
func writeV1(t *testing.T, path string, observed []plan.Resource, fetched map[plan.Kind]time.Time) {
	t.Helper()
	writeRaw(t, path, func(tx *bolt.Tx) error {
		for _, name := range []string{bucketMeta, bucketObserved, v1BucketObservedFetched, bucketStatus,
			bucketJournal, bucketJournalPending, bucketHistory, bucketHistoryCustomer,
			bucketLeases, bucketSecrets, bucketCursors} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte(bucketMeta)).Put([]byte(keyFormatVersion), []byte("1")); err != nil {
			return err
		}
		ob := tx.Bucket([]byte(bucketObserved))
		for _, r := range observed {
			raw, _ := json.Marshal(r)
			if err := ob.Put([]byte(string(r.Kind)+"\x00"+r.Name+"\x00"+r.ID), raw); err != nil {
				return err
			}
		}
		// Records the upgrade must drop: unknown kind, undecodable JSON.
		if err := ob.Put([]byte("gcp_bucket\x00x\x00"), []byte(`{"kind":"gcp_bucket","name":"x"}`)); err != nil {
			return err
		}
		if err := ob.Put([]byte("hetzner_server\x00broken\x00"), []byte(`{"kind":`)); err != nil {
			return err
		}
		fb := tx.Bucket([]byte(v1BucketObservedFetched))
		for k, at := range fetched {
			if err := fb.Put([]byte(k), []byte(at.Format(time.RFC3339Nano))); err != nil {
				return err
			}
		}
		st, _ := json.Marshal(CustomerStatus{Name: "acme", Status: StatusDegraded, LastAppliedCommit: "abc123", Drift: 2})
		if err := tx.Bucket([]byte(bucketStatus)).Put([]byte("acme"), st); err != nil {
			return err
		}
		e, _ := json.Marshal(JournalEntry{Seq: 1, Intent: crashIntent, Started: time.Unix(1700000000, 0).UTC()})
		jb := tx.Bucket([]byte(bucketJournal))
		if _, err := jb.NextSequence(); err != nil {
			return err
		}
		if err := jb.Put(seqKey(1), e); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketJournalPending)).Put(seqKey(1), nil)
	})
}

func TestUpgradeFromV1(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	t1 := time.Date(2025, 2, 1, 10, 0, 0, 123, time.UTC)
	t2 := time.Date(2025, 2, 1, 10, 0, 5, 0, time.UTC)
	servers := []plan.Resource{
		{Kind: plan.HetznerServer, Name: "agentvdc-acme-srv-1", Customer: "acme", ID: "11",
			Attrs:  map[string]string{"server_type": "cx22", "location": "fsn1"},
			Labels: map[string]string{plan.LabelManagedBy: plan.ManagedByValue, plan.LabelCustomer: "acme"}},
		{Kind: plan.HetznerServer, Name: "agentvdc-acme-srv-2", Customer: "acme", ID: "12",
			Attrs: map[string]string{"server_type": "cx22"}},
	}
	nets := []plan.Resource{{Kind: plan.HetznerNetwork, Name: "agentvdc-acme", Customer: "acme", ID: "5",
		Attrs: map[string]string{"ip_range": "10.0.0.0/16"}}}
	writeV1(t, path, append(append([]plan.Resource{}, servers...), nets...), map[plan.Kind]time.Time{
		plan.HetznerServer: t1, plan.HetznerNetwork: t2, plan.ExoBlockVolume: t2, // fetched, none found
	})
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.Version(); v != FormatVersion {
		t.Fatalf("version after upgrade = %d", v)
	}
	got, fetched, err := s.Observed()
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]plan.Resource{}, nets...), servers...) // creation order
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("observed after upgrade (-want +got):\n%s", d)
	}
	wantFetched := map[plan.Kind]time.Time{plan.HetznerServer: t1, plan.HetznerNetwork: t2, plan.ExoBlockVolume: t2}
	if d := cmp.Diff(wantFetched, fetched); d != "" {
		t.Errorf("fetch times after upgrade (-want +got):\n%s", d)
	}
	// The upgraded cache is byte-for-byte what a current binary writes.
	fresh := openTest(t, Options{})
	for kind, rs := range map[plan.Kind][]plan.Resource{plan.HetznerServer: servers, plan.HetznerNetwork: nets, plan.ExoBlockVolume: nil} {
		if err := fresh.PutObserved(kind, rs, t2); err != nil {
			t.Fatal(err)
		}
	}
	fpUp, _ := s.ObservedFingerprint()
	fpFresh, _ := fresh.ObservedFingerprint()
	if fpUp != fpFresh {
		t.Errorf("fingerprint after upgrade %s != fresh store %s", fpUp, fpFresh)
	}
	// Other buckets carried over untouched.
	st, err := s.GetStatus("acme")
	if err != nil || st.Status != StatusDegraded || st.LastAppliedCommit != "abc123" || st.Drift != 2 {
		t.Errorf("status after upgrade = %+v, %v", st, err)
	}
	pending, err := s.Pending()
	if err != nil || len(pending) != 1 || pending[0].Intent.Address != crashIntent.Address {
		t.Errorf("pending after upgrade = %+v, %v", pending, err)
	}
	if seq, err := s.Begin(t.Context(), crashIntent); err != nil || seq != 2 {
		t.Errorf("next journal seq = %d, %v; want 2", seq, err)
	}
	// The backup is the version 1 file.
	b, err := bolt.Open(path+".v1.bak", 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	defer b.Close()
	_ = b.View(func(tx *bolt.Tx) error {
		if v, _ := readVersion(tx); v != 1 {
			t.Errorf("backup version = %d, want 1", v)
		}
		return nil
	})
	if fi, err := os.Stat(path + ".v1.bak"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode: %v %v", fi.Mode(), err)
	}
}

func TestReadOnlyOpen(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db")
	writeV1(t, old, nil, nil)
	s, err := Open(old, Options{ReadOnly: true})
	if err == nil {
		s.Close()
		t.Fatal("read-only Open of a version 1 file succeeded")
	}
	if !errors.Is(err, ErrNeedsUpgrade) {
		t.Errorf("error = %v; want ErrNeedsUpgrade", err)
	}

	cur := filepath.Join(dir, "cur.db")
	w, err := Open(cur, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.PutStatus(CustomerStatus{Name: "a", Status: StatusSynced}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r1, err := Open(cur, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := Open(cur, Options{ReadOnly: true}) // shared lock: readers coexist
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if st, err := r2.GetStatus("a"); err != nil || st.Status != StatusSynced {
		t.Errorf("read-only GetStatus = %+v, %v", st, err)
	}
	if err := r1.PutStatus(CustomerStatus{Name: "b", Status: StatusSynced}); err == nil {
		t.Error("write through a read-only store succeeded")
	}
}

// writeRaw creates a bbolt file with fn, bypassing this package.
func writeRaw(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestClosedStoreFailsCleanly(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Observed":    func() error { _, _, err := s.Observed(); return err },
		"PutObserved": func() error { return s.PutObserved(plan.ONEGroup, nil, time.Now()) },
		"PutStatus":   func() error { return s.PutStatus(CustomerStatus{Name: "a", Status: StatusSynced}) },
		"Begin":       func() error { _, err := s.Begin(t.Context(), crashIntent); return err },
		"Pending":     func() error { _, err := s.Pending(); return err },
		"Acquire":     func() error { _, err := s.Acquire("a", "w", time.Second, time.Now()); return err },
		"PutSecrets":  func() error { return s.PutSecrets("a", map[string]string{"k": "v"}) },
		"Cursor":      func() error { _, err := s.Cursor("ns", "a"); return err },
		"History":     func() error { _, err := s.History("", 0); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s on a closed store succeeded", name)
		}
	}
}
