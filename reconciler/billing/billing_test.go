package billing_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/billing"
	"github.com/agentvdc/agentvdc/schema"
	"github.com/agentvdc/agentvdc/state"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func customer(t *testing.T, tier string) schema.Customer {
	t.Helper()
	l, err := schema.NewLoader()
	if err != nil {
		t.Fatal(err)
	}
	res := l.Load([]schema.File{{Path: "customers/bluebird-books.yaml", Data: []byte("name: bluebird-books\ndisplayName: Bluebird Books\nowner: ops@bluebird.example\ntier: " + tier + "\n")}})
	if !res.OK() {
		t.Fatal(res.Error())
	}
	return res.Customers[0]
}

// month of usage: servers(h) servers of type st and gb GB in each hour.
func usage(month string, st string, servers func(h int) float64, gb func(h int) float64, estimated int) []state.UsageRecord {
	from, _ := time.Parse("2006-01", month)
	var out []state.UsageRecord
	for h := 0; from.Add(time.Duration(h) * time.Hour).Before(from.AddDate(0, 1, 0)); h++ {
		out = append(out, state.UsageRecord{Customer: "bluebird-books", Hour: from.Add(time.Duration(h) * time.Hour),
			ServerHours: map[string]float64{st: servers(h)}, VolumeGBHours: gb(h), ObservedMinutes: 60, Estimated: h < estimated})
	}
	return out
}

func TestCompute(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		tier      string
		usage     []state.UsageRecord
		tax       float64
		wantLines int
		wantTotal float64
	}{
		// November has 720 hours: one server all month is within 730.
		{"casual at its defaults", "casual", usage("2026-11", "cx22", func(int) float64 { return 1 }, func(int) float64 { return 10 }, 0), 0, 1, 12},
		// 2 servers for 100 hours: 820 server-hours, 90 over at $0.04;
		// 80 GB on average, 30 over at $0.10: 25 + 3.60 + 3.00.
		{"pro autoscaled", "pro", usage("2026-11", "ccx13", func(h int) float64 {
			if h < 100 {
				return 2
			}
			return 1
		}, func(int) float64 { return 80 }, 0), 0, 3, 31.60},
		{"with 19 % tax", "pro", usage("2026-11", "ccx13", func(int) float64 { return 1 }, func(int) float64 { return 50 }, 0), 0.19, 1, 29.75},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := billing.Compute(customer(t, tc.tier), "2026-11", tc.usage, billing.Config{TaxRate: tc.tax}, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Lines) != tc.wantLines || inv.TotalUSD != tc.wantTotal {
				t.Fatalf("%d lines, total %v; want %d, %v: %+v", len(inv.Lines), inv.TotalUSD, tc.wantLines, tc.wantTotal, inv.Lines)
			}
			sum := 0.0
			for _, l := range inv.Lines {
				sum += l.AmountUSD
			}
			if billing.Cents(sum) != inv.SubtotalUSD || billing.Cents(inv.SubtotalUSD+inv.TaxUSD) != inv.TotalUSD {
				t.Fatalf("totals do not add up: %+v", inv)
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update to accept):\n%s", name, got)
	}
}

func openStore(t *testing.T) *state.Store {
	t.Helper()
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestIssueCreditReissue: invoices are numbered in sequence and immutable;
// the same month twice is refused; a credit note reverses an invoice and
// frees its month; the renderings match their golden files and the PDF's
// text carries the totals.
func TestIssueCreditReissue(t *testing.T) {
	s := openStore(t)
	c := customer(t, "pro")
	recs := usage("2026-11", "ccx13", func(h int) float64 {
		if h < 100 {
			return 2
		}
		return 1
	}, func(int) float64 { return 80 }, 3)
	if _, err := s.CommitUsage(recs, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), nil); err != nil {
		t.Fatal(err)
	}
	cfg := billing.Config{TaxRate: 0.19, Seller: "agentvdc GmbH, Example Street 1, Berlin"}
	if _, err := billing.Issue(s, c, "2026-12", cfg, time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)); err == nil || !strings.Contains(err.Error(), "has not ended") {
		t.Fatalf("an open month was invoiced: %v", err)
	}
	issued := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	inv, err := billing.Issue(s, c, "2026-11", cfg, issued)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Number != "AVDC-000001" || inv.TotalUSD != 37.6 || inv.EstimatedHours != 3 {
		t.Fatalf("invoice %s total %v estimated %d", inv.Number, inv.TotalUSD, inv.EstimatedHours)
	}
	if _, err := billing.Issue(s, c, "2026-11", cfg, issued); !errors.Is(err, state.ErrAlreadyIssued) {
		t.Fatalf("second invoice for the month: %v, want ErrAlreadyIssued", err)
	}
	var j, h bytes.Buffer
	if err := billing.JSON(&j, inv); err != nil {
		t.Fatal(err)
	}
	if err := billing.HTML(&h, inv, cfg.Seller); err != nil {
		t.Fatal(err)
	}
	golden(t, "invoice.json.golden", j.Bytes())
	golden(t, "invoice.html.golden", h.Bytes())
	pdfText(t, inv, cfg.Seller, []string{"Invoice AVDC-000001", "Bluebird Books", "Server-hours beyond the 730 included", "Total (USD)", "$37.60", "$6.00"})

	cn, err := billing.Credit(s, inv.Number, "wrong storage size metered", cfg, issued.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if cn.Number != "AVDC-000002" || cn.Reverses != inv.Number || cn.TotalUSD != -inv.TotalUSD {
		t.Fatalf("credit note %+v", cn)
	}
	if _, err := billing.Credit(s, inv.Number, "again", cfg, issued); err == nil {
		t.Fatal("an invoice was credited twice")
	}
	var ch bytes.Buffer
	if err := billing.HTML(&ch, cn, cfg.Seller); err != nil {
		t.Fatal(err)
	}
	golden(t, "credit-note.html.golden", ch.Bytes())
	pdfText(t, cn, cfg.Seller, []string{"Credit note AVDC-000002", "Reverses invoice AVDC-000001", "$-37.60"})
	again, err := billing.Issue(s, c, "2026-11", cfg, issued.Add(2*time.Hour))
	if err != nil || again.Number != "AVDC-000003" {
		t.Fatalf("re-issue after the credit note: %+v %v", again.Number, err)
	}
	// The first invoice is unchanged in the store.
	stored, err := s.Invoice(inv.Number)
	if err != nil || stored.TotalUSD != inv.TotalUSD || stored.Kind != state.InvoiceKindInvoice {
		t.Fatalf("stored invoice changed: %+v %v", stored, err)
	}
	all, _ := s.Invoices("bluebird-books")
	if len(all) != 3 {
		t.Fatalf("%d documents, want 3", len(all))
	}
}

func pdfText(t *testing.T, inv state.Invoice, seller string, want []string) {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext (Debian's poppler-utils) is missing: run make prereqs")
	}
	var b bytes.Buffer
	if err := billing.PDF(&b, inv, seller); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), inv.Number+".pdf")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", p, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("the PDF's text lacks %q:\n%s", w, out)
		}
	}
}
