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
//
// Limits inside one process are not enough: a parser that never returns
// (a PDF page tree that lists itself as a kid) cannot be stopped by a
// context, and its goroutine would spin for as long as the daemon lives.
// Sandbox therefore runs the extractors in child processes (this program
// started again; main calls ServeChildIfAsked first) with GOMAXPROCS=1,
// a 64 MiB stack ceiling, an environment without credentials and
// PR_SET_PDEATHSIG, watched from /proc for CPU time and resident memory
// (with RLIMIT_AS as a backstop outside race builds) and killed at the
// wall-clock deadline. A killed child's file fails with ReasonTimeout or
// ReasonTooLarge, a crashed child's with ReasonCorrupt (after one retry on
// a fresh child), and a new child takes its place. Not done: seccomp or
// namespaces (the child can still open files the daemon's user can).
package extract
