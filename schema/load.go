package schema

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	cueyaml "cuelang.org/go/encoding/yaml"
	"github.com/agnivade/levenshtein"
	"gopkg.in/yaml.v3"
)

//go:embed customer.cue
var cueSource string

// CUESource returns the CUE schema of the customer format.
func CUESource() string { return cueSource }

// MaxFileSize is the largest customer file accepted.
const MaxFileSize = 1 << 20

// File is one file of a customer repository, from a directory or a git tree.
type File struct {
	// Path is slash-separated and relative to the repository root,
	// e.g. "customers/acme.yaml".
	Path string
	Data []byte
	// Size is the file's size; Data is left nil for files over MaxFileSize.
	Size int64
	// Symlink marks a symbolic link (refused; Data is nil).
	Symlink bool
	// Dir marks a sub-directory of the customers directory (refused).
	Dir bool
}

// Loader validates customer files against the embedded schema. Results are
// cached by file path and content hash, so an unchanged file is never
// evaluated twice. A Loader is safe for concurrent use.
type Loader struct {
	mu       sync.Mutex
	ctx      *cue.Context
	customer cue.Value
	regions  map[string]Placement
	bsZones  []string
	prices   map[Tier]float64
	billing  map[Tier]TierBilling
	types    map[Tier][]string
	floors   map[string]time.Duration
	fields   map[string][]string // allowed field names per parent path
	cache    map[[32]byte]fileResult

	evaluations int // CUE evaluations done, for tests of the cache
}

type fileResult struct {
	customer *Customer
	diags    []Diagnostic
}

// NewLoader compiles the embedded schema.
func NewLoader() (*Loader, error) { return compileLoader(cueSource) }

// compileLoader compiles src as the schema (tests pass altered copies).
func compileLoader(src string) (*Loader, error) {
	ctx := cuecontext.New()
	v := ctx.CompileString(src, cue.Filename("customer.cue"))
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("compile embedded schema: %w", err)
	}
	l := &Loader{
		ctx:      ctx,
		customer: v.LookupPath(cue.ParsePath("#Customer")),
		regions:  map[string]Placement{},
		prices:   map[Tier]float64{},
		billing:  map[Tier]TierBilling{},
		types:    map[Tier][]string{},
		floors:   map[string]time.Duration{},
		fields:   map[string][]string{},
		cache:    map[[32]byte]fileResult{},
	}
	var regions map[string]struct {
		HetznerLocation string `json:"hetznerLocation"`
		ExoscaleZone    string `json:"exoscaleZone"`
	}
	if err := v.LookupPath(cue.ParsePath("#Regions")).Decode(&regions); err != nil {
		return nil, fmt.Errorf("schema #Regions: %w", err)
	}
	if err := v.LookupPath(cue.ParsePath("#BlockStorageZones")).Decode(&l.bsZones); err != nil {
		return nil, fmt.Errorf("schema #BlockStorageZones: %w", err)
	}
	names := make([]string, 0, len(regions))
	for k := range regions {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		r := regions[k]
		if !slices.Contains(l.bsZones, r.ExoscaleZone) {
			return nil, fmt.Errorf("schema #Regions: region %s maps to Exoscale zone %q, which has no Block Storage (zones with it: %s)",
				k, r.ExoscaleZone, strings.Join(l.bsZones, ", "))
		}
		l.regions[k] = Placement{HetznerLocation: r.HetznerLocation, ExoscaleZone: r.ExoscaleZone}
	}
	var tiers map[Tier]struct {
		ListPriceUSD float64     `json:"listPriceUSD"`
		ServerTypes  []string    `json:"serverTypes"`
		Billing      TierBilling `json:"billing"`
	}
	if err := v.LookupPath(cue.ParsePath("#Tiers")).Decode(&tiers); err != nil {
		return nil, fmt.Errorf("schema #Tiers: %w", err)
	}
	for k, t := range tiers {
		l.prices[k] = t.ListPriceUSD
		l.types[k] = t.ServerTypes
		l.billing[k] = t.Billing
	}
	var floors map[string]Duration
	if err := v.LookupPath(cue.ParsePath("#Floors")).Decode(&floors); err != nil {
		return nil, fmt.Errorf("schema #Floors: %w", err)
	}
	for k, d := range floors {
		l.floors[k] = d.Duration
	}
	collectFields(l.customer, "", l.fields)
	return l, nil
}

// collectFields records, for every struct in the schema, the names of the
// fields it allows; "did you mean" hints come from these.
func collectFields(v cue.Value, at string, out map[string][]string) {
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return
	}
	for it.Next() {
		name := it.Selector().Unquoted()
		if strings.HasPrefix(name, "_") || it.Selector().IsDefinition() {
			continue
		}
		out[at] = append(out[at], name)
		child := name
		if at != "" {
			child = at + "." + name
		}
		if it.Value().IncompleteKind() == cue.StructKind {
			collectFields(it.Value(), child, out)
		}
	}
	sort.Strings(out[at])
}

// Fields returns the field paths of the customer format ("compute.minServers"),
// in schema order of their parents; used to keep documentation in step.
func (l *Loader) Fields() []string {
	var out []string
	var walk func(at string)
	walk = func(at string) {
		for _, f := range l.fields[at] {
			p := f
			if at != "" {
				p = at + "." + f
			}
			out = append(out, p)
			if _, ok := l.fields[p]; ok {
				walk(p)
			}
		}
	}
	walk("")
	return out
}

// Regions returns the region names and their placement.
func (l *Loader) Regions() map[string]Placement { return l.regions }

// BlockStorageZones returns the schema's Exoscale zones with Block
// Storage (#BlockStorageZones), the only zones a region may map to.
func (l *Loader) BlockStorageZones() []string { return slices.Clone(l.bsZones) }

// Evaluations returns how many files went through CUE so far.
func (l *Loader) Evaluations() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evaluations
}

var (
	fileNameRE  = regexp.MustCompile(`^[a-z0-9-]+\.ya?ml$`)
	customerRE  = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}[a-z0-9]$`)
	yamlLineRE  = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	ignoredDocs = regexp.MustCompile(`(?i)^(readme|changelog|contributing)(\.[a-z]+)?$|\.md$`)
)

// Load validates files and returns the valid customers and all diagnostics.
// Files outside customers (README.md, hidden files) are skipped.
func (l *Loader) Load(files []File) *Result {
	res := &Result{}
	byName := map[string]string{}
	for _, f := range files {
		base := path.Base(f.Path)
		if strings.HasPrefix(base, ".") || (!f.Dir && ignoredDocs.MatchString(base)) {
			continue
		}
		res.Files++
		fr := l.loadFile(f)
		res.Diagnostics = append(res.Diagnostics, fr.diags...)
		if fr.customer == nil {
			continue
		}
		if prev, dup := byName[fr.customer.Name]; dup {
			res.Diagnostics = append(res.Diagnostics, Diagnostic{
				File: f.Path, Line: 1, Column: 1, Field: "name",
				Message: fmt.Sprintf("customer %q is already defined in %s", fr.customer.Name, prev),
				Hint:    "each customer has exactly one file; remove one of them",
			})
			continue
		}
		byName[fr.customer.Name] = f.Path
		res.Customers = append(res.Customers, *fr.customer)
	}
	res.sort()
	return res
}

func fileDiag(f File, msg, hint string) fileResult {
	return fileResult{diags: []Diagnostic{{File: f.Path, Line: 1, Column: 1, Message: msg, Hint: hint}}}
}

func (l *Loader) loadFile(f File) fileResult {
	base := path.Base(f.Path)
	switch {
	case f.Dir:
		return fileDiag(f, "sub-directories are not read", "customer files live directly in the customers directory")
	case f.Symlink:
		return fileDiag(f, "symbolic links are refused", "commit the customer file itself, not a link to it")
	case f.Size > MaxFileSize || len(f.Data) > MaxFileSize:
		return fileDiag(f, fmt.Sprintf("file is %d bytes, over the 1 MiB limit", max(f.Size, int64(len(f.Data)))), "a customer file is a few hundred bytes; check that the right file was committed")
	}
	if d, ok := checkFileName(f.Path, base); !ok {
		return fileResult{diags: []Diagnostic{d}}
	}
	key := sha256.Sum256(append([]byte(f.Path+"\x00"), f.Data...))
	l.mu.Lock()
	cached, ok := l.cache[key]
	l.mu.Unlock()
	if ok {
		return cached
	}
	fr := l.evaluate(f)
	l.mu.Lock()
	l.cache[key] = fr
	l.mu.Unlock()
	return fr
}

// checkFileName refuses names that are not plain lower-case ASCII
// NAME.yaml, explaining look-alike characters and traversal attempts.
func checkFileName(p, base string) (Diagnostic, bool) {
	d := Diagnostic{File: p, Line: 1, Column: 1}
	if strings.Contains(p, "..") || strings.ContainsAny(base, `\/`) {
		d.Message = "file path tries to leave the customers directory"
		return d, false
	}
	ext := path.Ext(base)
	if ext != ".yaml" && ext != ".yml" {
		d.Message = fmt.Sprintf("not a customer file: %q is not YAML", base)
		d.Hint = "customer files are NAME.yaml; move other files out of the customers directory"
		return d, false
	}
	for i, r := range base {
		if r > unicode.MaxASCII {
			d.Message = fmt.Sprintf("file name has the non-ASCII character %U at byte %d", r, i)
			if look := asciiLookalike(r); look != 0 {
				d.Message += fmt.Sprintf(", which looks like %q", look)
			}
			d.Hint = "customer names are lower-case ASCII letters, digits and '-'"
			return d, false
		}
	}
	if !fileNameRE.MatchString(base) {
		d.Message = fmt.Sprintf("file name %q is not NAME.yaml with NAME a lower-case DNS label", base)
		d.Hint = "use lower-case letters, digits and '-', 3 to 32 characters"
		return d, false
	}
	return d, true
}

// asciiLookalike returns the ASCII letter a confusable character imitates.
func asciiLookalike(r rune) rune {
	switch r {
	case 'а', 'ɑ', 'α':
		return 'a'
	case 'е', 'ε':
		return 'e'
	case 'о', 'ο', 'օ':
		return 'o'
	case 'р', 'ρ':
		return 'p'
	case 'с', 'ϲ':
		return 'c'
	case 'х', 'χ':
		return 'x'
	case 'у':
		return 'y'
	case 'і', 'ı', 'ι':
		return 'i'
	case 'ј':
		return 'j'
	case 'ѕ':
		return 's'
	case 'ԁ':
		return 'd'
	case 'ո':
		return 'n'
	case 'ɡ':
		return 'g'
	case 'ⅼ', 'ӏ':
		return 'l'
	case '‐', '‑', '–', '−':
		return '-'
	}
	return 0
}

// evaluate runs the text, YAML and CUE checks of one file.
func (l *Loader) evaluate(f File) fileResult {
	data := f.Data
	if !utf8.Valid(data) {
		line, col := invalidUTF8Pos(data)
		return fileResult{diags: []Diagnostic{{File: f.Path, Line: line, Column: col, Message: "file is not valid UTF-8", Hint: "save the file as UTF-8"}}}
	}
	if i := bytes.IndexByte(data, '\t'); i >= 0 {
		line, col := offsetPos(data, i)
		return fileResult{diags: []Diagnostic{{File: f.Path, Line: line, Column: col, Message: "tab character", Hint: "YAML is indented with spaces; replace tabs with spaces"}}}
	}
	root, diags := parseYAML(f.Path, data)
	if diags != nil {
		return fileResult{diags: diags}
	}
	if diags := checkNodes(f.Path, root); diags != nil {
		return fileResult{diags: diags}
	}

	rules := append(l.unknownFields(f.Path, root, ""), l.checkRules(f.Path, root)...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evaluations++
	ast, err := cueyaml.Extract(f.Path, data)
	if err != nil {
		return fileDiag(f, "cannot read YAML: "+err.Error(), "")
	}
	v := l.ctx.BuildFile(ast)
	if err := v.Err(); err != nil {
		return fileResult{diags: mergeDiags(l.cueDiags(f.Path, root, err), rules)}
	}
	u := l.customer.Unify(v)
	if err := u.Validate(cue.Concrete(true), cue.Final()); err != nil {
		return fileResult{diags: mergeDiags(l.cueDiags(f.Path, root, err), rules)}
	}
	if rules != nil {
		return fileResult{diags: rules}
	}
	var c Customer
	if err := u.Decode(&c); err != nil {
		return fileResult{diags: l.cueDiags(f.Path, root, err)}
	}
	sum := sha256.Sum256(data)
	c.Source = Source{File: f.Path, Hash: hex.EncodeToString(sum[:])}
	c.Placement = l.regions[c.Region]
	c.Placement.ListPriceUSD = l.prices[c.Tier]
	c.Placement.Billing = l.billing[c.Tier]
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	return fileResult{customer: &c}
}

// mergeDiags adds the rule diagnostics for fields CUE did not already report.
func mergeDiags(cueDiags, rules []Diagnostic) []Diagnostic {
	have := map[string]bool{}
	for _, d := range cueDiags {
		have[d.Field] = true
	}
	for _, d := range rules {
		if !have[d.Field] {
			cueDiags = append(cueDiags, d)
		}
	}
	return cueDiags
}

// checkRules applies the rules that need the file name or parsed durations,
// which CUE cannot express with a useful message. It reads the YAML tree, so
// it runs even when CUE finds other errors.
func (l *Loader) checkRules(file string, root *yaml.Node) []Diagnostic {
	var diags []Diagnostic
	add := func(field, msg, hint string) {
		line, col := nodePos(root, field)
		diags = append(diags, Diagnostic{File: file, Line: line, Column: col, Field: field, Message: msg, Hint: hint})
	}
	stem := strings.TrimSuffix(strings.TrimSuffix(path.Base(file), ".yaml"), ".yml")
	if name, ok := scalarAt(root, "name"); ok && name != stem && customerRE.MatchString(name) {
		add("name", fmt.Sprintf("name %q does not match the file name %q", name, path.Base(file)), fmt.Sprintf("rename the file to %s.yaml or set name: %s", name, stem))
	}
	for _, field := range []string{"ingest", "relationship", "learning"} {
		s, ok := scalarAt(root, "agents."+field)
		if !ok {
			continue
		}
		d, err := time.ParseDuration(s)
		if floor := l.floors[field]; err == nil && d < floor {
			add("agents."+field, fmt.Sprintf("schedule %s is more often than the floor of %s", Duration{d}, Duration{floor}), fmt.Sprintf("use %s or longer", Duration{floor}))
		}
	}
	if s, ok := scalarAt(root, "compute.autoscale.cooldown"); ok {
		if d, err := time.ParseDuration(s); err == nil && d < time.Minute {
			add("compute.autoscale.cooldown", fmt.Sprintf("cooldown %s is shorter than 1m", Duration{d}), "scaling needs at least a minute to show its effect")
		}
	}
	emb, _ := scalarAt(root, "agents.embedder")
	_, hasURL := scalarAt(root, "agents.embeddingURL")
	_, hasModel := scalarAt(root, "agents.embeddingModel")
	if emb == "openai" && (!hasURL || !hasModel) {
		add("agents.embedder", `embedder "openai" needs embeddingURL and embeddingModel`, "set agents.embeddingURL (an OpenAI-compatible /v1/embeddings server) and agents.embeddingModel")
	}
	if emb != "openai" && (hasURL || hasModel) {
		add("agents.embeddingURL", `embeddingURL and embeddingModel are only used with embedder "openai"`, `set agents.embedder: openai or remove them`)
	}
	return diags
}

// nodeAt returns the value node at a dotted path of the YAML tree, and its key's position.
func nodeAt(root *yaml.Node, field string) (*yaml.Node, *yaml.Node, bool) {
	n, key := root, root
	for _, part := range strings.Split(field, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil, nil, false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				key, next = n.Content[i], n.Content[i+1]
			}
		}
		if next == nil {
			return nil, nil, false
		}
		n = next
	}
	return n, key, true
}

// unknownFields reports every key the schema does not allow. CUE reports a
// closedness error only while a struct has no other error, and all errors
// must be reported at once, so the loader walks the tree itself.
func (l *Loader) unknownFields(file string, n *yaml.Node, at string) []Diagnostic {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	allowed, known := l.fields[at]
	if !known {
		return nil
	}
	var diags []Diagnostic
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		field := k.Value
		if at != "" {
			field = at + "." + k.Value
		}
		if at == "labels" {
			if !labelKeyRE.MatchString(k.Value) {
				diags = append(diags, Diagnostic{File: file, Line: k.Line, Column: k.Column, Field: field,
					Message: fmt.Sprintf("invalid label key %q", k.Value), Hint: "label keys are up to 63 lower-case letters, digits, '.', '_' and '-'"})
			}
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			diags = append(diags, Diagnostic{File: file, Line: k.Line, Column: k.Column, Field: field,
				Message: fmt.Sprintf("unknown field %q", k.Value), Hint: l.didYouMean(at, k.Value)})
			continue
		}
		diags = append(diags, l.unknownFields(file, n.Content[i+1], field)...)
	}
	return diags
}

var labelKeyRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// scalarAt returns the scalar value at a dotted path of the YAML tree.
func scalarAt(root *yaml.Node, field string) (string, bool) {
	n, _, ok := nodeAt(root, field)
	if !ok || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

// parseYAML decodes exactly one YAML document.
func parseYAML(file string, data []byte) (*yaml.Node, []Diagnostic) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []Diagnostic{{File: file, Line: 1, Column: 1, Message: "file is empty", Hint: "a customer file needs at least name, displayName, owner and tier"}}
		}
		return nil, []Diagnostic{yamlErrorDiag(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, []Diagnostic{{File: file, Line: max(extra.Line-1, 1), Column: 1, Message: "more than one YAML document", Hint: "one customer per file; remove the '---' separator and split the file"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, []Diagnostic{yamlErrorDiag(file, err)}
	}
	if len(doc.Content) == 0 {
		return nil, []Diagnostic{{File: file, Line: 1, Column: 1, Message: "file is empty", Hint: "a customer file needs at least name, displayName, owner and tier"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, []Diagnostic{{File: file, Line: root.Line, Column: root.Column, Message: "a customer file is a mapping of fields", Hint: "start with 'name: ...'"}}
	}
	return root, nil
}

func yamlErrorDiag(file string, err error) Diagnostic {
	msg := err.Error()
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &line)
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return Diagnostic{File: file, Line: line, Column: 1, Message: "invalid YAML: " + msg}
}

// checkNodes refuses anchors, aliases and merge keys (alias bombs, and
// nothing a customer file needs) and duplicate keys.
func checkNodes(file string, n *yaml.Node) []Diagnostic {
	var diags []Diagnostic
	sawAlias := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			// One report is enough: an alias bomb has thousands.
			if !sawAlias {
				sawAlias = true
				diags = append(diags, Diagnostic{File: file, Line: n.Line, Column: n.Column, Message: "YAML anchors and aliases are not allowed", Hint: "write the value out in full"})
			}
			return
		}
		if n.Kind == yaml.MappingNode {
			seen := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Tag == "!!merge" {
					diags = append(diags, Diagnostic{File: file, Line: k.Line, Column: k.Column, Message: "YAML merge keys (<<) are not allowed", Hint: "write the fields out in full"})
					continue
				}
				if k.Kind != yaml.ScalarNode {
					diags = append(diags, Diagnostic{File: file, Line: k.Line, Column: k.Column, Message: "mapping keys must be plain strings"})
					continue
				}
				if prev, dup := seen[k.Value]; dup {
					diags = append(diags, Diagnostic{File: file, Line: k.Line, Column: k.Column, Field: k.Value, Message: fmt.Sprintf("duplicate key %q (first defined on line %d)", k.Value, prev), Hint: "keep one of them"})
					continue
				}
				seen[k.Value] = k.Line
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return diags
}

// tierBound lists the fields whose defaults and bounds come from the tier;
// while the tier is invalid their errors are only echoes of that one.
var tierBound = map[string]bool{
	"compute.serverType": true, "compute.minServers": true, "compute.maxServers": true,
	"compute.minWorkers": true, "compute.maxWorkers": true,
	"storage.initialGB": true, "storage.maxGB": true,
}

// cueDiags turns CUE's errors into diagnostics positioned in the YAML file.
// CUE reports a value that fails `*default | T` once per branch; those
// echoes are folded so each field gets one message.
func (l *Loader) cueDiags(file string, root *yaml.Node, err error) []Diagnostic {
	type item struct {
		field, msg string
		line, col  int
	}
	var items []item
	byField := map[string][]int{}
	for _, e := range cueerrors.Errors(err) {
		parts := e.Path()
		if len(parts) > 0 && parts[0] == "#Customer" {
			parts = parts[1:]
		}
		for i, p := range parts {
			if u, err := strconv.Unquote(p); err == nil {
				parts[i] = u
			}
		}
		field := strings.Join(parts, ".")
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if strings.Contains(msg, "errors in empty disjunction") {
			continue
		}
		it := item{field: field, msg: msg}
		for _, p := range cueerrors.Positions(e) {
			if p.Filename() == file {
				it.line, it.col = p.Line(), p.Column()
				break
			}
		}
		byField[field] = append(byField[field], len(items))
		items = append(items, it)
	}
	_, tierBad := byField["tier"]
	// A field the file does not set can only fail through another field's
	// error (a cross-field bound); report that one alone.
	written := func(it item) bool {
		_, _, ok := nodeAt(root, it.field)
		return ok || strings.Contains(it.msg, "incomplete value") || len(items) == 1
	}

	var diags []Diagnostic
	seen := map[string]bool{}
	for _, it := range items {
		if (tierBad && tierBound[it.field]) || !written(it) {
			continue
		}
		msg, hint := it.msg, ""
		if strings.HasPrefix(msg, "conflicting values") {
			// Keep a branch conflict only when the field has nothing better.
			better := false
			for _, j := range byField[it.field] {
				if !strings.HasPrefix(items[j].msg, "conflicting values") {
					better = true
				}
			}
			if better {
				continue
			}
			if m := mismatchRE.FindStringSubmatch(msg); m != nil {
				got := yamlKind(root, it.field)
				want := m[1]
				if sameKind(want, got) {
					want = m[2]
				}
				msg = fmt.Sprintf("expected %s, got %s %s", want, got, valueAt(root, it.field))
			} else {
				msg = "invalid value " + valueAt(root, it.field)
			}
		}
		line, col := it.line, it.col
		switch {
		case strings.Contains(msg, "field not allowed"):
			parent, name := splitField(it.field)
			msg = fmt.Sprintf("unknown field %q", name)
			hint = l.didYouMean(parent, name)
			if parent == "labels" {
				msg = fmt.Sprintf("invalid label key %q", name)
				hint = "label keys are up to 63 lower-case letters, digits, '.', '_' and '-'"
			}
		case strings.Contains(msg, "incomplete value") || strings.Contains(msg, "non-concrete value"):
			msg = "required field is missing"
			hint = "add " + it.field + " to the file"
			if line == 0 {
				line, col = nodePos(root, parentOf(it.field))
			}
		default:
			msg, hint = l.explain(root, it.field, msg)
		}
		if it.field == "tier" && len(items) > len(byField["tier"]) {
			hint += "; errors that depend on the tier are shown once it is valid"
		}
		if line == 0 {
			line, col = nodePos(root, it.field)
		}
		d := Diagnostic{File: file, Line: line, Column: col, Field: it.field, Message: msg, Hint: hint}
		if k := d.String(); !seen[k] {
			seen[k] = true
			diags = append(diags, d)
		}
	}
	if len(diags) == 0 {
		diags = append(diags, Diagnostic{File: file, Line: 1, Column: 1, Message: err.Error()})
	}
	return diags
}

// yamlKind names the CUE kind of the YAML value at field.
func yamlKind(root *yaml.Node, field string) string {
	n, _, ok := nodeAt(root, field)
	switch {
	case !ok:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "struct"
	case n.Kind == yaml.SequenceNode:
		return "list"
	}
	switch n.ShortTag() {
	case "!!int":
		return "int"
	case "!!float":
		return "float"
	case "!!bool":
		return "bool"
	case "!!null":
		return "null"
	}
	return "string"
}

func sameKind(a, b string) bool {
	num := func(k string) bool { return k == "int" || k == "float" || k == "number" }
	return a == b || (num(a) && num(b))
}

// valueAt returns the YAML text of a field's value, quoted, for messages.
func valueAt(root *yaml.Node, field string) string {
	if v, ok := scalarAt(root, field); ok {
		return fmt.Sprintf("%q", v)
	}
	return "(not a single value)"
}

// crossField names the field a bound comes from, for messages.
var crossField = map[string]string{
	"compute.minServers":           "compute.maxServers",
	"compute.minWorkers":           "compute.maxWorkers",
	"storage.initialGB":            "storage.maxGB",
	"compute.autoscale.cpuPercent": "compute.autoscale.lowWaterPercent",
}

var (
	boundRE    = regexp.MustCompile(`^invalid value (\S+) \(out of bound ([<>]=?)(-?[0-9.]+)\)$`)
	patternRE  = regexp.MustCompile(`^invalid value (.+) \(out of bound !?=~.*\)$`)
	mismatchRE = regexp.MustCompile(`mismatched types (\w+) and (\w+)`)
)

// explain rewords CUE's constraint messages and adds what is allowed.
func (l *Loader) explain(root *yaml.Node, field, msg string) (string, string) {
	msg = strings.TrimSpace(msg)
	if m := boundRE.FindStringSubmatch(msg); m != nil {
		other, isCross := crossField[field]
		otherVal, _ := scalarAt(root, other)
		switch {
		case isCross && (otherVal == m[3] || otherVal == ""):
			_, otherName := splitField(other)
			msg = fmt.Sprintf("must be %s %s (%s), got %s", m[2], otherName, m[3], m[1])
		case strings.HasPrefix(m[2], "<"):
			msg = fmt.Sprintf("%s is above the limit of %s", m[1], m[3])
		default:
			msg = fmt.Sprintf("%s is below the minimum of %s", m[1], m[3])
		}
	}
	if m := patternRE.FindStringSubmatch(msg); m != nil {
		msg = "invalid value " + m[1]
	}
	tier, _ := scalarAt(root, "tier")
	switch field {
	case "name":
		return msg, "a lower-case DNS label of 3 to 32 characters, equal to the file name"
	case "tier":
		return msg, "one of casual, pro, enterprise"
	case "region":
		names := make([]string, 0, len(l.regions))
		for k := range l.regions {
			names = append(names, k)
		}
		sort.Strings(names)
		return msg, "one of " + strings.Join(names, ", ")
	case "owner":
		return msg, "an email address such as ops@example.com"
	case "displayName":
		return msg, "1 to 80 characters, not starting with a space"
	case "compute.serverType":
		return msg, fmt.Sprintf("tier %s allows %s", tier, strings.Join(l.types[Tier(tier)], ", "))
	case "compute.minServers", "compute.maxServers", "compute.minWorkers", "compute.maxWorkers":
		return msg, fmt.Sprintf("1 <= min <= max <= the %s tier's limit", tier)
	case "storage.initialGB", "storage.maxGB":
		return msg, fmt.Sprintf("10 <= initialGB <= maxGB <= the %s tier's limit", tier)
	}
	if strings.HasPrefix(field, "agents.") || strings.HasSuffix(field, "cooldown") {
		return msg, `a duration such as "5s", "30m" or "2h"`
	}
	if strings.HasPrefix(field, "labels.") {
		return msg, "label values are up to 63 letters, digits, '.', '_' and '-', starting and ending with a letter or digit"
	}
	return msg, ""
}

func (l *Loader) didYouMean(parent, name string) string {
	best, bestD := "", 1<<30
	for _, cand := range l.fields[parent] {
		d := levenshtein.ComputeDistance(strings.ToLower(name), strings.ToLower(cand))
		if d < bestD {
			best, bestD = cand, d
		}
	}
	allowed := strings.Join(l.fields[parent], ", ")
	if best != "" && bestD <= max(2, len(name)/3) {
		return fmt.Sprintf("did you mean %q? allowed here: %s", best, allowed)
	}
	if allowed == "" {
		return ""
	}
	return "allowed here: " + allowed
}

func splitField(field string) (parent, name string) {
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		return field[:i], field[i+1:]
	}
	return "", field
}

func parentOf(field string) string { p, _ := splitField(field); return p }

// nodePos finds the line and column of a dotted field path in the YAML tree,
// falling back to the nearest existing parent.
func nodePos(root *yaml.Node, field string) (int, int) {
	n := root
	line, col := root.Line, root.Column
	if field == "" {
		return line, col
	}
	for _, part := range strings.Split(field, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			break
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line, col = n.Content[i].Line, n.Content[i].Column
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			break
		}
		n = next
		if n.Kind == yaml.ScalarNode {
			line, col = n.Line, n.Column
		}
	}
	return line, col
}

func offsetPos(data []byte, off int) (int, int) {
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, utf8.RuneCount(data[start:off]) + 1
}

func invalidUTF8Pos(data []byte) (int, int) {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return offsetPos(data, i)
		}
		i += size
	}
	return 1, 1
}
