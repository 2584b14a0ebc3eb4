package plan

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/schema"
)

var examplesOnce struct {
	sync.Once
	cs  []schema.Customer
	err error
}

// examples loads the example customers of the repository (customers/).
func examples(t testing.TB) map[string]schema.Customer {
	t.Helper()
	examplesOnce.Do(func() {
		l, err := schema.NewLoader()
		if err != nil {
			examplesOnce.err = err
			return
		}
		files, err := schema.ReadDir("../customers", "customers")
		if err != nil {
			examplesOnce.err = err
			return
		}
		res := l.Load(files)
		if !res.OK() {
			examplesOnce.err = fmt.Errorf("examples invalid: %s", res.Error())
			return
		}
		examplesOnce.cs = res.Customers
	})
	if examplesOnce.err != nil {
		t.Fatal(examplesOnce.err)
	}
	m := map[string]schema.Customer{}
	for _, c := range examplesOnce.cs {
		m[c.Name] = c
	}
	return m
}

func example(t testing.TB, name string) schema.Customer {
	t.Helper()
	c, ok := examples(t)[name]
	if !ok {
		t.Fatalf("no example customer %q", name)
	}
	return c
}

// observe turns desired resources into what a provider would report:
// same attributes and labels, a cloud id, no DependsOn.
func observe(rs []Resource) []Resource {
	out := make([]Resource, len(rs))
	for i, r := range rs {
		o := Resource{Kind: r.Kind, Name: r.Name, Customer: r.Customer, ID: "id-" + r.Name + "-" + string(r.Kind)}
		o.Attrs = make(map[string]string, len(r.Attrs))
		for k, v := range r.Attrs {
			o.Attrs[k] = v
		}
		if r.Kind == ONEFlowService {
			o.Attrs["cardinality"] = "3"
		}
		if hasLabels(r.Kind) {
			o.Labels = make(map[string]string, len(r.Labels)+1)
			for k, v := range r.Labels {
				o.Labels[k] = v
			}
			if b := r.Attrs["bootstrap"]; b != "" {
				o.Labels[LabelBootstrap] = b
			}
		}
		out[i] = o
	}
	return out
}

// converged is the observed state of customers after a clean apply.
func converged(cs ...schema.Customer) []Resource {
	var out []Resource
	blocks := blocksOf(cs...)
	for _, c := range cs {
		out = append(out, observe(Expand(c, blocks[c.Name], nil))...)
	}
	return out
}

// renamed copies c under another name (for fleets).
func renamed(c schema.Customer, name string) schema.Customer {
	c.Name = name
	c.Source.File = "customers/" + name + ".yaml"
	return c
}

func fleet(t testing.TB, n int) []schema.Customer {
	ex := examples(t)
	tiers := []string{"casa-verde", "bluebird-books", "acme-analytics"}
	out := make([]schema.Customer, n)
	for i := range out {
		out[i] = renamed(ex[tiers[i%3]], "cust-"+strconv.Itoa(10000+i))
	}
	return out
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testPrices are Hetzner prices as the simulator's catalogue has them.
func testPrices() Prices {
	eu := func(v float64) map[string]float64 { return map[string]float64{"fsn1": v, "nbg1": v, "hel1": v} }
	return Prices{HetznerServerMonthly: map[string]map[string]float64{
		"cx22": eu(3.79), "cx32": eu(6.80), "cpx21": eu(7.55), "cpx31": eu(13.60),
		"ccx13": eu(12.49), "ccx23": eu(24.49), "ccx33": eu(48.49), "ccx43": eu(96.49), "ccx53": eu(192.49),
	}}
}

// addrsOf is the block Build gives a customer planned alone: the pool's
// first.
func addrsOf(string) Addresses {
	pool := netip.MustParsePrefix(DefaultAddressPool)
	return Addresses{Block: BlockAt(pool, 0), Index: 0}
}

// blocksOf is what Build assigns to cs planned together from an empty state.
func blocksOf(cs ...schema.Customer) map[string]Addresses {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	out, err := AssignBlocks(netip.MustParsePrefix(DefaultAddressPool), nil, names)
	if err != nil {
		panic(err)
	}
	return out
}
