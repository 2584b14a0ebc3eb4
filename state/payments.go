package state

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

const bucketPayments = "payments"

// Payment states.
const (
	PaymentPushed        = "pushed"
	PaymentPaid          = "paid"
	PaymentFailed        = "payment_failed"
	PaymentUncollectible = "uncollectible"
)

// Payment is an invoice's payment state at Stripe.
type Payment struct {
	Number         string    `json:"number"`
	Customer       string    `json:"customer"`
	StripeCustomer string    `json:"stripe_customer,omitempty"`
	StripeInvoice  string    `json:"stripe_invoice,omitempty"`
	Status         string    `json:"status"`
	PushedAt       time.Time `json:"pushed_at,omitzero"`
	PaidAt         time.Time `json:"paid_at,omitzero"`
	// LastEventID and LastEventAt are the newest Stripe event applied;
	// older or repeated events are ignored.
	LastEventID string    `json:"last_event_id,omitempty"`
	LastEventAt time.Time `json:"last_event_at,omitzero"`
}

// UpdatePayment applies fn to the invoice's payment record (a zero record
// when there is none) and stores the result, in one transaction; fn
// returning false stores nothing.
func (s *Store) UpdatePayment(number string, fn func(p *Payment) bool) (Payment, error) {
	var out Payment
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketPayments))
		if err != nil {
			return err
		}
		p := Payment{Number: number}
		if raw := b.Get([]byte(number)); raw != nil {
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
		}
		if !fn(&p) {
			out = p
			return nil
		}
		raw, err := json.Marshal(p)
		if err != nil {
			return err
		}
		out = p
		return b.Put([]byte(number), raw)
	})
	if err != nil {
		return out, fmt.Errorf("update payment of %s: %w", number, err)
	}
	return out, nil
}

// Payments returns every payment record, by invoice number.
func (s *Store) Payments() (map[string]Payment, error) {
	out := map[string]Payment{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketPayments))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var p Payment
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			out[string(k)] = p
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read payments: %w", err)
	}
	return out, nil
}
