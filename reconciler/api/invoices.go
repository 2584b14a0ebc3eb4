package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/agentvdc/agentvdc/reconciler/billing"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/state"
)

// Invoicer is implemented by a Service that issues invoices (the daemon).
type Invoicer interface {
	IssueInvoices(ctx context.Context, month, customer string, dryRun bool) ([]daemon.InvoiceResult, error)
	Invoices(ctx context.Context, customer string) ([]daemon.InvoiceView, error)
	Invoice(ctx context.Context, number string) (state.Invoice, error)
	CreditInvoice(ctx context.Context, number, note string) (state.Invoice, error)
	BillingConfig() billing.Config
}

// IssueRequest is the body of POST /api/v1/invoices.
type IssueRequest struct {
	Month    string `json:"month"`              // YYYY-MM, ended
	Customer string `json:"customer,omitempty"` // "" = every customer
	DryRun   bool   `json:"dry_run,omitempty"`
}

// CreditRequest is the body of POST /api/v1/invoices/{number}/credit.
type CreditRequest struct {
	Note string `json:"note"`
}

func (s *Server) invoicer(w http.ResponseWriter) (Invoicer, bool) {
	inv, ok := s.svc.(Invoicer)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this server does not issue invoices")
	}
	return inv, ok
}

func (s *Server) issueInvoices(w http.ResponseWriter, r *http.Request) {
	iv, ok := s.invoicer(w)
	if !ok {
		return
	}
	var req IssueRequest
	if !decodeJSON(w, r, 1<<16, "invoice request", &req) {
		return
	}
	res, err := iv.IssueInvoices(r.Context(), req.Month, req.Customer, req.DryRun)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if res == nil {
		res = []daemon.InvoiceResult{}
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request) {
	iv, ok := s.invoicer(w)
	if !ok {
		return
	}
	list, err := iv.Invoices(r.Context(), r.URL.Query().Get("customer"))
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if list == nil {
		list = []daemon.InvoiceView{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request) {
	iv, ok := s.invoicer(w)
	if !ok {
		return
	}
	inv, err := iv.Invoice(r.Context(), r.PathValue("number"))
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	seller := iv.BillingConfig().Seller
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		writeJSON(w, http.StatusOK, inv)
	case "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = billing.HTML(w, inv, seller)
	case "pdf":
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", inv.Number+".pdf"))
		_ = billing.PDF(w, inv, seller)
	default:
		writeError(w, http.StatusBadRequest, "format must be json, html or pdf")
	}
}

func (s *Server) creditInvoice(w http.ResponseWriter, r *http.Request) {
	iv, ok := s.invoicer(w)
	if !ok {
		return
	}
	var req CreditRequest
	if !decodeJSON(w, r, 1<<16, "credit request", &req) {
		return
	}
	cn, err := iv.CreditInvoice(r.Context(), r.PathValue("number"), req.Note)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cn)
}

// IssueInvoices issues (or with dryRun computes) month's invoices.
func (c *Client) IssueInvoices(ctx context.Context, req IssueRequest) ([]daemon.InvoiceResult, error) {
	var out []daemon.InvoiceResult
	err := c.getJSON(ctx, http.MethodPost, "/api/v1/invoices", nil, req, &out)
	return out, err
}

// Invoices lists invoices and credit notes ("" = every customer).
func (c *Client) Invoices(ctx context.Context, customer string) ([]daemon.InvoiceView, error) {
	var out []daemon.InvoiceView
	q := url.Values{}
	if customer != "" {
		q.Set("customer", customer)
	}
	err := c.getJSON(ctx, http.MethodGet, "/api/v1/invoices", q, nil, &out)
	return out, err
}

// InvoiceDocument downloads an invoice rendered as format (json, html, pdf).
func (c *Client) InvoiceDocument(ctx context.Context, number, format string, w io.Writer) error {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/invoices/"+url.PathEscape(number), url.Values{"format": {format}}, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// CreditInvoice reverses an invoice with a credit note.
func (c *Client) CreditInvoice(ctx context.Context, number, note string) (state.Invoice, error) {
	var out state.Invoice
	err := c.getJSON(ctx, http.MethodPost, "/api/v1/invoices/"+url.PathEscape(number)+"/credit", nil, CreditRequest{Note: note}, &out)
	return out, err
}
