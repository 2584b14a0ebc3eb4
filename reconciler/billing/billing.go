// Package billing turns a month of metered usage into an invoice: the
// tier's list price, plus overage beyond what the tier includes
// (server-hours of any type, average provisioned storage), plus tax at a
// configured rate, in US dollars rounded half away from zero to the cent
// on every line and total. Invoices are stored immutably with sequential
// numbers by the state package; a correction is a credit note. Rendered as
// JSON, HTML and PDF.
package billing

import (
	"fmt"
	"math"
	"time"

	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

// Config of invoicing.
type Config struct {
	// TaxRate is applied to the subtotal (0.19 for 19 %).
	TaxRate float64
	// Prefix of invoice numbers (default "AVDC-").
	Prefix string
	// Seller is printed at the top of rendered invoices.
	Seller string
}

// DefaultPrefix of invoice numbers.
const DefaultPrefix = "AVDC-"

func (c Config) prefix() string {
	if c.Prefix == "" {
		return DefaultPrefix
	}
	return c.Prefix
}

// Cents rounds to the cent, half away from zero.
func Cents(v float64) float64 { return math.Round(v*100) / 100 }

// HoursIn is the number of hours in month (YYYY-MM, UTC).
func HoursIn(month string) (float64, error) {
	from, err := time.Parse("2006-01", month)
	if err != nil {
		return 0, fmt.Errorf("month %q is not YYYY-MM", month)
	}
	return from.AddDate(0, 1, 0).Sub(from).Hours(), nil
}

// Compute makes c's invoice for month from its hourly usage records.
func Compute(c schema.Customer, month string, usage []state.UsageRecord, cfg Config, now time.Time) (state.Invoice, error) {
	hours, err := HoursIn(month)
	if err != nil {
		return state.Invoice{}, err
	}
	b := c.Placement.Billing
	inv := state.Invoice{Kind: state.InvoiceKindInvoice, Customer: c.Name, DisplayName: c.DisplayName, Tier: string(c.Tier),
		Month: month, IssuedAt: now.UTC(), Currency: "USD", TaxRate: cfg.TaxRate}
	inv.Lines = append(inv.Lines, state.InvoiceLine{Description: fmt.Sprintf("Agent VDC, %s tier, %s", c.Tier, month),
		Quantity: 1, Unit: "month", UnitPriceUSD: c.Placement.ListPriceUSD, AmountUSD: Cents(c.Placement.ListPriceUSD)})
	var serverHours, gbHours float64
	for _, r := range usage {
		for _, h := range r.ServerHours {
			serverHours += h
		}
		gbHours += r.VolumeGBHours
		if r.Estimated {
			inv.EstimatedHours++
		}
	}
	if over := serverHours - b.IncludedServerHours; over > 0.005 && b.OverageServerHourUSD > 0 {
		q := math.Round(over*100) / 100
		inv.Lines = append(inv.Lines, state.InvoiceLine{
			Description: fmt.Sprintf("Server-hours beyond the %s included (%s used)", num(b.IncludedServerHours), num(math.Round(serverHours*100)/100)),
			Quantity:    q, Unit: "server-hour", UnitPriceUSD: b.OverageServerHourUSD, AmountUSD: Cents(q * b.OverageServerHourUSD)})
	}
	avgGB := gbHours / hours
	if over := avgGB - b.IncludedStorageGB; over > 0.005 && b.OverageStorageGBMonthUSD > 0 {
		q := math.Round(over*100) / 100
		inv.Lines = append(inv.Lines, state.InvoiceLine{
			Description: fmt.Sprintf("Storage beyond the %s GB included (%s GB provisioned on average)", num(b.IncludedStorageGB), num(math.Round(avgGB*100)/100)),
			Quantity:    q, Unit: "GB-month", UnitPriceUSD: b.OverageStorageGBMonthUSD, AmountUSD: Cents(q * b.OverageStorageGBMonthUSD)})
	}
	for _, l := range inv.Lines {
		inv.SubtotalUSD += l.AmountUSD
	}
	inv.SubtotalUSD = Cents(inv.SubtotalUSD)
	inv.TaxUSD = Cents(inv.SubtotalUSD * cfg.TaxRate)
	inv.TotalUSD = Cents(inv.SubtotalUSD + inv.TaxUSD)
	if inv.EstimatedHours > 0 {
		inv.Note = fmt.Sprintf("%d of the month's metered hours were not observed (the control plane was down) and carry the last observation forward.", inv.EstimatedHours)
	}
	return inv, nil
}

func num(v float64) string { return fmt.Sprintf("%g", v) }

// Preview computes c's invoice for month from the usage stored so far,
// storing nothing (a dry run; the month need not have ended).
func Preview(s *state.Store, c schema.Customer, month string, cfg Config, now time.Time) (state.Invoice, error) {
	from, err := time.Parse("2006-01", month)
	if err != nil {
		return state.Invoice{}, fmt.Errorf("month %q is not YYYY-MM", month)
	}
	usage, err := s.Usage(c.Name, from, from.AddDate(0, 1, 0))
	if err != nil {
		return state.Invoice{}, err
	}
	return Compute(c, month, usage, cfg, now)
}

// Issue computes and stores c's invoice for an ended month; a month
// already invoiced is refused (state.ErrAlreadyIssued).
func Issue(s *state.Store, c schema.Customer, month string, cfg Config, now time.Time) (state.Invoice, error) {
	from, err := time.Parse("2006-01", month)
	if err != nil {
		return state.Invoice{}, fmt.Errorf("month %q is not YYYY-MM", month)
	}
	if !now.UTC().After(from.AddDate(0, 1, 0)) {
		return state.Invoice{}, fmt.Errorf("month %s has not ended yet; invoices are issued for closed months", month)
	}
	inv, err := Preview(s, c, month, cfg, now)
	if err != nil {
		return inv, err
	}
	return s.IssueInvoice(inv, cfg.prefix())
}

// Credit reverses an issued invoice with a credit note.
func Credit(s *state.Store, number, note string, cfg Config, now time.Time) (state.Invoice, error) {
	return s.CreditInvoice(number, note, now, cfg.prefix())
}
