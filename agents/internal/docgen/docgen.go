package docgen

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"html"
	"io"
	"strings"
)

// Block is a heading (Level > 0) or a paragraph of a generated document.
type Block struct {
	Level int
	Text  string
}

func wrap(s string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, w := range strings.Fields(s) {
		if cur.Len() > 0 && cur.Len()+1+len(w) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(w)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

func pdfEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// PDF returns a PDF 1.4 file with the blocks laid out on as many pages as
// needed (Helvetica, uncompressed content streams). Non-ASCII characters
// become '?'.
func PDF(title string, blocks []Block) []byte {
	return pdfWith(title, blocks, "")
}

func pdfWith(title string, blocks []Block, encrypt string) []byte {
	type line struct {
		text string
		gap  int
		size int
	}
	var lines []line
	for _, bl := range blocks {
		size, width := 11, 90
		if bl.Level > 0 {
			size, width = 15, 60
		}
		for i, l := range wrap(bl.Text, width) {
			gap := 14
			if i == 0 {
				gap = 36
			}
			lines = append(lines, line{l, gap, size})
		}
	}
	var pages [][]line
	y := 0
	for _, l := range lines {
		if len(pages) == 0 || y+l.gap > 700 {
			pages = append(pages, nil)
			y = 0
		}
		pages[len(pages)-1] = append(pages[len(pages)-1], l)
		y += l.gap
	}
	if len(pages) == 0 {
		pages = [][]line{nil}
	}
	var objs []string // objects 1..n
	add := func(s string) int { objs = append(objs, s); return len(objs) }
	catalog := add("")  // placeholder 1
	pagesObj := add("") // placeholder 2
	font := add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	var kids []string
	for _, pg := range pages {
		var cs strings.Builder
		cs.WriteString("BT\n")
		y := 760
		for _, l := range pg {
			y -= l.gap
			fmt.Fprintf(&cs, "/F1 %d Tf\n1 0 0 1 50 %d Tm\n(%s) Tj\n", l.size, y, pdfEscape(l.text))
		}
		cs.WriteString("ET\n")
		content := add(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", cs.Len(), cs.String()))
		page := add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>", pagesObj, font, content))
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
	}
	objs[catalog-1] = fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pagesObj)
	objs[pagesObj-1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(kids))
	info := add(fmt.Sprintf("<< /Title (%s) /Producer (agentvdc docgen) >>", pdfEscape(title)))
	return writePDF(objs, fmt.Sprintf("/Root %d 0 R /Info %d 0 R%s", catalog, info, encrypt))
}

// PDFObjects returns a PDF of exactly these objects (object 1 first, the
// catalog) with a correct cross-reference table: for hostile shapes a
// well-behaved generator would never write.
func PDFObjects(objs ...string) []byte { return writePDF(objs, "/Root 1 0 R") }

// writePDF lays out objs with their cross-reference table and a trailer
// holding trailer's entries.
func writePDF(objs []string, trailer string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, trailer, xref)
	return b.Bytes()
}

// EncryptedPDF returns a PDF whose trailer declares standard encryption
// with a user password that is not empty, so it cannot be opened.
func EncryptedPDF() []byte {
	o, u, id := strings.Repeat("O", 32), strings.Repeat("U", 32), strings.Repeat("I", 16)
	enc := fmt.Sprintf(" /ID [(%s) (%s)] /Encrypt << /Filter /Standard /V 1 /R 2 /Length 40 /O (%s) /U (%s) /P -4 >>", id, id, o, u)
	return pdfWith("Secret", []Block{{Text: "confidential text that must not be readable"}}, enc)
}

func zipFile(parts map[string]string, order []string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range order {
		w, err := zw.Create(name)
		if err != nil {
			panic(err) // writing to memory cannot fail
		}
		io.WriteString(w, parts[name])
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

const contentTypes = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="%s" ContentType="%s"/></Types>`

const rels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="%s"/></Relationships>`

// DOCX returns a minimal Word document: headings use the HeadingN styles;
// a block whose text contains " | " becomes a one-row table.
func DOCX(title string, blocks []Block) []byte {
	var body strings.Builder
	para := func(style, text string) {
		body.WriteString("<w:p>")
		if style != "" {
			fmt.Fprintf(&body, `<w:pPr><w:pStyle w:val="%s"/></w:pPr>`, style)
		}
		fmt.Fprintf(&body, `<w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>`, html.EscapeString(text))
	}
	para("Title", title)
	for _, bl := range blocks {
		switch {
		case bl.Level > 0:
			para(fmt.Sprintf("Heading%d", bl.Level), bl.Text)
		case strings.Contains(bl.Text, " | "):
			body.WriteString("<w:tbl><w:tr>")
			for _, c := range strings.Split(bl.Text, " | ") {
				body.WriteString("<w:tc>")
				para("", c)
				body.WriteString("</w:tc>")
			}
			body.WriteString("</w:tr></w:tbl>")
		default:
			para("", bl.Text)
		}
	}
	doc := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` + body.String() + `</w:body></w:document>`
	parts := map[string]string{
		"[Content_Types].xml": fmt.Sprintf(contentTypes, "/word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
		"_rels/.rels":         fmt.Sprintf(rels, "word/document.xml"),
		"word/document.xml":   doc,
	}
	return zipFile(parts, []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml"})
}

// ZipBombDOCX returns a DOCX whose document.xml inflates to inflated bytes
// (highly compressible filler) while the file itself stays small. The
// declared uncompressed size in the zip headers is honest only if honest is
// true; otherwise it claims 1 KiB.
func ZipBombDOCX(inflated int64, honest bool) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"[Content_Types].xml", "_rels/.rels"} {
		w, _ := zw.Create(name)
		if name == "_rels/.rels" {
			fmt.Fprintf(w, rels, "word/document.xml")
		} else {
			fmt.Fprintf(w, contentTypes, "/word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
		}
	}
	// Compress by hand so the header can lie about the size.
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	head := `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>`
	io.WriteString(fw, head)
	chunk := bytes.Repeat([]byte("A"), 1<<20)
	var crcW = newCRC()
	crcW.Write([]byte(head))
	left := inflated - int64(len(head))
	for left > 0 {
		n := min(left, int64(len(chunk)))
		fw.Write(chunk[:n])
		crcW.Write(chunk[:n])
		left -= n
	}
	fw.Close()
	size := uint64(inflated)
	if !honest {
		size = 1024
	}
	hdr := &zip.FileHeader{Name: "word/document.xml", Method: zip.Deflate, CRC32: crcW.Sum32(),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: size}
	w, err := zw.CreateRaw(hdr)
	if err != nil {
		panic(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return b.Bytes()
}

// XLSX returns a workbook with one sheet of inline-string rows.
func XLSX(rows [][]string) []byte {
	var sh strings.Builder
	sh.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	for _, r := range rows {
		sh.WriteString("<row>")
		for _, c := range r {
			fmt.Fprintf(&sh, `<c t="inlineStr"><is><t>%s</t></is></c>`, html.EscapeString(c))
		}
		sh.WriteString("</row>")
	}
	sh.WriteString(`</sheetData></worksheet>`)
	wb := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="Sheet1" sheetId="1"/></sheets></workbook>`
	parts := map[string]string{
		"[Content_Types].xml":      fmt.Sprintf(contentTypes, "/xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
		"_rels/.rels":              fmt.Sprintf(rels, "xl/workbook.xml"),
		"xl/workbook.xml":          wb,
		"xl/worksheets/sheet1.xml": sh.String(),
	}
	return zipFile(parts, []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/worksheets/sheet1.xml"})
}

// PPTX returns a presentation with one slide per entry; each slide's
// strings are separate paragraphs.
func PPTX(slides [][]string) []byte {
	parts := map[string]string{
		"[Content_Types].xml":  fmt.Sprintf(contentTypes, "/ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"),
		"_rels/.rels":          fmt.Sprintf(rels, "ppt/presentation.xml"),
		"ppt/presentation.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>`,
	}
	order := []string{"[Content_Types].xml", "_rels/.rels", "ppt/presentation.xml"}
	for i, s := range slides {
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody>`)
		for _, p := range s {
			fmt.Fprintf(&b, `<a:p><a:r><a:t>%s</a:t></a:r></a:p>`, html.EscapeString(p))
		}
		b.WriteString(`</p:txBody></p:sp></p:spTree></p:cSld></p:sld>`)
		name := fmt.Sprintf("ppt/slides/slide%d.xml", i+1)
		parts[name] = b.String()
		order = append(order, name)
	}
	return zipFile(parts, order)
}
