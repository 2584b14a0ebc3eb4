package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/billing"
	"github.com/agentvdc/agentvdc/reconciler/payments"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// ErrBadMonth is returned for a month that is not YYYY-MM.
var ErrBadMonth = errors.New("bad month")

// IssueInvoices issues the invoices of month (YYYY-MM, ended) for the
// customer named, or every customer in git when name is ""; dryRun
// computes them without storing. A month already invoiced is skipped
// with its error in the result.
func (d *Daemon) IssueInvoices(ctx context.Context, month, name string, dryRun bool) ([]InvoiceResult, error) {
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
	if _, err := time.Parse("2006-01", month); err != nil {
		return nil, fmt.Errorf("%w: month %q is not YYYY-MM", ErrBadMonth, month)
	}
	var out []InvoiceResult
	for _, c := range cs {
		var inv state.Invoice
		var err error
		if dryRun {
			inv, err = billing.Preview(d.cfg.Store, c, month, d.cfg.Billing, d.now())
		} else {
			inv, err = billing.Issue(d.cfg.Store, c, month, d.cfg.Billing, d.now())
		}
		r := InvoiceResult{Customer: c.Name, Invoice: inv}
		if err != nil {
			r.Error = err.Error()
		} else if !dryRun {
			d.log.Info("invoice issued", "customer", c.Name, "number", inv.Number, "month", month, "total_usd", inv.TotalUSD)
			if d.cfg.Payments != nil {
				r.Payment, r.Error = d.pushInvoice(ctx, inv, c.Owner)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// InvoiceResult is one customer's outcome of IssueInvoices.
type InvoiceResult struct {
	Customer string         `json:"customer"`
	Invoice  state.Invoice  `json:"invoice"`
	Payment  *state.Payment `json:"payment,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// Payments pushes invoices to a payment provider (payments.Client).
type Payments interface {
	Push(ctx context.Context, inv state.Invoice, email string) (payments.Pushed, error)
}

// pushInvoice sends an issued invoice to the payment provider and records
// it; a failure leaves the invoice issued and says so (pushing again is
// safe: the provider's idempotency keys come from the invoice number).
func (d *Daemon) pushInvoice(ctx context.Context, inv state.Invoice, email string) (*state.Payment, string) {
	pushed, err := d.cfg.Payments.Push(ctx, inv, email)
	if err != nil {
		d.log.Warn("push invoice", "number", inv.Number, "err", err)
		return nil, "issued, but not pushed to Stripe: " + err.Error()
	}
	p, err := d.cfg.Store.UpdatePayment(inv.Number, func(p *state.Payment) bool {
		if p.Status != "" && p.Status != state.PaymentPushed {
			return false // a payment event came first
		}
		p.Customer, p.StripeCustomer, p.StripeInvoice, p.Status, p.PushedAt = inv.Customer, pushed.StripeCustomer, pushed.StripeInvoice, state.PaymentPushed, d.now()
		return true
	})
	if err != nil {
		return nil, "pushed to Stripe, but not recorded: " + err.Error()
	}
	return &p, ""
}

// InvoiceView is an invoice with its payment state.
type InvoiceView struct {
	state.Invoice
	Payment *state.Payment `json:"payment,omitempty"`
	// Overdue is set on an unpaid invoice older than the configured days
	// (an operator's flag: nothing is deleted for it).
	Overdue bool `json:"overdue,omitempty"`
}

// Invoices lists issued invoices and credit notes ("" = every customer)
// with their payment states.
func (d *Daemon) Invoices(_ context.Context, customer string) ([]InvoiceView, error) {
	invs, err := d.cfg.Store.Invoices(customer)
	if err != nil {
		return nil, err
	}
	pays, err := d.cfg.Store.Payments()
	if err != nil {
		return nil, err
	}
	days := d.cfg.UnpaidDays
	if days <= 0 {
		days = 30
	}
	overdue := map[string]bool{}
	for _, i := range payments.Overdue(invs, pays, days, d.now()) {
		overdue[i.Number] = true
	}
	out := make([]InvoiceView, 0, len(invs))
	for _, i := range invs {
		v := InvoiceView{Invoice: i, Overdue: overdue[i.Number]}
		if p, ok := pays[i.Number]; ok {
			v.Payment = &p
		}
		out = append(out, v)
	}
	return out, nil
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
