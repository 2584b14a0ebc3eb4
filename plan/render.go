package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
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
			fmt.Fprintf(&b, ", up to %s at max scale, list price %s, margin %s", usd(cp.Cost.MaxUSD), usd(cp.Cost.ListPriceUSD), usd(cp.Cost.MarginUSD))
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

// MarkdownOptions tune RenderMarkdown.
type MarkdownOptions struct {
	// MaxChars caps the comment's size in bytes (so in characters too);
	// DefaultMarkdownMaxChars when zero.
	MaxChars int
	// FullPlanURL points at the full JSON plan (a CI artifact).
	FullPlanURL string
}

// DefaultMarkdownMaxChars keeps a PR comment under GitHub's 65,536 limit.
const DefaultMarkdownMaxChars = 60000

// minMarkdownChars is the smallest cap that fits the headline and footer.
const minMarkdownChars = 2000

func mdEscape(s string) string {
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "&", "&amp;", "`", "'", "\n", " ")
	return r.Replace(s)
}

// destructiveCustomer: the customer has deletes or replaces.
func destructiveCustomer(c CustomerPlan) bool { return c.Counts.Delete+c.Counts.Replace > 0 }

// RenderMarkdown writes the plan as a pull-request comment: headline,
// totals and a per-customer summary table first, then destructive changes
// (flagged ⚠️), then per-customer details in collapsed blocks. The result
// never exceeds MaxChars: rows and details that do not fit are left out
// from the end and counted, with a pointer to the full plan.
func RenderMarkdown(w io.Writer, p *Plan, o MarkdownOptions) error {
	max := o.MaxChars
	if max == 0 {
		max = DefaultMarkdownMaxChars
	}
	if max < minMarkdownChars {
		return fmt.Errorf("markdown cap %d is below the minimum of %d", max, minMarkdownChars)
	}
	const footerReserve = 600
	r := &mdRenderer{p: p, max: max, budget: max - footerReserve, where: "the full plan: `vdc plan --format json`", byCust: actionsByCustomer(p)}
	if o.FullPlanURL != "" {
		r.where = "the full plan: " + o.FullPlanURL
	}
	r.shown = customersToShow(p)
	r.header()
	r.customerTable()
	r.destructiveChanges()
	r.details()
	r.footer()
	if r.b.Len() > max { // cannot happen with the reserve; never exceed the cap
		return fmt.Errorf("markdown plan is %d characters, over the cap of %d", r.b.Len(), max)
	}
	if _, err := io.WriteString(w, r.b.String()); err != nil {
		return fmt.Errorf("render plan as markdown: %w", err)
	}
	return nil
}

// mdRenderer writes one markdown plan in sections, each within its share of
// the character budget so the most important parts survive the cap: the
// summary, then the customer table (3/4), the destructive changes (7/8) and
// the details (all of it), dropped from the end.
type mdRenderer struct {
	b      strings.Builder
	p      *Plan
	max    int
	budget int
	where  string // where the full plan is, for "… more" pointers
	shown  []CustomerPlan
	byCust map[string][]Action

	omittedRows, omittedDetails, omittedActions int
}

// customersToShow returns the customers with something to show, destructive
// ones first.
func customersToShow(p *Plan) []CustomerPlan {
	var shown []CustomerPlan
	for _, c := range p.Customers {
		if c.Counts.Changes() > 0 || len(c.Errors) > 0 || c.Blocked != "" {
			shown = append(shown, c)
		}
	}
	sort.SliceStable(shown, func(i, j int) bool {
		return destructiveCustomer(shown[i]) && !destructiveCustomer(shown[j])
	})
	return shown
}

func (r *mdRenderer) destructiveCount() int {
	return r.p.Summary.Counts.Delete + r.p.Summary.Counts.Replace
}

// header is the title, a refusal with its problems, the counts, the cost
// line and the warnings.
func (r *mdRenderer) header() {
	b, p, s := &r.b, r.p, r.p.Summary
	fmt.Fprintf(b, "### agentvdc plan for `%s`\n\n", mdEscape(shortCommit(p.Commit)))
	if p.Refused != "" {
		fmt.Fprintf(b, "> [!CAUTION]\n> **Plan refused:** %s\n\n", mdEscape(p.Refused))
		for i, d := range p.Invalid {
			if b.Len() > r.budget/2 {
				fmt.Fprintf(b, "- … %d more problem(s)\n", len(p.Invalid)-i)
				break
			}
			fmt.Fprintf(b, "- `%s`\n", mdEscape(d.String()))
		}
		if len(p.Invalid) > 0 {
			b.WriteString("\n")
		}
	}
	if s.Counts.Changes() == 0 && p.Refused == "" {
		fmt.Fprintf(b, "**No changes.** The clouds match git for %d customer(s).\n\n", s.Customers)
	} else if s.Counts.Changes() > 0 {
		fmt.Fprintf(b, "**Plan: %s** across %d customer(s), %d changed.\n\n", countsLine(s.Counts), s.Customers, s.Changed)
	}
	if len(p.Customers) > 0 {
		fmt.Fprintf(b, "**Monthly cost: %s → %s (%s)** · list price %s · margin %s\n\n",
			usd(s.BeforeUSD), usd(s.AfterUSD), signedUSD(s.DeltaUSD), usd(s.ListPriceUSD), usd(s.MarginUSD))
	}
	if destructive := r.destructiveCount(); destructive > 0 {
		fmt.Fprintf(b, "> [!WARNING]\n> ⚠️ %d destructive change(s): %d delete(s), %d replacement(s).", destructive, s.Counts.Delete, s.Counts.Replace)
		if s.Counts.Blocked > 0 {
			fmt.Fprintf(b, " %d action(s) are blocked and will not be applied.", s.Counts.Blocked)
		}
		b.WriteString("\n\n")
	}
	if len(s.Unpriced) > 0 {
		fmt.Fprintf(b, "_Not priced (counted as $0): %s._\n\n", mdEscape(strings.Join(s.Unpriced, "; ")))
	}
}

// customerTable is one row per shown customer, cut at 3/4 of the budget.
func (r *mdRenderer) customerTable() {
	if len(r.shown) == 0 {
		return
	}
	b := &r.b
	b.WriteString("| | customer | tier | status | changes | before | after | Δ /mo | list | margin |\n")
	b.WriteString("|---|---|---|---|---|--:|--:|--:|--:|--:|\n")
	for i, c := range r.shown {
		flag := ""
		switch {
		case c.Blocked != "":
			flag = "⛔"
		case destructiveCustomer(c):
			flag = "⚠️"
		}
		row := fmt.Sprintf("| %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n", flag, c.Name, orDash(string(c.Tier)), c.Status,
			shortCounts(c.Counts), usd(c.Cost.BeforeUSD), usd(c.Cost.AfterUSD), signedUSD(c.Cost.DeltaUSD),
			usd(c.Cost.ListPriceUSD), usd(c.Cost.MarginUSD))
		if b.Len()+len(row) > r.budget*3/4 {
			r.omittedRows = len(r.shown) - i
			fmt.Fprintf(b, "| | … | | | %d more customer(s) in %s | | | | | |\n", r.omittedRows, mdEscape(r.where))
			break
		}
		b.WriteString(row)
	}
	if unchanged := r.p.Summary.Customers - len(r.shown); unchanged > 0 {
		fmt.Fprintf(b, "\n%d customer(s) unchanged.\n", unchanged)
	}
	b.WriteString("\n")
}

// destructiveChanges is one line per customer, then one per resource, cut at
// 7/8 of the budget.
func (r *mdRenderer) destructiveChanges() {
	if r.destructiveCount() == 0 {
		return
	}
	b := &r.b
	b.WriteString("#### ⚠️ Destructive changes\n\n")
	omitted := 0
	for _, c := range r.shown {
		if !destructiveCustomer(c) {
			continue
		}
		head := fmt.Sprintf("- ⚠️ `%s`: %d delete(s), %d replacement(s)", c.Name, c.Counts.Delete, c.Counts.Replace)
		if c.Blocked != "" {
			head += " — ⛔ blocked: " + mdEscape(c.Blocked)
		}
		lines := []string{head + "\n"}
		for _, a := range r.byCust[c.Name] {
			if a.Destructive() {
				lines = append(lines, fmt.Sprintf("  - **%s** `%s` — %s\n", a.Action, a.Address, mdEscape(a.Reason)))
			}
		}
		for _, line := range lines {
			if omitted > 0 || b.Len()+len(line) > r.budget*7/8 {
				if line != lines[0] {
					omitted++
				}
				continue
			}
			b.WriteString(line)
		}
	}
	if omitted > 0 {
		fmt.Fprintf(b, "- … %d more destructive change(s) in %s\n", omitted, mdEscape(r.where))
	}
	b.WriteString("\n")
}

// details is one collapsed block per customer, dropped from the end.
func (r *mdRenderer) details() {
	if len(r.shown) == 0 {
		return
	}
	r.b.WriteString("#### Details\n\n")
	for i, c := range r.shown {
		block := detailsBlock(c, r.byCust[c.Name])
		if r.b.Len()+len(block) > r.budget {
			r.omittedDetails = len(r.shown) - i
			for _, rest := range r.shown[i:] {
				r.omittedActions += len(r.byCust[rest.Name])
			}
			break
		}
		r.b.WriteString(block)
	}
}

func (r *mdRenderer) footer() {
	if r.omittedDetails > 0 || r.omittedRows > 0 {
		fmt.Fprintf(&r.b, "\n_Details of %d customer(s) (%d action(s)) were omitted to keep this comment under %d characters; see %s._\n",
			r.omittedDetails, r.omittedActions, r.max, mdEscape(r.where))
	}
	fmt.Fprintf(&r.b, "\n<sub>format %s · observed state `%s` · %s</sub>\n", r.p.FormatVersion, shortFingerprint(r.p.ObservedFingerprint), r.p.CreatedAt.Format(time.RFC3339))
}

func detailsBlock(c CustomerPlan, acts []Action) string {
	var b strings.Builder
	flag := ""
	if destructiveCustomer(c) {
		flag = "⚠️ "
	}
	fmt.Fprintf(&b, "<details><summary>%s<code>%s</code>: %s · %s → %s /mo (%s)</summary>\n\n",
		flag, c.Name, shortCounts(c.Counts), usd(c.Cost.BeforeUSD), usd(c.Cost.AfterUSD), signedUSD(c.Cost.DeltaUSD))
	if c.Blocked != "" {
		fmt.Fprintf(&b, "⛔ **Blocked:** %s\n\n", mdEscape(c.Blocked))
	}
	b.WriteString("```diff\n")
	// Destructive actions first, then the rest, each in plan order.
	for pass := 0; pass < 2; pass++ {
		for _, a := range acts {
			if a.Destructive() != (pass == 0) {
				continue
			}
			sym := a.Action.Symbol()
			if a.Action == ActionReplace {
				sym = "!"
			}
			fmt.Fprintf(&b, "%s %s: %s\n", sym, a.Address, strings.ReplaceAll(a.Reason, "\n", " "))
			for _, ch := range a.Changes {
				fmt.Fprintf(&b, "    %s: %q → %q\n", ch.Key, ch.Before, ch.After)
			}
		}
	}
	b.WriteString("```\n\n</details>\n\n")
	return b.String()
}
