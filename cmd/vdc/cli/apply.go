package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/state"
)

func newApplyCmd(e *env) *cobra.Command {
	var pf planFlags
	var autoApprove, allowDelete bool
	cmd := &cobra.Command{
		Use:   "apply [PLANFILE]",
		Short: "Make the clouds match the customer files",
		Long: `Apply computes a plan (or takes one saved by 'vdc plan --out FILE'),
shows it, asks for confirmation unless --auto-approve, and executes it:
every mutating call is journaled in state before it is made, customers are
applied in parallel, one customer's steps in order. A saved plan is refused
if the commit or the observed state moved since it was made.

After an interrupted apply, run apply again: the clouds are re-read and the
deterministic names and ownership labels make the rerun create nothing twice.

Exit codes: 0 applied (or nothing to do), 1 error, refused or not approved,
2 usage error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var saved *plan.Plan
			if len(args) == 1 {
				var err error
				if saved, err = readPlanFile(args[0]); err != nil {
					return err
				}
			}
			return applyLocally(cmd.Context(), e, &pf, saved, allowDelete, autoApprove)
		},
	}
	pf.register(cmd)
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&allowDelete, "allow-delete", false, "delete the resources of customers removed from git whose protection is off")
	return cmd
}

// applyLocally plans (or takes the saved plan), shows it, asks unless
// autoApprove, and applies it from this machine.
func applyLocally(ctx context.Context, e *env, pf *planFlags, saved *plan.Plan, allowDelete, autoApprove bool) error {
	log := pf.logger(e)
	s, err := pf.open(ctx, e, log, true)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := settleJournal(s.store, e); err != nil {
		return err
	}
	if err := s.observe(ctx, true); err != nil {
		return err
	}
	p := saved
	if p != nil {
		if p.Commit != s.commit {
			return fmt.Errorf("the saved plan is for %s but the customer files are now at %s; run vdc plan again", plan.ShortCommit(p.Commit), plan.ShortCommit(s.commit))
		}
		if fp := plan.Fingerprint(s.observed, p.Scope); fp != p.ObservedFingerprint {
			return errors.New("the clouds changed since the plan was saved (observed state moved); run vdc plan again")
		}
		if p.Options.AllowDelete && !allowDelete {
			return errors.New("the saved plan deletes customers: pass --allow-delete to apply it")
		}
	} else {
		var buildErr error
		p, buildErr = pf.build(ctx, s, allowDelete)
		if p == nil || buildErr != nil {
			if p != nil {
				_ = plan.RenderText(e.stdout, p, plan.TextOptions{Color: isTerminal(e.stdout)})
			}
			return buildErr
		}
	}
	if p.Refused != "" {
		return fmt.Errorf("plan refused: %s", p.Refused)
	}
	if err := plan.RenderText(e.stdout, p, plan.TextOptions{Color: isTerminal(e.stdout)}); err != nil {
		return err
	}
	if p.HasChanges() && !autoApprove && !confirm(e, fmt.Sprintf("Apply %d steps to %d customers?", len(p.Steps), p.Summary.Changed)) {
		return errors.New("apply cancelled")
	}
	return converge(ctx, e, log, s, p)
}

// settleJournal closes the intents an interrupted apply left open.
func settleJournal(st *state.Store, e *env) error {
	pending, err := reconciler.SettleJournal(st)
	if len(pending) > 0 {
		fmt.Fprintf(e.stderr, "resuming after an interrupted apply: %d calls had no recorded outcome; re-reading the clouds\n", len(pending))
	}
	return err
}

// createsServers reports whether applying p creates a Hetzner server
// (whose user data needs the front-end's key).
func createsServers(p *plan.Plan) bool {
	for _, st := range p.Steps {
		if a := p.Actions[st.Index]; a.Kind == plan.HetznerServer && st.Op == plan.ActionCreate {
			return true
		}
	}
	return false
}

// converge applies p through reconciler.Converge and reports the outcome.
func converge(ctx context.Context, e *env, log *slog.Logger, s *session, p *plan.Plan) error {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	if s.clouds.stack == nil && s.clouds.frontendKey == "" && createsServers(p) {
		return errNoFrontendKey
	}
	conv := &reconciler.Converger{
		Providers: s.clouds.providers, Store: s.store, Log: log, RefreshAfter: true, FrontendSSHKey: s.clouds.frontendKey,
		Holder: fmt.Sprintf("vdc-apply-%d", os.Getpid()), Who: who,
		Progress: func(ev reconciler.StepEvent) {
			status := "ok"
			if ev.Err != nil {
				status = "FAILED: " + ev.Err.Error()
			}
			fmt.Fprintf(e.stderr, "[%d/%d] %s %s %s (%s)\n", ev.Done, ev.Total, ev.Op, ev.Address, status, ev.Duration.Round(time.Millisecond))
		},
	}
	start := time.Now()
	res, err := conv.Converge(ctx, p, s.observed)
	for c, prev := range res.TookOver {
		fmt.Fprintf(e.stderr, "customer %s: took over the lease of %s, which is no longer running\n", c, prev)
	}
	if err != nil {
		return err
	}
	refused := res.Refused()
	if res.Apply == nil {
		if refused != nil {
			return refused
		}
		fmt.Fprintln(e.stdout, "Nothing to apply.")
		return nil
	}
	if err := res.Err(); err != nil {
		return errors.Join(fmt.Errorf("apply %s: %d of %d steps done: %w", res.Apply.ApplyID, res.Apply.Done, res.Apply.Steps, err), refused)
	}
	fmt.Fprintf(e.stdout, "Apply complete: %d steps for %d customers in %s.\n", res.Apply.Done, len(res.Record.Customers), time.Since(start).Round(time.Millisecond))
	if refused != nil {
		return fmt.Errorf("%w (the others were applied)", refused)
	}
	return nil
}
