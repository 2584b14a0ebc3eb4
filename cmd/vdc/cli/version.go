package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version overrides the module version when set at build time with
// -ldflags "-X github.com/agentvdc/agentvdc/cmd/vdc/cli.Version=v1.2.3"
// (release builds of a tag do not need it: go install …@v1.2.3 stamps the
// module version into the build info).
var Version = ""

func osGetenv(k string) string { return os.Getenv(k) }

// BuildInfo is what vdc knows about its own build, from runtime/debug.
type BuildInfo struct {
	Version   string `json:"version"`              // Version, else the module version, else "devel"
	Module    string `json:"module,omitempty"`     // main module path
	Revision  string `json:"revision,omitempty"`   // vcs.revision (commit)
	Time      string `json:"time,omitempty"`       // vcs.time (commit time, RFC 3339)
	Dirty     bool   `json:"dirty"`                // vcs.modified: built from a tree with uncommitted changes
	GoVersion string `json:"go_version"`           // toolchain that built it
	Platform  string `json:"platform"`             // GOOS/GOARCH
	VCS       string `json:"vcs,omitempty"`        // git
	Compiler  string `json:"compiler,omitempty"`   // gc
	Tags      string `json:"build_tags,omitempty"` // -tags, if any
}

// readBuildInfo reads the build info the Go toolchain embedded.
func readBuildInfo() BuildInfo {
	b := BuildInfo{Version: "devel", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Compiler: runtime.Compiler}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		b.Module = bi.Main.Path
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs":
				b.VCS = s.Value
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Dirty = s.Value == "true"
			case "-tags":
				b.Tags = s.Value
			}
		}
	}
	if Version != "" {
		b.Version = Version
	}
	return b
}

// Short is the one line `vdc --version` prints:
// "vdc v1.2.3 (abcdef123456, 2026-01-02T03:04:05Z, dirty)".
func (b BuildInfo) Short() string {
	var extra []string
	if b.Revision != "" {
		rev := b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		extra = append(extra, rev)
	}
	if b.Time != "" {
		extra = append(extra, b.Time)
	}
	if b.Dirty {
		extra = append(extra, "dirty")
	}
	s := "vdc " + b.Version
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

func (b BuildInfo) write(w io.Writer) error {
	dash := func(s string) string {
		if s == "" {
			return "unknown (not built from a git checkout)"
		}
		return s
	}
	dirty := "no"
	if b.Dirty {
		dirty = "yes (uncommitted changes)"
	}
	_, err := fmt.Fprintf(w, "vdc %s\n  module:   %s\n  revision: %s\n  time:     %s\n  dirty:    %s\n  go:       %s %s\n",
		b.Version, oncallDash(b.Module), dash(b.Revision), dash(b.Time), dirty, b.GoVersion, b.Platform)
	return err
}

func newVersionCmd(e *env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the vdc version, commit and build details",
		Long: `Version prints what the Go toolchain recorded in the binary: the module
version (the tag it was installed at, e.g. 'go install
github.com/agentvdc/agentvdc/cmd/vdc@v1.2.3'), the git commit and its time,
whether the tree had uncommitted changes (dirty), and the Go version and
platform. 'vdc --version' prints the same in one line.

Exit codes: 0 printed, 1 output failed, 2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := readBuildInfo()
			switch format {
			case "text":
				return b.write(e.stdout)
			case "json":
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			}
			return withCode(ExitUsage, fmt.Errorf("--format must be text or json, not %q", format))
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output: text or json")
	return cmd
}
