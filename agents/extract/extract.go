package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"
)

// Reason classifies an extraction failure.
type Reason string

// Failure reasons.
const (
	ReasonTooLarge    Reason = "too-large"
	ReasonUnsupported Reason = "unsupported"
	ReasonEncrypted   Reason = "encrypted"
	ReasonCorrupt     Reason = "corrupt"
	ReasonZipBomb     Reason = "zip-bomb"
	ReasonTimeout     Reason = "timeout"
	ReasonEmpty       Reason = "empty"
)

// Error is an extraction failure.
type Error struct {
	Reason Reason
	MIME   string
	Err    error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("extract %s: %s", e.MIME, e.Reason)
	}
	return fmt.Sprintf("extract %s: %s: %v", e.MIME, e.Reason, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func fail(r Reason, format string, a ...any) *Error {
	return &Error{Reason: r, Err: fmt.Errorf(format, a...)}
}

// Limits bound one extraction.
type Limits struct {
	MaxBytes        int64         // largest input accepted
	MaxUncompressed int64         // most bytes read out of a zip container (docx/xlsx/pptx)
	MaxText         int           // most bytes of extracted text kept (the rest is dropped)
	Timeout         time.Duration // wall-clock budget
}

// DefaultLimits are used for zero fields.
var defaultLimits = Limits{MaxBytes: 32 << 20, MaxUncompressed: 64 << 20, MaxText: 4 << 20, Timeout: 10 * time.Second}

// DefaultLimits returns the default limits.
func DefaultLimits() Limits { return defaultLimits }

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultLimits.MaxBytes
	}
	if l.MaxUncompressed <= 0 {
		l.MaxUncompressed = defaultLimits.MaxUncompressed
	}
	if l.MaxText <= 0 {
		l.MaxText = defaultLimits.MaxText
	}
	if l.Timeout <= 0 {
		l.Timeout = defaultLimits.Timeout
	}
	return l
}

// Element kinds.
const (
	KindTitle     = "title"
	KindHeading   = "heading"
	KindParagraph = "paragraph"
	KindListItem  = "list-item"
	KindTableRow  = "table-row"
	KindCode      = "code"
)

// Element is one structural piece of a document.
type Element struct {
	Kind string
	Text string
	// Level is the heading level (1 = top) for headings, else 0.
	Level int
}

// Document is the extracted content of one file.
type Document struct {
	MIME     string
	Title    string
	Elements []Element
	// Truncated is true when MaxText cut the text short.
	Truncated bool
}

// Text joins all element texts with blank lines.
func (d Document) Text() string {
	var b strings.Builder
	for i, e := range d.Elements {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(e.Text)
	}
	return b.String()
}

// Kind of input after sniffing.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
	FormatCSV      = "csv"
	FormatJSON     = "json"
	FormatPDF      = "pdf"
	FormatDOCX     = "docx"
	FormatXLSX     = "xlsx"
	FormatPPTX     = "pptx"
)

// Sniff returns the MIME type detected from data and the format used to
// extract it ("" if unsupported).
func Sniff(name string, data []byte) (mime, format string) {
	m := mimetype.Detect(data)
	mime = m.String()
	if i := strings.IndexByte(mime, ';'); i >= 0 {
		mime = mime[:i]
	}
	ext := strings.ToLower(path.Ext(name))
	switch {
	case m.Is("application/pdf"):
		return mime, FormatPDF
	case m.Is("application/vnd.openxmlformats-officedocument.wordprocessingml.document"):
		return mime, FormatDOCX
	case m.Is("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"):
		return mime, FormatXLSX
	case m.Is("application/vnd.openxmlformats-officedocument.presentationml.presentation"):
		return mime, FormatPPTX
	case m.Is("application/zip"):
		// A generic zip (or an OOXML file mimetype could not classify):
		// let the extension decide between the OOXML formats.
		switch ext {
		case ".docx":
			return mime, FormatDOCX
		case ".xlsx":
			return mime, FormatXLSX
		case ".pptx":
			return mime, FormatPPTX
		}
		return mime, ""
	case m.Is("text/html"):
		return mime, FormatHTML
	case m.Is("application/json"):
		return mime, FormatJSON
	case m.Is("text/csv"):
		return mime, FormatCSV
	}
	if !strings.HasPrefix(mime, "text/") && !isText(data) {
		return mime, ""
	}
	switch ext {
	case ".md", ".markdown":
		return "text/markdown", FormatMarkdown
	case ".csv":
		return "text/csv", FormatCSV
	case ".json":
		return "application/json", FormatJSON
	case ".html", ".htm":
		return "text/html", FormatHTML
	}
	return mime, FormatText
}

// isText: valid UTF-8 (a cut rune at the end is fine) without NUL bytes.
func isText(b []byte) bool {
	if len(b) > 8192 {
		b = b[:8192]
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			return len(b) < utf8.UTFMax
		}
		b = b[n:]
	}
	return true
}

// Extract extracts the text elements of data, named name (the object key).
// It never panics; every failure is an *Error.
func Extract(ctx context.Context, name string, data []byte, lim Limits) (Document, error) {
	lim = lim.withDefaults()
	mime, format, err := admit(name, data, lim)
	if err != nil {
		return Document{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	type result struct {
		doc Document
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fail(ReasonCorrupt, "parser panic: %v", p)}
			}
			done <- r
		}()
		r.doc, r.err = extract(ctx, format, data, lim)
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		// The parser goroutine cannot be stopped; it finishes on its own
		// and its result is dropped.
		return Document{}, &Error{Reason: ReasonTimeout, MIME: mime, Err: ctx.Err()}
	}
	if r.err != nil {
		var e *Error
		if !errors.As(r.err, &e) {
			e = &Error{Reason: ReasonCorrupt, Err: r.err}
		}
		if errors.Is(r.err, context.DeadlineExceeded) {
			e.Reason = ReasonTimeout
		}
		e.MIME = mime
		return Document{}, e
	}
	doc := r.doc
	doc.MIME = mime
	doc = clean(doc, lim.MaxText)
	if len(doc.Elements) == 0 {
		return Document{}, &Error{Reason: ReasonEmpty, MIME: mime, Err: errors.New("no text found")}
	}
	return doc, nil
}

// admit sniffs data and refuses, before any parser sees it, a file over
// MaxBytes or of a format nothing extracts.
func admit(name string, data []byte, lim Limits) (mime, format string, err error) {
	mime, format = Sniff(name, data)
	if int64(len(data)) > lim.MaxBytes {
		return mime, "", &Error{Reason: ReasonTooLarge, MIME: mime, Err: fmt.Errorf("%d bytes, limit %d", len(data), lim.MaxBytes)}
	}
	if format == "" {
		return mime, "", &Error{Reason: ReasonUnsupported, MIME: mime}
	}
	return mime, format, nil
}

func extract(ctx context.Context, format string, data []byte, lim Limits) (Document, error) {
	switch format {
	case FormatText:
		return Document{Elements: textElements(string(data))}, nil
	case FormatMarkdown:
		return markdown(string(data)), nil
	case FormatHTML:
		return htmlDoc(ctx, data)
	case FormatCSV:
		return csvDoc(ctx, data)
	case FormatJSON:
		return jsonDoc(data)
	case FormatPDF:
		return pdfDoc(ctx, data, lim)
	case FormatDOCX:
		return docxDoc(ctx, data, lim)
	case FormatXLSX:
		return xlsxDoc(ctx, data, lim)
	case FormatPPTX:
		return pptxDoc(ctx, data, lim)
	}
	return Document{}, fail(ReasonUnsupported, "format %q", format)
}

// clean normalises whitespace, drops empty elements, fixes invalid UTF-8 and
// enforces MaxText.
func clean(d Document, maxText int) Document {
	out := d.Elements[:0]
	total := 0
	for _, e := range d.Elements {
		e.Text = strings.ToValidUTF8(e.Text, "\uFFFD")
		if e.Kind != KindCode {
			e.Text = strings.Join(strings.Fields(e.Text), " ")
		} else {
			e.Text = strings.TrimSpace(e.Text)
		}
		if e.Text == "" {
			continue
		}
		if total+len(e.Text) > maxText {
			d.Truncated = true
			break
		}
		total += len(e.Text)
		out = append(out, e)
	}
	d.Elements = out
	d.Title = strings.Join(strings.Fields(strings.ToValidUTF8(d.Title, "")), " ")
	if d.Title == "" {
		for _, e := range out {
			if e.Kind == KindHeading || e.Kind == KindTitle {
				d.Title = e.Text
				break
			}
		}
	}
	return d
}

// textElements splits plain text into paragraphs at blank lines.
func textElements(s string) []Element {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var out []Element
	for _, para := range strings.Split(s, "\n\n") {
		if strings.TrimSpace(para) != "" {
			out = append(out, Element{Kind: KindParagraph, Text: para})
		}
	}
	return out
}

// markdown recognises ATX headings, list items, fenced code, tables
// (one element per row) and paragraphs.
func markdown(s string) Document {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var d Document
	var para []string
	flush := func() {
		if len(para) > 0 {
			d.Elements = append(d.Elements, Element{Kind: KindParagraph, Text: strings.Join(para, " ")})
			para = nil
		}
	}
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "```"):
			flush()
			var code []string
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
				code = append(code, lines[i])
			}
			d.Elements = append(d.Elements, Element{Kind: KindCode, Text: strings.Join(code, "\n")})
		case t == "":
			flush()
		case strings.HasPrefix(t, "#"):
			flush()
			lvl := len(t) - len(strings.TrimLeft(t, "#"))
			d.Elements = append(d.Elements, Element{Kind: KindHeading, Level: lvl, Text: strings.TrimSpace(strings.Trim(t, "#"))})
		case strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* ") || strings.HasPrefix(t, "+ ") || isOrdered(t):
			flush()
			_, item, _ := strings.Cut(t, " ")
			d.Elements = append(d.Elements, Element{Kind: KindListItem, Text: item})
		case strings.HasPrefix(t, "|"):
			flush()
			cells := strings.Split(strings.Trim(t, "|"), "|")
			if strings.Trim(strings.Join(cells, ""), " -:") == "" {
				continue // separator row
			}
			for j := range cells {
				cells[j] = strings.TrimSpace(cells[j])
			}
			d.Elements = append(d.Elements, Element{Kind: KindTableRow, Text: strings.Join(cells, " | ")})
		default:
			para = append(para, stripInline(t))
		}
	}
	flush()
	return d
}

func isOrdered(t string) bool {
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	return i > 0 && i+1 < len(t) && (t[i] == '.' || t[i] == ')') && t[i+1] == ' '
}

// stripInline removes the commonest inline Markdown markup.
func stripInline(s string) string {
	r := strings.NewReplacer("**", "", "__", "", "`", "")
	s = r.Replace(s)
	// [text](url) -> text (url)
	for {
		i := strings.Index(s, "](")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], ')')
		k := strings.LastIndexByte(s[:i], '[')
		if j < 0 || k < 0 {
			break
		}
		s = s[:k] + s[k+1:i] + " (" + s[i+2:i+j] + ")" + s[i+j+1:]
	}
	return s
}
