package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// failingWriter fails every write (a closed pipe, a full disk).
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) {
	return 0, errors.New("write: no space left on device")
}

// TestExitCodes walks every command: an unknown flag and a wrong argument
// count exit 2 (usage); a failure of the work itself exits 1. A command
// added without a failure case here fails the test.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	unreachable := "http://127.0.0.1:1"
	// failures are invocations whose work fails; stdout "fail" makes
	// every write to stdout fail.
	failures := map[string]struct {
		args   []string
		stdout string
	}{
		"agents run":        {args: []string{"agents", "run", "acme", "ingest", "--data", file}},
		"agents quarantine": {args: []string{"agents", "quarantine", "acme", "--data", file}},
		"apply":             {args: []string{"apply", "--repo", missing, "--auto-approve", "--data", dir}},
		"completion":        {args: []string{"completion", "bash"}, stdout: "fail"},
		"diff":              {args: []string{"diff", "acme", "--repo", missing}},
		"events":            {args: []string{"events", "acme", "--daemon", unreachable}},
		"eval retrieval":    {args: []string{"eval", "retrieval", "--docs", missing, "--queries", missing}},
		"graph":             {args: []string{"graph", "acme", "--data", file}},
		"history":           {args: []string{"history", "acme", "--daemon", unreachable}},
		"invoices credit":   {args: []string{"invoices", "credit", "AVDC-000001", "--note", "x", "--daemon", unreachable}},
		"invoices issue":    {args: []string{"invoices", "issue", "--month", "2026-11", "--daemon", unreachable}},
		"invoices list":     {args: []string{"invoices", "list", "--daemon", unreachable}},
		"invoices show":     {args: []string{"invoices", "show", "AVDC-000001", "--daemon", unreachable}},
		"new":               {args: []string{"new", "acme", "--tier", "casual", "--dir", file}},
		"plan":              {args: []string{"plan", "--repo", missing}},
		"query":             {args: []string{"query", "acme", "hello", "--data", file}},
		"reconcile":         {args: []string{"reconcile", "acme", "--no-local", "--daemon", unreachable}},
		"resume":            {args: []string{"resume", "acme", "--daemon", unreachable}},
		"schema":            {args: []string{"schema"}, stdout: "fail"},
		"serve":             {args: []string{"serve", "--sim", "--repo", missing, "--data", file}},
		"sim":               {args: []string{"sim", "--listen", "256.0.0.1:1"}},
		"state backup":      {args: []string{"state", "backup", filepath.Join(dir, "copy.db"), "--data", missing}},
		"state check":       {args: []string{"state", "check", "--data", missing}},
		"state restore":     {args: []string{"state", "restore", missing, "--data", dir}},
		"state rotate-key":  {args: []string{"state", "rotate-key", "--data", missing}},
		"status":            {args: []string{"status", "--daemon", unreachable}},
		"suspend":           {args: []string{"suspend", "acme", "--daemon", unreachable}},
		"upload":            {args: []string{"upload", "acme", missing, "--data", dir}},
		"usage":             {args: []string{"usage", "acme", "--daemon", unreachable}},
		"validate":          {args: []string{"validate", "--repo", missing}},
		"version":           {args: []string{"version"}, stdout: "fail"},
	}
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	seen := map[string]bool{}
	var walk func(prefix string, c *cobra.Command)
	walk = func(prefix string, c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Hidden {
				continue
			}
			path := strings.TrimSpace(prefix + " " + sub.Name())
			if sub.HasSubCommands() {
				walk(path, sub)
				continue
			}
			seen[path] = true
			t.Run(path, func(t *testing.T) {
				words := strings.Fields(path)
				if code := runWith(e, append(words, "--no-such-flag")); code != ExitUsage {
					t.Errorf("unknown flag: exit %d, want %d", code, ExitUsage)
				}
				if sub.Args != nil {
					if code := runWith(e, append(words, strings.Fields(strings.Repeat("x ", 9))...)); code != ExitUsage && code != ExitFailure {
						t.Errorf("nine arguments: exit %d", code)
					}
				}
				f, ok := failures[path]
				if !ok {
					t.Fatalf("no failure case for %q: add one to TestExitCodes", path)
				}
				fe := *e
				fe.stdout = &bytes.Buffer{}
				if f.stdout == "fail" {
					fe.stdout = failingWriter{}
				}
				stderr := &bytes.Buffer{}
				fe.stderr = stderr
				if code := runWith(&fe, f.args); code != ExitFailure {
					t.Errorf("%v: exit %d, want %d (stderr: %s)", f.args, code, ExitFailure, stderr)
				}
			})
		}
	}
	walk("", newRootCmd(e))
	for path := range failures {
		if !seen[path] {
			t.Errorf("failure case for %q, which is not a command", path)
		}
	}
}

func runWith(e *env, args []string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return run(ctx, args, e)
}
