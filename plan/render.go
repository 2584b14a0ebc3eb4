package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The renderers only format a Plan: every number they show is in it.

// Symbol is the one-column mark of an action kind.
func (k ActionKind) Symbol() string {
	switch k {
	case ActionCreate:
		return "+"
	case ActionUpdate:
		return "~"
	case ActionReplace:
		return "-/+"
	case ActionDelete:
		return "-"
	}
	return " "
}

// RenderJSON writes the plan as JSON (docs/plan-json.md).
func RenderJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("render plan as JSON: %w", err)
	}
	return nil
}

// TextOptions tune RenderText.
type TextOptions struct {
	// Color adds ANSI colours (set it only for a terminal).
	Color bool
}

type palette struct{ on bool }

func (c palette) wrap(code, s string) string {
	if !c.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (c palette) action(k ActionKind, s string) string {
	switch k {
	case ActionCreate:
		return c.wrap("32", s)
	case ActionUpdate:
		return c.wrap("33", s)
	case ActionReplace:
		return c.wrap("35", s)
	case ActionDelete:
		return c.wrap("31", s)
	}
	return s
}

func usd(v float64) string {
	s := strconv.FormatFloat(abs(v), 'f', 2, 64)
	if v < 0 {
		return "-$" + s
	}
	return "$" + s
}

func signedUSD(v float64) string {
	if v > 0 {
		return "+" + usd(v)
	}
	if v == 0 {
		return "±$0.00"
	}
	return usd(v)
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func countsLine(c Counts) string {
	s := fmt.Sprintf("%d to create, %d to update, %d to replace, %d to delete", c.Create, c.Update, c.Replace, c.Delete)
	if c.Blocked > 0 {
		s += fmt.Sprintf(" (%d blocked)", c.Blocked)
	}
	return s
}

func shortCounts(c Counts) string {
	return fmt.Sprintf("+%d ~%d -/+%d -%d", c.Create, c.Update, c.Replace, c.Delete)
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	if c == "" {
		return "(no commit)"
	}
	return c
}

func shortFingerprint(f string) string {
	if len(f) > 19 {
		return f[:19]
	}
	return f
}

// actionsByCustomer splits the plan's actions by customer, in plan order.
func actionsByCustomer(p *Plan) map[string][]Action {
	m := map[string][]Action{}
	for _, a := range p.Actions {
		m[a.Customer] = append(m[a.Customer], a)
	}
	return m
}

// RenderText writes the plan for a terminal.
func RenderText(w io.Writer, p *Plan, o TextOptions) error {
	c := palette{on: o.Color}
	var b strings.Builder
	fmt.Fprintf(&b, "%s commit %s, observed state %s (%s old)\n", c.wrap("1", "agentvdc plan"), shortCommit(p.Commit),
		shortFingerprint(p.ObservedFingerprint), time.Duration(p.ObservedAgeSeconds)*time.Second)
	for _, wn := range p.Warnings {
		fmt.Fprintf(&b, "%s %s\n", c.wrap("33", "warning:"), wn)
	}
	if p.Refused != "" {
		fmt.Fprintf(&b, "\n%s %s\n", c.wrap("1;31", "PLAN REFUSED:"), p.Refused)
		for _, d := range p.Invalid {
			fmt.Fprintf(&b, "  %s\n", d.String())
		}
	}
	s := p.Summary
	if s.Counts.Changes() == 0 && p.Refused == "" {
		fmt.Fprintf(&b, "\nNo changes: the clouds match git for %d customer(s).\n", s.Customers)
	}
	byCust := actionsByCustomer(p)
	for _, cp := range p.Customers {
		acts := byCust[cp.Name]
		if len(acts) == 0 && len(cp.Errors) == 0 && cp.Status != StatusSuspended {
			continue
		}
		fmt.Fprintf(&b, "\n%s (%s, %s): %s\n", c.wrap("1", "customer "+cp.Name), orDash(string(cp.Tier)), cp.Status, countsLine(cp.Counts))
		fmt.Fprintf(&b, "  cost %s → %s /mo (%s)", usd(cp.Cost.BeforeUSD), usd(cp.Cost.AfterUSD), signedUSD(cp.Cost.DeltaUSD))
		if cp.Cost.ListPriceUSD > 0 {
			fmt.Fprintf(&b, ", up to %s at max scale, list price %s, expected invoice %s, margin %s",
				usd(cp.Cost.MaxUSD), usd(cp.Cost.ListPriceUSD), usd(cp.Cost.ExpectedInvoiceUSD), usd(cp.Cost.MarginUSD))
		}
		b.WriteString("\n")
		if cp.Blocked != "" {
			fmt.Fprintf(&b, "  %s %s\n", c.wrap("1;31", "blocked:"), cp.Blocked)
		}
		for _, a := range acts {
			sym := a.Action.Symbol()
			blocked := ""
			if a.Blocked {
				blocked = c.wrap("31", " [blocked]")
			}
			fmt.Fprintf(&b, "  %s %s  %s%s\n", c.action(a.Action, fmt.Sprintf("%-3s", sym)), c.action(a.Action, a.Address), a.Reason, blocked)
			for _, ch := range a.Changes {
				mode := "replace"
				if ch.InPlace {
					mode = "in place"
				}
				fmt.Fprintf(&b, "        %s: %q → %q (%s)\n", ch.Key, ch.Before, ch.After, mode)
			}
			if a.Action == ActionCreate && a.After != nil {
				for _, k := range sortedKeys(a.After.Attrs, nil) {
					fmt.Fprintf(&b, "        %s = %q\n", k, a.After.Attrs[k])
				}
			}
		}
	}
	if len(p.Customers) > 0 {
		fmt.Fprintf(&b, "\n%s %s, across %d customer(s), %d changed.\n", c.wrap("1", "Plan:"), countsLine(s.Counts), s.Customers, s.Changed)
		fmt.Fprintf(&b, "Monthly cost: %s → %s (%s); list price %s, margin %s.\n",
			usd(s.BeforeUSD), usd(s.AfterUSD), signedUSD(s.DeltaUSD), usd(s.ListPriceUSD), usd(s.MarginUSD))
	}
	if len(s.Unpriced) > 0 {
		fmt.Fprintf(&b, "Not priced (counted as $0): %s.\n", strings.Join(s.Unpriced, "; "))
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("render plan as text: %w", err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
