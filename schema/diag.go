package schema

import (
	"fmt"
	"sort"
	"strings"
)

// Diagnostic is one problem in one customer file, with its position.
type Diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// String renders "file:line:col: field: message (hint)".
func (d Diagnostic) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", d.File, d.Line, d.Column)
	if d.Field != "" {
		b.WriteString(d.Field)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	if d.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(d.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Result is what a load produced: the valid customers and every problem found.
type Result struct {
	Customers   []Customer   `json:"customers"`
	Diagnostics []Diagnostic `json:"diagnostics"`
	// Files is the number of files looked at.
	Files int `json:"files"`
}

// OK reports whether the load found no problem at all.
func (r *Result) OK() bool { return len(r.Diagnostics) == 0 }

// Error summarises the diagnostics; it is "" when OK.
func (r *Result) Error() string {
	if r.OK() {
		return ""
	}
	lines := make([]string, len(r.Diagnostics))
	for i, d := range r.Diagnostics {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

func (r *Result) sort() {
	sort.SliceStable(r.Diagnostics, func(i, j int) bool {
		a, b := r.Diagnostics[i], r.Diagnostics[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	sort.Slice(r.Customers, func(i, j int) bool { return r.Customers[i].Name < r.Customers[j].Name })
}
