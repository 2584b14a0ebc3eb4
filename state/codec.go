package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

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
	return b
}

// decoder reads records; intern shares repeated strings (map keys, kinds,
// customers, labels) across the records of one read to save memory.
type decoder struct {
	intern map[string]string
}

func newDecoder() *decoder { return &decoder{intern: make(map[string]string, 256)} }

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// count reads a length whose entries take at least min bytes each, so a
// corrupt count cannot make us allocate more than the record's size.
func (r *reader) count(minBytes int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/minBytes) {
		r.err = errCorrupt
		return 0
	}
	return int(n)
}

func (d *decoder) shared(b []byte) string {
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	s := string(b)
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
		k := d.shared(r.bytes())
		v := r.bytes()
		if r.err != nil {
			return nil
		}
		if internValues {
			m[k] = d.shared(v)
		} else {
			m[k] = string(v)
		}
	}
	return m
}

// decodeResource reads one record. Empty maps and slices come back nil.
func (d *decoder) decodeResource(b []byte) (plan.Resource, error) {
	if len(b) == 0 || b[0] != recordVersion {
		return plan.Resource{}, fmt.Errorf("%w: unknown record version", errCorrupt)
	}
	r := &reader{b: b[1:]}
	var res plan.Resource
	res.Kind = plan.Kind(d.shared(r.bytes()))
	res.Name = string(r.bytes())
	res.Customer = d.shared(r.bytes())
	res.ID = string(r.bytes())
	res.Attrs = d.decodeMap(r, false)
	res.Labels = d.decodeMap(r, true)
	if n := r.count(2); n > 0 {
		res.DependsOn = make([]plan.Address, n)
		for i := range n {
			res.DependsOn[i] = plan.Address{Kind: plan.Kind(d.shared(r.bytes())), Name: string(r.bytes())}
		}
	}
	if r.err != nil {
		return plan.Resource{}, r.err
	}
	if len(r.b) != 0 {
		return plan.Resource{}, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.b))
	}
	return res, nil
}
