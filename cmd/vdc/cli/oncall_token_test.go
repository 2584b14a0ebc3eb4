package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestIssue11Item9TokenOnlyToItsDaemon: issue 11, item 9 (the on-call CLI
// sent the token to 127.0.0.1:8787 when daemon-url was missing). With a
// token (VDC_TOKEN or DATA/api-token) and no daemon named (no --daemon,
// no VDC_DAEMON, no DATA/daemon-url), the command refuses, says how to
// point it at the daemon, and connects nowhere.
func TestIssue11Item9TokenOnlyToItsDaemon(t *testing.T) {
	// Whatever listens on the default address must not hear from us (if
	// the port is taken here, the refusal alone is checked).
	var connections atomic.Int32
	if ln, err := net.Listen("tcp", strings.TrimPrefix(defaultDaemonURL, "http://")); err == nil {
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				connections.Add(1)
				c.Close()
			}
		}()
	} else {
		t.Logf("%s is in use (%v): checking the refusal only", defaultDaemonURL, err)
	}
	const token = "token-issued-by-another-daemon-0123"
	withFile := t.TempDir()
	if err := os.WriteFile(filepath.Join(withFile, "api-token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		vars map[string]string
		data string
	}{
		{"VDC_TOKEN", map[string]string{"VDC_TOKEN": token}, t.TempDir()},
		{"api-token file without daemon-url", map[string]string{}, withFile},
	} {
		for _, cmd := range [][]string{{"status"}, {"history", "acme"}, {"suspend", "acme"}, {"reconcile", "--no-local", "acme"}} {
			e, out := testEnv(tc.vars)
			args := append(append([]string{}, cmd...), "--data", tc.data)
			code := run(context.Background(), args, e)
			if code != ExitFailure {
				t.Errorf("%s: vdc %s: exit %d, want 1\n%s", tc.name, strings.Join(cmd, " "), code, out)
			}
			msg := out.String()
			for _, want := range []string{"which daemon?", "--daemon URL", "VDC_DAEMON", "daemon-url"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s: vdc %s: the error does not mention %q:\n%s", tc.name, cmd[0], want, msg)
				}
			}
			if strings.Contains(msg, token) {
				t.Errorf("the error shows the token")
			}
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := connections.Load(); n != 0 {
		t.Errorf("%d connections to %s carrying a token it was not issued for", n, defaultDaemonURL)
	}

	// Named, it is used: the daemon-url file of --data (here nothing
	// listens, so the command reports it unreachable at that address).
	e, out := testEnv(map[string]string{"VDC_TOKEN": token})
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, daemonURLFile), []byte("http://127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run(context.Background(), []string{"status", "--data", data}, e); code != ExitFailure || !strings.Contains(out.String(), "no daemon reachable at http://127.0.0.1:1") {
		t.Errorf("with daemon-url: exit %d\n%s", code, out)
	}
}
