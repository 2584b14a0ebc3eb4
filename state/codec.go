package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agentvdc/agentvdc/plan"
)

// recordVersion is the first byte of every binary observed record (format
// version 2 and later). Records are deterministic: maps are written in key
// order, so equal resources encode to equal bytes and the observed
// fingerprint is stable.
const recordVersion = 1

var errCorrupt = errors.New("corrupt observed record")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMap(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, m[k])
	}
	return b
}

// encodeResource appends r's record to b. Sensitive is never written.
func encodeResource(b []byte, r plan.Resource) []byte {
	b = append(b, recordVersion)
	b = appendString(b, string(r.Kind))
	b = appendString(b, r.Name)
	b = appendString(b, r.Customer)
	b = appendString(b, r.ID)
	b = appendMap(b, r.Attrs)
	b = appendMap(b, r.Labels)
	b = binary.AppendUvarint(b, uint64(len(r.DependsOn)))
	for _, a := range r.DependsOn {
		b = appendString(b, string(a.Kind))
		b = appendString(b, a.Name)
	}
	// Outputs came after the first records were written: a record that
	// ends here has none.
	if len(r.Outputs) > 0 {
		b = appendMap(b, r.Outputs)
	}
	return b
}

// decoder reads records; intern shares repeated strings (map keys, kinds,
// customers, labels) across the records of one read to save memory.
type decoder struct {
	intern map[string]string
}

func newDecoder() *decoder { return &decoder{intern: make(map[string]string, 256)} }

// reader walks a record held in one string: every string field is a
// substring of it, so a record costs one allocation plus its maps.
type reader struct {
	s   string
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // overflow
			}
			r.s = r.s[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	r.err = errCorrupt
	return 0
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.s)) {
		r.err = errCorrupt
		return ""
	}
	v := r.s[:n]
	r.s = r.s[n:]
	return v
}

// count reads a length whose entries take at least minBytes each, so a
// corrupt count cannot make us allocate more than the record's size.
func (r *reader) count(minBytes int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.s)/minBytes) {
		r.err = errCorrupt
		return 0
	}
	return int(n)
}

func (d *decoder) shared(s string) string {
	if v, ok := d.intern[s]; ok {
		return v
	}
	s = strings.Clone(s) // do not pin the record it came from
	d.intern[s] = s
	return s
}

func (d *decoder) decodeMap(r *reader, internValues bool) map[string]string {
	n := r.count(2)
	if n == 0 || r.err != nil {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.shared(r.str())
		v := r.str()
		if r.err != nil {
			return nil
		}
		if internValues {
			v = d.shared(v)
		}
		m[k] = v
	}
	return m
}

// decodeResource reads one record. Empty maps and slices come back nil.
func (d *decoder) decodeResource(b []byte) (plan.Resource, error) {
	if len(b) == 0 || b[0] != recordVersion {
		return plan.Resource{}, fmt.Errorf("%w: unknown record version", errCorrupt)
	}
	r := &reader{s: string(b[1:])}
	var res plan.Resource
	res.Kind = plan.Kind(d.shared(r.str()))
	res.Name = r.str()
	res.Customer = d.shared(r.str())
	res.ID = r.str()
	res.Attrs = d.decodeMap(r, false)
	res.Labels = d.decodeMap(r, true)
	if n := r.count(2); n > 0 {
		res.DependsOn = make([]plan.Address, n)
		for i := range n {
			res.DependsOn[i] = plan.Address{Kind: plan.Kind(d.shared(r.str())), Name: r.str()}
		}
	}
	if r.err == nil && len(r.s) != 0 {
		trailing := len(r.s)
		// The encoder writes outputs only when there are some.
		if res.Outputs = d.decodeMap(r, false); len(res.Outputs) == 0 && r.err == nil {
			return plan.Resource{}, fmt.Errorf("%w: %d trailing bytes", errCorrupt, trailing)
		}
	}
	if r.err != nil {
		return plan.Resource{}, r.err
	}
	if len(r.s) != 0 {
		return plan.Resource{}, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.s))
	}
	return res, nil
}
