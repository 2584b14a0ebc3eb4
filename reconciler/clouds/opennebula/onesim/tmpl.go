package onesim

import (
	"fmt"
	"strings"
	"unicode"
)

// Pair is one attribute of an OpenNebula template: a single value or, when
// Vec is non-nil, a vector attribute (NIC = [ NETWORK_ID = "3", ... ]).
type Pair struct {
	Key string `json:"k"`
	Val string `json:"v,omitempty"`
	Vec []Pair `json:"vec,omitempty"`
}

// Tmpl is an ordered OpenNebula template. Keys repeat (several DISK or NIC
// vectors), so it is a list, not a map.
type Tmpl []Pair

// Get returns the value of the first single-valued attribute key.
func (t Tmpl) Get(key string) (string, bool) {
	key = strings.ToUpper(key)
	for _, p := range t {
		if p.Key == key && p.Vec == nil {
			return p.Val, true
		}
	}
	return "", false
}

// Del removes every attribute named key.
func (t Tmpl) Del(key string) Tmpl {
	key = strings.ToUpper(key)
	out := t[:0:0]
	for _, p := range t {
		if p.Key != key {
			out = append(out, p)
		}
	}
	return out
}

// Set replaces (or appends) the single value of key.
func (t Tmpl) Set(key, val string) Tmpl {
	key = strings.ToUpper(key)
	for i, p := range t {
		if p.Key == key && p.Vec == nil {
			out := append(Tmpl(nil), t...)
			out[i].Val = val
			return out
		}
	}
	return append(append(Tmpl(nil), t...), Pair{Key: key, Val: val})
}

// Vectors returns the vector attributes named key.
func (t Tmpl) Vectors(key string) []Pair {
	var out []Pair
	for _, p := range t {
		if p.Key == key && p.Vec != nil {
			out = append(out, p)
		}
	}
	return out
}

// Merge applies oned's merge update: every attribute named in u replaces
// all attributes of the same name in t (vectors included).
func (t Tmpl) Merge(u Tmpl) Tmpl {
	names := map[string]bool{}
	for _, p := range u {
		names[p.Key] = true
	}
	out := make(Tmpl, 0, len(t)+len(u))
	for _, p := range t {
		if !names[p.Key] {
			out = append(out, p)
		}
	}
	return append(out, u...)
}

func (t Tmpl) clone() Tmpl {
	out := make(Tmpl, len(t))
	for i, p := range t {
		out[i] = p
		if p.Vec != nil {
			out[i].Vec = append([]Pair{}, p.Vec...)
		}
	}
	return out
}

// ParseTemplate parses the OpenNebula template syntax that goca sends:
//
//	NAME = "web"
//	CPU = 1
//	NIC = [ NETWORK_ID = "3", IP = "10.0.0.2" ]
//
// Attribute names are upper-cased as oned does; "#" starts a comment.
// Inside double quotes, \" and \\ are escapes. Templates written as XML
// (<TEMPLATE>...</TEMPLATE>) are accepted too.
func ParseTemplate(s string) (Tmpl, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "<") {
		return parseXMLTemplate(s)
	}
	p := &tparser{s: s}
	var out Tmpl
	for {
		p.skipSpace(true)
		if p.eof() {
			return out, nil
		}
		key, err := p.ident()
		if err != nil {
			return nil, err
		}
		p.skipSpace(false)
		if !p.consume('=') {
			return nil, p.errf("expected '=' after %s", key)
		}
		p.skipSpace(false)
		if p.consume('[') {
			vec := []Pair{}
			for {
				p.skipSpace(true)
				if p.consume(']') {
					break
				}
				if p.eof() {
					return nil, p.errf("unterminated vector %s", key)
				}
				k, err := p.ident()
				if err != nil {
					return nil, err
				}
				p.skipSpace(true)
				if !p.consume('=') {
					return nil, p.errf("expected '=' after %s", k)
				}
				p.skipSpace(true)
				v, err := p.value(true)
				if err != nil {
					return nil, err
				}
				vec = append(vec, Pair{Key: k, Val: v})
				p.skipSpace(true)
				p.consume(',')
			}
			out = append(out, Pair{Key: key, Vec: vec})
			continue
		}
		v, err := p.value(false)
		if err != nil {
			return nil, err
		}
		out = append(out, Pair{Key: key, Val: v})
	}
}

type tparser struct {
	s   string
	pos int
}

func (p *tparser) eof() bool { return p.pos >= len(p.s) }

func (p *tparser) errf(format string, a ...any) error {
	line := strings.Count(p.s[:min(p.pos, len(p.s))], "\n") + 1
	return fmt.Errorf("syntax error, line %d: %s", line, fmt.Sprintf(format, a...))
}

func (p *tparser) consume(c byte) bool {
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// skipSpace skips blanks and comments; newlines only when nl is set.
func (p *tparser) skipSpace(nl bool) {
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == '#':
			for p.pos < len(p.s) && p.s[p.pos] != '\n' {
				p.pos++
			}
		case c == ' ' || c == '\t' || c == '\r':
			p.pos++
		case c == '\n' && nl:
			p.pos++
		default:
			return
		}
	}
}

func (p *tparser) ident() (string, error) {
	start := p.pos
	for p.pos < len(p.s) {
		c := rune(p.s[p.pos])
		if unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '-' || c == '.' {
			p.pos++
			continue
		}
		break
	}
	if start == p.pos {
		return "", p.errf("expected an attribute name")
	}
	return strings.ToUpper(p.s[start:p.pos]), nil
}

func (p *tparser) value(inVector bool) (string, error) {
	if p.consume('"') {
		var b strings.Builder
		for {
			if p.eof() {
				return "", p.errf("unterminated string")
			}
			c := p.s[p.pos]
			p.pos++
			if c == '\\' && p.pos < len(p.s) && (p.s[p.pos] == '"' || p.s[p.pos] == '\\') {
				b.WriteByte(p.s[p.pos])
				p.pos++
				continue
			}
			if c == '"' {
				return b.String(), nil
			}
			b.WriteByte(c)
		}
	}
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '\n' || c == '#' || (inVector && (c == ',' || c == ']')) {
			break
		}
		p.pos++
	}
	return strings.TrimSpace(p.s[start:p.pos]), nil
}

// String renders t in template syntax (used in error messages and tests).
func (t Tmpl) String() string {
	var b strings.Builder
	for i, p := range t {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.Vec == nil {
			fmt.Fprintf(&b, "%s=%q", p.Key, p.Val)
			continue
		}
		b.WriteString(p.Key + "=[")
		for j, q := range p.Vec {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s=%q", q.Key, q.Val)
		}
		b.WriteString("]")
	}
	return b.String()
}
