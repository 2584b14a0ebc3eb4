package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func newCompletionCmd(e *env) *cobra.Command {
	var noDesc bool
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script for bash, zsh, fish or PowerShell",
		Long: `Completion prints a script that makes the shell complete vdc's commands,
flags and their values.

  bash:  source <(vdc completion bash)
         (or: vdc completion bash > /etc/bash_completion.d/vdc; needs the
         bash-completion package)
  zsh:   vdc completion zsh > "${fpath[1]}/_vdc"   (then start a new shell)
  fish:  vdc completion fish > ~/.config/fish/completions/vdc.fish
  powershell: vdc completion powershell | Out-String | Invoke-Expression

Exit codes: 0 printed, 1 output failed, 2 usage error (unknown shell).`,
		Args:                  cobra.ExactArgs(1),
		ValidArgs:             []string{"bash", "zsh", "fish", "powershell"},
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(e.stdout, !noDesc)
			case "zsh":
				if noDesc {
					return root.GenZshCompletionNoDesc(e.stdout)
				}
				return root.GenZshCompletion(e.stdout)
			case "fish":
				return root.GenFishCompletion(e.stdout, !noDesc)
			case "powershell":
				if noDesc {
					return root.GenPowerShellCompletion(e.stdout)
				}
				return root.GenPowerShellCompletionWithDesc(e.stdout)
			}
			return withCode(ExitUsage, fmt.Errorf("unknown shell %q: want bash, zsh, fish or powershell", args[0]))
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "complete without the commands' descriptions")
	return cmd
}

// WriteManPages writes one man page (section 1) per command into dir:
// vdc.1, vdc-plan.1, vdc-agents-run.1, … (make man calls it).
func WriteManPages(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: osGetenv}
	root := newRootCmd(e)
	root.DisableAutoGenTag = true // reproducible: no generation date
	b := readBuildInfo()
	header := &doc.GenManHeader{Title: "VDC", Section: "1", Source: "agentvdc " + b.Version, Manual: "agentvdc manual"}
	// Reproducible pages: dated by the commit (else $SOURCE_DATE_EPOCH or today).
	if t, err := time.Parse(time.RFC3339, b.Time); err == nil {
		header.Date = &t
	}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man pages into %s: %w", filepath.Clean(dir), err)
	}
	return nil
}
