package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/gitsource"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// Customers serves the API (reconciler/api.Service).
func (d *Daemon) Customers(ctx context.Context) ([]CustomerView, error) {
	names := map[string]bool{}
	d.mu.Lock()
	for n := range d.desired {
		names[n] = true
	}
	for n := range d.observed {
		if n != "" {
			names[n] = true
		}
	}
	d.mu.Unlock()
	list, err := d.cfg.Store.ListStatus()
	if err != nil {
		return nil, err
	}
	for _, cs := range list {
		names[cs.Name] = true
	}
	out := make([]CustomerView, 0, len(names))
	for n := range names {
		v, err := d.view(n, false)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Customer serves the API (reconciler/api.Service).
func (d *Daemon) Customer(ctx context.Context, name string) (CustomerView, error) {
	return d.view(name, true)
}

func (d *Daemon) view(name string, detail bool) (CustomerView, error) {
	st, err := d.cfg.Store.GetStatus(name)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return CustomerView{}, err
	}
	known := err == nil
	d.mu.Lock()
	c, inGit := d.desired[name]
	obs := append([]plan.Resource(nil), d.observed[name]...)
	v := CustomerView{Name: name, InGit: inGit, Hold: d.holds[name], Status: st,
		Autoscale: append([]ScaleDecision(nil), d.decisions[name]...), CostAnomaly: d.anomalies[name]}
	v.Reconcile.Requested = d.requests[name]
	if r, ok := d.runs[name]; ok {
		v.Reconcile.Last = &r
	}
	prices := d.prices
	d.mu.Unlock()
	if !inGit && !known && len(obs) == 0 {
		return CustomerView{}, ErrNotFound
	}
	if v.Status.Name == "" {
		v.Status.Name = name
	}
	if inGit {
		v.DisplayName, v.Tier, v.Region, v.Suspended = c.DisplayName, string(c.Tier), c.Region, c.Suspended
		v.MinServers, v.MaxServers, v.MaxStorageGB = c.Compute.MinServers, c.Compute.MaxServers, c.Storage.MaxGB
		v.ListPriceUSD = c.Placement.ListPriceUSD
	}
	for _, r := range obs {
		switch r.Kind {
		case plan.HetznerServer:
			v.Servers++
		case plan.ExoBlockVolume:
			v.StorageGB, _ = strconv.Atoi(r.Attrs["size_gb"])
		}
	}
	v.MonthlyCostUSD = plan.MonthlyCostUSD(obs, prices)
	if detail {
		v.Resources = obs
	}
	if d.sched != nil {
		if ss, ok := d.sched.Status(name); ok {
			for _, j := range ss.Jobs {
				aj := AgentJob{Job: j.Job, Interval: j.Interval, Next: j.Next, Running: j.Running, Runs: j.Counters.Runs, Failures: j.Counters.Failures}
				if j.LastRun != nil {
					aj.LastRun = &AgentRun{Start: j.LastRun.Start, Duration: j.LastRun.Duration, Err: j.LastRun.Err}
				}
				v.Agents = append(v.Agents, aj)
			}
		}
	}
	return v, nil
}

// Reconcile serves the API (reconciler/api.Service).
func (d *Daemon) Reconcile(ctx context.Context, name string) error {
	if _, err := d.view(name, false); err != nil {
		return err
	}
	d.mu.Lock()
	d.requests[name]++
	d.mu.Unlock()
	d.queue.Add(name)
	return nil
}

// Hold serves the API (reconciler/api.Service): an on-call suspension that survives restarts.
func (d *Daemon) Hold(ctx context.Context, name string, hold bool) error {
	if _, err := d.view(name, false); err != nil {
		return err
	}
	v := []byte("0")
	if hold {
		v = []byte("1")
	}
	if err := d.cfg.Store.PutCursor(holdCursor, name, v); err != nil {
		return err
	}
	d.mu.Lock()
	if hold {
		d.holds[name] = true
	} else {
		delete(d.holds, name)
	}
	d.mu.Unlock()
	d.queue.Add(name)
	return nil
}

// History serves the API (reconciler/api.Service).
func (d *Daemon) History(ctx context.Context, name string, limit int) ([]state.ApplyRecord, error) {
	if _, err := d.view(name, false); err != nil {
		return nil, err
	}
	return d.cfg.Store.History(name, limit)
}

// Plan serves the API (reconciler/api.Service): the customer files at ref, planned against
// the cached observation (no cloud API call).
//
// Its errors go to API users: they name the ref and the customers path but
// never the daemon's repository (its path or URL); the full error is
// logged.
func (d *Daemon) Plan(ctx context.Context, ref string) (*plan.Plan, error) {
	commit, err := d.cfg.Source.Resolve(ref)
	if err != nil {
		if _, ferr := d.cfg.Source.Fetch(ctx); ferr == nil {
			commit, err = d.cfg.Source.Resolve(ref)
		} else {
			d.log.Warn("plan: fetch", "ref", ref, "err", ferr)
		}
		if err != nil {
			d.log.Info("plan: ref not resolved", "ref", ref, "err", err)
			if errors.Is(err, gitsource.ErrRefNotFound) {
				return nil, fmt.Errorf("%w: %q is not a branch, tag or commit of the daemon's repository", ErrBadRef, ref)
			}
			return nil, fmt.Errorf("%w: %q could not be read from the daemon's repository (the daemon's log has the details)", ErrBadRef, ref)
		}
	}
	files, err := d.cfg.Source.Files(commit, d.cfg.Path)
	if err != nil {
		d.log.Info("plan: files", "ref", ref, "err", err)
		if errors.Is(err, gitsource.ErrNoDirectory) {
			return nil, fmt.Errorf("%w: %q has no directory %q", ErrBadRef, ref, d.cfg.Path)
		}
		return nil, fmt.Errorf("%w: the customer files at %q could not be read (the daemon's log has the details)", ErrBadRef, ref)
	}
	return d.PlanFiles(ctx, commit.Hash.String(), files, nil, nil)
}

// PlanFiles serves the API (reconciler/api.Service): customer files the
// caller read (vdc plan from a working tree or a commit of its own),
// planned as Plan plans a ref, for the targets (all when empty) but the
// excludes. commit labels the plan.
func (d *Daemon) PlanFiles(ctx context.Context, commit string, files []schema.File, targets, excludes []string) (*plan.Plan, error) {
	loaded := d.loader.Load(files)
	held, err := d.cfg.Store.AddressBlocks()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	in := plan.Input{Commit: commit, Customers: loaded.Customers, Invalid: loaded.Diagnostics,
		Observed: d.observedLocked(), ObservedAt: d.observedAt, Prices: d.prices,
		AddressPool: d.cfg.AddressPool, HeldBlocks: held,
		Options: plan.Options{Targets: targets, Excludes: excludes, AllowDelete: d.cfg.AllowDelete, MaxDeleteFraction: d.cfg.MaxDeleteFraction,
			HetznerServerQuota: d.cfg.HetznerServerQuota, ExoscaleVolumeQuota: d.cfg.ExoscaleVolumeQuota, ExoscaleStorageQuotaGB: d.cfg.ExoscaleStorageQuotaGB}}
	d.mu.Unlock()
	in.Now = time.Now().UTC()
	p, err := plan.Build(in)
	if p != nil {
		return p, nil // a refused plan still explains itself
	}
	return nil, err
}

// Events serves the API (reconciler/api.Service): the customer's
// timeline (Timeline), the newest limit events.
func (d *Daemon) Events(ctx context.Context, name string, limit int) ([]Event, error) {
	v, err := d.view(name, false)
	if err != nil {
		return nil, err
	}
	h, err := d.cfg.Store.History(name, limit)
	if err != nil {
		return nil, err
	}
	var runs []AgentRun
	if d.sched != nil {
		for _, r := range d.sched.History(name) {
			runs = append(runs, AgentRun{Job: r.Job, Start: r.Start, Duration: r.Duration, Err: r.Err})
		}
	}
	ev := Timeline(v, h, runs)
	if limit > 0 && len(ev) > limit {
		ev = ev[len(ev)-limit:]
	}
	return ev, nil
}

// Sync serves the API (reconciler/api.Service).
func (d *Daemon) Sync(ctx context.Context) error {
	err := d.syncGit(ctx)
	d.updateReady()
	return err
}

// Ready serves the API (reconciler/api.Service).
func (d *Daemon) Ready() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ready
}
