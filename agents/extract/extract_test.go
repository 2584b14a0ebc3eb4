package extract_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents/extract"
	"github.com/agentvdc/agentvdc/agents/internal/docgen"
)

func TestExtractFormats(t *testing.T) {
	blocks := []docgen.Block{
		{Level: 1, Text: "Quarterly Revenue Report"},
		{Text: "Northwind Traders grew revenue by twelve percent in the third quarter."},
		{Text: "Region | Revenue"},
		{Level: 2, Text: "Outlook"},
		{Text: "The board expects steady growth in Lisbon and Oslo next year."},
	}
	tests := []struct {
		name     string
		file     string
		data     []byte
		mime     string
		want     []string // substrings of the text
		wantKind string   // an element kind that must occur
		title    string
	}{
		{"txt", "a.txt", []byte("First paragraph about zebras.\n\nSecond paragraph about lions.\n"), "text/plain", []string{"zebras", "lions"}, extract.KindParagraph, ""},
		{"markdown", "a.md", []byte("# Title Here\n\nSome **bold** text with a [link](https://example.com).\n\n- item one\n- item two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode block\n```\n"), "text/markdown", []string{"bold text", "link (https://example.com)", "item two", "1 | 2", "code block"}, extract.KindTableRow, "Title Here"},
		{"html", "a.html", []byte("<html><head><title>Page T</title><style>.x{}</style></head><body><h1>Heading One</h1><p>Para <b>text</b> here.</p><script>evil()</script><ul><li>Alpha</li><li>Beta</li></ul><table><tr><th>k</th><th>v</th></tr><tr><td>x</td><td>y</td></tr></table></body></html>"), "text/html", []string{"Heading One", "Para text here.", "Alpha", "x | y"}, extract.KindListItem, "Page T"},
		{"csv", "a.csv", []byte("name,city\nAda Lovelace,London\nAlan Turing,Wilmslow\n"), "text/csv", []string{"name: Ada Lovelace; city: London", "Alan Turing"}, extract.KindTableRow, ""},
		{"json", "a.json", []byte(`{"title":"Inventory","items":[{"sku":"A-1","name":"widget"},{"sku":"B-2","name":"gadget"}]}`), "application/json", []string{"sku: A-1", "name: gadget", "title: Inventory"}, extract.KindParagraph, "Inventory"},
		{"pdf", "a.pdf", docgen.PDF("Revenue PDF", blocks), "application/pdf", []string{"Quarterly Revenue Report", "Northwind Traders grew revenue", "Lisbon and Oslo"}, extract.KindParagraph, "Revenue PDF"},
		{"docx", "a.docx", docgen.DOCX("Revenue DOCX", blocks), "application/vnd.openxmlformats-officedocument.wordprocessingml.document", []string{"Quarterly Revenue Report", "Northwind Traders", "Region | Revenue", "Lisbon"}, extract.KindHeading, "Revenue DOCX"},
		{"xlsx", "a.xlsx", docgen.XLSX([][]string{{"product", "price"}, {"anvil", "30"}}), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", []string{"product: anvil; price: 30"}, extract.KindTableRow, ""},
		{"pptx", "a.pptx", docgen.PPTX([][]string{{"Roadmap 2027"}, {"Launch in Berlin"}}), "application/vnd.openxmlformats-officedocument.presentationml.presentation", []string{"Roadmap 2027", "Launch in Berlin"}, extract.KindParagraph, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := extract.Extract(context.Background(), tc.file, tc.data, extract.Limits{})
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if doc.MIME != tc.mime {
				t.Errorf("MIME = %q, want %q", doc.MIME, tc.mime)
			}
			text := doc.Text()
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("text lacks %q:\n%s", w, text)
				}
			}
			if strings.Contains(text, "evil()") || strings.Contains(text, ".x{}") {
				t.Errorf("script/style leaked: %s", text)
			}
			found := false
			for _, e := range doc.Elements {
				found = found || e.Kind == tc.wantKind
			}
			if !found {
				t.Errorf("no %s element in %+v", tc.wantKind, doc.Elements)
			}
			if tc.title != "" && doc.Title != tc.title {
				t.Errorf("Title = %q, want %q", doc.Title, tc.title)
			}
		})
	}
}

func reason(err error) extract.Reason {
	var e *extract.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func TestExtractHostile(t *testing.T) {
	junk := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(r.UintN(256))
	}
	valid := docgen.PDF("x", []docgen.Block{{Text: "hello world"}})
	tests := []struct {
		name string
		file string
		data []byte
		lim  extract.Limits
		want extract.Reason
	}{
		{"corrupt pdf (truncated)", "c.pdf", valid[:len(valid)/2], extract.Limits{}, extract.ReasonCorrupt},
		{"corrupt pdf (garbage body)", "c.pdf", append([]byte("%PDF-1.4\n"), junk[:4096]...), extract.Limits{}, extract.ReasonCorrupt},
		{"encrypted pdf", "e.pdf", docgen.EncryptedPDF(), extract.Limits{}, extract.ReasonEncrypted},
		{"zip bomb docx (lying header)", "b.docx", docgen.ZipBombDOCX(80<<20, false), extract.Limits{MaxUncompressed: 16 << 20}, extract.ReasonZipBomb},
		{"zip bomb docx (honest header)", "b.docx", docgen.ZipBombDOCX(80<<20, true), extract.Limits{MaxUncompressed: 16 << 20}, extract.ReasonZipBomb},
		{"binary junk", "junk.bin", junk, extract.Limits{}, extract.ReasonUnsupported},
		{"binary junk named txt", "junk.txt", junk, extract.Limits{}, extract.ReasonUnsupported},
		{"too large", "big.txt", bytes.Repeat([]byte("word "), 1000), extract.Limits{MaxBytes: 1000}, extract.ReasonTooLarge},
		{"empty", "e.txt", []byte("   \n\n  "), extract.Limits{}, extract.ReasonEmpty},
		{"corrupt json", "x.json", []byte(`{"a": [1, 2`), extract.Limits{}, extract.ReasonCorrupt},
		{"docx without body", "x.docx", plainZip(t), extract.Limits{}, extract.ReasonCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := extract.Extract(context.Background(), tc.file, tc.data, tc.lim)
			if got := reason(err); got != tc.want {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func plainZip(t *testing.T) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("readme.txt")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("not a word document"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestExtractTimeout(t *testing.T) {
	// A huge CSV with a tiny budget: the deadline fires first.
	var b bytes.Buffer
	b.WriteString("a,b\n")
	for b.Len() < 8<<20 {
		b.WriteString("lorem ipsum,dolor sit\n")
	}
	_, err := extract.Extract(context.Background(), "t.csv", b.Bytes(), extract.Limits{Timeout: time.Millisecond})
	if got := reason(err); got != extract.ReasonTimeout {
		t.Fatalf("reason = %q (%v), want timeout", got, err)
	}
}

func TestExtractMaxText(t *testing.T) {
	data := []byte(strings.Repeat("paragraph text here\n\n", 1000))
	doc, err := extract.Extract(context.Background(), "m.txt", data, extract.Limits{MaxText: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !doc.Truncated || len(doc.Text()) > 120 {
		t.Fatalf("truncated=%v len=%d", doc.Truncated, len(doc.Text()))
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("a.txt", []byte("hello"))
	f.Add("a.md", []byte("# h\n\n- x\n| a |\n```\nc"))
	f.Add("a.html", []byte("<p>x<table><tr><td>y"))
	f.Add("a.csv", []byte("a,b\n\"x"))
	f.Add("a.json", []byte(`[{"a":{"b":[1,null,true]}}]`))
	f.Add("a.pdf", docgen.PDF("t", []docgen.Block{{Text: "fuzz me"}}))
	f.Add("a.docx", docgen.DOCX("t", []docgen.Block{{Level: 1, Text: "h"}, {Text: "a | b"}}))
	f.Add("a.xlsx", docgen.XLSX([][]string{{"a"}, {"b"}}))
	f.Add("a.pptx", docgen.PPTX([][]string{{"s"}}))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		lim := extract.Limits{MaxBytes: 1 << 20, MaxUncompressed: 4 << 20, MaxText: 1 << 20, Timeout: 2 * time.Second}
		doc, err := extract.Extract(context.Background(), name, data, lim)
		if err != nil {
			if reason(err) == "" {
				t.Fatalf("error without reason: %v", err)
			}
			return
		}
		if len(doc.Elements) == 0 {
			t.Fatal("success without elements")
		}
		if len(doc.Text()) > lim.MaxText+2*len(doc.Elements) {
			t.Fatalf("text %d exceeds MaxText", len(doc.Text()))
		}
	})
}
