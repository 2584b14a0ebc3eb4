package onesim

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// xb builds the XML bodies oned returns. Free-form values go out as CDATA,
// as oned writes them.
type xb struct{ strings.Builder }

func (b *xb) open(tag string)  { b.WriteString("<" + tag + ">") }
func (b *xb) close(tag string) { b.WriteString("</" + tag + ">") }

func (b *xb) int(tag string, v int64) {
	b.WriteString("<" + tag + ">")
	b.WriteString(strconv.FormatInt(v, 10))
	b.WriteString("</" + tag + ">")
}

func (b *xb) str(tag, v string) {
	b.WriteString("<" + tag + ">")
	_ = xml.EscapeText(&b.Builder, []byte(v))
	b.WriteString("</" + tag + ">")
}

func (b *xb) cdata(tag, v string) {
	b.WriteString("<" + tag + "><![CDATA[")
	b.WriteString(strings.ReplaceAll(v, "]]>", "]]]]><![CDATA[>"))
	b.WriteString("]]></" + tag + ">")
}

func (b *xb) float(tag string, v float64) {
	b.WriteString("<" + tag + ">")
	b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	b.WriteString("</" + tag + ">")
}

func (b *xb) ids(tag string, ids []int) {
	if len(ids) == 0 {
		b.WriteString("<" + tag + "/>")
		return
	}
	b.open(tag)
	for _, id := range ids {
		b.int("ID", int64(id))
	}
	b.close(tag)
}

func (b *xb) tmpl(tag string, t Tmpl) {
	if len(t) == 0 {
		b.WriteString("<" + tag + "/>")
		return
	}
	b.open(tag)
	for _, p := range t {
		if p.Vec == nil {
			b.cdata(p.Key, p.Val)
			continue
		}
		b.open(p.Key)
		for _, q := range p.Vec {
			b.cdata(q.Key, q.Val)
		}
		b.close(p.Key)
	}
	b.close(tag)
}

func (b *xb) perms(p perms) {
	b.open("PERMISSIONS")
	for i, name := range [...]string{"OWNER_U", "OWNER_M", "OWNER_A", "GROUP_U", "GROUP_M", "GROUP_A", "OTHER_U", "OTHER_M", "OTHER_A"} {
		b.int(name, int64(p[i]))
	}
	b.close("PERMISSIONS")
}

// perms are the nine permission bits in oned order (owner u/m/a, group, other).
type perms [9]int

var defaultPerms = perms{1, 1, 0, 0, 0, 0, 0, 0, 0}

// parseXMLTemplate reads a template written as XML (<TEMPLATE><K>v</K>...).
func parseXMLTemplate(s string) (Tmpl, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	var out Tmpl
	depth := 0
	var cur *Pair
	var text strings.Builder
	var inner string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("syntax error: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			text.Reset()
			switch depth {
			case 2:
				out = append(out, Pair{Key: strings.ToUpper(t.Name.Local)})
				cur = &out[len(out)-1]
			case 3:
				if cur != nil && cur.Vec == nil {
					cur.Vec = []Pair{}
				}
				inner = strings.ToUpper(t.Name.Local)
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			switch depth {
			case 3:
				if cur != nil {
					cur.Vec = append(cur.Vec, Pair{Key: inner, Val: text.String()})
				}
			case 2:
				if cur != nil && cur.Vec == nil {
					cur.Val = strings.TrimSpace(text.String())
				}
				cur = nil
			}
			text.Reset()
			depth--
		}
	}
	return out, nil
}
