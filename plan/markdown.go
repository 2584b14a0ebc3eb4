package plan

import (
	"fmt"
	"html"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
)

// MarkdownOptions tune RenderMarkdown.
type MarkdownOptions struct {
	// MaxChars caps the comment's size in bytes (so in characters too);
	// DefaultMarkdownMaxChars when zero.
	MaxChars int
	// FullPlanURL points at the full JSON plan (a CI artifact).
	FullPlanURL string
	// Branch is the branch the plan's commit is on; the header names it.
	Branch string
	// BaseCommit, for a plan of an uncommitted working tree (Commit
	// "worktree-…"), is the commit checked out under it: the header shows
	// it followed by "+ uncommitted changes" unless WorktreeClean says the
	// customer files are those of BaseCommit.
	BaseCommit    string
	WorktreeClean bool
}

// DefaultMarkdownMaxChars keeps a PR comment under GitHub's 65,536 limit.
const DefaultMarkdownMaxChars = 60000

// minMarkdownChars is the smallest cap that fits the headline and footer.
const minMarkdownChars = 2000

// maxMarkdownValue is the longest attribute value a comment shows whole.
const maxMarkdownValue = 72

// mdText escapes s for markdown text outside code: every character GitHub
// would read as markup shows as itself, and newlines become spaces.
func mdText(s string) string {
	r := strings.NewReplacer(
		"\\", "\\\\", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]", "~", "\\~", "|", "\\|",
		"<", "&lt;", ">", "&gt;", "&", "&amp;", "\r", "", "\n", " ")
	return r.Replace(s)
}

// mdCode is s as a code span, its text raw (code shows entities and
// backslashes literally, so nothing is escaped but what the span itself
// needs): a fence longer than any run of backticks in s, padded when s
// starts or ends with a backtick. In a table cell, "|" is escaped, which
// GFM undoes inside code spans too.
func mdCode(s string, inTable bool) string {
	s = strings.NewReplacer("\r", "", "\n", " ").Replace(s)
	if inTable {
		s = strings.ReplaceAll(s, "|", "\\|")
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || (strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") && strings.TrimSpace(s) != "") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

// codeBlock fences body (which ends in a newline) as a code block of lang,
// with a fence longer than any run of backticks in it.
func codeBlock(lang, body string) string {
	fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
	return fence + lang + "\n" + body + fence + "\n"
}

var hexRef = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

// BranchOfRef is the branch a git ref names, for the header of a plan of
// it: "feature/x" for "feature/x", "refs/heads/feature/x" or
// "origin/feature/x"; "" for HEAD, a commit hash, a tag or "".
func BranchOfRef(ref string) string {
	if ref == "" || ref == "HEAD" || hexRef.MatchString(ref) || strings.HasPrefix(ref, "refs/tags/") {
		return ""
	}
	ref = strings.TrimPrefix(ref, "refs/heads/")
	ref = strings.TrimPrefix(ref, "refs/remotes/")
	return strings.TrimPrefix(ref, "origin/")
}

// destructiveCustomer: the customer has deletes or replaces.
func destructiveCustomer(c CustomerPlan) bool { return c.Counts.Delete+c.Counts.Replace > 0 }

// RenderMarkdown writes the plan as a pull-request comment (GitHub-flavoured
// markdown): a header naming the commit and branch, totals and a
// per-customer summary table first (destructive customers first), then the
// destructive changes (flagged ⚠️), then per-customer details in collapsed
// blocks, each a diff: deletions and replacements first, created resources
// with their attributes, updates with each attribute's before (-) and
// after (+). Text from the plan is escaped for markdown outside code and
// raw inside it. The result never exceeds MaxChars: rows and details that
// do not fit are left out from the end and counted, with a pointer to the
// full plan.
func RenderMarkdown(w io.Writer, p *Plan, o MarkdownOptions) error {
	max := o.MaxChars
	if max == 0 {
		max = DefaultMarkdownMaxChars
	}
	if max < minMarkdownChars {
		return fmt.Errorf("markdown cap %d is below the minimum of %d", max, minMarkdownChars)
	}
	const footerReserve = 600
	r := &mdRenderer{p: p, o: o, max: max, budget: max - footerReserve, where: "the full plan: `vdc plan --format json`", byCust: actionsByCustomer(p)}
	if o.FullPlanURL != "" {
		r.where = "the full plan: " + mdText(o.FullPlanURL)
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
	o      MarkdownOptions
	max    int
	budget int
	where  string // markdown: where the full plan is, for "… more" pointers
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

// title names what was planned: the short commit (or, for a working tree,
// the commit under it and "+ uncommitted changes") and the branch.
func (r *mdRenderer) title() string {
	var what string
	switch c := r.p.Commit; {
	case strings.HasPrefix(c, "worktree-") && r.o.BaseCommit != "" && r.o.WorktreeClean:
		what = mdCode(shortCommit(r.o.BaseCommit), false)
	case strings.HasPrefix(c, "worktree-") && r.o.BaseCommit != "":
		what = mdCode(shortCommit(r.o.BaseCommit), false) + " + uncommitted changes"
	case strings.HasPrefix(c, "worktree-"):
		what = "uncommitted files (no git commit)"
	case c == "":
		what = "no commit"
	default:
		what = mdCode(shortCommit(c), false)
	}
	if r.o.Branch != "" {
		what += " on " + mdCode(r.o.Branch, false)
	}
	return "### agentvdc plan: " + what
}

// header is the title, a refusal with its problems, the counts, the cost
// line and the warnings.
func (r *mdRenderer) header() {
	b, p, s := &r.b, r.p, r.p.Summary
	b.WriteString(r.title() + "\n\n")
	if p.Refused != "" {
		fmt.Fprintf(b, "> [!CAUTION]\n> **Plan refused:** %s\n\n", mdText(p.Refused))
		for i, d := range p.Invalid {
			if b.Len() > r.budget/2 {
				fmt.Fprintf(b, "- … %d more problem(s)\n", len(p.Invalid)-i)
				break
			}
			fmt.Fprintf(b, "- %s\n", mdCode(d.String(), false))
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
	for _, wn := range p.Warnings {
		fmt.Fprintf(b, "> [!NOTE]\n> %s\n\n", mdText(wn))
	}
	if len(s.Unpriced) > 0 {
		fmt.Fprintf(b, "_Not priced (counted as $0): %s._\n\n", mdText(strings.Join(s.Unpriced, "; ")))
	}
}

// customerTable is one row per shown customer, cut at 3/4 of the budget.
// Every column has a header; the customer cell carries the ⚠️ (destructive)
// or ⛔ (blocked) mark.
func (r *mdRenderer) customerTable() {
	if len(r.shown) == 0 {
		return
	}
	b := &r.b
	b.WriteString("| customer | tier | status | changes | before | after | Δ /mo | list | margin |\n")
	b.WriteString("|---|---|---|---|--:|--:|--:|--:|--:|\n")
	for i, c := range r.shown {
		flag := ""
		switch {
		case c.Blocked != "":
			flag = "⛔ "
		case destructiveCustomer(c):
			flag = "⚠️ "
		}
		row := fmt.Sprintf("| %s%s | %s | %s | %s | %s | %s | %s | %s | %s |\n", flag, mdCode(c.Name, true), mdText(orDash(string(c.Tier))), mdText(string(c.Status)),
			mdCode(shortCounts(c.Counts), true), usd(c.Cost.BeforeUSD), usd(c.Cost.AfterUSD), signedUSD(c.Cost.DeltaUSD),
			usd(c.Cost.ListPriceUSD), usd(c.Cost.MarginUSD))
		if b.Len()+len(row) > r.budget*3/4 {
			r.omittedRows = len(r.shown) - i
			fmt.Fprintf(b, "| … %d more customer(s) in %s | | | | | | | | |\n", r.omittedRows, r.where)
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
		head := fmt.Sprintf("- ⚠️ %s: %d delete(s), %d replacement(s)", mdCode(c.Name, false), c.Counts.Delete, c.Counts.Replace)
		if c.Blocked != "" {
			head += " — ⛔ blocked: " + mdText(c.Blocked)
		}
		lines := []string{head + "\n"}
		for _, a := range r.byCust[c.Name] {
			if a.Destructive() {
				lines = append(lines, fmt.Sprintf("  - **%s** %s — %s\n", a.Action, mdCode(a.Address, false), mdText(a.Reason)))
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
		fmt.Fprintf(b, "- … %d more destructive change(s) in %s\n", omitted, r.where)
	}
	b.WriteString("\n")
}

// details is one collapsed block per customer, dropped from the end.
func (r *mdRenderer) details() {
	if len(r.shown) == 0 {
		return
	}
	r.b.WriteString("#### Details\n\n")
	r.b.WriteString("In each diff: `+` a resource created (with its attributes), `-` deleted, `!` updated in place or replaced, with each changed attribute before (`-`) and after (`+`).\n\n")
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
			r.omittedDetails, r.omittedActions, r.max, r.where)
	}
	fmt.Fprintf(&r.b, "\n<sub>format %s · observed state %s · %s</sub>\n", html.EscapeString(r.p.FormatVersion),
		mdCode(shortFingerprint(r.p.ObservedFingerprint), false), r.p.CreatedAt.Format(time.RFC3339))
}

// diffValue is an attribute value for a diff line: quoted, cut when long.
func diffValue(v string) string {
	if len([]rune(v)) > maxMarkdownValue {
		rs := []rune(v)
		return fmt.Sprintf("%q… (%d characters)", string(rs[:maxMarkdownValue]), len(rs))
	}
	return fmt.Sprintf("%q", v)
}

// createdAttrs are the attributes a created resource shows: all that are
// set, but hashes of generated content (bootstrap) that say nothing to a
// reviewer.
func createdAttrs(a Action) []string {
	if a.After == nil {
		return nil
	}
	var keys []string
	for _, k := range sortedKeys(a.After.Attrs, nil) {
		if k == "bootstrap" || a.After.Attrs[k] == "" {
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

func detailsBlock(c CustomerPlan, acts []Action) string {
	var b strings.Builder
	flag := ""
	if destructiveCustomer(c) {
		flag = "⚠️ "
	}
	fmt.Fprintf(&b, "<details><summary>%s<code>%s</code>: %s · %s → %s /mo (%s)</summary>\n\n",
		flag, html.EscapeString(c.Name), html.EscapeString(shortCounts(c.Counts)), usd(c.Cost.BeforeUSD), usd(c.Cost.AfterUSD), signedUSD(c.Cost.DeltaUSD))
	if c.Blocked != "" {
		fmt.Fprintf(&b, "⛔ **Blocked:** %s\n\n", mdText(c.Blocked))
	}
	b.WriteString(codeBlock("diff", diffBody(acts)))
	b.WriteString("\n</details>\n\n")
	return b.String()
}

// diffBody is the customer's actions as diff lines, destructive first:
// "+ address: reason" and "+     key = value" for a created resource,
// "- address: reason" for a deleted one, "! address: reason" and each
// changed attribute before ("-") and after ("+") for an update or a
// replacement.
func diffBody(acts []Action) string {
	var d strings.Builder
	oneLine := func(s string) string { return strings.NewReplacer("\r", "", "\n", " ").Replace(s) }
	// Destructive actions first, then the rest, each in plan order.
	for pass := 0; pass < 2; pass++ {
		for _, a := range acts {
			if a.Destructive() != (pass == 0) {
				continue
			}
			blocked := ""
			if a.Blocked {
				blocked = " [blocked]"
			}
			switch a.Action {
			case ActionCreate:
				fmt.Fprintf(&d, "+ %s: %s%s\n", a.Address, oneLine(a.Reason), blocked)
				keys := createdAttrs(a)
				width := 0
				for _, k := range keys {
					width = max(width, len(k))
				}
				for _, k := range keys {
					fmt.Fprintf(&d, "+     %-*s = %s\n", width, k, diffValue(a.After.Attrs[k]))
				}
			case ActionDelete:
				fmt.Fprintf(&d, "- %s: %s%s\n", a.Address, oneLine(a.Reason), blocked)
			default: // update, replace
				mode := ""
				if a.Action == ActionReplace && a.ReplaceMode != "" {
					mode = " [" + string(a.ReplaceMode) + "]"
				}
				fmt.Fprintf(&d, "! %s: %s%s%s\n", a.Address, oneLine(a.Reason), mode, blocked)
				width := 0
				for _, ch := range a.Changes {
					width = max(width, len(ch.Key))
				}
				for _, ch := range a.Changes {
					fmt.Fprintf(&d, "-     %-*s = %s\n", width, ch.Key, diffValue(ch.Before))
					fmt.Fprintf(&d, "+     %-*s = %s\n", width, ch.Key, diffValue(ch.After))
				}
			}
		}
	}
	return d.String()
}

// DiffTextOptions tune RenderDiff.
type DiffTextOptions struct {
	// Color adds ANSI colours (set it only for a terminal).
	Color bool
}

// RenderDiff writes the plan's changes as a diff per customer (vdc diff):
// a header line per customer with changes, then diffBody's lines.
func RenderDiff(w io.Writer, p *Plan, o DiffTextOptions) error {
	c := palette{on: o.Color}
	var b strings.Builder
	byCust := actionsByCustomer(p)
	if p.Refused != "" {
		fmt.Fprintf(&b, "%s %s\n", c.wrap("1;31", "PLAN REFUSED:"), p.Refused)
	}
	for _, cp := range p.Customers {
		acts := byCust[cp.Name]
		if len(acts) == 0 {
			fmt.Fprintf(&b, "%s: no changes (%s)\n", c.wrap("1", cp.Name), cp.Status)
			continue
		}
		fmt.Fprintf(&b, "%s (%s): %s; cost %s → %s /mo (%s)\n", c.wrap("1", cp.Name), cp.Status, countsLine(cp.Counts),
			usd(cp.Cost.BeforeUSD), usd(cp.Cost.AfterUSD), signedUSD(cp.Cost.DeltaUSD))
		if cp.Blocked != "" {
			fmt.Fprintf(&b, "%s %s\n", c.wrap("1;31", "blocked:"), cp.Blocked)
		}
		for _, line := range strings.SplitAfter(diffBody(acts), "\n") {
			switch {
			case line == "":
			case strings.HasPrefix(line, "+"):
				b.WriteString(c.wrap("32", strings.TrimSuffix(line, "\n")) + "\n")
			case strings.HasPrefix(line, "-"):
				b.WriteString(c.wrap("31", strings.TrimSuffix(line, "\n")) + "\n")
			default:
				b.WriteString(c.wrap("33", strings.TrimSuffix(line, "\n")) + "\n")
			}
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("render diff: %w", err)
	}
	return nil
}
