package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/payments"
	"github.com/agentvdc/agentvdc/reconciler/payments/stripemock"
	"github.com/agentvdc/agentvdc/state"
)

// TestInvoicesPushedAndPaid (issue 12, payments): issuing pushes the
// invoice to Stripe (stripe-mock); a signed invoice.paid event marks it
// paid; an unpaid one is flagged overdue after the configured days.
func TestInvoicesPushedAndPaid(t *testing.T) {
	f := newFixture(t)
	f.push(t, "alpha and beta", map[string]string{"alpha.yaml": alpha, "beta.yaml": beta})
	pc, err := payments.New(payments.Config{APIKey: "sk_test_123", URL: stripemock.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	var clockMu sync.Mutex
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	d, _ := f.startMod(t, 100*time.Millisecond, func(c *daemon.Config) {
		c.Payments, c.UnpaidDays = pc, 30
		c.Now = func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
		c.MeterInterval = time.Hour
	})
	waitFor(t, 60*time.Second, "both synced", func() bool { return f.synced("alpha", head(t, f.work))() && f.synced("beta", head(t, f.work))() })
	res, err := d.IssueInvoices(context.Background(), "2026-11", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		if r.Error != "" || r.Payment == nil || r.Payment.Status != state.PaymentPushed || r.Payment.StripeInvoice == "" {
			t.Fatalf("%s: %+v", r.Customer, r)
		}
	}
	// Stripe says alpha's invoice is paid.
	const secret = "whsec_test_0123456789abcdef"
	hook := httptest.NewServer(&payments.Webhook{Secret: secret, Store: f.store})
	defer hook.Close()
	number := res[0].Invoice.Number
	obj, _ := json.Marshal(map[string]any{"id": res[0].Payment.StripeInvoice, "object": "invoice", "metadata": map[string]string{"agentvdc_invoice": number, "agentvdc_customer": "alpha"}})
	body, _ := json.Marshal(map[string]any{"id": "evt_paid_1", "object": "event", "type": "invoice.paid", "created": time.Now().Unix(),
		"api_version": stripe.APIVersion, "data": map[string]any{"object": json.RawMessage(obj)}})
	req, _ := http.NewRequest(http.MethodPost, hook.URL, bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret}).Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	clockMu.Lock()
	now = now.AddDate(0, 0, 31)
	clockMu.Unlock()
	views, err := d.Invoices(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		paid := v.Payment != nil && v.Payment.Status == state.PaymentPaid
		switch v.Customer {
		case "alpha":
			if !paid || v.Overdue {
				t.Errorf("alpha: %+v, want paid and not overdue", v.Payment)
			}
		case "beta":
			if paid || !v.Overdue {
				t.Errorf("beta: %+v overdue %v, want unpaid and overdue after 31 days", v.Payment, v.Overdue)
			}
		}
	}
}
