package cli

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimsKeepTheirAddress: the simulators listen where they did last
// time in the data directory, and on a new port when that one is taken.
func TestSimsKeepTheirAddress(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := startSims(dir, log, "")
	if err != nil {
		t.Fatal(err)
	}
	first := st.URL
	st.Close()
	rec, err := os.ReadFile(filepath.Join(dir, simAddressFile))
	if err != nil || "http://"+strings.TrimSpace(string(rec)) != first {
		t.Fatalf("recorded %q (%v), listening on %s", rec, err, first)
	}
	st, err = startSims(dir, log, "")
	if err != nil {
		t.Fatal(err)
	}
	if st.URL != first {
		// Another test's listener may have taken the freed port meanwhile:
		// then the new port is right. Otherwise it is a bug.
		if ln, err := net.Listen("tcp", strings.TrimPrefix(first, "http://")); err == nil {
			ln.Close()
			t.Errorf("restarted on %s, was %s (which is free)", st.URL, first)
		}
	}
	second := st.URL
	st.Close()

	// Someone else took the port: a new one, recorded.
	ln, err := net.Listen("tcp", strings.TrimPrefix(second, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	st, err = startSims(dir, log, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, _ = os.ReadFile(filepath.Join(dir, simAddressFile))
	if st.URL == second || "http://"+strings.TrimSpace(string(rec)) != st.URL {
		t.Errorf("port taken: listening on %s (was %s), recorded %q", st.URL, second, rec)
	}
}
