package cli

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentvdc/agentvdc/state"
)

// TestStateKeyApartFromTheDatabase (issue 11, item 5): the secrets key can
// live away from state.db (VDC_STATE_KEY_FILE or --state-key-file), and a
// key readable by others is refused.
func TestStateKeyApartFromTheDatabase(t *testing.T) {
	data, vault := t.TempDir(), t.TempDir()
	key := filepath.Join(vault, "state.key")
	env := map[string]string{"VDC_STATE_KEY_FILE": key}
	f := &cloudFlags{dataDir: data}
	s, err := f.openState(slog.New(slog.DiscardHandler), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSecrets("acme", map[string]string{"wg": "private"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("key not at VDC_STATE_KEY_FILE: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "state.db.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key was written beside the database too: %v", err)
	}
	// The flag wins over the environment.
	if got := stateKeyFile("/flag/key", func(k string) string { return env[k] }); got != "/flag/key" {
		t.Fatalf("flag not preferred: %s", got)
	}
	// A key others can read is refused at start (the daemon verifies).
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	f.verifyState = true
	_, err = f.openState(slog.New(slog.DiscardHandler), func(k string) string { return env[k] })
	if !errors.Is(err, state.ErrSecretsKey) {
		t.Fatalf("open with a 0644 key: %v, want ErrSecretsKey", err)
	}
}
