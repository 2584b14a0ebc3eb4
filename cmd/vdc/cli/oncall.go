package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/state"
)

// The on-call commands (status, reconcile, suspend, resume, history) talk
// to a running daemon over its HTTP API only: the daemon holds state.db
// exclusively, so they never open it.

// defaultDaemonURL is where vdc serve listens by default. The CLI asks it
// only when it has no token to send: a token goes only to a daemon named
// by --daemon, $VDC_DAEMON or the daemon-url file (whatever else listens
// on that port must not receive it).
const defaultDaemonURL = "http://127.0.0.1:8787"

// oncallFlags locate the daemon and its token and choose the output.
type oncallFlags struct {
	daemon, data, format string
}

func (f *oncallFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.daemon, "daemon", "", "daemon URL (default $VDC_DAEMON, else the daemon-url file in --data)")
	cmd.Flags().StringVar(&f.data, "data", ".vdc", "the daemon's data directory, for its api-token file (used when $VDC_TOKEN is unset)")
	cmd.Flags().StringVar(&f.format, "format", "text", "output: text or json")
}

// daemonURL is the daemon named by --daemon, $VDC_DAEMON or the
// daemon-url file in --data; "" when none is.
func (f *oncallFlags) daemonURL(e *env) string {
	return firstNonEmpty(f.daemon, e.getenv("VDC_DAEMON"), readDaemonURL(f.data))
}

// client validates the flags and returns an API client.
func (f *oncallFlags) client(e *env) (*api.Client, error) {
	if f.format != "text" && f.format != "json" {
		return nil, withCode(ExitUsage, fmt.Errorf("--format must be text or json, not %q", f.format))
	}
	base := f.daemonURL(e)
	token := strings.TrimSpace(e.getenv("VDC_TOKEN"))
	if token == "" {
		raw, err := os.ReadFile(filepath.Join(f.data, "api-token"))
		switch {
		case err == nil:
			token = strings.TrimSpace(string(raw))
		case errors.Is(err, fs.ErrNotExist):
			// No token: the daemon answers 401 and we say how to fix it.
		default:
			return nil, fmt.Errorf("read the API token: %w", err)
		}
	}
	if base == "" {
		if token != "" {
			return nil, fmt.Errorf("which daemon? --daemon and $VDC_DAEMON are unset and %s does not exist (a running 'vdc serve --data %s' writes it); "+
				"the API token is sent only to a daemon named one of these ways: pass --daemon URL or set VDC_DAEMON (e.g. %s), or --data DIR of the running daemon",
				filepath.Join(f.data, daemonURLFile), f.data, defaultDaemonURL)
		}
		base = defaultDaemonURL // nothing secret to send
	}
	c, err := api.NewClient(base, token, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	c.SetActor(actor(e))
	return c, nil
}

// actor names who runs this command, for the daemon's log of on-call
// actions: $VDC_ACTOR, else user@host.
func actor(e *env) string {
	if a := strings.TrimSpace(e.getenv("VDC_ACTOR")); a != "" {
		return a
	}
	user := firstNonEmpty(e.getenv("USER"), e.getenv("LOGNAME"), "unknown")
	host, err := os.Hostname()
	if err != nil || host == "" {
		return user
	}
	return user + "@" + host
}

// daemonErr turns a client error into an exit error with a hint.
func (f *oncallFlags) daemonErr(c *api.Client, err error) error {
	var se *api.StatusError
	switch {
	case errors.Is(err, api.ErrUnreachable):
		return fmt.Errorf("no daemon reachable at %s (%w); start one with 'vdc serve' or point --daemon / VDC_DAEMON at it", c.URL(), err)
	case errors.As(err, &se) && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden):
		return fmt.Errorf("%w; set VDC_TOKEN or --data to the daemon's data directory (its api-token file)", err)
	}
	return err
}

func (f *oncallFlags) writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return nil
}

func newStatusCmd(e *env) *cobra.Command {
	var f oncallFlags
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show every customer's status, or one customer in detail, from the running daemon",
		Long: `Status asks the running daemon (vdc serve) for the customers: sync status,
last applied commit, drift, servers, storage and monthly cost. With NAME it
shows one customer in detail: conditions, resources, agents and the
autoscaler's latest decisions.

The daemon is found through --daemon, else $VDC_DAEMON, else the daemon-url
file a running 'vdc serve' writes into --data; its token through $VDC_TOKEN,
else the api-token file in --data. With a token but none of these, the
command refuses rather than send the token to ` + defaultDaemonURL + `.

Exit codes: 0 success, 1 daemon unreachable, error or unknown customer,
2 usage error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if len(args) == 1 {
				v, err := c.Customer(ctx, args[0])
				if err != nil {
					return f.daemonErr(c, err)
				}
				if f.format == "json" {
					return f.writeJSON(e.stdout, v)
				}
				oncallDetail(e.stdout, v, time.Now())
				return nil
			}
			cs, err := c.Customers(ctx)
			if err != nil {
				return f.daemonErr(c, err)
			}
			if f.format == "json" {
				return f.writeJSON(e.stdout, api.CustomersBody{Customers: cs})
			}
			oncallStatusTable(e.stdout, cs, time.Now())
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// statusWord is the status with the on-call hold marked.
func oncallStatusWord(v daemon.CustomerView) string {
	s := string(v.Status.Status)
	if s == "" {
		s = "Unknown"
	}
	if v.Hold {
		s += " (hold)"
	}
	return s
}

func oncallStatusTable(w io.Writer, cs []daemon.CustomerView, now time.Time) {
	if len(cs) == 0 {
		fmt.Fprintln(w, "no customers")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tCOMMIT\tLAST APPLY\tDRIFT\tSERVERS\tSTORAGE GB\tCOST/MO\tLIST/MO")
	for _, v := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d/%d..%d\t%d\t%s\t%s\n",
			v.Name, oncallStatusWord(v), oncallDash(plan.ShortCommit(v.Status.LastAppliedCommit)), oncallAge(now, v.Status.LastAppliedAt),
			v.Status.Drift, v.Servers, v.MinServers, v.MaxServers, v.StorageGB,
			oncallUSD(v.MonthlyCostUSD), oncallUSD(v.ListPriceUSD))
	}
	tw.Flush()
}

func oncallDetail(w io.Writer, v daemon.CustomerView, now time.Time) {
	title := v.Name
	if v.DisplayName != "" {
		title += " (" + v.DisplayName + ")"
	}
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "  %s:\t"+format+"\n", append([]any{k}, a...)...) }
	row("tier", "%s", oncallDash(v.Tier))
	row("region", "%s", oncallDash(v.Region))
	row("status", "%s", oncallStatusWord(v))
	row("on hold", "%s", oncallYesNo(v.Hold))
	row("suspended in file", "%s", oncallYesNo(v.Suspended))
	row("in git", "%s", oncallYesNo(v.InGit))
	row("last applied", "%s, %s", oncallDash(plan.ShortCommit(v.Status.LastAppliedCommit)), oncallAge(now, v.Status.LastAppliedAt))
	row("last plan", "%s", oncallDash(v.Status.LastPlanSummary))
	row("last error", "%s", oncallDash(v.Status.LastError))
	row("drift", "%d resource(s)", v.Status.Drift)
	row("servers", "%d (min %d, max %d)", v.Servers, v.MinServers, v.MaxServers)
	row("storage", "%d GB (max %d GB)", v.StorageGB, v.MaxStorageGB)
	row("monthly cost", "%s (list price %s)", oncallUSD(v.MonthlyCostUSD), oncallUSD(v.ListPriceUSD))
	row("resources", "%d", len(v.Resources))
	tw.Flush()

	fmt.Fprintln(w, "conditions:")
	if len(v.Status.Conditions) == 0 {
		fmt.Fprintln(w, "  none")
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range v.Status.Conditions {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\tsince %s\n", c.Type, c.Status, oncallDash(c.Reason), oncallDash(c.Message), oncallAge(now, c.LastTransition))
	}
	tw.Flush()

	writeProvisioning(w, v.Status.Provisioning)

	fmt.Fprintln(w, "agents:")
	if len(v.Agents) == 0 {
		fmt.Fprintln(w, "  none")
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range v.Agents {
		last := "never run"
		if r := a.LastRun; r != nil {
			result := "ok"
			if r.Err != "" {
				result = "failed: " + r.Err
			}
			last = fmt.Sprintf("last %s, %s", oncallAge(now, r.Start), result)
		}
		running := ""
		if a.Running {
			running = " (running)"
		}
		fmt.Fprintf(tw, "  %s%s\tevery %s\t%s\truns %d\tfailures %d\n", a.Job, running, oncallDuration(a.Interval), last, a.Runs, a.Failures)
	}
	tw.Flush()

	fmt.Fprintln(w, "autoscale:")
	if len(v.Autoscale) == 0 {
		fmt.Fprintln(w, "  none")
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, d := range v.Autoscale {
		applied := "not applied"
		if d.Applied {
			applied = "applied"
		}
		fmt.Fprintf(tw, "  %s\t%s %d→%d\t%s/mo\t%s\t%s\n", oncallAge(now, d.At), d.Resource, d.From, d.To, oncallSignedUSD(d.MonthlyCostDeltaUSD), applied, d.Reason)
	}
	tw.Flush()
	if a := v.CostAnomaly; a != nil {
		fmt.Fprintf(w, "cost anomaly: %s\n", a.Reason)
		for _, c := range a.Causes {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
}

func newReconcileCmd(e *env) *cobra.Command {
	var f oncallFlags
	var local planFlags
	var localFallback, worktree, autoApprove, noLocal, wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "reconcile NAME...",
		Short: "Reconcile customers now: through the running daemon, else locally",
		Long: `Reconcile queues an immediate reconcile of each customer in the running
daemon and returns once queued (watch it with 'vdc status NAME' or 'vdc
events NAME'). With --wait it returns when a reconcile that started after
the request has finished, with its outcome: synced, applied, or why not
(failed, refused, suspended), or when --timeout passes (the daemon keeps
going).

Without a reachable daemon nothing happens unless --local is given: then
it reconciles the customers from this machine as 'vdc apply --customer
NAME…' would (the state in --data, the clouds from the environment or
--sim), from the committed files the daemon would use (--ref, default
HEAD; --worktree plans the working tree instead), shows the plan and asks
unless --auto-approve. Deletions still need 'vdc apply --allow-delete'.

Exit codes: 0 all queued or reconciled, 1 daemon unreachable (without
--local), a customer unknown, refused or failed, the apply declined, or
(with --wait) not reconciled within --timeout, 2 usage error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return withCode(ExitUsage, fmt.Errorf("--timeout must be positive, not %s", timeout))
			}
			runLocal := func(why string) error {
				if worktree && cmd.Flags().Changed("ref") {
					return withCode(ExitUsage, errors.New("--worktree and --ref exclude each other"))
				}
				if !worktree && !cmd.Flags().Changed("ref") {
					local.repo.ref = "HEAD" // what the daemon follows, never uncommitted edits
				}
				fmt.Fprintf(e.stderr, "%s: reconciling %s from this machine\n", why, strings.Join(args, ", "))
				local.cloud.dataDir, local.targets, local.refresh = f.data, args, true
				local.maxDelete = plan.DefaultMaxDeleteFraction
				return applyLocally(cmd.Context(), e, &local, nil, false, autoApprove)
			}
			if localFallback && f.daemonURL(e) == "" {
				return runLocal("no daemon named (--daemon, VDC_DAEMON or " + filepath.Join(f.data, daemonURLFile) + ")")
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			type result struct {
				Customer string `json:"customer"`
				Status   string `json:"status"`
				Error    string `json:"error,omitempty"`
				// With --wait: the outcome and the customer's status.
				Outcome      string  `json:"outcome,omitempty"`
				SyncStatus   string  `json:"sync_status,omitempty"`
				WaitedSecond float64 `json:"waited_seconds,omitempty"`
			}
			var results []result
			requests := map[string]uint64{}
			failed := 0
			for _, name := range args {
				req, err := c.RequestReconcile(cmd.Context(), name)
				if errors.Is(err, api.ErrUnreachable) {
					if !localFallback {
						return fmt.Errorf("no daemon reachable at %s (%w); nothing was queued. To reconcile from this machine, pass --local (it plans the committed files, shows the plan and asks)", c.URL(), err)
					}
					return runLocal("no daemon reachable at " + c.URL())
				}
				if err != nil {
					var se *api.StatusError
					if !errors.As(err, &se) {
						return f.daemonErr(c, err)
					}
					if se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden {
						return f.daemonErr(c, err)
					}
					failed++
					results = append(results, result{Customer: name, Status: "failed", Error: err.Error()})
					fmt.Fprintf(e.stderr, "vdc: %s: %v\n", name, err)
					continue
				}
				if wait && req == 0 {
					return fmt.Errorf("%s: the daemon at %s does not number reconcile requests (an older vdc serve): --wait needs it upgraded", name, c.URL())
				}
				results = append(results, result{Customer: name, Status: "queued"})
				requests[name] = req
				if f.format == "text" {
					fmt.Fprintf(e.stdout, "%s: reconcile queued\n", name)
				}
			}
			if wait {
				start := time.Now()
				outcomes := waitReconciled(cmd.Context(), c, requests, timeout)
				for i := range results {
					o, ok := outcomes[results[i].Customer]
					if !ok {
						continue
					}
					r := &results[i]
					r.Outcome, r.SyncStatus, r.WaitedSecond = o.outcome, o.status, time.Since(start).Seconds()
					r.Status = "reconciled"
					if !o.ok {
						r.Status, r.Error = "failed", o.err
						failed++
					}
					if f.format == "text" {
						if o.ok {
							fmt.Fprintf(e.stdout, "%s: %s in %s (status %s)\n", r.Customer, o.outcome, o.took.Round(time.Millisecond), o.status)
						} else {
							fmt.Fprintf(e.stderr, "vdc: %s: %s\n", r.Customer, o.err)
						}
					}
				}
			}
			if f.format == "json" {
				if err := f.writeJSON(e.stdout, results); err != nil {
					return err
				}
			}
			if failed > 0 {
				return withCode(ExitFailure, nil)
			}
			return nil
		},
	}
	f.register(cmd)
	local.repo.register(cmd)
	local.cloud.registerEndpoints(cmd)
	cmd.Flags().BoolVar(&localFallback, "local", false, "when no daemon is reachable, reconcile from this machine (plans the committed files at --ref, default HEAD)")
	cmd.Flags().BoolVar(&worktree, "worktree", false, "with --local: plan the working tree's files, uncommitted edits included")
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "with --local: apply without asking")
	cmd.Flags().BoolVar(&noLocal, "no-local", false, "only ask the daemon (the default now; kept for scripts)")
	_ = cmd.Flags().MarkHidden("no-local")
	cmd.Flags().BoolVar(&wait, "wait", false, "return when the reconcile has finished, with its outcome")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "with --wait, give up waiting after this long")
	return cmd
}

// waited is how one customer's --wait ended.
type waited struct {
	ok                   bool
	outcome, status, err string
	took                 time.Duration
}

// waitReconciled polls the daemon until every customer's reconcile
// request is handled by a finished reconcile, or timeout passes.
func waitReconciled(ctx context.Context, c *api.Client, requests map[string]uint64, timeout time.Duration) map[string]waited {
	out := map[string]waited{}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := map[string]daemon.CustomerView{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for len(out) < len(requests) {
		for name, req := range requests {
			if _, done := out[name]; done {
				continue
			}
			v, err := c.Customer(ctx, name)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				continue // a restart or a blip: ask again
			}
			last[name] = v
			run := v.Reconcile.Last
			if run == nil || run.Request < req {
				continue
			}
			w := waited{ok: run.Done(), outcome: run.Outcome, status: oncallStatusWord(v), took: run.End.Sub(run.Start)}
			if !w.ok {
				w.err = fmt.Sprintf("reconcile %s after %s (status %s)", run.Outcome, w.took.Round(time.Millisecond), w.status)
				if run.Err != "" {
					w.err += ": " + run.Err
				} else if v.Status.LastError != "" {
					w.err += ": " + v.Status.LastError
				}
			}
			out[name] = w
		}
		if len(out) == len(requests) {
			break
		}
		select {
		case <-ctx.Done():
			for name := range requests {
				if _, done := out[name]; !done {
					status := "unknown"
					if v, ok := last[name]; ok {
						status = oncallStatusWord(v)
					}
					out[name] = waited{outcome: "timeout", status: status,
						err: fmt.Sprintf("not reconciled within %s (status %s); the daemon keeps going: watch it with 'vdc events %s'", timeout, status, name)}
				}
			}
			return out
		case <-tick.C:
		}
	}
	return out
}

func newHoldCmd(e *env, hold bool) *cobra.Command {
	var f oncallFlags
	use, short, done := "resume NAME", "Lift the on-call suspension of a customer", "resumed"
	if hold {
		use, short, done = "suspend NAME", "Suspend reconciling and agents of a customer (on-call override of the file)", "suspended"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + ` in the running daemon.

The suspension is the daemon's on-call hold, kept in its state: the file's
own "suspended" flag is not changed ('vdc status NAME' shows both).

Exit codes: 0 done, 1 daemon unreachable, error or unknown customer,
2 usage error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			v, err := c.Hold(cmd.Context(), args[0], hold)
			if err != nil {
				return f.daemonErr(c, err)
			}
			if f.format == "json" {
				return f.writeJSON(e.stdout, v)
			}
			fmt.Fprintf(e.stdout, "%s: %s (status %s)\n", v.Name, done, oncallStatusWord(v))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newHistoryCmd(e *env) *cobra.Command {
	var f oncallFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "Show a customer's apply history from the running daemon, newest first",
		Long: `History lists the customer's applies, newest first: when, commit, result,
number of actions, duration, who started it and errors.

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
			h, err := c.History(cmd.Context(), args[0], limit)
			if err != nil {
				return f.daemonErr(c, err)
			}
			if f.format == "json" {
				if h == nil {
					h = []state.ApplyRecord{}
				}
				return f.writeJSON(e.stdout, api.HistoryBody{Customer: args[0], History: h})
			}
			oncallHistory(e.stdout, h, time.Now())
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", api.DefaultHistoryLimit, "show at most N applies")
	return cmd
}

func oncallHistory(w io.Writer, h []state.ApplyRecord, now time.Time) {
	if len(h) == 0 {
		fmt.Fprintln(w, "no applies yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tAGE\tCOMMIT\tRESULT\tACTIONS\tDURATION\tBY\tERRORS")
	for _, r := range h {
		errs := "-"
		if len(r.Errors) > 0 {
			errs = r.Errors[0]
			if len(r.Errors) > 1 {
				errs += fmt.Sprintf(" (+%d more)", len(r.Errors)-1)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			r.When.UTC().Format(time.RFC3339), oncallAge(now, r.When), oncallDash(plan.ShortCommit(r.Commit)), oncallDash(string(r.Result)),
			r.Actions, oncallDuration(r.Duration), oncallDash(r.Who), errs)
	}
	tw.Flush()
}

// Formatting helpers of the on-call output.

func oncallDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oncallYesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func oncallUSD(v float64) string { return fmt.Sprintf("$%.2f", v) }

func oncallSignedUSD(v float64) string {
	if v < 0 {
		return fmt.Sprintf("-$%.2f", -v)
	}
	return fmt.Sprintf("+$%.2f", v)
}

// oncallDuration is compact: "1h", "1h30m", "2m", "1.5s", "-" for zero.
func oncallDuration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	out := d.Round(time.Second).String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

// oncallAge is "never" for a zero time, else a compact "3m ago".
func oncallAge(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}

// daemonURLFile is where vdc serve records the address it listens on.
const daemonURLFile = "daemon-url"

// readDaemonURL returns the URL a running daemon recorded in dataDir ("" if none).
func readDaemonURL(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, daemonURLFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// writeProvisioning lists the phases of the VDC coming up, each with how
// long after the start it was first done.
func writeProvisioning(w io.Writer, p *state.Provisioning) {
	if p == nil {
		fmt.Fprintln(w, "provisioning: not started")
		return
	}
	if ttr := p.TimeToReady(); ttr > 0 {
		fmt.Fprintf(w, "provisioning: ready %s after the first apply\n", ttr.Round(time.Second))
	} else {
		fmt.Fprintln(w, "provisioning:")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ph := range p.Phases {
		when := "waiting"
		if ph.Done {
			when = "done after " + (time.Duration(ph.AfterSeconds * float64(time.Second))).Round(time.Second).String()
		} else if !ph.DoneAt.IsZero() {
			when = "no longer done"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", ph.Name, when)
	}
	tw.Flush()
}
