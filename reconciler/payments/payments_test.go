package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/agentvdc/agentvdc/reconciler/payments"
	"github.com/agentvdc/agentvdc/reconciler/payments/stripemock"
	"github.com/agentvdc/agentvdc/state"
)

func stripeMock(t *testing.T) string { return stripemock.Start(t) }

// recorder counts the requests the client sends, by method, path and
// idempotency key, and can drop the connection of the first request to a
// path after the request reached the server (the answer is lost).
type recorder struct {
	mu    sync.Mutex
	calls []string // "POST /v1/invoices key"
	drop  map[string]bool
	rt    http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.Header.Get("Idempotency-Key")
	r.mu.Lock()
	r.calls = append(r.calls, req.Method+" "+req.URL.Path+" "+key)
	drop := r.drop[req.Method+" "+req.URL.Path]
	delete(r.drop, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	resp, err := r.rt.RoundTrip(req)
	if err == nil && drop {
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: io.ErrUnexpectedEOF}
	}
	return resp, err
}

func invoice() state.Invoice {
	return state.Invoice{Number: "AVDC-000007", Kind: state.InvoiceKindInvoice, Customer: "bluebird-books", DisplayName: "Bluebird Books",
		Month: "2026-11", Currency: "USD", TaxRate: 0.19,
		Lines:       []state.InvoiceLine{{Description: "Agent VDC, pro tier", Quantity: 1, Unit: "month", UnitPriceUSD: 25, AmountUSD: 25}, {Description: "Server-hours", Quantity: 90, UnitPriceUSD: 0.04, AmountUSD: 3.6}},
		SubtotalUSD: 28.6, TaxUSD: 5.43, TotalUSD: 34.03}
}

// TestPushIsIdempotentAcrossADroppedConnection (issue 12, payments): the
// answer to the invoice create is lost; stripe-go retries with the same
// idempotency key, and a second push of the same invoice sends exactly the
// same keys again, so Stripe creates nothing twice.
func TestPushIsIdempotentAcrossADroppedConnection(t *testing.T) {
	url := stripeMock(t)
	rec := &recorder{rt: http.DefaultTransport, drop: map[string]bool{"POST /v1/invoices": true}}
	c, err := payments.New(payments.Config{APIKey: "sk_test_123", URL: url, HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Push(context.Background(), invoice(), "ops@bluebird.example")
	if err != nil {
		t.Fatal(err)
	}
	if p.StripeInvoice == "" || p.StripeCustomer == "" {
		t.Fatalf("pushed %+v", p)
	}
	first := append([]string(nil), rec.calls...)
	keys := map[string]int{}
	for _, call := range first {
		f := strings.Fields(call)
		if f[0] == "POST" && len(f) < 3 {
			t.Fatalf("a create without an idempotency key: %s", call)
		}
		keys[f[len(f)-1]]++
	}
	if keys["agentvdc-invoice-AVDC-000007"] != 2 {
		t.Errorf("the dropped invoice create was sent %d times with its key, want 2 (one retry): %v", keys["agentvdc-invoice-AVDC-000007"], first)
	}
	for _, k := range []string{"agentvdc-customer-bluebird-books", "agentvdc-invoice-AVDC-000007-line-1", "agentvdc-invoice-AVDC-000007-line-2", "agentvdc-invoice-AVDC-000007-line-3", "agentvdc-finalize-AVDC-000007"} {
		if keys[k] != 1 {
			t.Errorf("key %s sent %d times, want 1: %v", k, keys[k], first)
		}
	}
	// A second push (after a crash, say) repeats the same keys only.
	rec.calls = nil
	if _, err := c.Push(context.Background(), invoice(), "ops@bluebird.example"); err != nil {
		t.Fatal(err)
	}
	for _, call := range rec.calls {
		k := strings.Fields(call)
		if _, ok := keys[k[len(k)-1]]; !ok {
			t.Errorf("the second push sent a new key: %s", call)
		}
	}
	if len(rec.calls) != len(first)-1 {
		t.Errorf("second push: %d calls, first %d (one was a retry)", len(rec.calls), len(first))
	}
}

func TestPushNeedsAKeyAndRefusesCreditNotes(t *testing.T) {
	if _, err := payments.New(payments.Config{}); err == nil || !strings.Contains(err.Error(), "VDC_STRIPE_KEY") {
		t.Fatalf("no key: %v", err)
	}
	c, _ := payments.New(payments.Config{APIKey: "sk_test_123", URL: "http://127.0.0.1:1"})
	cn := invoice()
	cn.Kind = state.InvoiceKindCreditNote
	if _, err := c.Push(context.Background(), cn, "x@example.com"); err == nil {
		t.Fatal("a credit note was pushed as an invoice")
	}
}

func event(id, typ string, created time.Time, number string) []byte {
	obj, _ := json.Marshal(map[string]any{"id": "in_123", "object": "invoice", "metadata": map[string]string{"agentvdc_invoice": number, "agentvdc_customer": "bluebird-books"}})
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "created": created.Unix(), "api_version": stripe.APIVersion,
		"data": map[string]any{"object": json.RawMessage(obj)}})
	return b
}

// TestWebhookVerifiesSignaturesAndReplays: a signed invoice.paid marks the
// invoice paid; a forged signature, a replay outside the window, and a
// repeated event are refused or ignored; nothing reaches the log but the
// reason.
func TestWebhookVerifiesSignaturesAndReplays(t *testing.T) {
	const secret = "whsec_test_0123456789abcdef"
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var logs bytes.Buffer
	var mu sync.Mutex
	h := &payments.Webhook{Secret: secret, Store: s, Log: newLogger(&logs, &mu)}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var calls atomic.Int64
	send := func(payload []byte, sig string) int {
		calls.Add(1)
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(payload))
		req.Header.Set("Stripe-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	sign := func(payload []byte, at time.Time, key string) string {
		return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: key, Timestamp: at}).Header
	}
	now := time.Now()
	paid := event("evt_1", "invoice.paid", now, "AVDC-000007")
	if code := send(paid, sign(paid, now, "whsec_forged")); code != http.StatusBadRequest {
		t.Errorf("forged signature: %d, want 400", code)
	}
	if code := send(paid, sign(paid, now.Add(-10*time.Minute), secret)); code != http.StatusBadRequest {
		t.Errorf("replay outside the window: %d, want 400", code)
	}
	if ps, _ := s.Payments(); len(ps) != 0 {
		t.Fatalf("a refused event was applied: %v", ps)
	}
	if code := send(paid, sign(paid, now, secret)); code != http.StatusOK {
		t.Fatalf("signed event: %d", code)
	}
	ps, _ := s.Payments()
	if p := ps["AVDC-000007"]; p.Status != state.PaymentPaid || p.StripeInvoice != "in_123" || p.PaidAt.IsZero() {
		t.Fatalf("payment %+v", p)
	}
	// The same event again (Stripe retries) and an older failure are ignored.
	if code := send(paid, sign(paid, now, secret)); code != http.StatusOK {
		t.Errorf("repeated event: %d", code)
	}
	failed := event("evt_0", "invoice.payment_failed", now.Add(-time.Hour), "AVDC-000007")
	send(failed, sign(failed, now, secret))
	ps, _ = s.Payments()
	if ps["AVDC-000007"].Status != state.PaymentPaid {
		t.Errorf("an older event overwrote the payment: %+v", ps["AVDC-000007"])
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "v1=") {
		t.Errorf("the log shows a secret or a signature:\n%s", logs.String())
	}
}

func TestOverdueFlagsUnpaidInvoices(t *testing.T) {
	now := time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC)
	inv := func(n string, issued time.Time) state.Invoice {
		return state.Invoice{Number: n, Kind: state.InvoiceKindInvoice, IssuedAt: issued, TotalUSD: 10}
	}
	invs := []state.Invoice{inv("A1", now.AddDate(0, 0, -40)), inv("A2", now.AddDate(0, 0, -40)), inv("A3", now.AddDate(0, 0, -5)), inv("A4", now.AddDate(0, 0, -40)),
		{Number: "A5", Kind: state.InvoiceKindCreditNote, Reverses: "A4", TotalUSD: -10}}
	pays := map[string]state.Payment{"A2": {Status: state.PaymentPaid}}
	got := payments.Overdue(invs, pays, 30, now)
	if len(got) != 1 || got[0].Number != "A1" {
		t.Fatalf("overdue %v, want only A1 (A2 paid, A3 recent, A4 credited)", got)
	}
}
