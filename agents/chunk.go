package agents

import (
	"strings"

	"github.com/agentvdc/agentvdc/agents/extract"
)

// ChunkOptions shape chunks (sizes in words).
type ChunkOptions struct {
	Target  int // a chunk is closed once it reaches this many words (default 160)
	Max     int // no chunk is longer, except one indivisible table row (default 240)
	Overlap int // words carried from the end of a chunk into the next (default 30)
}

func (o ChunkOptions) withDefaults() ChunkOptions {
	if o.Target <= 0 {
		o.Target = 160
	}
	if o.Max < o.Target {
		o.Max = o.Target * 3 / 2
	}
	if o.Overlap < 0 || o.Overlap >= o.Target {
		o.Overlap = 0
	} else if o.Overlap == 0 {
		o.Overlap = 30
	}
	return o
}

// Chunk is one piece of a document.
type Chunk struct {
	Text    string // body text
	Section string // heading path ("Title > Heading"), "" if none
}

// ChunkDocument splits a document element-aware: consecutive small
// elements are merged, a heading closes the running chunk and becomes the
// section of the next ones, table rows are never split, oversized
// paragraphs are split into overlapping word windows, and each chunk
// starts with the last Overlap words of the previous one in the same
// section.
func ChunkDocument(doc extract.Document, opts ChunkOptions) []Chunk {
	o := opts.withDefaults()
	var out []Chunk
	var cur []string // words
	type heading struct {
		level int
		text  string
	}
	var headings []heading
	if doc.Title != "" {
		headings = append(headings, heading{0, doc.Title})
	}
	section := func() string {
		parts := make([]string, len(headings))
		for i, h := range headings {
			parts[i] = h.text
		}
		return strings.Join(parts, " > ")
	}
	curSection := section()
	fresh := 0 // words in cur that are not overlap
	closeChunk := func(keepOverlap bool) {
		if fresh == 0 {
			cur = cur[:0]
			return
		}
		text := strings.TrimSpace(strings.ReplaceAll(strings.Join(cur, " "), " \n ", "\n"))
		out = append(out, Chunk{Text: strings.Trim(text, "\n "), Section: curSection})
		var tail []string
		if keepOverlap && o.Overlap > 0 && len(cur) > o.Overlap {
			tail = append(tail, cur[len(cur)-o.Overlap:]...)
		}
		cur = append(cur[:0], tail...)
		fresh = 0
	}
	add := func(words []string) {
		cur = append(cur, words...)
		fresh += len(words)
	}
	// endElement keeps element boundaries as line breaks in the text.
	endElement := func() {
		if len(cur) > 0 && cur[len(cur)-1] != "\n" {
			cur = append(cur, "\n")
		}
	}
	for _, e := range doc.Elements {
		words := strings.Fields(e.Text)
		if len(words) == 0 {
			continue
		}
		if e.Kind == extract.KindHeading || e.Kind == extract.KindTitle {
			closeChunk(false)
			cur = cur[:0]
			if e.Text == doc.Title {
				continue
			}
			lvl := max(e.Level, 1)
			if e.Kind == extract.KindTitle {
				lvl = 0
			}
			for len(headings) > 0 && headings[len(headings)-1].level >= lvl {
				headings = headings[:len(headings)-1]
			}
			headings = append(headings, heading{lvl, e.Text})
			curSection = section()
			continue
		}
		if e.Kind == extract.KindTableRow || e.Kind == extract.KindCode && len(words) <= o.Max {
			if fresh > 0 && len(cur)+len(words) > o.Max {
				closeChunk(false) // no overlap across rows: a row is a unit
			}
			add(words)
			endElement()
			if fresh >= o.Target {
				closeChunk(false)
			}
			continue
		}
		for len(words) > 0 {
			room := o.Max - len(cur)
			if room <= 0 || (fresh > 0 && len(words) > room && len(cur) >= o.Target/2) {
				closeChunk(true)
				room = o.Max - len(cur)
			}
			n := min(len(words), room)
			add(words[:n])
			words = words[n:]
			if fresh >= o.Target {
				closeChunk(true)
			}
		}
		endElement()
	}
	closeChunk(false)
	return out
}
