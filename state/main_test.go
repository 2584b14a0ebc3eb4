package state

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
)

// The test binary doubles as a second process for the tests that need
// one (file lock held elsewhere, crash after Begin): STATE_TEST_HELPER
// names the role, STATE_TEST_PATH the state file.
func TestMain(m *testing.M) {
	if role := os.Getenv("STATE_TEST_HELPER"); role != "" {
		os.Exit(runHelper(role, os.Getenv("STATE_TEST_PATH")))
	}
	os.Exit(m.Run())
}

func runHelper(role, path string) int {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	switch role {
	case "hold":
		// Hold the file until stdin closes (or we are killed).
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = s.Close()
		return 0
	case "crash-after-begin":
		seq, err := s.Begin(context.Background(), crashIntent)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
		fmt.Println(seq)
		// Die like a process killed mid-apply: no Finish, no Close.
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
		return 5
	}
	fmt.Fprintln(os.Stderr, "unknown helper role", role)
	return 2
}

var crashIntent = Intent{
	Customer: "acme", ApplyID: "apply-1", Action: "create",
	Address: plan.Address{Kind: plan.HetznerServer, Name: "agentvdc-acme-srv-1"},
	Attrs:   map[string]string{"server_type": "cx22"},
}

// startHelper runs the test binary in a helper role and waits for its
// first output line.
func startHelper(t *testing.T, role, path string) (*exec.Cmd, io.WriteCloser, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STATE_TEST_HELPER="+role, "STATE_TEST_PATH="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Scan()
		line <- sc.Text()
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		return cmd, stdin, l
	case <-time.After(30 * time.Second):
		t.Fatalf("helper %s did not start", role)
		return nil, nil, ""
	}
}

// openTest opens a store in a fresh directory, closed at the end.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(t.TempDir()+"/state.db", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// clock is an injectable clock for the tests.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }
