package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/state"
)

func newUsageCmd(e *env) *cobra.Command {
	var f oncallFlags
	var month, format, keyFile string
	c := &cobra.Command{
		Use:   "usage NAME",
		Short: "A customer's metered usage by hour: server-hours by type, storage-node hours, volume GB-hours",
		Long: `Usage prints what the daemon metered for a customer, hour by hour, from
what it observed running (servers by type, the storage node, provisioned
volume GB). Hours nobody observed (the daemon down) carry the last
observation forward and are marked estimated.

It asks the running daemon (GET /api/v1/customers/NAME/usage); with no
daemon named (--daemon, VDC_DAEMON or DATA/daemon-url) it reads the state
file in --data.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" && format != "csv" {
				return withCode(ExitUsage, fmt.Errorf("--format must be text, json or csv, not %q", format))
			}
			from, to, err := api.ParseMonth(month, time.Now())
			if err != nil {
				return withCode(ExitUsage, err)
			}
			var body api.UsageBody
			if f.daemonURL(e) != "" {
				f.format = "text"
				client, err := f.client(e)
				if err != nil {
					return err
				}
				if body, err = client.Usage(cmd.Context(), args[0], from.Format("2006-01")); err != nil {
					return f.daemonErr(client, err)
				}
			} else {
				s, err := state.Open(filepath.Join(f.data, "state.db"), state.Options{ReadOnly: true, KeyFile: stateKeyFile(keyFile, e.getenv)})
				if errors.Is(err, state.ErrFileInUse) {
					return fmt.Errorf("%w; the daemon holds it: point --daemon or VDC_DAEMON at it", err)
				}
				if err != nil {
					return err
				}
				defer s.Close()
				hours, err := s.Usage(args[0], from, to)
				if err != nil {
					return err
				}
				body = api.UsageBody{Customer: args[0], Month: from.Format("2006-01"), Hours: hours}
			}
			switch format {
			case "json":
				return f.writeJSON(e.stdout, body)
			case "csv":
				return writeUsageCSV(e.stdout, body)
			}
			return writeUsageText(e.stdout, body)
		},
	}
	c.Flags().StringVar(&f.daemon, "daemon", "", "daemon URL (default $VDC_DAEMON, else the daemon-url file in --data)")
	c.Flags().StringVar(&f.data, "data", ".vdc", "the daemon's data directory (its api-token and daemon-url files, or its state.db)")
	c.Flags().StringVar(&month, "month", "", "month as YYYY-MM, UTC (default this month)")
	c.Flags().StringVar(&format, "format", "text", "output: text, json or csv")
	registerStateKey(c, &keyFile)
	return c
}

func sortedKeys(m map[string]float64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func hoursByType(m map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+" "+strconv.FormatFloat(m[k], 'f', -1, 64))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func writeUsageText(w io.Writer, b api.UsageBody) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "HOUR (UTC)\tSERVER-HOURS\tSTORAGE-NODE-HOURS\tVOLUME GB-HOURS\tOBSERVED\n")
	servers, nodes := map[string]float64{}, map[string]float64{}
	var gb float64
	estimated := 0
	for _, r := range b.Hours {
		note := fmt.Sprintf("%.0f min", r.ObservedMinutes)
		if r.Estimated {
			note += " (estimated)"
			estimated++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Hour.UTC().Format("2006-01-02 15:04"), hoursByType(r.ServerHours), hoursByType(r.StorageNodeHours),
			strconv.FormatFloat(r.VolumeGBHours, 'f', -1, 64), note)
		for k, v := range r.ServerHours {
			servers[k] += v
		}
		for k, v := range r.StorageNodeHours {
			nodes[k] += v
		}
		gb += r.VolumeGBHours
	}
	fmt.Fprintf(tw, "total %s\t%s\t%s\t%.1f\t%d hours, %d estimated\n", b.Month, hoursByType(servers), hoursByType(nodes), gb, len(b.Hours), estimated)
	return tw.Flush()
}

func writeUsageCSV(w io.Writer, b api.UsageBody) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"customer", "hour", "item", "type", "quantity", "unit", "estimated"})
	for _, r := range b.Hours {
		h, est := r.Hour.UTC().Format(time.RFC3339), strconv.FormatBool(r.Estimated)
		for _, k := range sortedKeys(r.ServerHours) {
			_ = cw.Write([]string{b.Customer, h, "server", k, strconv.FormatFloat(r.ServerHours[k], 'f', -1, 64), "hour", est})
		}
		for _, k := range sortedKeys(r.StorageNodeHours) {
			_ = cw.Write([]string{b.Customer, h, "storage_node", k, strconv.FormatFloat(r.StorageNodeHours[k], 'f', -1, 64), "hour", est})
		}
		if r.VolumeGBHours > 0 {
			_ = cw.Write([]string{b.Customer, h, "volume", "", strconv.FormatFloat(r.VolumeGBHours, 'f', -1, 64), "GB-hour", est})
		}
	}
	cw.Flush()
	return cw.Error()
}
