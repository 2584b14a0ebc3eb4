package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Invoice buckets: invoices by number; invoice_index maps customer NUL
// month to the number of the invoice in force for that month.
const (
	bucketInvoices     = "invoices"
	bucketInvoiceIndex = "invoice_index"
)

// Invoice kinds.
const (
	InvoiceKindInvoice    = "invoice"
	InvoiceKindCreditNote = "credit-note"
)

// ErrAlreadyIssued is returned when a month already has an invoice in
// force (issue a credit note for it first).
var ErrAlreadyIssued = errors.New("an invoice for this customer and month is already issued")

// InvoiceLine is one line of an invoice.
type InvoiceLine struct {
	Description  string  `json:"description"`
	Quantity     float64 `json:"quantity"`
	Unit         string  `json:"unit"`
	UnitPriceUSD float64 `json:"unit_price_usd"`
	AmountUSD    float64 `json:"amount_usd"`
}

// Invoice is an issued invoice or credit note. Once stored it never
// changes: a correction is a credit note that reverses it.
type Invoice struct {
	Number      string        `json:"number"`
	Kind        string        `json:"kind"`
	Reverses    string        `json:"reverses,omitempty"` // credit note: the invoice it cancels
	Customer    string        `json:"customer"`
	DisplayName string        `json:"display_name,omitempty"`
	Tier        string        `json:"tier,omitempty"`
	Month       string        `json:"month"` // YYYY-MM
	IssuedAt    time.Time     `json:"issued_at"`
	Currency    string        `json:"currency"`
	Lines       []InvoiceLine `json:"lines"`
	SubtotalUSD float64       `json:"subtotal_usd"`
	TaxRate     float64       `json:"tax_rate"`
	TaxUSD      float64       `json:"tax_usd"`
	TotalUSD    float64       `json:"total_usd"`
	// EstimatedHours counts the metered hours of the month that were
	// carried forward rather than observed.
	EstimatedHours int    `json:"estimated_hours"`
	Note           string `json:"note,omitempty"`
}

func invoiceIndexKey(customer, month string) []byte { return []byte(customer + "\x00" + month) }

// IssueInvoice stores inv under the next sequential number (prefix
// followed by six digits) and returns it. A month that already has an
// invoice in force is refused with ErrAlreadyIssued.
func (s *Store) IssueInvoice(inv Invoice, prefix string) (Invoice, error) {
	if err := validName("invoice customer", inv.Customer); err != nil {
		return inv, err
	}
	if inv.Kind != InvoiceKindInvoice {
		return inv, invalid("IssueInvoice issues invoices; credit notes come from CreditInvoice")
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, idx, err := invoiceBuckets(tx)
		if err != nil {
			return err
		}
		if n := idx.Get(invoiceIndexKey(inv.Customer, inv.Month)); n != nil {
			return fmt.Errorf("%w: %s %s is %s", ErrAlreadyIssued, inv.Customer, inv.Month, n)
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		inv.Number = fmt.Sprintf("%s%06d", prefix, seq)
		raw, err := json.Marshal(inv)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(inv.Number), raw); err != nil {
			return err
		}
		return idx.Put(invoiceIndexKey(inv.Customer, inv.Month), []byte(inv.Number))
	})
	if err != nil {
		return inv, fmt.Errorf("issue invoice: %w", err)
	}
	return inv, nil
}

// CreditInvoice issues a credit note that reverses the invoice number
// (every line negated) and frees its month for a corrected invoice.
func (s *Store) CreditInvoice(number, note string, at time.Time, prefix string) (Invoice, error) {
	var cn Invoice
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, idx, err := invoiceBuckets(tx)
		if err != nil {
			return err
		}
		raw := b.Get([]byte(number))
		if raw == nil {
			return fmt.Errorf("invoice %s: %w", number, ErrNotFound)
		}
		var orig Invoice
		if err := json.Unmarshal(raw, &orig); err != nil {
			return err
		}
		if orig.Kind != InvoiceKindInvoice {
			return invalid("%s is a credit note; only invoices are credited", number)
		}
		if cur := idx.Get(invoiceIndexKey(orig.Customer, orig.Month)); string(cur) != number {
			return invalid("invoice %s was already credited", number)
		}
		cn = orig
		cn.Kind, cn.Reverses, cn.IssuedAt, cn.Note = InvoiceKindCreditNote, number, at.UTC(), note
		cn.Lines = make([]InvoiceLine, len(orig.Lines))
		for i, l := range orig.Lines {
			l.Quantity, l.AmountUSD = -l.Quantity, -l.AmountUSD
			cn.Lines[i] = l
		}
		cn.SubtotalUSD, cn.TaxUSD, cn.TotalUSD = -orig.SubtotalUSD, -orig.TaxUSD, -orig.TotalUSD
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		cn.Number = fmt.Sprintf("%s%06d", prefix, seq)
		out, err := json.Marshal(cn)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(cn.Number), out); err != nil {
			return err
		}
		return idx.Delete(invoiceIndexKey(orig.Customer, orig.Month))
	})
	if err != nil {
		return cn, fmt.Errorf("credit invoice %s: %w", number, err)
	}
	return cn, nil
}

func invoiceBuckets(tx *bolt.Tx) (*bolt.Bucket, *bolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists([]byte(bucketInvoices))
	if err != nil {
		return nil, nil, err
	}
	idx, err := tx.CreateBucketIfNotExists([]byte(bucketInvoiceIndex))
	return b, idx, err
}

// Invoices lists invoices and credit notes, by number; customer "" lists
// every customer's.
func (s *Store) Invoices(customer string) ([]Invoice, error) {
	var out []Invoice
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketInvoices))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var inv Invoice
			if err := json.Unmarshal(v, &inv); err != nil {
				return err
			}
			if customer == "" || inv.Customer == customer {
				out = append(out, inv)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	if err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	return out, nil
}

// Invoice returns one invoice or credit note by number.
func (s *Store) Invoice(number string) (Invoice, error) {
	var inv Invoice
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketInvoices))
		if b == nil {
			return ErrNotFound
		}
		raw := b.Get([]byte(number))
		if raw == nil {
			return ErrNotFound
		}
		return json.Unmarshal(raw, &inv)
	})
	if err != nil {
		return inv, fmt.Errorf("invoice %s: %w", number, err)
	}
	return inv, nil
}
