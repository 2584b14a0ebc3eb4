// Package cli implements the vdc commands. It is importable so that tests run
// commands in-process; cmd/vdc/main.go only calls Main.
//
// Exit codes: 0 success, 1 failure (invalid input, failed operation),
// 2 usage error. Commands that have their own codes document them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// exitError carries an exit code out of a command without printing twice.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that Main exits with code. A nil err means "already
// reported, just exit with code".
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// env is what every command gets: its streams and the process environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// Main runs the vdc command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, args, &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: osGetenv})
}

func run(ctx context.Context, args []string, e *env) int {
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(e.stderr, "vdc:", ee.err)
		}
		return ee.code
	}
	// Usage errors are marked where they are found (flags, arguments,
	// commands: markUsage); anything else is a failure.
	fmt.Fprintln(e.stderr, "vdc:", err)
	if strings.HasPrefix(err.Error(), "unknown command ") {
		return ExitUsage // cobra's own, before any command runs
	}
	return ExitFailure
}

// markUsage makes cobra's flag and argument errors, of cmd and all its
// subcommands, exit with ExitUsage.
func markUsage(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(ExitUsage, err) })
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return withCode(ExitUsage, err)
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		markUsage(sub)
	}
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "vdc",
		Short:         "agentvdc: per-customer Agent VDCs on OpenNebula, Hetzner Cloud and Exoscale, from git",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       readBuildInfo().Short(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true // ours is newCompletionCmd
	root.AddCommand(
		newVersionCmd(e), newCompletionCmd(e),
		newEvalCmd(e),
		newUploadCmd(e), newAgentsCmd(e), newQueryCmd(e), newGraphCmd(e),
		newValidateCmd(e),
		newNewCmd(e),
		newSchemaCmd(e),
		newSimCmd(e),
		newPlanCmd(e), newDiffCmd(e),
		newApplyCmd(e),
		newServeCmd(e),
		newStatusCmd(e), newReconcileCmd(e), newHoldCmd(e, true), newHoldCmd(e, false), newHistoryCmd(e), newEventsCmd(e),
		newStateCmd(e), newUsageCmd(e), newInvoicesCmd(e),
	)
	markUsage(root)
	return root
}
