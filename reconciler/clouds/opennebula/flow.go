package opennebula

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
)

// OneFlow is spoken through goca's OneFlow client (RESTClient.HTTPMethod:
// its URL scheme, basic auth and JSON bodies) but decoded here: goca's
// schema structs drop what the adapter must observe (a service's
// template_id) and, with omitempty on ints, would drop zero values on write
// (cardinality 0, cooldown 0).

// flexInt reads a JSON number or a numeric string (OneFlow writes ids as
// strings in document heads and as numbers in bodies).
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return fmt.Errorf("not an integer: %s", b)
		}
		n = int(fl)
	}
	*f = flexInt(n)
	return nil
}

type flowDoc struct {
	ID       flexInt `json:"ID"`
	Name     string  `json:"NAME"`
	Template struct {
		Body flowBody `json:"BODY"`
	} `json:"TEMPLATE"`
}

type flowBody struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	State       flexInt    `json:"state"`
	TemplateID  *flexInt   `json:"template_id"`
	Roles       []flowRole `json:"roles"`
}

type flowRole struct {
	Name        string       `json:"name"`
	Cardinality *flexInt     `json:"cardinality"`
	VMTemplate  flexInt      `json:"vm_template"`
	MinVMs      *flexInt     `json:"min_vms"`
	MaxVMs      *flexInt     `json:"max_vms"`
	Cooldown    flexInt      `json:"cooldown"`
	Policies    []flowPolicy `json:"elasticity_policies"`
}

func (r *flowRole) card() int {
	if r.Cardinality == nil {
		return 1
	}
	return int(*r.Cardinality)
}

// flowPolicy is one elasticity policy in the catalogue's canonical field
// order; the canonical "policies" attribute is json.Marshal of a slice of
// these ("[]" when there are none).
type flowPolicy struct {
	Type         string  `json:"type"`
	Adjust       flexInt `json:"adjust"`
	Expression   string  `json:"expression"`
	Period       flexInt `json:"period"`
	PeriodNumber flexInt `json:"period_number"`
	Cooldown     flexInt `json:"cooldown"`
}

// canonicalPolicies renders policies in canonical form.
func canonicalPolicies(ps []flowPolicy) string {
	if len(ps) == 0 {
		return "[]"
	}
	out := make([]flowPolicy, len(ps))
	for i, p := range ps {
		p.Type = strings.ToUpper(p.Type)
		out[i] = p
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// parsePolicies reads the "policies" attribute (any JSON spelling of the
// array) and validates it.
func parsePolicies(s string) ([]flowPolicy, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ps []flowPolicy
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ps); err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	for i, p := range ps {
		switch strings.ToUpper(p.Type) {
		case "CHANGE", "CARDINALITY", "PERCENTAGE_CHANGE":
		default:
			return nil, fmt.Errorf("policies[%d]: type %q must be CHANGE, CARDINALITY or PERCENTAGE_CHANGE", i, p.Type)
		}
		if strings.TrimSpace(p.Expression) == "" {
			return nil, fmt.Errorf("policies[%d]: expression is empty", i)
		}
		if p.Period < 0 || p.PeriodNumber < 0 || p.Cooldown < 0 {
			return nil, fmt.Errorf("policies[%d]: period, period_number and cooldown must be >= 0", i)
		}
		ps[i].Type = strings.ToUpper(p.Type)
	}
	return ps, nil
}

// policiesJSON is the policies as the request body's value (a JSON array).
func policiesJSON(ps []flowPolicy) []any {
	out := []any{}
	for _, p := range ps {
		out = append(out, map[string]any{
			"type": p.Type, "adjust": int(p.Adjust), "expression": p.Expression,
			"period": int(p.Period), "period_number": int(p.PeriodNumber), "cooldown": int(p.Cooldown),
		})
	}
	return out
}

// flow makes one OneFlow request through goca's client and decodes the
// answer into out (if not nil). path is relative to the OneFlow URL.
func (p *Provider) flow(ctx context.Context, op, method, path string, body map[string]any, out any, single bool) error {
	fn := func(c *goca.Controller, st *callState) error {
		args := []any{}
		if body != nil {
			args = append(args, body)
		} else if method == "POST" || method == "PUT" {
			args = append(args, map[string]any{})
		}
		resp, err := c.ClientFlow.HTTPMethod(method, path, args...)
		if err != nil {
			return err
		}
		if resp == nil {
			return fmt.Errorf("%w: no OneFlow response", errMalformed)
		}
		if st.status/100 != 2 {
			return newFlowError(st.status, resp.Body())
		}
		if out == nil {
			return nil
		}
		raw := bytes.TrimSpace([]byte(resp.Body()))
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%w: OneFlow %s %s: %v", errMalformed, method, path, err)
		}
		return nil
	}
	if single {
		return p.once(ctx, op, fn)
	}
	return p.call(ctx, op, fn)
}

// flowPool lists service templates ("service_template") or services
// ("service"): one GET.
func (p *Provider) flowPool(ctx context.Context, what string) ([]flowDoc, error) {
	var resp struct {
		Pool struct {
			Docs json.RawMessage `json:"DOCUMENT"`
		} `json:"DOCUMENT_POOL"`
	}
	if err := p.flow(ctx, "GET /"+what, "GET", what, nil, &resp, false); err != nil {
		return nil, err
	}
	raw := bytes.TrimSpace(resp.Pool.Docs)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var docs []flowDoc
	if raw[0] == '{' { // a single document is sometimes not wrapped in an array
		var d flowDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("%w: %s pool: %v", errMalformed, what, err)
		}
		return []flowDoc{d}, nil
	}
	if err := json.Unmarshal(raw, &docs); err != nil {
		return nil, fmt.Errorf("%w: %s pool: %v", errMalformed, what, err)
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].ID < docs[j].ID })
	return docs, nil
}

// flowDocByID reads one document (for ownership checks and waits).
func (p *Provider) flowDocByID(ctx context.Context, what string, id int) (flowDoc, error) {
	var resp struct {
		Doc flowDoc `json:"DOCUMENT"`
	}
	err := p.flow(ctx, "GET /"+what+"/{id}", "GET", what+"/"+strconv.Itoa(id), nil, &resp, false)
	return resp.Doc, err
}

// workersRole returns the role named "workers" (or the first role).
func workersRole(b flowBody) (flowRole, bool) {
	for _, r := range b.Roles {
		if r.Name == roleWorkers {
			return r, true
		}
	}
	if len(b.Roles) > 0 {
		return b.Roles[0], true
	}
	return flowRole{}, false
}

const roleWorkers = "workers"

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode OneFlow body: %w", err)
	}
	return string(b), nil
}

func optInt(v *flexInt) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(int(*v))
}

// roleBounds reads min_vms, max_vms and cooldown.
func roleBounds(a map[string]string) (minV, maxV, cooldown int, err error) {
	minV, err1 := strconv.Atoi(a["min_vms"])
	maxV, err2 := strconv.Atoi(a["max_vms"])
	if err1 != nil || err2 != nil || minV < 0 || maxV < minV {
		return 0, 0, 0, fmt.Errorf("min_vms=%q and max_vms=%q must be integers with 0 <= min_vms <= max_vms", a["min_vms"], a["max_vms"])
	}
	if s, ok := a["cooldown"]; ok {
		cooldown, err = strconv.Atoi(s)
		if err != nil || cooldown < 0 {
			return 0, 0, 0, fmt.Errorf("cooldown=%q must be an integer >= 0 (seconds)", s)
		}
	}
	return minV, maxV, cooldown, nil
}
