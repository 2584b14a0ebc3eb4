package payments

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/agentvdc/agentvdc/state"
)

// PaymentStore records payment states (the state package implements it).
type PaymentStore interface {
	UpdatePayment(number string, fn func(p *state.Payment) bool) (state.Payment, error)
}

// Webhook receives Stripe's invoice events (POST /webhook/stripe).
type Webhook struct {
	// Secret is the endpoint's signing secret (VDC_STRIPE_WEBHOOK_SECRET).
	Secret string
	Store  PaymentStore
	// Tolerance is the replay window (default webhook.DefaultTolerance, 5m).
	Tolerance time.Duration
	Log       *slog.Logger

	mu   sync.Mutex
	seen map[string]time.Time // event id → when seen, within the window
}

// maxWebhookBody bounds a Stripe event.
const maxWebhookBody = 256 << 10

func (h *Webhook) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.New(slog.DiscardHandler)
}

// ServeHTTP verifies the signature and timestamp, ignores events seen
// before, and applies invoice.paid, invoice.payment_failed and
// invoice.marked_uncollectible to the invoice's payment record.
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	tol := h.Tolerance
	if tol <= 0 {
		tol = webhook.DefaultTolerance
	}
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), h.Secret, webhook.ConstructEventOptions{Tolerance: tol})
	if err != nil {
		// Forged, replayed outside the window, or for another API version.
		h.log().Warn("stripe webhook refused", "remote", r.RemoteAddr, "reason", refusal(err))
		http.Error(w, "signature verification failed", http.StatusBadRequest)
		return
	}
	if h.repeated(ev.ID, tol) {
		w.WriteHeader(http.StatusOK) // Stripe retries until 2xx: acknowledge, apply nothing
		return
	}
	status := map[stripe.EventType]string{
		"invoice.paid": state.PaymentPaid, "invoice.payment_failed": state.PaymentFailed, "invoice.marked_uncollectible": state.PaymentUncollectible,
	}[ev.Type]
	if status == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	var inv stripe.Invoice
	if err := json.Unmarshal(ev.Data.Raw, &inv); err != nil || inv.Metadata["agentvdc_invoice"] == "" {
		h.log().Warn("stripe webhook: not an agentvdc invoice", "event", ev.ID)
		w.WriteHeader(http.StatusOK)
		return
	}
	at := time.Unix(ev.Created, 0).UTC()
	number := inv.Metadata["agentvdc_invoice"]
	p, err := h.Store.UpdatePayment(number, func(p *state.Payment) bool {
		if p.LastEventID == ev.ID || at.Before(p.LastEventAt) {
			return false // repeated, or older than what is recorded
		}
		p.Customer, p.StripeInvoice, p.Status, p.LastEventID, p.LastEventAt = inv.Metadata["agentvdc_customer"], inv.ID, status, ev.ID, at
		if status == state.PaymentPaid {
			p.PaidAt = at
		}
		return true
	})
	if err != nil {
		h.log().Error("stripe webhook: record payment", "invoice", number, "err", err)
		http.Error(w, "could not record the payment", http.StatusInternalServerError)
		return
	}
	h.log().Info("payment state", "invoice", number, "status", p.Status, "event", ev.ID)
	w.WriteHeader(http.StatusOK)
}

func (h *Webhook) repeated(id string, window time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if h.seen == nil {
		h.seen = map[string]time.Time{}
	}
	for k, t := range h.seen {
		if now.Sub(t) > 2*window {
			delete(h.seen, k)
		}
	}
	if _, ok := h.seen[id]; ok {
		return true
	}
	h.seen[id] = now
	return false
}

func refusal(err error) string {
	switch err {
	case webhook.ErrTooOld:
		return "timestamp outside the replay window"
	case webhook.ErrNoValidSignature:
		return "no valid signature"
	case webhook.ErrInvalidHeader, webhook.ErrNotSigned:
		return "missing or malformed Stripe-Signature"
	}
	return "invalid event"
}

// Overdue lists the invoices issued more than days ago that are not paid
// (an operator-visible flag; nothing is ever deleted for it).
func Overdue(invoices []state.Invoice, payments map[string]state.Payment, days int, now time.Time) []state.Invoice {
	var out []state.Invoice
	credited := map[string]bool{}
	for _, i := range invoices {
		if i.Kind == state.InvoiceKindCreditNote {
			credited[i.Reverses] = true
		}
	}
	for _, i := range invoices {
		if i.Kind != state.InvoiceKindInvoice || credited[i.Number] || payments[i.Number].Status == state.PaymentPaid || i.TotalUSD <= 0 {
			continue
		}
		if now.Sub(i.IssuedAt) > time.Duration(days)*24*time.Hour {
			out = append(out, i)
		}
	}
	return out
}
