package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/state"
)

// plan makes the plan the flags ask for: here, with the state file in
// --data, or, when a running daemon holds that file, by the daemon from
// the files read here (planViaDaemon). buildErr is also set with a plan
// that may not be applied.
func (f *planFlags) plan(ctx context.Context, e *env, allowDelete bool) (p *plan.Plan, md plan.MarkdownOptions, buildErr error) {
	log := f.logger(e)
	s, err := f.open(ctx, e, log, false)
	if errors.Is(err, state.ErrFileInUse) {
		return f.planViaDaemon(ctx, e, err)
	}
	if err != nil {
		return nil, md, err
	}
	defer s.Close()
	if err := s.observe(ctx, f.refresh); err != nil {
		return nil, md, err
	}
	p, buildErr = f.build(ctx, s, allowDelete)
	if p == nil {
		return nil, md, buildErr
	}
	return p, f.repo.markdownHeader(e, s.commit, s.files), buildErr
}

// planViaDaemon sends the customer files to the daemon that holds the
// state file and returns its plan.
func (f *planFlags) planViaDaemon(ctx context.Context, e *env, inUse error) (*plan.Plan, plan.MarkdownOptions, error) {
	var md plan.MarkdownOptions
	of := oncallFlags{data: f.cloud.dataDir, format: "text"}
	c, err := of.client(e)
	if err != nil {
		return nil, md, err
	}
	files, src, err := f.repo.readFiles(ctx, e)
	if err != nil {
		return nil, md, err
	}
	commit := src.Commit
	if commit == "" {
		commit = worktreeID(files)
	}
	raw, err := c.PlanFiles(ctx, commit, files, f.targets, f.excludes, api.FormatJSON, "")
	if err != nil {
		if errors.Is(err, api.ErrUnreachable) {
			return nil, md, fmt.Errorf("%w, and no daemon answers at %s to plan instead (%v)", inUse, c.URL(), err)
		}
		return nil, md, of.daemonErr(c, err)
	}
	var p plan.Plan
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, md, fmt.Errorf("the daemon's plan: %w", err)
	}
	fmt.Fprintf(e.stderr, "note: the daemon at %s holds %s: it planned these files against its cached observation of the clouds (its own --allow-delete; no refresh)\n",
		c.URL(), f.cloud.dataDir)
	md = f.repo.markdownHeader(e, commit, files)
	if p.Refused != "" {
		return &p, md, fmt.Errorf("plan refused: %s", p.Refused)
	}
	return &p, md, nil
}
