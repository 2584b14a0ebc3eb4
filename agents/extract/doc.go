// Package extract turns uploaded files into text elements (headings,
// paragraphs, list items, table rows, code) for element-aware chunking.
//
// Supported: plain text, Markdown, HTML, CSV, JSON, PDF
// (github.com/ledongthuc/pdf), DOCX, XLSX and PPTX (archive/zip +
// encoding/xml). The format is sniffed from the content
// (github.com/gabriel-vasile/mimetype), the file name only separates the
// text dialects (.md, .csv, .json). All of it is pure Go.
//
// Input is hostile: every call is bounded by Limits (input size, uncompressed
// bytes read out of zip containers, extracted text, wall-clock time), parser
// panics are recovered, and every failure is an *Error whose Reason says why
// (too-large, unsupported, encrypted, corrupt, zip-bomb, timeout, empty); the
// ingest agent puts such files into the customer's quarantine list.
package extract
