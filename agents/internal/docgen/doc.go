// Package docgen writes small but valid PDF, DOCX, XLSX and PPTX files from
// text, plus hostile variants (encrypted PDF, zip-bomb DOCX). It generates
// the binary fixtures of the agents test corpus (see agents/internal/gencorpus) and
// the hostile inputs of the tests; it is not used in production.
package docgen
