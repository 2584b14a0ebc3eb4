package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/ledongthuc/pdf"
	"golang.org/x/net/html"
)

// ---------------------------------------------------------------------------
// HTML

func htmlDoc(ctx context.Context, data []byte) (Document, error) {
	root, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return Document{}, fail(ReasonCorrupt, "html: %w", err)
	}
	var d Document
	var cur strings.Builder
	kind, level := KindParagraph, 0
	flush := func() {
		if strings.TrimSpace(cur.String()) != "" {
			d.Elements = append(d.Elements, Element{Kind: kind, Level: level, Text: cur.String()})
		}
		cur.Reset()
		kind, level = KindParagraph, 0
	}
	steps := 0
	var walk func(n *html.Node) error
	walk = func(n *html.Node) error {
		if steps++; steps%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "style", "noscript", "template", "svg", "head":
				if n.Data == "head" {
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						if c.Type == html.ElementNode && c.Data == "title" {
							d.Title = textOf(c)
						}
					}
				}
				return nil
			case "h1", "h2", "h3", "h4", "h5", "h6":
				flush()
				kind, level = KindHeading, int(n.Data[1]-'0')
				cur.WriteString(textOf(n))
				flush()
				return nil
			case "tr":
				flush()
				var cells []string
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
						cells = append(cells, strings.TrimSpace(textOf(c)))
					}
				}
				kind = KindTableRow
				cur.WriteString(strings.Join(cells, " | "))
				flush()
				return nil
			case "li":
				flush()
				kind = KindListItem
			case "pre":
				flush()
				kind = KindCode
				cur.WriteString(textOf(n))
				flush()
				return nil
			case "p", "div", "section", "article", "blockquote", "br", "ul", "ol", "table", "main", "header", "footer", "dd", "dt":
				flush()
			}
		}
		if n.Type == html.TextNode {
			cur.WriteString(n.Data)
			cur.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if err := walk(c); err != nil {
				return err
			}
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "p", "li", "div", "blockquote", "dd", "dt":
				flush()
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return Document{}, err
	}
	flush()
	return d, nil
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style") {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return b.String()
}

// ---------------------------------------------------------------------------
// CSV: one element per row, "header: value; ..." so each row stands alone.

func csvDoc(ctx context.Context, data []byte) (Document, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = false
	var header []string
	var d Document
	for i := 0; ; i++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Document{}, fail(ReasonCorrupt, "csv: %w", err)
		}
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return Document{}, err
			}
		}
		if header == nil {
			header = rec
			d.Elements = append(d.Elements, Element{Kind: KindHeading, Level: 1, Text: strings.Join(rec, ", ")})
			continue
		}
		parts := make([]string, 0, len(rec))
		for j, v := range rec {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if j < len(header) && header[j] != "" {
				parts = append(parts, header[j]+": "+v)
			} else {
				parts = append(parts, v)
			}
		}
		d.Elements = append(d.Elements, Element{Kind: KindTableRow, Text: strings.Join(parts, "; ")})
	}
	return d, nil
}

// ---------------------------------------------------------------------------
// JSON: scalar leaves as "path: value"; every object in a top-level array
// becomes its own element.

func jsonDoc(data []byte) (Document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Document{}, fail(ReasonCorrupt, "json: %w", err)
	}
	var d Document
	emit := func(prefix string, v any) {
		var lines []string
		flattenJSON(prefix, v, &lines, 0)
		if len(lines) > 0 {
			d.Elements = append(d.Elements, Element{Kind: KindParagraph, Text: strings.Join(lines, "; ")})
		}
	}
	switch t := v.(type) {
	case []any:
		for _, x := range t {
			emit("", x)
		}
	case map[string]any:
		keys := sortedKeys(t)
		for _, k := range keys {
			if arr, ok := t[k].([]any); ok && len(arr) > 0 {
				for _, x := range arr {
					emit(k, x)
				}
				continue
			}
			emit(k, t[k])
		}
		if s, ok := t["title"].(string); ok {
			d.Title = s
		}
	default:
		emit("", v)
	}
	return d, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func flattenJSON(prefix string, v any, out *[]string, depth int) {
	if depth > 64 {
		return
	}
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flattenJSON(p, t[k], out, depth+1)
		}
	case []any:
		for _, x := range t {
			flattenJSON(prefix, x, out, depth+1)
		}
	case nil:
	default:
		s := fmt.Sprint(t)
		if prefix != "" {
			s = prefix + ": " + s
		}
		*out = append(*out, s)
	}
}

// ---------------------------------------------------------------------------
// PDF

func pdfDoc(ctx context.Context, data []byte, lim Limits) (Document, error) {
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if errors.Is(err, pdf.ErrInvalidPassword) || strings.Contains(strings.ToLower(err.Error()), "encrypt") {
			return Document{}, fail(ReasonEncrypted, "pdf is password protected or uses an unsupported encryption")
		}
		return Document{}, fail(ReasonCorrupt, "pdf: %w", err)
	}
	var d Document
	d.Title = r.Trailer().Key("Info").Key("Title").Text()
	n := r.NumPage()
	if n <= 0 {
		return Document{}, fail(ReasonCorrupt, "pdf has no pages")
	}
	total := 0
	for i := 1; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return Document{}, err
		}
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		rows, err := p.GetTextByRow()
		if err != nil {
			return Document{}, fail(ReasonCorrupt, "pdf page %d: %w", i, err)
		}
		var para []string
		flush := func() {
			if len(para) > 0 {
				d.Elements = append(d.Elements, Element{Kind: KindParagraph, Text: strings.Join(para, " ")})
				para = nil
			}
		}
		var lastY float64
		for j, row := range rows {
			var b strings.Builder
			for _, w := range row.Content {
				b.WriteString(w.S)
			}
			line := strings.TrimSpace(b.String())
			// A vertical gap larger than about two lines ends a paragraph.
			if j > 0 && lastY-float64(row.Position) > 24 {
				flush()
			}
			lastY = float64(row.Position)
			if line == "" {
				flush()
				continue
			}
			para = append(para, line)
			total += len(line)
		}
		flush()
		if total > lim.MaxText {
			break
		}
	}
	return d, nil
}

// ---------------------------------------------------------------------------
// OOXML (docx, xlsx, pptx): zip containers with XML parts. Every part is
// read through a budget of MaxUncompressed bytes for the whole file, so a
// zip bomb is cut off whatever its headers claim.

type zipBudget struct {
	left int64
}

func (b *zipBudget) read(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > uint64(b.left) {
		return nil, fail(ReasonZipBomb, "part %s declares %d bytes, budget left %d", f.Name, f.UncompressedSize64, b.left)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fail(ReasonCorrupt, "open part %s: %w", f.Name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, b.left+1))
	if errors.Is(err, zip.ErrFormat) && uint64(len(data))+64<<10 >= f.UncompressedSize64 {
		// archive/zip stops at the declared size: the part inflates
		// beyond what its header claims.
		return nil, fail(ReasonZipBomb, "part %s inflates beyond its declared %d bytes", f.Name, f.UncompressedSize64)
	}
	if err != nil {
		return nil, fail(ReasonCorrupt, "read part %s: %w", f.Name, err)
	}
	if int64(len(data)) > b.left {
		return nil, fail(ReasonZipBomb, "part %s inflates beyond the budget", f.Name)
	}
	b.left -= int64(len(data))
	return data, nil
}

func openZip(data []byte, lim Limits) (*zip.Reader, *zipBudget, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, fail(ReasonCorrupt, "zip: %w", err)
	}
	if len(zr.File) > 10000 {
		return nil, nil, fail(ReasonZipBomb, "%d zip entries", len(zr.File))
	}
	for _, f := range zr.File {
		if f.Name == "EncryptedPackage" || f.Flags&0x1 != 0 {
			return nil, nil, fail(ReasonEncrypted, "encrypted zip entry %s", f.Name)
		}
	}
	return zr, &zipBudget{left: lim.MaxUncompressed}, nil
}

func zipPart(zr *zip.Reader, name string) *zip.File {
	for _, f := range zr.File {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// xmlWalk calls start/end/text for every token of the XML part.
func xmlWalk(ctx context.Context, data []byte, start func(xml.StartElement), end func(xml.EndElement), text func(string)) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	for i := 0; ; i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fail(ReasonCorrupt, "xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			start(t)
		case xml.EndElement:
			end(t)
		case xml.CharData:
			text(string(t))
		}
	}
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func docxDoc(ctx context.Context, data []byte, lim Limits) (Document, error) {
	zr, budget, err := openZip(data, lim)
	if err != nil {
		return Document{}, err
	}
	f := zipPart(zr, "word/document.xml")
	if f == nil {
		return Document{}, fail(ReasonCorrupt, "docx without word/document.xml")
	}
	body, err := budget.read(f)
	if err != nil {
		return Document{}, err
	}
	var d Document
	var para strings.Builder
	var cells []string
	var cell strings.Builder
	style := ""
	inText, inTable, inCell := false, 0, false
	err = xmlWalk(ctx, body, func(se xml.StartElement) {
		switch se.Name.Local {
		case "t":
			inText = true
		case "tab":
			para.WriteByte(' ')
		case "p":
			para.Reset()
			style = ""
		case "pStyle":
			style = attr(se, "val")
		case "tbl":
			inTable++
		case "tr":
			cells = nil
		case "tc":
			inCell = true
			cell.Reset()
		}
	}, func(ee xml.EndElement) {
		switch ee.Name.Local {
		case "t":
			inText = false
		case "p":
			txt := para.String()
			if inCell {
				cell.WriteString(txt + " ")
				return
			}
			kind, lvl := KindParagraph, 0
			ls := strings.ToLower(style)
			switch {
			case ls == "title":
				kind = KindTitle
				d.Title = txt
			case strings.HasPrefix(ls, "heading"):
				kind = KindHeading
				lvl, _ = strconv.Atoi(strings.TrimPrefix(ls, "heading"))
				if lvl == 0 {
					lvl = 1
				}
			case strings.Contains(ls, "list"):
				kind = KindListItem
			}
			d.Elements = append(d.Elements, Element{Kind: kind, Level: lvl, Text: txt})
		case "tc":
			inCell = false
			cells = append(cells, strings.TrimSpace(cell.String()))
		case "tr":
			d.Elements = append(d.Elements, Element{Kind: KindTableRow, Text: strings.Join(cells, " | ")})
		case "tbl":
			inTable--
		}
	}, func(s string) {
		if inText {
			para.WriteString(s)
		}
	})
	return d, err
}

func xlsxDoc(ctx context.Context, data []byte, lim Limits) (Document, error) {
	zr, budget, err := openZip(data, lim)
	if err != nil {
		return Document{}, err
	}
	var shared []string
	if f := zipPart(zr, "xl/sharedStrings.xml"); f != nil {
		b, err := budget.read(f)
		if err != nil {
			return Document{}, err
		}
		var cur strings.Builder
		inT := false
		if err := xmlWalk(ctx, b, func(se xml.StartElement) {
			switch se.Name.Local {
			case "si":
				cur.Reset()
			case "t":
				inT = true
			}
		}, func(ee xml.EndElement) {
			switch ee.Name.Local {
			case "si":
				shared = append(shared, cur.String())
			case "t":
				inT = false
			}
		}, func(s string) {
			if inT {
				cur.WriteString(s)
			}
		}); err != nil {
			return Document{}, err
		}
	}
	var sheets []*zip.File
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "xl/worksheets/sheet") && strings.HasSuffix(f.Name, ".xml") {
			sheets = append(sheets, f)
		}
	}
	sort.Slice(sheets, func(i, j int) bool { return sheets[i].Name < sheets[j].Name })
	var d Document
	for _, f := range sheets {
		b, err := budget.read(f)
		if err != nil {
			return Document{}, err
		}
		var row []string
		var val strings.Builder
		cellType, inV := "", false
		var header []string
		err = xmlWalk(ctx, b, func(se xml.StartElement) {
			switch se.Name.Local {
			case "row":
				row = nil
			case "c":
				cellType = attr(se, "t")
				val.Reset()
			case "v", "t":
				inV = true
			}
		}, func(ee xml.EndElement) {
			switch ee.Name.Local {
			case "v", "t":
				inV = false
			case "c":
				v := val.String()
				if cellType == "s" {
					if i, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && i >= 0 && i < len(shared) {
						v = shared[i]
					}
				}
				row = append(row, strings.TrimSpace(v))
			case "row":
				if header == nil {
					header = row
					d.Elements = append(d.Elements, Element{Kind: KindHeading, Level: 2, Text: strings.Join(row, ", ")})
					return
				}
				parts := make([]string, 0, len(row))
				for j, v := range row {
					if v == "" {
						continue
					}
					if j < len(header) && header[j] != "" {
						v = header[j] + ": " + v
					}
					parts = append(parts, v)
				}
				d.Elements = append(d.Elements, Element{Kind: KindTableRow, Text: strings.Join(parts, "; ")})
			}
		}, func(s string) {
			if inV {
				val.WriteString(s)
			}
		})
		if err != nil {
			return Document{}, err
		}
	}
	return d, nil
}

func pptxDoc(ctx context.Context, data []byte, lim Limits) (Document, error) {
	zr, budget, err := openZip(data, lim)
	if err != nil {
		return Document{}, err
	}
	var slides []*zip.File
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "ppt/slides/slide") && strings.HasSuffix(f.Name, ".xml") {
			slides = append(slides, f)
		}
	}
	num := func(n string) int {
		i, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(n, "ppt/slides/slide"), ".xml"))
		return i
	}
	sort.Slice(slides, func(i, j int) bool { return num(slides[i].Name) < num(slides[j].Name) })
	var d Document
	for _, f := range slides {
		b, err := budget.read(f)
		if err != nil {
			return Document{}, err
		}
		var para strings.Builder
		inT := false
		err = xmlWalk(ctx, b, func(se xml.StartElement) {
			switch se.Name.Local {
			case "t":
				inT = true
			case "p":
				para.Reset()
			}
		}, func(ee xml.EndElement) {
			switch ee.Name.Local {
			case "t":
				inT = false
			case "p":
				d.Elements = append(d.Elements, Element{Kind: KindParagraph, Text: para.String()})
			}
		}, func(s string) {
			if inT {
				para.WriteString(s)
			}
		})
		if err != nil {
			return Document{}, err
		}
	}
	return d, nil
}
