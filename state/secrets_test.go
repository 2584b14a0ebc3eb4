package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

const (
	wgKey    = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
	password = "S3cr3t-Pa55w0rd-0penNebula"
)

func TestSecretsEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secrets("acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Secrets before any: %v", err)
	}
	want := map[string]string{"wg_private_key_hetzner": wgKey, "one_admin_password": password}
	if err := s.PutSecrets("acme", want); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSecrets("beta", map[string]string{"one_admin_password": "beta-" + password}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Secrets("acme")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Secrets (-want +got):\n%s", d)
	}
	// Overwrite: the old values must not linger in plaintext either.
	if err := s.PutSecrets("acme", map[string]string{"one_admin_password": password + "-rotated"}); err != nil {
		t.Fatal(err)
	}
	// Nothing else lists them.
	if err := s.PutStatus(CustomerStatus{Name: "acme", Status: StatusSynced}); err != nil {
		t.Fatal(err)
	}
	list, _ := s.ListStatus()
	if strings.Contains(fmt.Sprintf("%+v", list), password) {
		t.Error("ListStatus shows a secret")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Raw dump of the file: no secret value nor secret name in it.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, needle := range []string{wgKey, password, "S3cr3t", "wg_private_key_hetzner", "one_admin_password"} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Errorf("state file contains %q in clear", needle)
		}
	}
	if !bytes.Contains(raw, []byte("acme")) {
		t.Error("sanity: the dump does not even contain the customer name")
	}
	// The key file is private and next to the DB.
	fi, err := os.Stat(path + ".key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}

	// Reopen: decrypts with the same key file.
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err = s.Secrets("acme")
	if err != nil || got["one_admin_password"] != password+"-rotated" || len(got) != 1 {
		t.Errorf("after reopen: %d secrets, %v", len(got), err)
	}
	if err := s.DeleteSecrets("acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secrets("acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Secrets after delete: %v", err)
	}
	if b, err := s.Secrets("beta"); err != nil || b["one_admin_password"] != "beta-"+password {
		t.Errorf("other customer's secrets after delete: %v", err)
	}
}

func TestSecretsKeyProblems(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string)
		want    string
	}{
		{"key file missing", func(t *testing.T, path string) { must(t, os.Remove(path+".key")) }, "is missing"},
		{"key file readable by others", func(t *testing.T, path string) { must(t, os.Chmod(path+".key", 0o644)) }, "must not be accessible"},
		{"key file garbage", func(t *testing.T, path string) { must(t, os.WriteFile(path+".key", []byte("nope\n"), 0o600)) }, "not 32 hex-encoded bytes"},
		{"other key", func(t *testing.T, path string) {
			must(t, os.WriteFile(path+".key", []byte(strings.Repeat("ab", 32)+"\n"), 0o600))
		}, "decryption failed"},
		{"record moved to another customer", func(t *testing.T, path string) {
			writeRawUpdate(t, path, func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte(bucketSecrets))
				return b.Put([]byte("acme"), append([]byte(nil), b.Get([]byte("evil"))...))
			})
		}, "decryption failed"},
		{"record altered", func(t *testing.T, path string) {
			writeRawUpdate(t, path, func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte(bucketSecrets))
				v := append([]byte(nil), b.Get([]byte("acme"))...)
				v[len(v)-1] ^= 1
				return b.Put([]byte("acme"), v)
			})
		}, "decryption failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s, err := Open(path, Options{})
			must(t, err)
			must(t, s.PutSecrets("acme", map[string]string{"one_admin_password": password}))
			must(t, s.PutSecrets("evil", map[string]string{"one_admin_password": "evil"}))
			must(t, s.Close())
			tc.corrupt(t, path)
			s, err = Open(path, Options{})
			must(t, err)
			defer s.Close()
			_, err = s.Secrets("acme")
			if !errors.Is(err, ErrSecretsKey) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v; want ErrSecretsKey mentioning %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), password) {
				t.Error("error contains the secret")
			}
		})
	}
}

func TestPutSecretsRejectsBadInput(t *testing.T) {
	s := openTest(t, Options{})
	for _, tc := range []struct {
		customer string
		m        map[string]string
	}{
		{"", map[string]string{"a": "b"}},
		{"acme", nil},
		{"acme", map[string]string{"": password}},
	} {
		err := s.PutSecrets(tc.customer, tc.m)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("PutSecrets(%q) = %v; want ErrInvalid", tc.customer, err)
		}
		if err != nil && strings.Contains(err.Error(), password) {
			t.Error("error contains the secret")
		}
	}
	if _, err := os.Stat(s.Path() + ".key"); !errors.Is(err, os.ErrNotExist) {
		t.Error("key file created although nothing was stored")
	}
}

func TestKeyFileOption(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "keys", "secrets.key")
	must(t, os.MkdirAll(filepath.Dir(key), 0o700))
	s, err := Open(filepath.Join(dir, "state.db"), Options{KeyFile: key})
	must(t, err)
	defer s.Close()
	must(t, s.PutSecrets("acme", map[string]string{"k": "v"}))
	if _, err := os.Stat(key); err != nil {
		t.Errorf("key file not at Options.KeyFile: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db.key")); !errors.Is(err, os.ErrNotExist) {
		t.Error("default key file created although KeyFile was set")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeRawUpdate(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	must(t, err)
	must(t, db.Update(fn))
	must(t, db.Close())
}
