package plan

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/schema"
)

func exampleList(t *testing.T) []schema.Customer {
	ex := examples(t)
	return []schema.Customer{ex["acme-analytics"], ex["bluebird-books"], ex["casa-verde"], ex["dune-labs"]}
}

func without(cs []schema.Customer, name string) []schema.Customer {
	var out []schema.Customer
	for _, c := range cs {
		if c.Name != name {
			out = append(out, c)
		}
	}
	return out
}

func customerPlan(t *testing.T, p *Plan, name string) CustomerPlan {
	t.Helper()
	for _, c := range p.Customers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no customer %s in plan", name)
	return CustomerPlan{}
}

func TestBuildNewAndConverged(t *testing.T) {
	cs := exampleList(t)
	p, err := Build(Input{Commit: "abc", Customers: cs, Now: testNow, Prices: testPrices()})
	if err != nil {
		t.Fatal(err)
	}
	if p.FormatVersion != "1.0" || p.Commit != "abc" || !p.HasChanges() || p.Summary.Changed != 4 {
		t.Fatalf("plan %+v", p.Summary)
	}
	n := 0
	for _, c := range cs {
		n += len(Expand(c, addrsOf(c.Name), nil))
	}
	if p.Summary.Counts.Create != n || len(p.Steps) != n || len(p.Actions) != n {
		t.Fatalf("creates %d, steps %d, actions %d; want %d", p.Summary.Counts.Create, len(p.Steps), len(p.Actions), n)
	}
	for _, c := range p.Customers {
		if c.Status != StatusCreate {
			t.Errorf("%s: status %s", c.Name, c.Status)
		}
	}
	obs := converged(cs...)
	p, err = Build(Input{Commit: "abc", Customers: cs, Observed: obs, Now: testNow, Prices: testPrices()})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() || len(p.Actions) != 0 || p.Summary.Counts.NoOp != len(obs) {
		t.Fatalf("converged plan: %d actions, counts %+v", len(p.Actions), p.Summary.Counts)
	}
	for _, c := range p.Customers {
		if c.Status != StatusNoOp || c.Cost.DeltaUSD != 0 {
			t.Errorf("%s: status %s delta %v", c.Name, c.Status, c.Cost.DeltaUSD)
		}
	}
}

func TestBuildInvalidPlansNothing(t *testing.T) {
	cs := exampleList(t)
	diags := []schema.Diagnostic{{File: "customers/x.yaml", Line: 3, Column: 1, Field: "tier", Message: "bad tier"}}
	p, err := Build(Input{Customers: cs, Invalid: diags, Observed: converged(cs[0]), Now: testNow})
	if !errors.Is(err, ErrInvalidDesiredState) {
		t.Fatalf("err = %v", err)
	}
	if p == nil || p.Refused == "" || len(p.Actions) != 0 || len(p.Steps) != 0 || p.HasChanges() || !reflect.DeepEqual(p.Invalid, diags) {
		t.Fatalf("plan %+v", p)
	}
	if !strings.Contains(p.Refused, "1 problem(s) in 1 customer file(s)") {
		t.Errorf("refusal %q", p.Refused)
	}
}

func TestBuildDeletionSafety(t *testing.T) {
	cs := exampleList(t)
	unprotected := func(c schema.Customer) schema.Customer { c.Protection.DeletionProtection = false; return c }
	tests := []struct {
		name        string
		observed    []Resource
		allowDelete bool
		status      string
		blocked     string
		steps       int
	}{
		{"protected", converged(cs...), true, StatusBlocked, "deletion protection is on", 0},
		{"unprotected without allow-delete", converged(append(without(cs, "casa-verde"), unprotected(example(t, "casa-verde")))...), false, StatusBlocked, "needs --allow-delete", 0},
		{"unprotected with allow-delete", converged(append(without(cs, "casa-verde"), unprotected(example(t, "casa-verde")))...), true, StatusDelete, "", 21},
		{"missing label counts as protected", func() []Resource {
			obs := converged(append(without(cs, "casa-verde"), unprotected(example(t, "casa-verde")))...)
			for i := range obs {
				if obs[i].Customer == "casa-verde" && obs[i].Kind == ONEVM {
					delete(obs[i].Labels, LabelProtected)
				}
			}
			return obs
		}(), true, StatusBlocked, "deletion protection is on", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(Input{Customers: without(cs, "casa-verde"), Observed: tt.observed, Now: testNow,
				Options: Options{AllowDelete: tt.allowDelete}})
			if err != nil {
				t.Fatal(err)
			}
			cp := customerPlan(t, p, "casa-verde")
			if cp.Status != tt.status || cp.InGit || !strings.Contains(cp.Blocked, tt.blocked) {
				t.Fatalf("status %s blocked %q", cp.Status, cp.Blocked)
			}
			if cp.Counts.Delete != 21 || (tt.blocked != "") != (cp.Counts.Blocked == 21) {
				t.Errorf("counts %+v", cp.Counts)
			}
			if len(p.Steps) != tt.steps {
				t.Errorf("%d steps, want %d", len(p.Steps), tt.steps)
			}
			for _, a := range p.Actions {
				if a.Action != ActionDelete || a.Customer != "casa-verde" {
					t.Errorf("unexpected %s %s", a.Action, a.Address)
				}
				if tt.blocked != "" && (!a.Blocked || !strings.Contains(a.BlockedReason, tt.blocked)) {
					t.Errorf("%s not blocked: %q", a.Address, a.BlockedReason)
				}
			}
			if tt.steps > 0 && cp.Cost.AfterUSD != 0 {
				t.Errorf("after cost of a deleted customer %v", cp.Cost.AfterUSD)
			}
		})
	}
}

func TestBuildMassDeletionBreaker(t *testing.T) {
	cs := fleet(t, 10)
	for i := range cs {
		cs[i].Protection.DeletionProtection = false
	}
	obs := converged(cs...)
	in := Input{Customers: cs[3:], Observed: obs, Now: testNow, Options: Options{AllowDelete: true}}
	p, err := Build(in)
	if !errors.Is(err, ErrMassDeletion) || p == nil {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(p.Refused, "delete 3 of 10 existing customers (30 %), more than the allowed 20 %") ||
		!strings.Contains(p.Refused, "cust-10000, cust-10001, cust-10002") {
		t.Errorf("refusal %q", p.Refused)
	}
	if len(p.Steps) != 0 || p.HasChanges() {
		t.Errorf("refused plan has %d steps", len(p.Steps))
	}
	for _, a := range p.Actions {
		if !a.Blocked {
			t.Errorf("%s not blocked", a.Address)
		}
	}
	in.Options.MaxDeleteFraction = 0.5
	if p, err = Build(in); err != nil || len(p.Steps) != len(converged(cs[:3]...)) {
		t.Fatalf("with 50 %%: err %v, %d steps", err, len(p.Steps))
	}
	// Deleting a single customer never trips the breaker.
	in = Input{Customers: cs[1:2], Observed: converged(cs[:2]...), Now: testNow, Options: Options{AllowDelete: true}}
	if _, err = Build(in); err != nil {
		t.Fatalf("one of two: %v", err)
	}
	for _, f := range []float64{-0.1, 1.5, math.NaN()} {
		if _, err := Build(Input{Options: Options{MaxDeleteFraction: f}}); !errors.Is(err, ErrBadInput) {
			t.Errorf("fraction %v: err %v", f, err)
		}
	}
}

func TestBuildShrinkIsACustomerError(t *testing.T) {
	cs := exampleList(t)
	obs := converged(cs...)
	setAttr(obs, ExoBlockVolume, "agentvdc-bluebird-books-data", "size_gb", "800")
	setAttr(obs, HetznerServer, "agentvdc-casa-verde-srv-1", "server_type", "cx32")
	p, err := Build(Input{Customers: cs, Observed: obs, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	bb := customerPlan(t, p, "bluebird-books")
	if bb.Status != StatusError || len(bb.Errors) != 1 || !strings.Contains(bb.Errors[0], "never shrink") {
		t.Fatalf("bluebird: %s %q", bb.Status, bb.Errors)
	}
	var steps []string
	for _, s := range p.Steps {
		steps = append(steps, string(s.Op)+" "+s.Address)
	}
	if !reflect.DeepEqual(steps, []string{"update hetzner_server.agentvdc-casa-verde-srv-1"}) {
		t.Fatalf("steps %q", steps)
	}
}

func TestBuildFiltersAndSuspended(t *testing.T) {
	cs := exampleList(t)
	obs := converged(cs...)
	setAttr(obs, HetznerServer, "agentvdc-casa-verde-srv-1", "server_type", "cx32")
	setAttr(obs, HetznerServer, "agentvdc-dune-labs-srv-1", "server_type", "ccx23")
	gone := without(cs, "acme-analytics") // acme removed from git
	tests := []struct {
		name  string
		opts  Options
		scope []string
		steps []string
	}{
		{"target", Options{Targets: []string{"casa-verde"}}, []string{"casa-verde"}, []string{"update hetzner_server.agentvdc-casa-verde-srv-1"}},
		{"exclude", Options{Excludes: []string{"casa-verde", "acme-analytics"}, AllowDelete: true}, []string{"bluebird-books", "dune-labs"},
			[]string{"update hetzner_server.agentvdc-dune-labs-srv-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(Input{Customers: gone, Observed: obs, Now: testNow, Options: tt.opts})
			if err != nil {
				t.Fatal(err)
			}
			var steps []string
			for _, s := range p.Steps {
				steps = append(steps, string(s.Op)+" "+s.Address)
			}
			if !reflect.DeepEqual(p.Scope, tt.scope) || !reflect.DeepEqual(steps, tt.steps) {
				t.Fatalf("scope %v steps %q", p.Scope, steps)
			}
			if p.ObservedFingerprint != Fingerprint(obs, tt.scope) {
				t.Error("fingerprint is not over the scope")
			}
		})
	}
	if _, err := Build(Input{Customers: cs, Options: Options{Targets: []string{"nobody"}}}); !errors.Is(err, ErrBadInput) {
		t.Errorf("unknown target: %v", err)
	}
	if _, err := Build(Input{Customers: append(cs, cs[0])}); !errors.Is(err, ErrBadInput) {
		t.Errorf("duplicate customer: %v", err)
	}
	sus := exampleList(t)
	sus[2].Suspended = true // casa-verde
	p, err := Build(Input{Customers: sus, Observed: obs, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if cp := customerPlan(t, p, "casa-verde"); cp.Status != StatusSuspended || cp.Counts.Changes() != 0 {
		t.Errorf("suspended: %+v", cp)
	}
	for _, a := range p.Actions {
		if a.Customer == "casa-verde" {
			t.Errorf("suspended customer has action %s", a.Address)
		}
	}
}

func TestFingerprint(t *testing.T) {
	cs := exampleList(t)
	obs := converged(cs...)
	f := Fingerprint(obs, nil)
	rev := converged(cs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if Fingerprint(rev, nil) != f {
		t.Error("fingerprint depends on order")
	}
	setAttr(rev, ExoBlockVolume, "agentvdc-casa-verde-data", "size_gb", "20")
	if Fingerprint(rev, nil) == f {
		t.Error("fingerprint ignores an attribute change")
	}
	if Fingerprint(rev, []string{"acme-analytics"}) != Fingerprint(obs, []string{"acme-analytics"}) {
		t.Error("fingerprint sees customers outside its scope")
	}
	p, err := Build(Input{Customers: cs, Observed: obs, Now: testNow,
		ObservedAt: map[Kind]time.Time{HetznerServer: testNow.Add(-90 * time.Second)}, ObservedAtAll: testNow.Add(-30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if p.ObservedFingerprint != f || p.ObservedAgeSeconds != 90 || len(p.ObservedAt) != len(Kinds) {
		t.Errorf("fingerprint %s age %d kinds %d", p.ObservedFingerprint, p.ObservedAgeSeconds, len(p.ObservedAt))
	}
}

func TestCost(t *testing.T) {
	c := example(t, "casa-verde") // cx22 in nbg1, standard.small (the smallest that takes a volume), 10 GB, max 1 server, 50 GB
	pr := testPrices()
	d := DefaultExoscalePrices()
	fx := DefaultEURToUSD
	server := pr.HetznerServerMonthly["cx22"]["nbg1"] * fx
	storage := (d.ExoscaleInstanceHourly["standard.small"]*HoursPerMonth + ExoDiskGB*d.ExoscaleDiskGBMonthly) * fx
	vol := func(gb float64) float64 { return gb * d.ExoscaleVolumeGBMonthly * fx }

	p, err := Build(Input{Customers: []schema.Customer{c}, Now: testNow, Prices: pr})
	if err != nil {
		t.Fatal(err)
	}
	got := customerPlan(t, p, "casa-verde").Cost
	after := round2(server + storage + vol(10))
	// The invoice: the list price, plus 40 GB beyond the 10 included at max.
	bill := c.Placement.Billing
	maxInv := round2(12 + (50-bill.IncludedStorageGB)*bill.OverageStorageGBMonthUSD)
	maxUSD := round2(server + storage + vol(50))
	want := CustomerCost{BeforeUSD: 0, AfterUSD: after, DeltaUSD: after, MaxUSD: maxUSD,
		ListPriceUSD: 12, ExpectedInvoiceUSD: 12, MaxInvoiceUSD: maxInv, MarginUSD: round2(12 - after), MaxMarginUSD: round2(maxInv - maxUSD)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cost %+v, want %+v", got, want)
	}

	// Upsize: before is priced from the observed server type.
	obs := converged(c)
	setAttr(obs, HetznerServer, "agentvdc-casa-verde-srv-1", "server_type", "cx32")
	pr.ExoscaleInstanceHourly = map[string]float64{"standard.small": 0.5} // configuration overrides the default
	pr.EURToUSD = 1
	p, err = Build(Input{Customers: []schema.Customer{c}, Observed: obs, Now: testNow, Prices: pr})
	if err != nil {
		t.Fatal(err)
	}
	got = customerPlan(t, p, "casa-verde").Cost
	st := 0.5*HoursPerMonth + ExoDiskGB*d.ExoscaleDiskGBMonthly
	if got.BeforeUSD != round2(6.80+st+10*d.ExoscaleVolumeGBMonthly) || got.AfterUSD != round2(3.79+st+10*d.ExoscaleVolumeGBMonthly) {
		t.Fatalf("cost %+v", got)
	}
	if p.Summary.BeforeUSD != got.BeforeUSD || p.Summary.AfterUSD != got.AfterUSD || p.Summary.DeltaUSD != round2(got.AfterUSD-got.BeforeUSD) {
		t.Errorf("totals %+v", p.Summary)
	}

	// A type without a price is named, not guessed.
	delete(pr.HetznerServerMonthly, "cx22")
	p, err = Build(Input{Customers: []schema.Customer{c}, Now: testNow, Prices: pr})
	if err != nil {
		t.Fatal(err)
	}
	if u := p.Summary.Unpriced; !reflect.DeepEqual(u, []string{"hetzner server type cx22 in nbg1"}) {
		t.Errorf("unpriced %q", u)
	}
	if _, err := Build(Input{Prices: Prices{EURToUSD: -1}}); !errors.Is(err, ErrBadInput) {
		t.Errorf("negative price: %v", err)
	}
	// DefaultExoscalePrices is a fresh value each time.
	a := DefaultExoscalePrices()
	a.ExoscaleInstanceHourly["standard.tiny"] = 99
	if DefaultExoscalePrices().ExoscaleInstanceHourly["standard.tiny"] == 99 {
		t.Error("DefaultExoscalePrices shares its map")
	}
}

func TestExpectedInvoice(t *testing.T) {
	b := schema.TierBilling{IncludedServerHours: 730, IncludedStorageGB: 50, OverageServerHourUSD: 0.04, OverageStorageGBMonthUSD: 0.10}
	for _, tt := range []struct {
		servers, gb int
		want        float64
	}{
		{1, 50, 25},                   // within the allowance
		{0, 0, 25},                    // nothing running: still the list price
		{2, 50, 25 + 730*0.04},        // a second server all month
		{1, 80, 25 + 30*0.10},         // 30 GB beyond
		{4, 500, 25 + 2190*0.04 + 45}, // pro at max scale
	} {
		if got := ExpectedInvoice(25, b, tt.servers, tt.gb); got != round2(tt.want) {
			t.Errorf("%d servers, %d GB: %v, want %v", tt.servers, tt.gb, got, round2(tt.want))
		}
	}
}

// A plan that leaves a changed customer costing more than its invoice
// says so; many such customers make one line.
func TestUnprofitableWarning(t *testing.T) {
	c := example(t, "casa-verde")
	p, err := Build(Input{Customers: []schema.Customer{c}, Now: testNow, Prices: testPrices()})
	if err != nil {
		t.Fatal(err)
	}
	cp := customerPlan(t, p, "casa-verde")
	if cp.Cost.MarginUSD >= 0 {
		t.Skipf("casa-verde is profitable (%v): nothing to warn of", cp.Cost.MarginUSD)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "customer casa-verde is unprofitable after this plan") {
		t.Errorf("warnings %q", p.Warnings)
	}
	var many []schema.Customer
	for i := range 5 {
		d := c
		d.Name = fmt.Sprintf("casual-%d", i)
		many = append(many, d)
	}
	p, err = Build(Input{Customers: many, Now: testNow, Prices: testPrices()})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.HasPrefix(p.Warnings[0], "5 customers are unprofitable after this plan") {
		t.Errorf("warnings %q", p.Warnings)
	}
	// A converged customer is not warned of again on every plan.
	p, err = Build(Input{Customers: []schema.Customer{c}, Observed: converged(c), Now: testNow, Prices: testPrices()})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("converged customer warned: %q", p.Warnings)
	}
}
