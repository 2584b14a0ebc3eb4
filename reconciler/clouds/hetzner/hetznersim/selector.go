package hetznersim

import (
	"fmt"
	"regexp"
	"strings"
)

// Label key and value syntax as hcloud-go validates it (hcloud/labels.go).
var (
	labelKeyRe   = regexp.MustCompile(`^([a-z0-9A-Z]((?:[\-_.]|[a-z0-9A-Z]){0,253}[a-z0-9A-Z])?/)?[a-z0-9A-Z]((?:[\-_.]|[a-z0-9A-Z]|){0,61}[a-z0-9A-Z])?$`)
	labelValueRe = regexp.MustCompile(`^(([a-z0-9A-Z](?:[\-_.]|[a-z0-9A-Z]){0,61})?[a-z0-9A-Z]$|$)`)
)

// validateLabels checks a label set the way the API does.
func validateLabels(labels map[string]string) error {
	for k, v := range labels {
		if !labelKeyRe.MatchString(k) {
			return fmt.Errorf("label key '%s' is not correctly formatted", k)
		}
		if !labelValueRe.MatchString(v) {
			return fmt.Errorf("label value '%s' (key: %s) is not correctly formatted", v, k)
		}
	}
	return nil
}

// selOp is the operator of one selector requirement.
type selOp int

const (
	opEq     selOp = iota // k=v, k==v
	opNeq                 // k!=v
	opExists              // k
	opAbsent              // !k
	opIn                  // k in (a,b)
	opNotIn               // k notin (a,b)
)

// requirement is one comma-separated term of a label selector.
type requirement struct {
	key    string
	op     selOp
	values []string
}

// selector is a parsed label selector; all requirements must hold (AND).
// The zero selector matches everything.
type selector []requirement

// matches reports whether labels satisfy every requirement. As in
// Kubernetes, from which Hetzner takes the syntax, k!=v and k notin (...)
// also match resources that do not carry k at all.
func (s selector) matches(labels map[string]string) bool {
	for _, r := range s {
		v, ok := labels[r.key]
		switch r.op {
		case opEq:
			if !ok || v != r.values[0] {
				return false
			}
		case opNeq:
			if ok && v == r.values[0] {
				return false
			}
		case opExists:
			if !ok {
				return false
			}
		case opAbsent:
			if ok {
				return false
			}
		case opIn:
			if !ok || !contains(r.values, v) {
				return false
			}
		case opNotIn:
			if ok && contains(r.values, v) {
				return false
			}
		}
	}
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// parseSelector parses the label_selector grammar of the Hetzner Cloud API:
//
//	selector    = requirement { "," requirement }
//	requirement = "!" key | key | key ("=" | "==" | "!=") value
//	            | key ("in" | "notin") "(" value { "," value } ")"
//
// Blanks around tokens are allowed. An empty string is the empty selector.
func parseSelector(in string) (selector, error) {
	p := &selParser{s: in}
	var sel selector
	p.skipSpace()
	if p.eof() {
		return nil, nil
	}
	for {
		r, err := p.requirement()
		if err != nil {
			return nil, fmt.Errorf("label_selector %q: %w", in, err)
		}
		sel = append(sel, r)
		p.skipSpace()
		if p.eof() {
			return sel, nil
		}
		if p.s[p.i] != ',' {
			return nil, fmt.Errorf("label_selector %q: unexpected %q at position %d, want ','", in, p.s[p.i], p.i)
		}
		p.i++
		p.skipSpace()
		if p.eof() {
			return nil, fmt.Errorf("label_selector %q: trailing ','", in)
		}
	}
}

type selParser struct {
	s string
	i int
}

func (p *selParser) eof() bool { return p.i >= len(p.s) }

func (p *selParser) skipSpace() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// isWordByte reports whether c may appear in a key or value.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '/'
}

func (p *selParser) word() string {
	start := p.i
	for !p.eof() && isWordByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *selParser) key() (string, error) {
	p.skipSpace()
	k := p.word()
	if k == "" {
		if p.eof() {
			return "", fmt.Errorf("missing label key at end of selector")
		}
		return "", fmt.Errorf("missing label key at position %d", p.i)
	}
	if !labelKeyRe.MatchString(k) {
		return "", fmt.Errorf("invalid label key %q", k)
	}
	return k, nil
}

func (p *selParser) value() (string, error) {
	p.skipSpace()
	v := p.word()
	if !labelValueRe.MatchString(v) || strings.Contains(v, "/") {
		return "", fmt.Errorf("invalid label value %q", v)
	}
	return v, nil
}

func (p *selParser) requirement() (requirement, error) {
	p.skipSpace()
	if !p.eof() && p.s[p.i] == '!' {
		p.i++
		k, err := p.key()
		if err != nil {
			return requirement{}, err
		}
		return requirement{key: k, op: opAbsent}, nil
	}
	k, err := p.key()
	if err != nil {
		return requirement{}, err
	}
	p.skipSpace()
	if p.eof() || p.s[p.i] == ',' {
		return requirement{key: k, op: opExists}, nil
	}
	rest := p.s[p.i:]
	switch {
	case strings.HasPrefix(rest, "=="):
		p.i += 2
		return p.single(k, opEq)
	case strings.HasPrefix(rest, "!="):
		p.i += 2
		return p.single(k, opNeq)
	case strings.HasPrefix(rest, "="):
		p.i++
		return p.single(k, opEq)
	}
	// A set operator must be a whole word followed by "(".
	op := p.word()
	switch op {
	case "in":
		return p.set(k, opIn)
	case "notin":
		return p.set(k, opNotIn)
	case "":
		return requirement{}, fmt.Errorf("unexpected %q after key %q", p.s[p.i], k)
	default:
		return requirement{}, fmt.Errorf("unknown operator %q after key %q", op, k)
	}
}

func (p *selParser) single(k string, op selOp) (requirement, error) {
	v, err := p.value()
	if err != nil {
		return requirement{}, err
	}
	return requirement{key: k, op: op, values: []string{v}}, nil
}

func (p *selParser) set(k string, op selOp) (requirement, error) {
	p.skipSpace()
	if p.eof() || p.s[p.i] != '(' {
		return requirement{}, fmt.Errorf("want '(' after set operator for key %q", k)
	}
	p.i++
	var vals []string
	for {
		v, err := p.value()
		if err != nil {
			return requirement{}, err
		}
		if v == "" {
			return requirement{}, fmt.Errorf("empty value in set for key %q", k)
		}
		vals = append(vals, v)
		p.skipSpace()
		if p.eof() {
			return requirement{}, fmt.Errorf("missing ')' in set for key %q", k)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ')':
			p.i++
			return requirement{key: k, op: op, values: vals}, nil
		default:
			return requirement{}, fmt.Errorf("unexpected %q in set for key %q", p.s[p.i], k)
		}
	}
}
