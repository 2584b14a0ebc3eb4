package agents

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Entity kinds.
const (
	KindPerson  = "person"
	KindOrg     = "org"
	KindPlace   = "place"
	KindEmail   = "email"
	KindURL     = "url"
	KindDate    = "date"
	KindAmount  = "amount"
	KindName    = "name"    // a capitalised phrase of unknown kind
	KindConcept = "concept" // a class named by a Hearst pattern ("suppliers")
)

// Mention is an entity found in a text.
type Mention struct {
	Key        string // canonical key
	Name       string // surface form
	Kind       string
	Confidence float64
	Start, End int // byte offsets
}

var (
	reEmail  = regexp.MustCompile(`\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b`)
	reURL    = regexp.MustCompile(`\bhttps?://[^\s<>"')\]]+`)
	reDate   = regexp.MustCompile(`\b(?:\d{4}-\d{2}-\d{2}|\d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|December) \d{4}|(?:January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}, \d{4})\b`)
	reAmount = regexp.MustCompile(`(?:[$€£]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|k|m|bn))?|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|CHF|dollars|euros)\b)`)
	// Capitalised phrase: 1-5 capitalised words, joined by spaces, '&', "of", "and", "de", "van".
	rePhrase = regexp.MustCompile(`\b[A-Z][A-Za-z0-9'’.-]*(?:[ \t]+(?:(?:of|&|de|van|der|for)[ \t]+)?[A-Z][A-Za-z0-9'’.-]*){0,4}`)
)

var orgSuffixes = []string{"inc", "corp", "corporation", "ltd", "limited", "gmbh", "llc", "ag", "sa", "plc", "co", "company"}

var orgWords = map[string]bool{"inc": true, "corp": true, "corporation": true, "ltd": true, "limited": true, "gmbh": true,
	"llc": true, "ag": true, "plc": true, "group": true, "bank": true, "university": true, "labs": true, "systems": true,
	"technologies": true, "holdings": true, "foundation": true, "institute": true, "partners": true, "traders": true,
	"logistics": true, "solutions": true, "industries": true, "company": true, "ventures": true, "capital": true}

var personTitles = map[string]bool{"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true}

var places = map[string]bool{"berlin": true, "london": true, "paris": true, "lisbon": true, "oslo": true, "madrid": true,
	"rome": true, "vienna": true, "zurich": true, "geneva": true, "amsterdam": true, "dublin": true, "stockholm": true,
	"copenhagen": true, "helsinki": true, "warsaw": true, "prague": true, "munich": true, "hamburg": true, "new york": true,
	"boston": true, "chicago": true, "seattle": true, "toronto": true, "tokyo": true, "singapore": true, "sydney": true,
	"germany": true, "france": true, "spain": true, "portugal": true, "norway": true, "italy": true, "austria": true,
	"switzerland": true, "netherlands": true, "ireland": true, "sweden": true, "denmark": true, "finland": true,
	"poland": true, "japan": true, "canada": true, "australia": true, "europe": true, "asia": true, "frankfurt": true,
	"milan": true, "barcelona": true, "lyon": true, "rotterdam": true, "antwerp": true, "brussels": true}

// Words that start sentences or headings capitalised without naming anything.
var phraseStop = map[string]bool{"the": true, "a": true, "an": true, "this": true, "that": true, "these": true, "those": true,
	"in": true, "on": true, "at": true, "for": true, "to": true, "from": true, "by": true, "with": true, "and": true, "or": true,
	"but": true, "if": true, "when": true, "after": true, "before": true, "our": true, "we": true, "it": true, "its": true,
	"all": true, "each": true, "every": true, "please": true, "note": true, "see": true, "as": true, "of": true, "is": true,
	"are": true, "was": true, "were": true, "he": true, "she": true, "they": true, "their": true, "there": true, "i": true,
	"you": true, "your": true, "monday": true, "tuesday": true, "wednesday": true, "thursday": true, "friday": true,
	"saturday": true, "sunday": true, "january": true, "february": true, "march": true, "april": true, "may": true,
	"june": true, "july": true, "august": true, "september": true, "october": true, "november": true, "december": true,
	"q1": true, "q2": true, "q3": true, "q4": true, "ceo": true, "cto": true, "cfo": true, "coo": true, "also": true,
	"however": true, "about": true, "welcome": true, "dear": true, "yes": true, "no": true, "new": true, "total": true, "section": true, "table": true, "page": true,
	// sentence-initial conjunctions and adverbs ("Although Git ..."),
	// never part of a name
	"although": true, "though": true, "because": true, "since": true, "unless": true, "while": true, "whereas": true,
	"so": true, "yet": true, "nor": true, "then": true, "thus": true, "hence": true, "therefore": true, "once": true,
	"until": true, "whether": true, "where": true, "which": true, "who": true, "how": true, "what": true, "why": true,
	"otherwise": true, "instead": true, "meanwhile": true, "moreover": true, "furthermore": true, "unlike": true,
	"like": true, "use": true, "call": true, "returns": true, "deprecated": true}

// CanonicalKey is the merge key of an entity name: lower-cased, punctuation
// and possessives removed, whitespace collapsed, a trailing legal-form
// suffix dropped ("Acme Corp." and "ACME Corporation" → "acme").
func CanonicalKey(name string) string {
	name = strings.ReplaceAll(name, "’", "'")
	name = strings.TrimSuffix(strings.TrimSuffix(name, "'s"), "'")
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '@' || r == '&':
			b.WriteRune(r)
		case r == '.' || r == '-' || r == '/' || r == ':':
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	f := strings.Fields(b.String())
	for i := range f {
		f[i] = strings.Trim(f[i], ".-/:")
	}
	for len(f) > 1 {
		last := f[len(f)-1]
		drop := false
		for _, s := range orgSuffixes {
			if last == s {
				drop = true
			}
		}
		if !drop {
			break
		}
		f = f[:len(f)-1]
	}
	out := strings.Join(strings.Fields(strings.Join(f, " ")), " ")
	if len(out) > 200 {
		out = out[:200]
	}
	return out
}

// Entities extracts entity mentions from text: emails, URLs, dates and
// amounts by pattern (confidence 0.95), capitalised phrases by heuristics
// (organisations by legal-form or sector words, people by titles or a
// two-word first-last shape, places by a gazetteer; 0.6-0.8).
func Entities(text string) []Mention {
	var out []Mention
	taken := make([]bool, len(text)+1)
	mark := func(s, e int) {
		for i := s; i < e; i++ {
			taken[i] = true
		}
	}
	for _, p := range []struct {
		re   *regexp.Regexp
		kind string
	}{{reEmail, KindEmail}, {reURL, KindURL}, {reDate, KindDate}, {reAmount, KindAmount}} {
		for _, m := range p.re.FindAllStringIndex(text, -1) {
			if taken[m[0]] {
				continue
			}
			s := strings.TrimRight(text[m[0]:m[1]], ".,;")
			if p.kind == KindAmount && placeholder(text, m[0], s) {
				continue
			}
			key := CanonicalKey(s)
			if p.kind != KindDate {
				key = strings.ToLower(strings.Join(strings.Fields(s), " "))
			}
			out = append(out, Mention{Key: key, Name: s, Kind: p.kind, Confidence: 0.95, Start: m[0], End: m[0] + len(s)})
			mark(m[0], m[1])
		}
	}
	for _, m := range rePhrase.FindAllStringIndex(text, -1) {
		s, e := m[0], m[1]
		if taken[s] {
			continue
		}
		phrase := strings.TrimRight(text[s:e], ".,;:'’-")
		words := strings.Fields(phrase)
		// drop leading stop words ("The Acme Group" → "Acme Group")
		for len(words) > 0 && phraseStop[strings.ToLower(strings.Trim(words[0], ".,"))] {
			s += strings.Index(text[s:], words[0]) + len(words[0])
			words = words[1:]
		}
		for len(words) > 0 && (phraseStop[strings.ToLower(words[len(words)-1])] || strings.ToLower(words[len(words)-1]) == "of" || words[len(words)-1] == "&") {
			words = words[:len(words)-1]
		}
		if len(words) == 0 {
			continue
		}
		phrase = strings.Join(words, " ")
		start := strings.Index(text[s:], words[0])
		if start < 0 {
			continue
		}
		start += s
		lw := strings.ToLower(strings.Trim(words[len(words)-1], "."))
		kind, conf := KindName, 0.6
		first := strings.ToLower(strings.Trim(words[0], "."))
		key := CanonicalKey(phrase)
		switch {
		case orgWords[lw]:
			kind, conf = KindOrg, 0.8
		case personTitles[first] && len(words) > 1:
			kind, conf = KindPerson, 0.8
			key = CanonicalKey(strings.Join(words[1:], " "))
			phrase = strings.Join(words[1:], " ")
		case places[key]:
			kind, conf = KindPlace, 0.8
		case len(words) == 2 && isNameWord(words[0]) && isNameWord(words[1]):
			kind, conf = KindPerson, 0.6
		case len(words) == 1:
			// A single capitalised word at a sentence start is usually
			// just a word; elsewhere it is a weak name.
			if atSentenceStart(text, start) || len(key) < 3 {
				continue
			}
			conf = 0.5
		}
		if key == "" {
			continue
		}
		out = append(out, Mention{Key: key, Name: phrase, Kind: kind, Confidence: conf, Start: start, End: start + len(phrase)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

func isNameWord(w string) bool {
	if len(w) < 2 || len(w) > 15 {
		return false
	}
	for i, r := range w {
		if i == 0 && !unicode.IsUpper(r) || i > 0 && !unicode.IsLower(r) && r != '-' && r != '\'' {
			return false
		}
	}
	return true
}

func atSentenceStart(text string, i int) bool {
	j := i - 1
	for j >= 0 && (text[j] == ' ' || text[j] == '\t' || text[j] == '"' || text[j] == '(') {
		j--
	}
	return j < 0 || strings.ContainsRune(".!?:\n|;", rune(text[j]))
}

// rePlaceholder is "$" and one digit with nothing after them that
// makes an amount (no decimals, thousands or unit).
var rePlaceholder = regexp.MustCompile(`^\$\d$`)

// placeholder reports whether the amount match s at text[i:] is a
// positional placeholder ($1 in a regular expression, shell or template
// text) rather than money: "$" with one bare digit (so "$5" alone is
// not taken for money either: the price of the rule), or any "$"
// match glued to a preceding letter, digit, brace or backslash, or
// followed by a letter, '{' or '}'.
func placeholder(text string, i int, s string) bool {
	if !strings.HasPrefix(s, "$") {
		return false
	}
	if rePlaceholder.MatchString(s) {
		return true
	}
	if i > 0 {
		c := text[i-1]
		if c == '\\' || c == '{' || c == '$' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) {
			return true
		}
	}
	if j := i + len(s); j < len(text) {
		c := text[j]
		if c == '{' || c == '}' || unicode.IsLetter(rune(c)) {
			return true
		}
	}
	return false
}
