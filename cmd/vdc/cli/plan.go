package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// planFlags are shared by plan and apply.
type planFlags struct {
	repo      repoFlags
	cloud     cloudFlags
	targets   []string
	excludes  []string
	refresh   bool
	maxDelete float64
	verbose   bool
}

func (f *planFlags) register(cmd *cobra.Command) {
	f.repo.register(cmd)
	f.cloud.register(cmd)
	cmd.Flags().StringSliceVar(&f.targets, "customer", nil, "plan only these customers (repeatable)")
	cmd.Flags().StringSliceVar(&f.excludes, "exclude", nil, "leave these customers out (repeatable)")
	cmd.Flags().BoolVar(&f.refresh, "refresh", true, "observe the clouds first; false plans against the cached observed state (no API calls)")
	cmd.Flags().Float64Var(&f.maxDelete, "max-delete-fraction", plan.DefaultMaxDeleteFraction, "refuse plans that delete more than this share of customers")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "log API activity to stderr")
}

func (f *planFlags) logger(e *env) *slog.Logger {
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

// session is an opened state store and (when refreshing or applying) the clouds.
type session struct {
	store    *state.Store
	clouds   *clouds
	observed []plan.Resource
	obsAt    map[plan.Kind]time.Time
	commit   string
	files    []schema.File
	res      *schema.Result
}

func (s *session) Close() {
	if s.clouds != nil {
		s.clouds.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
}

// open loads the customers, opens state and, if asked, the clouds.
func (f *planFlags) open(ctx context.Context, e *env, log *slog.Logger, needClouds bool) (*session, error) {
	loader, err := schema.NewLoader()
	if err != nil {
		return nil, err
	}
	files, src, err := f.repo.readFiles(ctx, e)
	if err != nil {
		return nil, err
	}
	s := &session{res: loader.Load(files), commit: src.Commit, files: files}
	if s.commit == "" {
		s.commit = worktreeID(files)
	}
	if s.store, err = f.cloud.openState(log, e.getenv); err != nil {
		return nil, err
	}
	if needClouds || f.refresh {
		if s.clouds, err = f.cloud.open(ctx, e, log); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// worktreeID names the content of an uncommitted working tree, so a saved
// plan can tell when the files changed since.
func worktreeID(files []schema.File) string {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.Path, len(f.Data))
		h.Write(f.Data)
	}
	return "worktree-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// observe refreshes from the clouds or reads the cache.
func (s *session) observe(ctx context.Context, refresh bool) error {
	if refresh {
		if _, err := reconciler.Refresh(ctx, s.clouds.providers, s.store); err != nil {
			return err
		}
	}
	var err error
	s.observed, s.obsAt, err = s.store.Observed()
	return err
}

func (f *planFlags) build(ctx context.Context, s *session, allowDelete bool) (*plan.Plan, error) {
	prices, err := f.cloud.prices(ctx, s.clouds, s.store)
	if err != nil {
		return nil, err
	}
	pool, err := f.cloud.pool()
	if err != nil {
		return nil, err
	}
	var held map[string]string
	if s.store != nil {
		if held, err = s.store.AddressBlocks(); err != nil {
			return nil, err
		}
	}
	return plan.Build(plan.Input{
		Commit: s.commit, Customers: s.res.Customers, Invalid: s.res.Diagnostics,
		Observed: s.observed, ObservedAt: s.obsAt, Now: time.Now().UTC(), Prices: prices, HeldBlocks: held, AddressPool: pool,
		Options: plan.Options{Targets: f.targets, Excludes: f.excludes, AllowDelete: allowDelete, MaxDeleteFraction: f.maxDelete,
			HetznerServerQuota: f.cloud.hetznerServerQuota, ExoscaleVolumeQuota: f.cloud.exoscaleVolumeQuota,
			ExoscaleStorageQuotaGB: f.cloud.exoscaleStorageQuotaGB},
	})
}

func newPlanCmd(e *env) *cobra.Command {
	var pf planFlags
	var format, out string
	var detailed, allowDelete bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what applying the customer files to the clouds would change, and what it costs",
		Long: `Plan reads the customer files, observes the clouds (one list call per
resource type, or the cache with --refresh=false) and prints the ordered
actions with attribute-level changes and the monthly cost delta.

--out FILE saves the plan as JSON for 'vdc apply FILE'.

While 'vdc serve' runs on the same --data, it holds the state file: the
plan is then made by the daemon (found as 'vdc status' finds it) from the
files read here, against its cached observation of the clouds (a note on
stderr says so; --refresh and --allow-delete are the daemon's).

Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error or a
refused plan, 2 usage error (with --detailed-exitcode: 2 also means the plan
has changes).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch format {
			case "text", "markdown", "json":
			default:
				return withCode(ExitUsage, fmt.Errorf("--format must be text, markdown or json, not %q", format))
			}
			p, md, buildErr := pf.plan(cmd.Context(), e, allowDelete)
			if p == nil {
				return buildErr
			}
			md.FullPlanURL = out
			if err := renderPlan(e.stdout, format, p, md); err != nil {
				return err
			}
			if out != "" {
				if err := writePlanFile(out, p); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "plan saved to %s; apply it with: vdc apply %s\n", out, out)
			}
			if buildErr != nil {
				return buildErr
			}
			if detailed && p.HasChanges() {
				return withCode(2, nil)
			}
			return nil
		},
	}
	pf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "output: text, markdown (PR comment) or json")
	cmd.Flags().StringVar(&out, "out", "", "also save the plan as JSON to this file")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 without changes, 2 with changes, 1 on error")
	cmd.Flags().BoolVar(&allowDelete, "allow-delete", false, "plan deletion of customers removed from git (if not protected)")
	return cmd
}

func renderPlan(w io.Writer, format string, p *plan.Plan, md plan.MarkdownOptions) error {
	switch format {
	case "markdown":
		return plan.RenderMarkdown(w, p, md)
	case "json":
		return plan.RenderJSON(w, p)
	default:
		return plan.RenderText(w, p, plan.TextOptions{Color: isTerminal(w)})
	}
}

// isTerminal reports whether w is a character device (colour output),
// unless NO_COLOR is set.
func isTerminal(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writePlanFile(path string, p *plan.Plan) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plan-*")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := plan.RenderJSON(tmp, p); err != nil {
		tmp.Close()
		return fmt.Errorf("save plan: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

func readPlanFile(path string) (*plan.Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p plan.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s is not a saved plan: %w", path, err)
	}
	if p.FormatVersion == "" || !strings.HasPrefix(p.FormatVersion, "1.") {
		return nil, fmt.Errorf("%s: plan format_version %q is not supported (want 1.x)", path, p.FormatVersion)
	}
	return &p, nil
}

// confirm asks on stdin; only "yes" approves.
func confirm(e *env, question string) bool {
	fmt.Fprintf(e.stderr, "%s\n  Only 'yes' will be accepted: ", question)
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return strings.TrimSpace(line) == "yes"
}
