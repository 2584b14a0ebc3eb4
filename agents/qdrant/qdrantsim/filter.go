package qdrantsim

import (
	"strings"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// matchFilter reports whether p satisfies f; a nil filter matches all.
func matchFilter(f *qdrant.Filter, p *point) (bool, error) {
	if f == nil {
		return true, nil
	}
	return matchPayloadFilter(f, p.payload, p)
}

// matchPayloadFilter evaluates f against payload; p is nil inside nested
// conditions, where id and vector conditions do not apply.
func matchPayloadFilter(f *qdrant.Filter, payload map[string]*qdrant.Value, p *point) (bool, error) {
	for _, c := range f.GetMust() {
		ok, err := matchCondition(c, payload, p)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, c := range f.GetMustNot() {
		ok, err := matchCondition(c, payload, p)
		if err != nil {
			return false, err
		}
		if ok {
			return false, nil
		}
	}
	if should := f.GetShould(); len(should) > 0 {
		matched := false
		for _, c := range should {
			ok, err := matchCondition(c, payload, p)
			if err != nil {
				return false, err
			}
			if ok {
				matched = true
				break
			}
		}
		if !matched {
			return false, nil
		}
	}
	if ms := f.GetMinShould(); ms != nil {
		n := uint64(0)
		for _, c := range ms.GetConditions() {
			ok, err := matchCondition(c, payload, p)
			if err != nil {
				return false, err
			}
			if ok {
				n++
			}
		}
		if n < ms.GetMinCount() {
			return false, nil
		}
	}
	return true, nil
}

func unsupported(what string) error {
	return status.Errorf(codes.InvalidArgument, "qdrantsim: %s conditions are not simulated", what)
}

func matchCondition(c *qdrant.Condition, payload map[string]*qdrant.Value, p *point) (bool, error) {
	switch x := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Field:
		return matchField(x.Field, payload)
	case *qdrant.Condition_IsEmpty:
		return isEmpty(payloadValues(payload, x.IsEmpty.GetKey())), nil
	case *qdrant.Condition_IsNull:
		return isNull(payload, x.IsNull.GetKey()), nil
	case *qdrant.Condition_Filter:
		return matchPayloadFilter(x.Filter, payload, p)
	case *qdrant.Condition_HasId:
		if p == nil {
			return false, badInput("has_id is not allowed inside a nested condition")
		}
		for _, id := range x.HasId.GetHasId() {
			k, _, err := pointKey(id)
			if err != nil {
				return false, err
			}
			if k == p.key {
				return true, nil
			}
		}
		return false, nil
	case *qdrant.Condition_HasVector:
		if p == nil {
			return false, badInput("has_vector is not allowed inside a nested condition")
		}
		name := x.HasVector.GetHasVector()
		_, d := p.dense[name]
		_, s := p.sparse[name]
		return d || s, nil
	case *qdrant.Condition_Nested:
		for _, v := range payloadValues(payload, x.Nested.GetKey()) {
			obj, ok := v.GetKind().(*qdrant.Value_StructValue)
			if !ok {
				continue
			}
			ok, err := matchPayloadFilter(x.Nested.GetFilter(), obj.StructValue.GetFields(), nil)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	default:
		return false, status.Error(codes.InvalidArgument, "Validation error in body: [filter: empty condition]")
	}
}

func matchField(fc *qdrant.FieldCondition, payload map[string]*qdrant.Value) (bool, error) {
	switch {
	case fc.GeoBoundingBox != nil || fc.GeoRadius != nil || fc.GeoPolygon != nil:
		return false, unsupported("geo")
	case fc.DatetimeRange != nil:
		return false, unsupported("datetime_range")
	}
	vals := payloadValues(payload, fc.GetKey())
	if fc.IsEmpty != nil && isEmpty(vals) != fc.GetIsEmpty() {
		return false, nil
	}
	if fc.IsNull != nil && isNull(payload, fc.GetKey()) != fc.GetIsNull() {
		return false, nil
	}
	if m := fc.GetMatch(); m != nil {
		ok, err := matchValue(m, vals)
		if err != nil || !ok {
			return false, err
		}
	}
	if r := fc.GetRange(); r != nil {
		ok := false
		for _, v := range vals {
			if f, isNum := number(v); isNum && inRange(r, f) {
				ok = true
				break
			}
		}
		if !ok {
			return false, nil
		}
	}
	if vc := fc.GetValuesCount(); vc != nil {
		n := uint64(0)
		for _, v := range vals {
			if _, isNull := v.GetKind().(*qdrant.Value_NullValue); !isNull {
				n++
			}
		}
		if (vc.Lt != nil && !(n < vc.GetLt())) || (vc.Gt != nil && !(n > vc.GetGt())) ||
			(vc.Lte != nil && !(n <= vc.GetLte())) || (vc.Gte != nil && !(n >= vc.GetGte())) {
			return false, nil
		}
	}
	if fc.Match == nil && fc.Range == nil && fc.ValuesCount == nil && fc.IsEmpty == nil && fc.IsNull == nil {
		return false, status.Errorf(codes.InvalidArgument, "Validation error in body: [filter: field condition on %q has no condition]", fc.GetKey())
	}
	return true, nil
}

func matchValue(m *qdrant.Match, vals []*qdrant.Value) (bool, error) {
	anyVal := func(pred func(*qdrant.Value) bool) bool {
		for _, v := range vals {
			if pred(v) {
				return true
			}
		}
		return false
	}
	switch x := m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		return anyVal(func(v *qdrant.Value) bool { s, ok := str(v); return ok && s == x.Keyword }), nil
	case *qdrant.Match_Integer:
		return anyVal(func(v *qdrant.Value) bool { i, ok := integer(v); return ok && i == x.Integer }), nil
	case *qdrant.Match_Boolean:
		return anyVal(func(v *qdrant.Value) bool {
			b, ok := v.GetKind().(*qdrant.Value_BoolValue)
			return ok && b.BoolValue == x.Boolean
		}), nil
	case *qdrant.Match_Text:
		return anyVal(func(v *qdrant.Value) bool { s, ok := str(v); return ok && strings.Contains(s, x.Text) }), nil
	case *qdrant.Match_Keywords:
		set := stringSet(x.Keywords.GetStrings())
		return anyVal(func(v *qdrant.Value) bool { s, ok := str(v); return ok && set[s] }), nil
	case *qdrant.Match_Integers:
		set := intSet(x.Integers.GetIntegers())
		return anyVal(func(v *qdrant.Value) bool { i, ok := integer(v); return ok && set[i] }), nil
	case *qdrant.Match_ExceptKeywords:
		set := stringSet(x.ExceptKeywords.GetStrings())
		return anyVal(func(v *qdrant.Value) bool { s, ok := str(v); return ok && !set[s] }), nil
	case *qdrant.Match_ExceptIntegers:
		set := intSet(x.ExceptIntegers.GetIntegers())
		return anyVal(func(v *qdrant.Value) bool { i, ok := integer(v); return ok && !set[i] }), nil
	case *qdrant.Match_Phrase:
		return false, unsupported("phrase match")
	case *qdrant.Match_TextAny:
		return false, unsupported("text_any match")
	default:
		return false, status.Error(codes.InvalidArgument, "Validation error in body: [match: empty match]")
	}
}

// payloadValues returns the values at a dotted key path; arrays along the
// way and at the end are flattened, and a trailing "[]" on a segment is
// accepted as in Qdrant's path syntax.
func payloadValues(payload map[string]*qdrant.Value, key string) []*qdrant.Value {
	if key == "" {
		return nil
	}
	segs := strings.Split(key, ".")
	cur := []*qdrant.Value{}
	first := strings.TrimSuffix(segs[0], "[]")
	v, ok := payload[first]
	if !ok {
		return nil
	}
	cur = append(cur, flatten(v)...)
	for _, seg := range segs[1:] {
		seg = strings.TrimSuffix(seg, "[]")
		var next []*qdrant.Value
		for _, v := range cur {
			if s, ok := v.GetKind().(*qdrant.Value_StructValue); ok {
				if f, ok := s.StructValue.GetFields()[seg]; ok {
					next = append(next, flatten(f)...)
				}
			}
		}
		cur = next
	}
	return cur
}

func flatten(v *qdrant.Value) []*qdrant.Value {
	if l, ok := v.GetKind().(*qdrant.Value_ListValue); ok {
		var out []*qdrant.Value
		for _, e := range l.ListValue.GetValues() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []*qdrant.Value{v}
}

// isEmpty: the field is missing, null, or an empty array.
func isEmpty(vals []*qdrant.Value) bool {
	for _, v := range vals {
		if _, null := v.GetKind().(*qdrant.Value_NullValue); !null {
			return false
		}
	}
	return true
}

// isNull: the field exists and holds null.
func isNull(payload map[string]*qdrant.Value, key string) bool {
	vals := payloadValues(payload, key)
	if len(vals) == 0 {
		return false
	}
	for _, v := range vals {
		if _, null := v.GetKind().(*qdrant.Value_NullValue); null {
			return true
		}
	}
	return false
}

func str(v *qdrant.Value) (string, bool) {
	s, ok := v.GetKind().(*qdrant.Value_StringValue)
	if !ok {
		return "", false
	}
	return s.StringValue, true
}

func integer(v *qdrant.Value) (int64, bool) {
	i, ok := v.GetKind().(*qdrant.Value_IntegerValue)
	if !ok {
		return 0, false
	}
	return i.IntegerValue, true
}

func number(v *qdrant.Value) (float64, bool) {
	switch x := v.GetKind().(type) {
	case *qdrant.Value_IntegerValue:
		return float64(x.IntegerValue), true
	case *qdrant.Value_DoubleValue:
		return x.DoubleValue, true
	}
	return 0, false
}

func inRange(r *qdrant.Range, f float64) bool {
	return (r.Lt == nil || f < r.GetLt()) && (r.Gt == nil || f > r.GetGt()) &&
		(r.Lte == nil || f <= r.GetLte()) && (r.Gte == nil || f >= r.GetGte())
}

func stringSet(ss []string) map[string]bool {
	m := make(map[string]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}

func intSet(is []int64) map[int64]bool {
	m := make(map[int64]bool, len(is))
	for _, i := range is {
		m[i] = true
	}
	return m
}
