package cli

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
)

func newSimCmd(e *env) *cobra.Command {
	var o simstack.Options
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve the OpenNebula, Hetzner Cloud and Exoscale simulators",
		Long: `Sim serves the three cloud simulators on one loopback address until
interrupted, and prints the environment variables that point the real
clients (and vdc) at them. With --data, state survives a restart.

Paths: /opennebula/RPC2 and /opennebula/flow, /hetzner/v1, /exoscale/v2;
each has its control API (faults, counters, metrics) under /_sim/.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			if o.Latency != simstack.LatencyFast && o.Latency != simstack.LatencyRealistic {
				return withCode(ExitUsage, fmt.Errorf("--sim-latency %q: want %s or %s", o.Latency, simstack.LatencyFast, simstack.LatencyRealistic))
			}
			st, err := simstack.Start(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "# agentvdc simulators at %s — paste into a shell:\n%s", st.URL, st.ExportLines())
			<-cmd.Context().Done()
			return st.Close()
		},
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8780", "address to serve on (loopback)")
	cmd.Flags().StringVar(&o.DataDir, "data", "", "directory that keeps the simulators' state across restarts")
	cmd.Flags().IntVar(&o.HetznerRateLimitPerHour, "hetzner-rate-limit", 3600, "Hetzner requests per hour per token (negative: unlimited)")
	cmd.Flags().StringVar(&o.Latency, "sim-latency", simstack.LatencyFast, "latency profile: fast (converges in seconds) or realistic (server boot, image import, host monitoring as the clouds document them)")
	cmd.Flags().DurationVar(&o.ElasticityInterval, "elasticity-interval", 0, "evaluate OneFlow elasticity policies this often (0: only on request)")
	return cmd
}
