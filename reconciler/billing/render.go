package billing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/go-pdf/fpdf"

	"github.com/agentvdc/agentvdc/state"
)

// JSON writes the invoice as indented JSON.
func JSON(w io.Writer, inv state.Invoice) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(inv)
}

func money(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	if s == "-0.00" {
		s = "0.00"
	}
	return "$" + s
}

func quantity(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func title(inv state.Invoice) string {
	if inv.Kind == state.InvoiceKindCreditNote {
		return "Credit note " + inv.Number
	}
	return "Invoice " + inv.Number
}

var htmlInvoice = template.Must(template.New("invoice").Funcs(template.FuncMap{"money": money, "quantity": quantity, "title": title}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{title .Inv}}</title>
<style>body{font-family:sans-serif;max-width:48em;margin:2em auto}table{border-collapse:collapse;width:100%}td,th{padding:.3em .5em;border-bottom:1px solid #ddd;text-align:left}td.n,th.n{text-align:right}</style></head>
<body>
<p>{{.Seller}}</p>
<h1>{{title .Inv}}</h1>
<p>Customer: {{.Inv.DisplayName}} ({{.Inv.Customer}}), {{.Inv.Tier}} tier<br>
Period: {{.Inv.Month}}<br>
Issued: {{.Inv.IssuedAt.Format "2006-01-02"}}{{if .Inv.Reverses}}<br>
Reverses invoice {{.Inv.Reverses}}{{end}}</p>
<table>
<thead><tr><th>Description</th><th class="n">Quantity</th><th>Unit</th><th class="n">Unit price</th><th class="n">Amount</th></tr></thead>
<tbody>{{range .Inv.Lines}}
<tr><td>{{.Description}}</td><td class="n">{{quantity .Quantity}}</td><td>{{.Unit}}</td><td class="n">{{money .UnitPriceUSD}}</td><td class="n">{{money .AmountUSD}}</td></tr>{{end}}
</tbody>
<tfoot>
<tr><td colspan="4">Subtotal</td><td class="n">{{money .Inv.SubtotalUSD}}</td></tr>
<tr><td colspan="4">Tax ({{printf "%.2f" .TaxPercent}} %)</td><td class="n">{{money .Inv.TaxUSD}}</td></tr>
<tr><th colspan="4">Total ({{.Inv.Currency}})</th><th class="n">{{money .Inv.TotalUSD}}</th></tr>
</tfoot>
</table>
{{if .Inv.Note}}<p>{{.Inv.Note}}</p>{{end}}
<p>Amounts are rounded to the cent on every line.</p>
</body></html>
`))

// HTML writes the invoice as a standalone HTML page.
func HTML(w io.Writer, inv state.Invoice, seller string) error {
	return htmlInvoice.Execute(w, struct {
		Inv        state.Invoice
		Seller     string
		TaxPercent float64
	}{inv, seller, inv.TaxRate * 100})
}

// PDF writes the invoice as an A4 PDF (core fonts: Latin-1 text).
func PDF(w io.Writer, inv state.Invoice, seller string) error {
	p := fpdf.New("P", "mm", "A4", "")
	tr := p.UnicodeTranslatorFromDescriptor("") // UTF-8 → cp1252 for the core fonts
	p.SetTitle(title(inv), true)
	p.SetCreator("agentvdc", true)
	p.AddPage()
	p.SetFont("Helvetica", "", 10)
	if seller != "" {
		p.CellFormat(0, 6, tr(seller), "", 1, "", false, 0, "")
	}
	p.SetFont("Helvetica", "B", 16)
	p.CellFormat(0, 10, tr(title(inv)), "", 1, "", false, 0, "")
	p.SetFont("Helvetica", "", 10)
	for _, l := range []string{
		fmt.Sprintf("Customer: %s (%s), %s tier", inv.DisplayName, inv.Customer, inv.Tier),
		"Period: " + inv.Month,
		"Issued: " + inv.IssuedAt.Format("2006-01-02"),
	} {
		p.CellFormat(0, 6, tr(l), "", 1, "", false, 0, "")
	}
	if inv.Reverses != "" {
		p.CellFormat(0, 6, "Reverses invoice "+inv.Reverses, "", 1, "", false, 0, "")
	}
	p.Ln(4)
	widths := []float64{90, 22, 25, 25, 28}
	p.SetFont("Helvetica", "B", 10)
	for i, h := range []string{"Description", "Quantity", "Unit", "Unit price", "Amount"} {
		align := "L"
		if i == 1 || i >= 3 {
			align = "R"
		}
		p.CellFormat(widths[i], 7, h, "B", 0, align, false, 0, "")
	}
	p.Ln(-1)
	p.SetFont("Helvetica", "", 9)
	for _, l := range inv.Lines {
		cells := []string{l.Description, quantity(l.Quantity), l.Unit, money(l.UnitPriceUSD), money(l.AmountUSD)}
		// The description wraps; the other cells take the wrapped height.
		lines := p.SplitLines([]byte(tr(cells[0])), widths[0])
		h := 6 * float64(len(lines))
		x, y := p.GetX(), p.GetY()
		p.MultiCell(widths[0], 6, tr(cells[0]), "", "L", false)
		p.SetXY(x+widths[0], y)
		for i := 1; i < len(cells); i++ {
			align := "L"
			if i == 1 || i >= 3 {
				align = "R"
			}
			p.CellFormat(widths[i], h, cells[i], "", 0, align, false, 0, "")
		}
		p.Ln(-1)
	}
	p.Ln(2)
	total := func(label, v string, bold bool) {
		style := ""
		if bold {
			style = "B"
		}
		p.SetFont("Helvetica", style, 10)
		p.CellFormat(widths[0]+widths[1]+widths[2]+widths[3], 7, label, "", 0, "R", false, 0, "")
		p.CellFormat(widths[4], 7, v, "", 1, "R", false, 0, "")
	}
	total("Subtotal", money(inv.SubtotalUSD), false)
	total(fmt.Sprintf("Tax (%.2f %%)", inv.TaxRate*100), money(inv.TaxUSD), false)
	total("Total ("+inv.Currency+")", money(inv.TotalUSD), true)
	if inv.Note != "" {
		p.Ln(4)
		p.SetFont("Helvetica", "", 9)
		p.MultiCell(0, 5, tr(inv.Note), "", "L", false)
	}
	var buf bytes.Buffer
	if err := p.Output(&buf); err != nil {
		return fmt.Errorf("render PDF: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
