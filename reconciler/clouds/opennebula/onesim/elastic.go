package onesim

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// expr is a parsed elasticity expression ("CPU > 80 & MEMORY < 1000").
type expr interface {
	eval(get func(string) (float64, bool)) (bool, string)
}

type cmpExpr struct {
	l, r operand
	op   string
}

type operand struct {
	attr string
	num  float64
}

type boolExpr struct {
	op   string // "&", "|", "!"
	l, r expr
}

func (o operand) value(get func(string) (float64, bool)) (float64, bool, string) {
	if o.attr == "" {
		return o.num, true, strconv.FormatFloat(o.num, 'f', -1, 64)
	}
	v, ok := get(o.attr)
	if !ok {
		return 0, false, o.attr + "[--]"
	}
	return v, true, fmt.Sprintf("%s[%.2f]", o.attr, v)
}

func (c *cmpExpr) eval(get func(string) (float64, bool)) (bool, string) {
	l, lok, ls := c.l.value(get)
	r, rok, rs := c.r.value(get)
	text := ls + " " + c.op + " " + rs
	if !lok || !rok {
		return false, text
	}
	switch c.op {
	case ">":
		return l > r, text
	case "<":
		return l < r, text
	case ">=":
		return l >= r, text
	case "<=":
		return l <= r, text
	case "=", "==":
		return l == r, text
	case "!=":
		return l != r, text
	}
	return false, text
}

func (b *boolExpr) eval(get func(string) (float64, bool)) (bool, string) {
	switch b.op {
	case "!":
		v, t := b.l.eval(get)
		return !v, "!" + t
	case "&":
		l, lt := b.l.eval(get)
		r, rt := b.r.eval(get)
		return l && r, "(" + lt + " & " + rt + ")"
	default:
		l, lt := b.l.eval(get)
		r, rt := b.r.eval(get)
		return l || r, "(" + lt + " | " + rt + ")"
	}
}

type exprParser struct {
	toks []string
	i    int
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.HasPrefix(s[i:], ">=") || strings.HasPrefix(s[i:], "<=") || strings.HasPrefix(s[i:], "!=") ||
			strings.HasPrefix(s[i:], "==") || strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			toks = append(toks, s[i:i+2])
			i += 2
		case strings.ContainsRune("<>=!&|()", rune(c)):
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t<>=!&|()", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

// parseExpr parses OneFlow's elasticity expression syntax: attribute
// names, numbers, > < >= <= = == !=, ! (not), & && (and), | || (or) and
// parentheses.
func parseExpr(s string) (expr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty expression")
	}
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &exprParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.i])
	}
	return e, nil
}

func (p *exprParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *exprParser) or() (expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "|" || p.peek() == "||" {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &boolExpr{op: "|", l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) and() (expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek() == "&" || p.peek() == "&&" {
		p.i++
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &boolExpr{op: "&", l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) not() (expr, error) {
	if p.peek() == "!" {
		p.i++
		e, err := p.not()
		if err != nil {
			return nil, err
		}
		return &boolExpr{op: "!", l: e}, nil
	}
	if p.peek() == "(" {
		p.i++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, errors.New("missing ')'")
		}
		p.i++
		return e, nil
	}
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	op := p.peek()
	switch op {
	case ">", "<", ">=", "<=", "=", "==", "!=":
	default:
		return nil, fmt.Errorf("expected a comparison after %q", p.toks[p.i-1])
	}
	p.i++
	r, err := p.operand()
	if err != nil {
		return nil, err
	}
	return &cmpExpr{l: l, r: r, op: op}, nil
}

func (p *exprParser) operand() (operand, error) {
	t := p.peek()
	if t == "" || strings.ContainsAny(t, "<>=!&|()") {
		return operand{}, fmt.Errorf("expected a number or an attribute, got %q", t)
	}
	p.i++
	if n, err := strconv.ParseFloat(t, 64); err == nil {
		return operand{num: n}, nil
	}
	return operand{attr: strings.ToUpper(t)}, nil
}

// vmAttr looks an attribute up as OneFlow does: USER_TEMPLATE, then
// MONITORING, then TEMPLATE, then the VM's top-level fields.
func vmAttr(v *vm, name string) (float64, bool) {
	if s, ok := v.UserTmpl.Get(name); ok {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	switch name {
	case "CPU":
		return v.CPU, true
	case "MEMORY":
		if s, ok := v.Tmpl.Get("MEMORY"); ok {
			f, err := strconv.ParseFloat(s, 64)
			return f * 1024, err == nil
		}
	}
	if s, ok := v.Tmpl.Get(name); ok {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	switch name {
	case "ID":
		return float64(v.ID), true
	case "STATE":
		return float64(v.State), true
	case "LCM_STATE":
		return float64(v.LCM), true
	}
	return 0, false
}

// EvaluateElasticity runs one pass of OneFlow's elasticity evaluation at
// time now: for every running role, each policy whose period has elapsed
// evaluates its expression over the average of the role's RUNNING VMs;
// after period_number consecutive true evaluations the role's cardinality
// changes (CHANGE, CARDINALITY, PERCENTAGE_CHANGE with min_adjust_step),
// clamped to min_vms..max_vms, and the role enters its cooldown (policy,
// role, service cooldown, else 300 s). A role below min_vms is scaled up.
// It returns the number of roles whose cardinality changed.
func (s *Server) EvaluateElasticity(now time.Time) int {
	s.mu.Lock()
	if s.pending(now) {
		s.advance(now)
	}
	changed := 0
	for _, id := range sortedIDs(s.d.Services) {
		svc := s.d.Services[id]
		s.refreshService(svc, now)
		if svc.State != flowRunning && svc.State != flowCooldown {
			continue
		}
		for _, r := range svc.Roles {
			if r.State != flowRunning {
				continue
			}
			diff, cooldown := s.scaleDecision(svc, r, now)
			if diff == 0 {
				continue
			}
			before := len(r.Nodes)
			if err := s.scaleRoleTo(svc, r, before+diff, now); err != nil {
				s.logf(svc, now, "E", "Role %s: scaling failed: %v", r.Name, err)
				continue
			}
			changed++
			s.logf(svc, now, "I", "Role %s scaling from %d to %d nodes", r.Name, before, before+diff)
			if cooldown > 0 {
				r.CooldownEnd = now.Unix() + int64(cooldown)
			}
		}
		s.refreshService(svc, now)
	}
	s.mu.Unlock()
	if changed > 0 {
		s.markDirty()
	}
	return changed
}

func (s *Server) scaleDecision(svc *flowService, r *role, now time.Time) (int, int) {
	running := []*vm{}
	for _, id := range r.Nodes {
		if v, ok := s.d.VMs[id]; ok && v.State == vmActive && v.LCM == lcmRunning {
			running = append(running, v)
		}
	}
	get := func(name string) (float64, bool) {
		sum, n := 0.0, 0
		for _, v := range running {
			if f, ok := vmAttr(v, name); ok {
				sum += f
				n++
			}
		}
		if n == 0 {
			return 0, false
		}
		return sum / float64(n), true
	}
	card := len(r.Nodes)
	for _, p := range r.Elasticity {
		if p.LastEval != 0 && now.Unix()-p.LastEval < int64(p.Period) {
			continue
		}
		e, err := parseExpr(p.Expression)
		if err != nil {
			continue
		}
		ok, text := e.eval(get)
		p.LastEval = now.Unix()
		p.ExpressionEvaluated = text
		if ok {
			p.TrueEvals++
		} else {
			p.TrueEvals = 0
		}
		need := max(p.PeriodNumber, 1)
		if p.TrueEvals < need {
			continue
		}
		p.TrueEvals = 0
		diff := newCardinality(p, r, card) - card
		if diff != 0 {
			cd := p.Cooldown
			if cd == 0 {
				cd = r.Cooldown
			}
			if cd == 0 {
				cd = svc.Cooldown
			}
			if cd == 0 {
				cd = defaultCooldown
			}
			return diff, cd
		}
	}
	if r.MinVMs != nil && card < *r.MinVMs {
		return *r.MinVMs - card, 0
	}
	return 0, 0
}

func newCardinality(p *policy, r *role, card int) int {
	n := card
	switch p.Type {
	case "CHANGE":
		n = card + p.Adjust
	case "CARDINALITY":
		n = p.Adjust
	case "PERCENTAGE_CHANGE":
		change := float64(card) * float64(p.Adjust) / 100
		sign := 1
		if change < 0 {
			sign = -1
		}
		abs := math.Abs(change)
		step := 1
		if abs >= 1 {
			step = int(abs)
		}
		step = max(step, p.MinAdjustStep)
		n = card + sign*step
	}
	if r.MaxVMs != nil && n > *r.MaxVMs {
		n = *r.MaxVMs
	}
	if r.MinVMs != nil && n < *r.MinVMs {
		n = *r.MinVMs
	}
	return max(n, 0)
}

func (s *Server) elasticityLoop(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.EvaluateElasticity(s.opts.Now())
		}
	}
}
