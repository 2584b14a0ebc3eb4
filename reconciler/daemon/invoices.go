package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/billing"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// ErrBadMonth is returned for a month that is not YYYY-MM.
var ErrBadMonth = errors.New("bad month")

// IssueInvoices issues the invoices of month (YYYY-MM, ended) for the
// customer named, or every customer in git when name is ""; dryRun
// computes them without storing. A month already invoiced is skipped
// with its error in the result.
func (d *Daemon) IssueInvoices(_ context.Context, month, name string, dryRun bool) ([]InvoiceResult, error) {
	d.mu.Lock()
	var cs []schema.Customer
	for n, c := range d.desired {
		if name == "" || n == name {
			cs = append(cs, c)
		}
	}
	d.mu.Unlock()
	if name != "" && len(cs) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	from, err := time.Parse("2006-01", month)
	if err != nil {
		return nil, fmt.Errorf("%w: month %q is not YYYY-MM", ErrBadMonth, month)
	}
	var out []InvoiceResult
	for _, c := range cs {
		var inv state.Invoice
		var err error
		if dryRun {
			var usage []state.UsageRecord
			if usage, err = d.cfg.Store.Usage(c.Name, from, from.AddDate(0, 1, 0)); err == nil {
				inv, err = billing.Compute(c, month, usage, d.cfg.Billing, d.now())
			}
		} else {
			inv, err = billing.Issue(d.cfg.Store, c, month, d.cfg.Billing, d.now())
		}
		r := InvoiceResult{Customer: c.Name, Invoice: inv}
		if err != nil {
			r.Error = err.Error()
		} else if !dryRun {
			d.log.Info("invoice issued", "customer", c.Name, "number", inv.Number, "month", month, "total_usd", inv.TotalUSD)
		}
		out = append(out, r)
	}
	return out, nil
}

// InvoiceResult is one customer's outcome of IssueInvoices.
type InvoiceResult struct {
	Customer string        `json:"customer"`
	Invoice  state.Invoice `json:"invoice"`
	Error    string        `json:"error,omitempty"`
}

// Invoices lists issued invoices and credit notes ("" = every customer).
func (d *Daemon) Invoices(_ context.Context, customer string) ([]state.Invoice, error) {
	return d.cfg.Store.Invoices(customer)
}

// Invoice returns one invoice or credit note.
func (d *Daemon) Invoice(_ context.Context, number string) (state.Invoice, error) {
	inv, err := d.cfg.Store.Invoice(number)
	if errors.Is(err, state.ErrNotFound) {
		return inv, fmt.Errorf("%w: invoice %s", ErrNotFound, number)
	}
	return inv, err
}

// CreditInvoice reverses an issued invoice with a credit note.
func (d *Daemon) CreditInvoice(_ context.Context, number, note string) (state.Invoice, error) {
	return billing.Credit(d.cfg.Store, number, note, d.cfg.Billing, d.now())
}

// BillingConfig is how the daemon invoices (tax rate, seller line).
func (d *Daemon) BillingConfig() billing.Config { return d.cfg.Billing }
