// Package stripemock starts Stripe's official mock server for tests: the
// binary `make prereqs` builds (bin/stripe-mock, or $VDC_STRIPE_MOCK_BIN),
// on 127.0.0.1 (HTTP and HTTPS both on loopback), stopped when the test
// ends. stripe-mock is stateless: it validates requests against Stripe's
// OpenAPI spec and answers from fixtures.
package stripemock

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// EnvBinary names the environment variable holding the binary's path.
const EnvBinary = "VDC_STRIPE_MOCK_BIN"

// Binary is $VDC_STRIPE_MOCK_BIN, else bin/stripe-mock in the module root.
func Binary() (string, bool) {
	if p := os.Getenv(EnvBinary); p != "" {
		_, err := os.Stat(p)
		return p, err == nil
	}
	dir, err := os.Getwd()
	for err == nil {
		if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
			p := filepath.Join(dir, "bin", "stripe-mock")
			_, serr := os.Stat(p)
			return p, serr == nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "bin/stripe-mock", false
}

var listening = regexp.MustCompile(`Listening for HTTP at address: (\S+)`)

// Start runs stripe-mock and returns its HTTP base URL.
func Start(tb testing.TB) string {
	tb.Helper()
	bin, ok := Binary()
	if !ok {
		tb.Fatalf("stripe-mock not found at %s: run `make prereqs` (go install github.com/stripe/stripe-mock into bin/) or set %s", bin, EnvBinary)
	}
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		tb.Fatal("stripe-mock did not start within 30s")
	}
	return ""
}
