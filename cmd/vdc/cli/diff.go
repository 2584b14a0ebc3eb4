package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
)

func newDiffCmd(e *env) *cobra.Command {
	var pf planFlags
	var allowDelete bool
	cmd := &cobra.Command{
		Use:   "diff NAME",
		Short: "Show how one customer's clouds differ from its file, attribute by attribute",
		Long: `Diff plans one customer, as 'vdc plan --customer NAME' does, and prints
the differences as a diff: "+" a resource to create with its attributes,
"-" one to delete, "!" one to update or replace with each attribute's
value now ("-") and after ("+"). Deletions and replacements come first.

While 'vdc serve' runs on the same --data, the daemon makes the plan from
the files read here, against its cached observation (as 'vdc plan').

Exit codes: 0 printed (with or without differences), 1 error, unknown
customer or refused plan, 2 usage error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf.targets = args
			p, _, buildErr := pf.plan(cmd.Context(), e, allowDelete)
			if p == nil {
				return buildErr
			}
			known := false
			for _, c := range p.Customers {
				known = known || c.Name == args[0]
			}
			if !known && p.Refused == "" {
				return fmt.Errorf("customer %q is neither in the files nor in the clouds", args[0])
			}
			if err := plan.RenderDiff(e.stdout, p, plan.DiffTextOptions{Color: isTerminal(e.stdout)}); err != nil {
				return err
			}
			return buildErr
		},
	}
	pf.register(cmd)
	cmd.Flags().BoolVar(&allowDelete, "allow-delete", false, "show the deletion of a customer removed from git (if not protected)")
	return cmd
}

func newEventsCmd(e *env) *cobra.Command {
	var f oncallFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "events NAME",
		Short: "Show a customer's timeline: conditions, applies, autoscaling, agent failures, reconciles",
		Long: `Events asks the running daemon for one time-ordered timeline of the
customer, oldest first: each condition's last transition, the applies of
its history, the autoscaler's decisions, failed agent runs and the last
reconcile. Lines needing a look (a condition turned False, a failed apply,
agent run or reconcile) are marked "!".

Exit codes: 0 success, 1 daemon unreachable, error or unknown customer,
2 usage error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > api.MaxHistoryLimit {
				return withCode(ExitUsage, fmt.Errorf("--limit must be from 1 to %d, not %d", api.MaxHistoryLimit, limit))
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			ev, err := c.Events(cmd.Context(), args[0], limit)
			if err != nil {
				return f.daemonErr(c, err)
			}
			if f.format == "json" {
				if ev == nil {
					ev = []daemon.Event{}
				}
				return f.writeJSON(e.stdout, api.EventsBody{Customer: args[0], Events: ev})
			}
			writeEvents(e.stdout, ev, time.Now())
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", api.DefaultEventsLimit, "show the newest N events")
	return cmd
}

func writeEvents(w io.Writer, ev []daemon.Event, now time.Time) {
	if len(ev) == 0 {
		fmt.Fprintln(w, "no events yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tAGE\t \tKIND\tEVENT\tMESSAGE")
	for _, x := range ev {
		mark := " "
		if x.Warning {
			mark = "!"
		}
		when := "-"
		if !x.At.IsZero() {
			when = x.At.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", when, oncallAge(now, x.At), mark, x.Kind, x.Reason, oncallDash(x.Message))
	}
	tw.Flush()
}
