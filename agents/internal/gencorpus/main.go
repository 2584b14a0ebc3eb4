// Command gencorpus writes the agents test corpus (testdata/agents/corpus)
// from corpus.txt: one source document per "=== ID FORMAT TITLE" section,
// rendered as .txt, .md, .html, .csv, .json, .pdf or .docx. Run it with
// go generate in package agents; the outputs are committed.
package main

import (
	"bufio"
	_ "embed"
	"flag"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentvdc/agentvdc/agents/internal/docgen"
)

//go:embed corpus.txt
var source string

type doc struct {
	id, format, title string
	body              []string
}

func parse(src string) ([]doc, error) {
	var docs []doc
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "=== "); ok {
			f := strings.SplitN(rest, " ", 3)
			if len(f) != 3 {
				return nil, fmt.Errorf("bad header %q", line)
			}
			docs = append(docs, doc{id: f[0], format: f[1], title: f[2]})
			continue
		}
		if len(docs) == 0 {
			return nil, fmt.Errorf("text before the first header: %q", line)
		}
		docs[len(docs)-1].body = append(docs[len(docs)-1].body, line)
	}
	return docs, sc.Err()
}

func blocks(body []string) []docgen.Block {
	var out []docgen.Block
	for _, l := range body {
		l = strings.TrimSpace(l)
		switch {
		case l == "":
		case strings.HasPrefix(l, "# "):
			out = append(out, docgen.Block{Level: 1, Text: strings.TrimPrefix(l, "# ")})
		default:
			out = append(out, docgen.Block{Text: l})
		}
	}
	return out
}

func render(d doc) ([]byte, error) {
	raw := strings.TrimSpace(strings.Join(d.body, "\n")) + "\n"
	switch d.format {
	case "txt", "csv", "json":
		return []byte(raw), nil
	case "md":
		var b strings.Builder
		fmt.Fprintf(&b, "# %s\n\n", d.title)
		for _, bl := range blocks(d.body) {
			if bl.Level > 0 {
				fmt.Fprintf(&b, "## %s\n\n", bl.Text)
			} else {
				fmt.Fprintf(&b, "%s\n\n", bl.Text)
			}
		}
		return []byte(b.String()), nil
	case "html":
		var b strings.Builder
		fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>\n<body>\n<h1>%s</h1>\n", html.EscapeString(d.title), html.EscapeString(d.title))
		for _, bl := range blocks(d.body) {
			if bl.Level > 0 {
				fmt.Fprintf(&b, "<h2>%s</h2>\n", html.EscapeString(bl.Text))
			} else {
				fmt.Fprintf(&b, "<p>%s</p>\n", html.EscapeString(bl.Text))
			}
		}
		b.WriteString("</body></html>\n")
		return []byte(b.String()), nil
	case "pdf":
		return docgen.PDF(d.title, append([]docgen.Block{{Level: 1, Text: d.title}}, blocks(d.body)...)), nil
	case "docx":
		return docgen.DOCX(d.title, blocks(d.body)), nil
	}
	return nil, fmt.Errorf("%s: unknown format %q", d.id, d.format)
}

func main() {
	out := flag.String("out", "testdata/agents/corpus", "output directory")
	flag.Parse()
	docs, err := parse(source)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
	seen := map[string]bool{}
	for _, d := range docs {
		if seen[d.id] {
			fmt.Fprintln(os.Stderr, "gencorpus: duplicate id", d.id)
			os.Exit(1)
		}
		seen[d.id] = true
		b, err := render(d)
		if err == nil {
			err = os.WriteFile(filepath.Join(*out, d.id+"."+d.format), b, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gencorpus:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("gencorpus: wrote %d documents to %s\n", len(docs), *out)
}
