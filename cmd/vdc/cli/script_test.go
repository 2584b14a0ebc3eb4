package cli

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/agentvdc/agentvdc/agents/extract"
	"github.com/agentvdc/agentvdc/reconciler/api"
)

var updateScripts = flag.Bool("update", false, "rewrite the expected output in testdata/script/*.txtar")

func TestMain(m *testing.M) {
	extract.ServeChildIfAsked() // the sandbox's children are this binary
	testscript.Main(m, map[string]func(){
		// As cmd/vdc/main.go does: interrupts cancel the context.
		"vdc": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
	})
}

// TestScripts runs the CLI behaviour scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *updateScripts,
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"apiserver": apiServerCmd, // oncall_test.go
			// waitsynced DATA NAME...: wait up to 90s until the daemon
			// recorded in DATA reports every NAME Synced.
			"waitsynced": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: waitsynced DATA NAME...")
				}
				data := ts.MkAbs(args[0])
				token, _ := os.ReadFile(filepath.Join(data, "api-token"))
				c, err := api.NewClient(readDaemonURL(data), strings.TrimSpace(string(token)), nil)
				if err != nil {
					ts.Fatalf("client: %v", err)
				}
				deadline := time.Now().Add(90 * time.Second)
				for _, name := range args[1:] {
					for {
						v, err := c.Customer(context.Background(), name)
						if err == nil && v.Status.Status == "Synced" {
							break
						}
						if time.Now().After(deadline) {
							ts.Fatalf("%s not Synced after 90s: %+v %v", name, v.Status, err)
						}
						time.Sleep(100 * time.Millisecond)
					}
				}
			},
			// waitfor FILE: wait up to 20s until FILE exists.
			"waitfor": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: waitfor FILE")
				}
				deadline := time.Now().Add(20 * time.Second)
				for time.Now().Before(deadline) {
					if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				ts.Fatalf("%s did not appear within 20s", args[0])
			},
			// exitcode N prog args...: run prog and require exit status N.
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: exitcode N prog [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("exitcode: %v", err)
					}
					got = ee.ExitCode()
				}
				if (got == want) == neg {
					ts.Fatalf("exit status %d, want %d", got, want)
				}
			},
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("GIT_AUTHOR_NAME", "t")
			env.Setenv("GIT_AUTHOR_EMAIL", "t@example.com")
			env.Setenv("GIT_COMMITTER_NAME", "t")
			env.Setenv("GIT_COMMITTER_EMAIL", "t@example.com")
			env.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
			env.Setenv("XDG_CACHE_HOME", env.WorkDir+"/.cache")
			// Not this machine's /etc/vdc/vdc.yaml: a script that tests the
			// discovery sets VDC_CONFIG itself.
			env.Setenv("VDC_CONFIG", "none")
			return nil
		},
	})
}
