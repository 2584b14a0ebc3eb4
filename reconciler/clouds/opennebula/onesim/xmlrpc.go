package onesim

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// oned error codes, as goca's errors package numbers them.
const (
	errAuthentication = 0x0100
	errAuthorization  = 0x0200
	errNoExists       = 0x0400
	errAction         = 0x0800
	errAPI            = 0x1000
	errInternal       = 0x2000
	errAllocate       = 0x4000
	errLocked         = 0x8000
)

// rpcError is a failed call: the [false, message, code] response.
type rpcError struct {
	code int
	msg  string
}

func (e *rpcError) Error() string { return e.msg }

func rpcErrf(code int, format string, a ...any) *rpcError {
	return &rpcError{code: code, msg: fmt.Sprintf(format, a...)}
}

type xValue struct {
	String  *string  `xml:"string"`
	Int     *string  `xml:"int"`
	I4      *string  `xml:"i4"`
	I8      *string  `xml:"i8"`
	Boolean *string  `xml:"boolean"`
	Double  *string  `xml:"double"`
	Array   *xArray  `xml:"array"`
	Struct  *xStruct `xml:"struct"`
	Text    string   `xml:",chardata"`
}

type xArray struct {
	Values []xValue `xml:"data>value"`
}

type xStruct struct {
	Members []struct {
		Name  string `xml:"name"`
		Value xValue `xml:"value"`
	} `xml:"member"`
}

type xCall struct {
	XMLName xml.Name `xml:"methodCall"`
	Method  string   `xml:"methodName"`
	Params  []xValue `xml:"params>param>value"`
}

// decodeValue turns an XML-RPC value into string, int, bool, float64,
// []any or map[string]any.
func decodeValue(v xValue) (any, error) {
	switch {
	case v.String != nil:
		return *v.String, nil
	case v.Int != nil, v.I4 != nil, v.I8 != nil:
		s := v.Int
		if s == nil {
			s = v.I4
		}
		if s == nil {
			s = v.I8
		}
		n, err := strconv.Atoi(strings.TrimSpace(*s))
		if err != nil {
			return nil, fmt.Errorf("bad int %q", *s)
		}
		return n, nil
	case v.Boolean != nil:
		switch strings.TrimSpace(*v.Boolean) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
		return nil, fmt.Errorf("bad boolean %q", *v.Boolean)
	case v.Double != nil:
		f, err := strconv.ParseFloat(strings.TrimSpace(*v.Double), 64)
		if err != nil {
			return nil, fmt.Errorf("bad double %q", *v.Double)
		}
		return f, nil
	case v.Array != nil:
		out := make([]any, 0, len(v.Array.Values))
		for _, e := range v.Array.Values {
			d, err := decodeValue(e)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	case v.Struct != nil:
		out := map[string]any{}
		for _, m := range v.Struct.Members {
			d, err := decodeValue(m.Value)
			if err != nil {
				return nil, err
			}
			out[m.Name] = d
		}
		return out, nil
	}
	return v.Text, nil
}

// decodeCall parses a methodCall body.
func decodeCall(body []byte) (string, []any, error) {
	var c xCall
	if err := xml.Unmarshal(body, &c); err != nil {
		return "", nil, fmt.Errorf("parse methodCall: %w", err)
	}
	params := make([]any, 0, len(c.Params))
	for i, p := range c.Params {
		v, err := decodeValue(p)
		if err != nil {
			return c.Method, nil, fmt.Errorf("param %d: %w", i, err)
		}
		params = append(params, v)
	}
	return strings.TrimSpace(c.Method), params, nil
}

// writeResponse writes [ok, body, code, extra] as oned does. body is a
// string (XML documents, messages) or an int (object ids).
func writeResponse(w http.ResponseWriter, ok bool, body any, code int) {
	var b strings.Builder
	b.Grow(256)
	b.WriteString(`<?xml version="1.0"?><methodResponse><params><param><value><array><data>`)
	if ok {
		b.WriteString(`<value><boolean>1</boolean></value>`)
	} else {
		b.WriteString(`<value><boolean>0</boolean></value>`)
	}
	extra := 0
	switch v := body.(type) {
	case int:
		b.WriteString(`<value><i4>` + strconv.Itoa(v) + `</i4></value>`)
		extra = v
	case string:
		b.WriteString(`<value><string>`)
		_ = xml.EscapeText(&b, []byte(v))
		b.WriteString(`</string></value>`)
	}
	b.WriteString(`<value><i4>` + strconv.Itoa(code) + `</i4></value>`)
	b.WriteString(`<value><i4>` + strconv.Itoa(extra) + `</i4></value>`)
	b.WriteString(`</data></array></value></param></params></methodResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	_, _ = w.Write([]byte(b.String()))
}

// writeFault writes an XML-RPC <fault>, as xmlrpc-c does for malformed calls
// and unknown methods.
func writeFault(w http.ResponseWriter, code int, msg string) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><methodResponse><fault><value><struct>`)
	b.WriteString(`<member><name>faultCode</name><value><i4>` + strconv.Itoa(code) + `</i4></value></member>`)
	b.WriteString(`<member><name>faultString</name><value><string>`)
	_ = xml.EscapeText(&b, []byte(msg))
	b.WriteString(`</string></value></member></struct></value></fault></methodResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(b.String()))
}

// args gives typed access to the call parameters after the session string,
// with oned's "wrong type" error shape.
type args struct {
	method string
	p      []any
}

func (a args) n() int { return len(a.p) }

func (a args) int(i int) (int, error) {
	if i >= len(a.p) {
		return 0, rpcErrf(errAPI, "[%s] Missing parameter %d (int)", a.method, i+2)
	}
	switch v := a.p[i].(type) {
	case int:
		return v, nil
	case string: // untyped values are strings in XML-RPC
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return n, nil
		}
	}
	return 0, rpcErrf(errAPI, "[%s] Parameter %d must be an int", a.method, i+2)
}

func (a args) intOr(i, def int) (int, error) {
	if i >= len(a.p) {
		return def, nil
	}
	return a.int(i)
}

func (a args) str(i int) (string, error) {
	if i >= len(a.p) {
		return "", rpcErrf(errAPI, "[%s] Missing parameter %d (string)", a.method, i+2)
	}
	if v, ok := a.p[i].(string); ok {
		return v, nil
	}
	return "", rpcErrf(errAPI, "[%s] Parameter %d must be a string", a.method, i+2)
}

func (a args) strOr(i int, def string) (string, error) {
	if i >= len(a.p) {
		return def, nil
	}
	return a.str(i)
}

func (a args) boolOr(i int, def bool) (bool, error) {
	if i >= len(a.p) {
		return def, nil
	}
	switch v := a.p[i].(type) {
	case bool:
		return v, nil
	case int:
		return v != 0, nil
	}
	return false, rpcErrf(errAPI, "[%s] Parameter %d must be a boolean", a.method, i+2)
}

func (a args) ints(i int) ([]int, error) {
	if i >= len(a.p) {
		return nil, nil
	}
	arr, ok := a.p[i].([]any)
	if !ok {
		return nil, rpcErrf(errAPI, "[%s] Parameter %d must be an array", a.method, i+2)
	}
	out := make([]int, 0, len(arr))
	for _, e := range arr {
		n, ok := e.(int)
		if !ok {
			return nil, rpcErrf(errAPI, "[%s] Parameter %d must be an array of int", a.method, i+2)
		}
		out = append(out, n)
	}
	return out, nil
}
