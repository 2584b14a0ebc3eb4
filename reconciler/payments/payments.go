// Package payments pushes issued invoices to Stripe and takes Stripe's
// payment events back.
//
// Every call that creates something carries an idempotency key derived
// from the invoice number (or the customer name), so a retry after a
// dropped connection, a crash or a second push never bills twice: Stripe
// answers a repeated key with the first call's result. stripe-go retries
// network failures itself, with the same key. Webhooks are verified with
// Stripe's signature scheme (HMAC-SHA256 over "timestamp.payload" with the
// endpoint secret) and a replay window (5 minutes); an event id seen
// before is ignored. The API key and webhook secret come from the
// environment and are never logged.
package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"

	"github.com/stripe/stripe-go/v82"

	"github.com/agentvdc/agentvdc/state"
)

// Config of the Stripe client.
type Config struct {
	// APIKey is Stripe's secret key (VDC_STRIPE_KEY).
	APIKey string
	// URL is the API's base URL; "" is Stripe's, tests use stripe-mock.
	URL string
	// HTTPClient carries the calls (nil: stripe-go's default).
	HTTPClient *http.Client
	// MaxNetworkRetries of one call (default 2).
	MaxNetworkRetries int64
	// DaysUntilDue of a pushed invoice (default 14).
	DaysUntilDue int64
	Log          *slog.Logger
}

// Client pushes invoices to Stripe.
type Client struct {
	sc  *stripe.Client
	cfg Config
}

// New returns a client; the key is required.
func New(cfg Config) (*Client, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("payments: no Stripe API key (set VDC_STRIPE_KEY)")
	}
	if cfg.MaxNetworkRetries == 0 {
		cfg.MaxNetworkRetries = 2
	}
	if cfg.DaysUntilDue == 0 {
		cfg.DaysUntilDue = 14
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	bc := &stripe.BackendConfig{HTTPClient: cfg.HTTPClient, MaxNetworkRetries: stripe.Int64(cfg.MaxNetworkRetries),
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}}
	if cfg.URL != "" {
		bc.URL = stripe.String(cfg.URL)
	}
	backends := &stripe.Backends{API: stripe.GetBackendWithConfig(stripe.APIBackend, bc),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, bc), Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, bc)}
	return &Client{sc: stripe.NewClient(cfg.APIKey, stripe.WithBackends(backends)), cfg: cfg}, nil
}

// Pushed is what Stripe returned for an invoice.
type Pushed struct {
	StripeCustomer string `json:"stripe_customer"`
	StripeInvoice  string `json:"stripe_invoice"`
	Status         string `json:"status"`
}

// cents converts a rounded dollar amount to Stripe's integer cents.
func cents(usd float64) int64 { return int64(math.Round(usd * 100)) }

// Push creates (idempotently) the Stripe customer, one invoice item per
// line, the invoice, and finalises it. Pushing the same invoice again
// sends the same keys, so Stripe creates nothing twice.
func (c *Client) Push(ctx context.Context, inv state.Invoice, email string) (Pushed, error) {
	if inv.Kind != state.InvoiceKindInvoice {
		return Pushed{}, fmt.Errorf("payments: %s is a %s; credit notes are not pushed as invoices", inv.Number, inv.Kind)
	}
	meta := map[string]string{"agentvdc_customer": inv.Customer, "agentvdc_invoice": inv.Number, "month": inv.Month}
	cp := &stripe.CustomerCreateParams{Name: stripe.String(inv.DisplayName), Email: stripe.String(email),
		Metadata: map[string]string{"agentvdc_customer": inv.Customer}}
	cp.SetIdempotencyKey("agentvdc-customer-" + inv.Customer)
	cust, err := c.sc.V1Customers.Create(ctx, cp)
	if err != nil {
		return Pushed{}, fmt.Errorf("payments: Stripe customer for %s: %w", inv.Customer, err)
	}
	ip := &stripe.InvoiceCreateParams{Customer: stripe.String(cust.ID), CollectionMethod: stripe.String("send_invoice"),
		DaysUntilDue: stripe.Int64(c.cfg.DaysUntilDue), AutoAdvance: stripe.Bool(false), Metadata: meta,
		PendingInvoiceItemsBehavior: stripe.String("exclude"), Description: stripe.String(inv.Number)}
	ip.SetIdempotencyKey("agentvdc-invoice-" + inv.Number)
	si, err := c.sc.V1Invoices.Create(ctx, ip)
	if err != nil {
		return Pushed{}, fmt.Errorf("payments: Stripe invoice for %s: %w", inv.Number, err)
	}
	lines := append([]state.InvoiceLine(nil), inv.Lines...)
	if inv.TaxUSD != 0 {
		lines = append(lines, state.InvoiceLine{Description: fmt.Sprintf("Tax (%.2f %%)", inv.TaxRate*100), AmountUSD: inv.TaxUSD})
	}
	for i, l := range lines {
		p := &stripe.InvoiceItemCreateParams{Customer: stripe.String(cust.ID), Invoice: stripe.String(si.ID),
			Amount: stripe.Int64(cents(l.AmountUSD)), Currency: stripe.String("usd"), Description: stripe.String(l.Description), Metadata: meta}
		p.SetIdempotencyKey(fmt.Sprintf("agentvdc-invoice-%s-line-%d", inv.Number, i+1))
		if _, err := c.sc.V1InvoiceItems.Create(ctx, p); err != nil {
			return Pushed{}, fmt.Errorf("payments: line %d of %s: %w", i+1, inv.Number, err)
		}
	}
	fp := &stripe.InvoiceFinalizeInvoiceParams{}
	fp.SetIdempotencyKey("agentvdc-finalize-" + inv.Number)
	fin, err := c.sc.V1Invoices.FinalizeInvoice(ctx, si.ID, fp)
	if err != nil {
		return Pushed{}, fmt.Errorf("payments: finalize %s: %w", inv.Number, err)
	}
	c.cfg.Log.Info("invoice pushed to Stripe", "number", inv.Number, "stripe_invoice", fin.ID)
	return Pushed{StripeCustomer: cust.ID, StripeInvoice: fin.ID, Status: string(fin.Status)}, nil
}
