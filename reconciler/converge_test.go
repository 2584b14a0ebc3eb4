package reconciler_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// testFrontendKey stands in for the front-end's SSH public key (vdc.yaml).
const testFrontendKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH oneadmin@test"

// load reads customer files given as name → extra YAML lines.
func load(t *testing.T, extra map[string]string) []schema.Customer {
	t.Helper()
	l, err := schema.NewLoader()
	if err != nil {
		t.Fatal(err)
	}
	var files []schema.File
	for name, more := range extra {
		files = append(files, schema.File{Path: "customers/" + name + ".yaml", Data: fmt.Appendf(nil,
			"name: %s\ndisplayName: %s\nowner: ops@%s.example\ntier: pro\nregion: fsn1\n%s", name, name, name, more)})
	}
	res := l.Load(files)
	if !res.OK() {
		t.Fatal(res.Error())
	}
	return res.Customers
}

// planFor plans cs against a fresh observation of w.
func (w *world) planFor(t *testing.T, cs []schema.Customer, opts plan.Options) (*plan.Plan, []plan.Resource) {
	t.Helper()
	observed, err := reconciler.Refresh(context.Background(), w.providers, w.store)
	if err != nil {
		t.Fatal(err)
	}
	held, err := w.store.AddressBlocks()
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(plan.Input{Commit: "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00", Customers: cs, Observed: observed,
		Now: time.Now(), Prices: plan.DefaultExoscalePrices(), Options: opts, HeldBlocks: held})
	if p == nil {
		t.Fatal(err)
	}
	return p, observed
}

func status(t *testing.T, st *state.Store, name string) state.CustomerStatus {
	t.Helper()
	cs, err := st.GetStatus(name)
	if err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
	return cs
}

func reconciling(t *testing.T, cs state.CustomerStatus) state.Condition {
	t.Helper()
	c, ok := cs.Condition(state.ConditionReconciling)
	if !ok {
		t.Fatalf("%s has no %s condition: %+v", cs.Name, state.ConditionReconciling, cs)
	}
	return c
}

// TestConvergeRecordsOutcomes walks one store through create, no-op,
// a failed step, a protected deletion and a pruned one, checking what
// Converge leaves in status, history, leases and the observation.
func TestConvergeRecordsOutcomes(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simstack.Options{HetznerRateLimitPerHour: -1})
	conv := &reconciler.Converger{Providers: w.providers, Store: w.store, FrontendSSHKey: w.stack.FrontendSSHKey(), Holder: "test-holder", Who: "tester", Concurrency: 1}
	cs := load(t, map[string]string{"alpha": "", "bravo": "protection:\n  deletionProtection: false\n"})

	// 1. Create both.
	p, observed := w.planFor(t, cs, plan.Options{})
	res, err := conv.Converge(ctx, p, observed)
	if err != nil || res.Err() != nil {
		t.Fatalf("converge: %v / %v", err, res.Err())
	}
	for _, name := range []string{"alpha", "bravo"} {
		cr, _ := res.Customer(name)
		if cr.Outcome != reconciler.OutcomeApplied {
			t.Errorf("%s: outcome %s, want applied", name, cr.Outcome)
		}
		st := status(t, w.store, name)
		if st.Status != state.StatusSynced || st.LastAppliedCommit != p.Commit || reconciling(t, st).Reason != state.ReasonApplied {
			t.Errorf("%s: status %+v", name, st)
		}
		if l, err := w.store.CurrentLease(name); err == nil {
			t.Errorf("%s: lease still held after converge: %+v", name, l)
		}
	}
	if res.Record == nil || res.Record.Result != state.ResultSucceeded || res.Record.Who != "tester" || len(res.Record.Customers) != 2 {
		t.Fatalf("history record %+v", res.Record)
	}
	blocks, _ := w.store.AddressBlocks()
	if len(blocks) != 2 || blocks["alpha"] == "" || blocks["alpha"] == blocks["bravo"] {
		t.Fatalf("address blocks after the first apply: %v", blocks)
	}
	// The patched observation is what a refresh sees (same addresses).
	fresh, err := reconciler.Refresh(ctx, w.providers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := addresses(res.Observed), addresses(fresh); got != want {
		t.Errorf("patched observation differs from a refresh:\n got %s\nwant %s", got, want)
	}

	// 2. Nothing to do: Synced, no apply, no history entry.
	p, observed = w.planFor(t, cs, plan.Options{})
	res, err = conv.Converge(ctx, p, observed)
	if err != nil {
		t.Fatal(err)
	}
	if res.Apply != nil || res.Record != nil {
		t.Errorf("no-op converge applied: %+v", res.Apply)
	}
	if cr, _ := res.Customer("alpha"); cr.Outcome != reconciler.OutcomeSynced {
		t.Errorf("no-op outcome %s", cr.Outcome)
	}
	if h, _ := w.store.History("", 0); len(h) != 1 {
		t.Errorf("history has %d records after a no-op, want 1", len(h))
	}

	// 3. A failing step for alpha only (a server type change is an
	// in-place update; the simulator refuses the first one for good).
	grown := load(t, map[string]string{"alpha": "compute:\n  serverType: ccx23\n", "bravo": "protection:\n  deletionProtection: false\n"})
	if _, err := w.stack.Hetzner.Control().AddFault(simctl.Fault{Pattern: "POST /v1/servers/*/actions/change_type", ErrorRate: 1, Status: 422}); err != nil {
		t.Fatal(err)
	}
	p, observed = w.planFor(t, grown, plan.Options{})
	if !p.HasChanges() {
		t.Fatal("server type change planned nothing")
	}
	res, err = conv.Converge(ctx, p, observed)
	if err != nil {
		t.Fatal(err)
	}
	cr, _ := res.Customer("alpha")
	if cr.Outcome != reconciler.OutcomeFailed || cr.Err == nil || res.Err() == nil {
		t.Fatalf("alpha outcome %s (%v), want failed", cr.Outcome, cr.Err)
	}
	st := status(t, w.store, "alpha")
	if st.Status != state.StatusError || st.LastError == "" || reconciling(t, st).Reason != state.ReasonApplyFailed {
		t.Errorf("failed status %+v", st)
	}
	if res.Record.Result != state.ResultFailed {
		t.Errorf("history result %s, want failed (the only changing customer failed)", res.Record.Result)
	}
	w.stack.Hetzner.Control().ClearFaults()

	// 4. alpha removed from git while protected: refused, nothing deleted.
	onlyBravo := load(t, map[string]string{"bravo": "protection:\n  deletionProtection: false\n"})
	p, observed = w.planFor(t, onlyBravo, plan.Options{AllowDelete: true, MaxDeleteFraction: 1})
	res, err = conv.Converge(ctx, p, observed)
	if err != nil {
		t.Fatal(err)
	}
	if cr, _ := res.Customer("alpha"); cr.Outcome != reconciler.OutcomeRefused || res.Refused() == nil {
		t.Fatalf("protected deletion: outcome %s", cr.Outcome)
	}
	if st := status(t, w.store, "alpha"); st.Status != state.StatusDegraded || reconciling(t, st).Reason != state.ReasonRefused {
		t.Errorf("refused status %+v", st)
	}
	// A new customer never gets the block of one whose resources still exist.
	withNew := load(t, map[string]string{"bravo": "protection:\n  deletionProtection: false\n", "charlie": ""})
	if p, _ := w.planFor(t, withNew, plan.Options{Targets: []string{"charlie"}}); p.Blocks()["charlie"] == blocks["alpha"] ||
		p.Blocks()["charlie"] == blocks["bravo"] || p.Blocks()["charlie"] == "" {
		t.Errorf("charlie was planned with block %q while alpha holds %s and bravo %s", p.Blocks()["charlie"], blocks["alpha"], blocks["bravo"])
	}

	// 5. bravo (unprotected) removed with pruning: deleted, state forgotten.
	p, observed = w.planFor(t, nil, plan.Options{AllowDelete: true, MaxDeleteFraction: 1, Targets: []string{"bravo"}})
	res, err = conv.Converge(ctx, p, observed)
	if err != nil {
		t.Fatal(err)
	}
	if cr, _ := res.Customer("bravo"); cr.Outcome != reconciler.OutcomeDeleted {
		t.Fatalf("pruned customer: outcome %s (%v)", cr.Outcome, cr.Err)
	}
	if _, err := w.store.GetStatus("bravo"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("deleted customer's status kept: %v", err)
	}
	for _, r := range res.Observed {
		if r.Customer == "bravo" {
			t.Errorf("deleted customer still observed: %s", r.Address())
		}
	}
	// bravo's block is free once its resources are gone; alpha's is not.
	if after, _ := w.store.AddressBlocks(); after["bravo"] != "" || after["alpha"] != blocks["alpha"] {
		t.Errorf("blocks after bravo's deletion: %v", after)
	}
}

// TestConvergeRefusedPlan: a plan that refuses itself (mass deletion)
// applies nothing, says so and marks the customers it would change.
func TestConvergeRefusedPlan(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simstack.Options{HetznerRateLimitPerHour: -1})
	conv := &reconciler.Converger{Providers: w.providers, Store: w.store, FrontendSSHKey: w.stack.FrontendSSHKey(), Holder: "h", Who: "tester"}
	unprotected := "protection:\n  deletionProtection: false\n"
	cs := load(t, map[string]string{"first": unprotected, "second": unprotected, "third": unprotected})
	p, observed := w.planFor(t, cs, plan.Options{})
	if _, err := conv.Converge(ctx, p, observed); err != nil {
		t.Fatal(err)
	}
	first := slices.DeleteFunc(slices.Clone(cs), func(c schema.Customer) bool { return c.Name != "first" })
	p, observed = w.planFor(t, first, plan.Options{AllowDelete: true, MaxDeleteFraction: 0.5})
	if p.Refused == "" {
		t.Fatal("deleting 2 of 3 customers was not refused")
	}
	before := w.calls()
	res, err := conv.Converge(ctx, p, observed)
	if !errors.Is(err, reconciler.ErrPlanRefused) {
		t.Fatalf("err = %v, want ErrPlanRefused", err)
	}
	if res.Apply != nil || w.calls() != before {
		t.Errorf("a refused plan made %d cloud calls", w.calls()-before)
	}
	for _, name := range []string{"second", "third"} {
		if st := status(t, w.store, name); st.Status != state.StatusDegraded || reconciling(t, st).Reason != state.ReasonRefused {
			t.Errorf("%s: status %+v", name, st)
		}
	}
}

// TestConvergeTakesOverADeadLease: a lease left by a killed process is
// taken over and reported; the apply goes on.
func TestConvergeTakesOverADeadLease(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simstack.Options{HetznerRateLimitPerHour: -1})
	cs := load(t, map[string]string{"alpha": ""})
	if _, err := w.store.Acquire("alpha", "vdc-apply-999999", time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	conv := &reconciler.Converger{Providers: w.providers, Store: w.store, FrontendSSHKey: w.stack.FrontendSSHKey(), Holder: "daemon-1", Who: "daemon"}
	p, observed := w.planFor(t, cs, plan.Options{})
	res, err := conv.Converge(ctx, p, observed)
	if err != nil || res.Err() != nil {
		t.Fatalf("converge: %v / %v", err, res.Err())
	}
	if res.TookOver["alpha"] != "vdc-apply-999999" {
		t.Errorf("TookOver = %v", res.TookOver)
	}
}

func addresses(rs []plan.Resource) string {
	s := make([]string, 0, len(rs))
	for _, r := range rs {
		s = append(s, r.Address().String())
	}
	return fmt.Sprint(slices.Sorted(slices.Values(s)))
}

// TestLostSecretsAreNotRegenerated (issue 11, item 4): the state file
// lost a running customer's secrets (an empty file re-created, an old
// backup). Converge refuses to make new WireGuard keys for nodes that
// carry the old ones, before any change reaches the clouds.
func TestLostSecretsAreNotRegenerated(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, simstack.Options{HetznerRateLimitPerHour: -1})
	conv := &reconciler.Converger{Providers: w.providers, Store: w.store, FrontendSSHKey: w.stack.FrontendSSHKey(), Holder: "test-holder", Who: "tester", Concurrency: 1}
	cs := load(t, map[string]string{"alpha": ""})
	p, observed := w.planFor(t, cs, plan.Options{})
	if res, err := conv.Converge(ctx, p, observed); err != nil || res.Err() != nil {
		t.Fatalf("converge: %v / %v", err, res.Err())
	}
	if err := w.store.DeleteSecrets("alpha"); err != nil {
		t.Fatal(err)
	}
	// A change that needs the secrets: one more server.
	grown := load(t, map[string]string{"alpha": "compute:\n  minServers: 2\n  maxServers: 4\n"})
	p, observed = w.planFor(t, grown, plan.Options{})
	before := mutating(w)
	res, err := conv.Converge(ctx, p, observed)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); !errors.Is(err, reconciler.ErrSecretsLost) {
		t.Fatalf("converge with lost secrets: %v, want ErrSecretsLost", err)
	}
	if _, err := w.store.Secrets("alpha"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("secrets were regenerated: %v", err)
	}
	if n := mutating(w) - before; n != 0 {
		t.Errorf("%d mutating cloud calls after the refusal", n)
	}
}

// mutating counts the Hetzner and Exoscale calls that change something.
func mutating(w *world) int64 {
	var n int64
	for _, c := range []*simctl.Controller{w.stack.Hetzner.Control(), w.stack.Exoscale.Control()} {
		n += c.Total("POST *") + c.Total("PUT *") + c.Total("DELETE *")
	}
	return n
}
