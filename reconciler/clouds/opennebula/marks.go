package opennebula

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"

	"github.com/agentvdc/agentvdc/plan"
)

// Template attributes that carry the ownership labels (plan/doc.go).
const (
	attrManagedBy = "AGENTVDC_MANAGED_BY"
	attrCustomer  = "AGENTVDC_CUSTOMER"
	attrBootstrap = "AGENTVDC_BOOTSTRAP"
	attrLabels    = "AGENTVDC_LABELS"
)

// marks are the ownership attributes of one resource.
type marks struct {
	ManagedBy string `json:"AGENTVDC_MANAGED_BY"`
	Customer  string `json:"AGENTVDC_CUSTOMER"`
	Bootstrap string `json:"AGENTVDC_BOOTSTRAP,omitempty"`
	Labels    string `json:"AGENTVDC_LABELS,omitempty"`
}

// marksOf turns a desired resource's labels into marks. The customer's own
// labels are joined "k=v,k2=v2" (sorted), so keys and values must not
// contain ',' or '=' (nor quotes or newlines, which a template value
// cannot hold safely).
func marksOf(r plan.Resource) (marks, error) {
	if r.Customer == "" {
		return marks{}, errors.New("customer is empty")
	}
	if c, ok := r.Labels[plan.LabelCustomer]; ok && c != r.Customer {
		return marks{}, fmt.Errorf("label %s=%q disagrees with customer %q", plan.LabelCustomer, c, r.Customer)
	}
	if m, ok := r.Labels[plan.LabelManagedBy]; ok && m != plan.ManagedByValue {
		return marks{}, fmt.Errorf("label %s=%q is not %q", plan.LabelManagedBy, m, plan.ManagedByValue)
	}
	m := marks{ManagedBy: plan.ManagedByValue, Customer: r.Customer, Bootstrap: r.Labels[plan.LabelBootstrap]}
	var own []string
	for k, v := range r.Labels {
		switch k {
		case plan.LabelManagedBy, plan.LabelCustomer, plan.LabelBootstrap:
			continue
		}
		if k == "" || strings.ContainsAny(k, ",=\"\n\\") || strings.ContainsAny(v, ",=\"\n\\") {
			return marks{}, fmt.Errorf("label %q=%q cannot be stored as an OpenNebula attribute (no ',', '=', quotes, backslashes or newlines)", k, v)
		}
		own = append(own, k+"="+v)
	}
	sort.Strings(own)
	m.Labels = strings.Join(own, ",")
	for _, v := range []string{m.Customer, m.Bootstrap} {
		if strings.ContainsAny(v, "\"\n\\") {
			return marks{}, fmt.Errorf("customer or bootstrap value %q cannot be stored as an OpenNebula attribute", v)
		}
	}
	return m, nil
}

// owned reports whether the marks make a resource ours.
func (m marks) owned() bool { return m.ManagedBy == plan.ManagedByValue && m.Customer != "" }

// labels rebuilds Resource.Labels from marks.
func (m marks) labels() map[string]string {
	l := map[string]string{plan.LabelManagedBy: m.ManagedBy, plan.LabelCustomer: m.Customer}
	if m.Bootstrap != "" {
		l[plan.LabelBootstrap] = m.Bootstrap
	}
	for _, kv := range strings.Split(m.Labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			l[k] = v
		}
	}
	return l
}

// addTo appends the marks to an OpenNebula template.
func (m marks) addTo(t *dyn.Template) {
	t.AddPair(attrManagedBy, m.ManagedBy)
	t.AddPair(attrCustomer, m.Customer)
	if m.Bootstrap != "" {
		t.AddPair(attrBootstrap, m.Bootstrap)
	}
	if m.Labels != "" {
		t.AddPair(attrLabels, m.Labels)
	}
}

// template returns the marks alone as template text (for merge updates).
func (m marks) template() string {
	t := dyn.NewTemplate()
	m.addTo(t)
	return t.String()
}

// marksFrom reads the marks from a template (absent attributes are "").
func marksFrom(ts ...*dyn.Template) marks {
	get := func(k string) string {
		for _, t := range ts {
			if v, err := t.GetStr(k); err == nil && v != "" {
				return v
			}
		}
		return ""
	}
	return marks{ManagedBy: get(attrManagedBy), Customer: get(attrCustomer), Bootstrap: get(attrBootstrap), Labels: get(attrLabels)}
}

// hasAnyMark reports whether a template carries any ownership attribute
// (even a foreign value): such an object is never adopted as half-created.
func hasAnyMark(m marks) bool {
	return m.ManagedBy != "" || m.Customer != "" || m.Bootstrap != "" || m.Labels != ""
}

// OneFlow documents have no template attributes. The marks live in the
// body's "description" (a string field of OneFlow's schema that goca
// models, that OneFlow copies from a service template into the services
// instantiated from it, and that survives updates) as a JSON object with
// the same attribute names:
//
//	"description": "{\"AGENTVDC_MANAGED_BY\":\"agentvdc\",\"AGENTVDC_CUSTOMER\":\"acme\"}"
//
// A description that is not such an object means "not ours".
func (m marks) description() string {
	b, _ := json.Marshal(m)
	return string(b)
}

func marksFromDescription(s string) marks {
	var m marks
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || json.Unmarshal([]byte(s), &m) != nil {
		return marks{}
	}
	return m
}
