package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3".
var Version = "dev"

func osGetenv(k string) string { return os.Getenv(k) }

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the vdc version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mod := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				mod = bi.Main.Version
			}
			_, err := fmt.Fprintf(e.stdout, "vdc %s (module %s, %s %s/%s)\n", Version, mod, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
