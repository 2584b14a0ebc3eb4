package agents

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Relationship is the relationship agent. One Run rebuilds the customer's
// knowledge graph from the chunks in the vector store with MERGE semantics
// (a rerun creates nothing new):
//   - Document and Chunk nodes, PART_OF and NEXT_CHUNK edges;
//   - Entity nodes (see Entities) merged by CanonicalKey, HAS_ENTITY edges;
//   - RELATED_TO edges between entities that co-occur in at least
//     MinCooccur chunks, with confidence from their NPMI;
//   - typed edges (LEADS, WORKS_FOR, ACQUIRED, LOCATED_IN, PARTNER_OF,
//     IS_A) from Hearst-style patterns;
//   - SIMILAR edges between chunks of different documents whose sparse
//     cosine similarity reaches SimilarThreshold (at most SimilarPerChunk
//     per chunk), computed for documents changed since the last run;
//   - when Chat is set, the model's entities and typed relations for the
//     chunks of changed documents, merged by CanonicalKey (see
//     relationship_chat.go for the confidence rule); a chunk whose call
//     fails keeps its heuristic entities and is counted in the Report.
//
// Every edge carries a confidence, a count and evidence (chunk ids).
type Relationship struct {
	*Deps
	Chat             ChatExtractor // optional chat model; nil = heuristics only, no HTTP call
	MaxChatChunks    int           // chunks sent to Chat per run, default 200
	ChatConcurrency  int           // Chat calls in flight, default 2
	MinCooccur       int           // default 2
	MinNPMI          float64       // default 0.1
	SimilarThreshold float64       // default 0.45
	SimilarPerChunk  int           // default 3
	MaxSimilarChunks int           // chunks compared per run, default 5000
}

// Relationship report counts.
const (
	CountDocuments = "documents"
	CountEntities  = "entities"
	CountMentions  = "mentions"
	CountRelated   = "related_edges"
	CountTyped     = "typed_edges"
	CountSimilar   = "similar_edges"
)

type relPattern struct {
	re      *regexp.Regexp
	rel     string
	reverse bool // the second mention is the subject
	name    string
}

var relPatterns = []relPattern{
	{regexp.MustCompile(`^,?\s+(?:the\s+)?(?:CEO|chief executive(?: officer)?|founder|co-founder|president|managing director|chair(?:man|woman)?)\s+(?:of|at)\s+$`), RelLeads, false, "X, CEO of Y"},
	{regexp.MustCompile(`^\s+(?:founded|leads|runs|heads)\s+$`), RelLeads, false, "X leads Y"},
	{regexp.MustCompile(`^,\s+(?:an?\s+|the\s+)?(?:CTO|CFO|COO|(?:[a-z]+\s){0,2}(?:manager|director|engineer|analyst|consultant|lead|developer|officer|adviser|advisor|specialist|head))\s+(?:at|for|of)\s+$`), RelWorksFor, false, "X, role at Y"},
	{regexp.MustCompile(`^\s+(?:works|worked|working|is employed)\s+(?:at|for|by)\s+$`), RelWorksFor, false, "X works at Y"},
	{regexp.MustCompile(`^\s+(?:joined|rejoined)\s+$`), RelWorksFor, false, "X joined Y"},
	{regexp.MustCompile(`^\s+(?:has\s+|have\s+)?(?:acquired|bought|purchased|took over|takes over)\s+(?:the\s+)?$`), RelAcquired, false, "X acquired Y"},
	{regexp.MustCompile(`^'?s?\s+acquisition of\s+$`), RelAcquired, false, "X's acquisition of Y"},
	{regexp.MustCompile(`^\s+(?:was|has been|is being|were)\s+acquired\s+by\s+$`), RelAcquired, true, "Y was acquired by X"},
	{regexp.MustCompile(`^,?\s+(?:is\s+|are\s+|was\s+)?(?:headquartered|based|located)\s+in\s+$`), RelLocatedIn, false, "X based in Y"},
	{regexp.MustCompile(`^\s+(?:opened|opens|runs|operates)\s+(?:an?\s+|its\s+)?(?:new\s+)?(?:office|warehouse|site|plant|factory|branch|data centre|data center)\s+in\s+$`), RelLocatedIn, false, "X opened an office in Y"},
	{regexp.MustCompile(`^\s+(?:partnered|partners|teamed up|signed a partnership|is partnering)\s+with\s+$`), RelPartnerOf, false, "X partnered with Y"},
}

var reSuchAs = regexp.MustCompile(`\b([a-z]{3,}s)\s*,?\s+(?:such as|including|like)\s+`)

func singular(w string) string {
	switch {
	case strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "ches"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss"):
		return w[:len(w)-1]
	}
	return w
}

type chunkRec struct {
	id, doc string
	chunk   int
	text    string
	section string
	norm    float64
}

type edgeAcc struct {
	edge     Edge
	count    int
	evidence []string
	conf     float64
}

func (a *edgeAcc) add(chunkID string, conf float64) {
	a.count++
	if len(a.evidence) < MaxEvidence && (len(a.evidence) == 0 || a.evidence[len(a.evidence)-1] != chunkID) {
		a.evidence = append(a.evidence, chunkID)
	}
	a.conf = math.Max(a.conf, conf)
}

// Run implements one relationship run: read every chunk, build the graph
// in memory (documents and chunks, entities and their mentions,
// co-occurrence, patterns, the chat model's findings, similarity of
// changed documents), then merge it into the graph store and clear the
// dirty marks it consumed.
func (a *Relationship) Run(ctx context.Context, customer string) (Report, error) {
	rep := newReport("relationship", customer, a.now())
	defer func() { rep.Duration = time.Since(rep.Started) }()
	if err := ValidateCustomer(customer); err != nil {
		return rep, err
	}
	chunks, titles, err := a.readChunks(ctx, customer)
	if err != nil {
		return rep, err
	}
	g := newGraphBuild(&rep, a.MinCooccur, a.MinNPMI)
	g.structure(chunks, titles)
	mentions, err := g.mentions(ctx, chunks)
	if err != nil {
		return rep, err
	}
	chatOuts, chatPending, err := a.chatExtract(ctx, customer, chunks, &rep)
	if err != nil {
		return rep, err
	}
	for _, o := range chatOuts {
		for _, m := range o.mentions {
			g.noteEntity(m)
			rep.Counts[CountChatEntities]++
		}
	}
	for ci, c := range chunks {
		g.scanChunk(c, mentions[ci], chatOuts[ci].mentions)
	}
	g.entityNodes()
	g.relatedEdges(len(chunks))
	if a.Chat != nil {
		g.edges = append(g.edges, chatEdges(a.Chat.Name(), chunks, chatOuts, g.typed, g.cooccur, &rep)...)
	}
	g.typedEdges()
	sim, dirty, err := a.similar(ctx, customer, chunks)
	if err != nil {
		return rep, err
	}
	g.edges = append(g.edges, sim...)
	rep.Counts[CountSimilar] = len(sim)
	if err := a.write(ctx, customer, g.nodes, g.edges, dirty, chatPending); err != nil {
		return rep, err
	}
	a.log().Debug("relationship run", LogCustomer, customer, "report", rep.String())
	return rep, nil
}

// readChunks scrolls every chunk of the customer's collection, in document
// and chunk order, and each document's title and MIME type.
func (a *Relationship) readChunks(ctx context.Context, customer string) ([]chunkRec, map[string][2]string, error) {
	var chunks []chunkRec
	titles := map[string][2]string{}
	off := ""
	for {
		pts, next, err := a.Vectors.Scroll(ctx, customer, ScrollOptions{Offset: off, Limit: 512})
		if err != nil {
			return nil, nil, fmt.Errorf("scroll chunks: %w", err)
		}
		for _, p := range pts {
			n, _ := strconv.ParseFloat(p.Payload["norm"], 64)
			chunks = append(chunks, chunkRec{id: p.ID, doc: p.Document, chunk: p.Chunk, text: p.Text, section: p.Payload["section"], norm: n})
			titles[p.Document] = [2]string{p.Payload["title"], p.Payload["mime"]}
		}
		if next == "" {
			break
		}
		off = next
	}
	sort.Slice(chunks, func(i, j int) bool {
		if chunks[i].doc != chunks[j].doc {
			return chunks[i].doc < chunks[j].doc
		}
		return chunks[i].chunk < chunks[j].chunk
	})
	return chunks, titles, nil
}

// write merges nodes before edges (an edge needs both ends) in batches,
// then clears the dirty marks of documents whose similarity is now
// current, except those the chat model has not finished.
func (a *Relationship) write(ctx context.Context, customer string, nodes []Node, edges []Edge, dirty []string, chatPending map[string]bool) error {
	const batch = 500
	for i := 0; i < len(nodes); i += batch {
		if err := a.Graph.MergeNodes(ctx, customer, nodes[i:min(i+batch, len(nodes))]); err != nil {
			return fmt.Errorf("merge nodes: %w", err)
		}
	}
	for i := 0; i < len(edges); i += batch {
		if err := a.Graph.MergeEdges(ctx, customer, edges[i:min(i+batch, len(edges))]); err != nil {
			return fmt.Errorf("merge edges: %w", err)
		}
	}
	return a.State.Update(ctx, customer, func(w StateWriter) error {
		for _, d := range dirty {
			if chatPending[d] {
				continue // chunks left for the chat model's next run
			}
			if err := w.Delete(bucketDirty, d); err != nil {
				return err
			}
		}
		return nil
	})
}

// entityAcc gathers what the run learns of one entity over all its
// mentions: its surface forms, strongest kind and best confidence.
type entityAcc struct {
	names map[string]int
	kind  string
	conf  float64
}

// kindRank orders kinds from vaguest to most specific; an entity takes
// the most specific kind any of its mentions has.
var kindRank = map[string]int{KindName: 0, KindConcept: 1, KindPlace: 2, KindPerson: 2, KindOrg: 3, KindEmail: 4, KindURL: 4, KindDate: 4, KindAmount: 4}

// graphBuild is one run's graph under construction.
type graphBuild struct {
	rep           *Report
	minCo         int
	minNPMI       float64
	nodes         []Node
	edges         []Edge
	ents          map[string]*entityAcc
	entCount      map[string]int // chunks mentioning the entity
	pairCount     map[[2]string]*edgeAcc
	typed, hasEnt map[string]*edgeAcc
}

func newGraphBuild(rep *Report, minCo int, minNPMI float64) *graphBuild {
	if minCo <= 0 {
		minCo = 2
	}
	if minNPMI == 0 {
		minNPMI = 0.1
	}
	return &graphBuild{rep: rep, minCo: minCo, minNPMI: minNPMI,
		ents: map[string]*entityAcc{}, entCount: map[string]int{}, pairCount: map[[2]string]*edgeAcc{},
		typed: map[string]*edgeAcc{}, hasEnt: map[string]*edgeAcc{}}
}

// structure adds the document and chunk nodes with PART_OF and NEXT_CHUNK
// edges.
func (g *graphBuild) structure(chunks []chunkRec, titles map[string][2]string) {
	for doc, tm := range titles {
		g.nodes = append(g.nodes, Node{Label: LabelDocument, Key: doc, Props: map[string]string{"document": doc, "title": tm[0], "mime": tm[1]}})
	}
	g.rep.Counts[CountDocuments] = len(titles)
	for i, c := range chunks {
		g.nodes = append(g.nodes, Node{Label: LabelChunk, Key: c.id, Props: map[string]string{"document": c.doc, "chunk": strconv.Itoa(c.chunk), "section": c.section, "preview": snippet(c.text, 120)}})
		g.edges = append(g.edges, Edge{Type: RelPartOf, From: NodeRef{LabelChunk, c.id}, To: NodeRef{LabelDocument, c.doc}, Confidence: 1, Count: 1})
		if i > 0 && chunks[i-1].doc == c.doc {
			g.edges = append(g.edges, Edge{Type: RelNextChunk, From: NodeRef{LabelChunk, chunks[i-1].id}, To: NodeRef{LabelChunk, c.id}, Confidence: 1, Count: 1})
		}
	}
}

// mentions extracts every chunk's entity mentions and notes the entities.
func (g *graphBuild) mentions(ctx context.Context, chunks []chunkRec) ([][]Mention, error) {
	out := make([][]Mention, len(chunks))
	for i, c := range chunks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i] = Entities(c.text)
		for _, m := range out[i] {
			g.noteEntity(m)
		}
	}
	return out, nil
}

func (g *graphBuild) noteEntity(m Mention) {
	e := g.ents[m.Key]
	if e == nil {
		e = &entityAcc{names: map[string]int{}, kind: m.Kind}
		g.ents[m.Key] = e
	}
	e.names[m.Name]++
	if kindRank[m.Kind] > kindRank[e.kind] {
		e.kind = m.Kind
	}
	e.conf = math.Max(e.conf, m.Confidence)
}

func (g *graphBuild) addTyped(rel string, from, to Mention, chunkID, pattern string, conf float64) {
	if from.Key == to.Key {
		return
	}
	k := from.Key + "\x00" + rel + "\x00" + to.Key
	acc := g.typed[k]
	if acc == nil {
		acc = &edgeAcc{edge: Edge{Type: rel, From: NodeRef{LabelEntity, from.Key}, To: NodeRef{LabelEntity, to.Key}, Props: map[string]string{"pattern": pattern}}}
		g.typed[k] = acc
	}
	acc.add(chunkID, conf)
}

func (g *graphBuild) hasEntity(chunkID, entity string) *edgeAcc {
	k := chunkID + "\x00" + entity
	acc := g.hasEnt[k]
	if acc == nil {
		acc = &edgeAcc{edge: Edge{Type: RelHasEntity, From: NodeRef{LabelChunk, chunkID}, To: NodeRef{LabelEntity, entity}}}
		g.hasEnt[k] = acc
	}
	return acc
}

// cooccur reports whether two entities co-occur in enough chunks to count.
func (g *graphBuild) cooccur(k1, k2 string) bool {
	if k1 > k2 {
		k1, k2 = k2, k1
	}
	pc := g.pairCount[[2]string{k1, k2}]
	return pc != nil && pc.count >= g.minCo
}

// scanChunk records one chunk's mentions (HAS_ENTITY), its entity pairs
// for co-occurrence, the typed patterns between consecutive mentions and
// Hearst patterns. Patterns use the entity's kind over all its mentions
// ("Lumen Freight GmbH" somewhere makes every "Lumen Freight" an org).
func (g *graphBuild) scanChunk(c chunkRec, ms, chatMentions []Mention) {
	for i := range ms {
		if e := g.ents[ms[i].Key]; e != nil {
			ms[i].Kind = e.kind
		}
	}
	inChunk := map[string]bool{}
	for _, m := range ms {
		g.rep.Counts[CountMentions]++
		g.hasEntity(c.id, m.Key).add(c.id, m.Confidence)
		if m.Kind != KindDate && m.Kind != KindAmount {
			inChunk[m.Key] = true
		}
	}
	// Model mentions get HAS_ENTITY edges but stay out of the NPMI
	// counts, which remain comparable between runs with and without
	// the model (and corroborate its relations independently).
	for _, m := range chatMentions {
		acc := g.hasEntity(c.id, m.Key)
		if acc.count == 0 || acc.evidence[len(acc.evidence)-1] != c.id {
			acc.add(c.id, m.Confidence)
		}
	}
	g.countPairs(c.id, inChunk)
	g.patterns(c, ms)
	g.hearst(c, ms)
}

func (g *graphBuild) countPairs(chunkID string, inChunk map[string]bool) {
	keys := make([]string, 0, len(inChunk))
	for k := range inChunk {
		keys = append(keys, k)
		g.entCount[k]++
	}
	sort.Strings(keys)
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			p := [2]string{keys[i], keys[j]}
			acc := g.pairCount[p]
			if acc == nil {
				acc = &edgeAcc{}
				g.pairCount[p] = acc
			}
			acc.add(chunkID, 0)
		}
	}
}

// patterns matches the text between consecutive mentions against the
// typed relation patterns; the first that matches wins.
func (g *graphBuild) patterns(c chunkRec, ms []Mention) {
	for i := 0; i+1 < len(ms); i++ {
		m1, m2 := ms[i], ms[i+1]
		if m2.Start < m1.End || m2.Start-m1.End > 80 {
			continue
		}
		between := c.text[m1.End:m2.Start]
		for _, p := range relPatterns {
			if !p.re.MatchString(between) {
				continue
			}
			from, to := m1, m2
			if p.reverse {
				from, to = m2, m1
			}
			if (p.rel == RelWorksFor || p.rel == RelLeads) && (from.Kind == KindOrg || from.Kind == KindPlace || to.Kind == KindPlace) {
				continue
			}
			g.addTyped(p.rel, from, to, c.id, p.name, 0.8)
			break
		}
	}
}

// hearst: "CLASSes such as X, Y and Z" → X IS_A class.
func (g *graphBuild) hearst(c chunkRec, ms []Mention) {
	for _, loc := range reSuchAs.FindAllStringSubmatchIndex(c.text, -1) {
		class := singular(c.text[loc[2]:loc[3]])
		end := len(c.text)
		if dot := strings.IndexAny(c.text[loc[1]:], ".;:\n"); dot >= 0 {
			end = loc[1] + dot
		}
		cm := Mention{Key: class, Name: class, Kind: KindConcept, Confidence: 0.7}
		added := false
		for _, m := range ms {
			if m.Start >= loc[1] && m.End <= end && m.Kind != KindDate && m.Kind != KindAmount {
				if !added {
					g.noteEntity(cm)
					added = true
				}
				g.addTyped(RelIsA, m, cm, c.id, "Ys such as X", 0.75)
			}
		}
	}
}

// entityNodes adds one node per entity, named by its most frequent surface
// form, and the HAS_ENTITY edges.
func (g *graphBuild) entityNodes() {
	for key, e := range g.ents {
		best, bn := "", -1
		for n, c := range e.names {
			if c > bn || c == bn && n < best {
				best, bn = n, c
			}
		}
		g.nodes = append(g.nodes, Node{Label: LabelEntity, Key: key, Props: map[string]string{"name": best, "kind": e.kind, "confidence": strconv.FormatFloat(e.conf, 'f', 2, 64)}})
	}
	g.rep.Counts[CountEntities] = len(g.ents)
	for _, acc := range g.hasEnt {
		e := acc.edge
		e.Confidence, e.Count, e.Evidence = acc.conf, acc.count, acc.evidence
		g.edges = append(g.edges, e)
	}
}

// relatedEdges links entity pairs whose co-occurrence over chunks has an
// NPMI of at least minNPMI, with a confidence that grows with the count.
func (g *graphBuild) relatedEdges(chunks int) {
	n := float64(chunks)
	for p, acc := range g.pairCount {
		if acc.count < g.minCo {
			continue
		}
		p12 := float64(acc.count) / n
		p1, p2 := float64(g.entCount[p[0]])/n, float64(g.entCount[p[1]])/n
		var npmi float64
		if p12 >= 1 {
			npmi = 1
		} else {
			npmi = math.Log(p12/(p1*p2)) / -math.Log(p12)
		}
		if npmi < g.minNPMI {
			continue
		}
		conf := npmi * (1 - math.Exp(-float64(acc.count)/3))
		g.edges = append(g.edges, Edge{Type: RelRelatedTo, From: NodeRef{LabelEntity, p[0]}, To: NodeRef{LabelEntity, p[1]},
			Confidence: round(conf), Count: acc.count, Evidence: acc.evidence,
			Props: map[string]string{"npmi": strconv.FormatFloat(npmi, 'f', 3, 64), "method": "co-occurrence"}})
		g.rep.Counts[CountRelated]++
	}
}

// typedEdges emits the pattern edges; repetition and co-occurrence
// elsewhere strengthen them, up to a ceiling below certainty.
func (g *graphBuild) typedEdges() {
	for _, acc := range g.typed {
		e := acc.edge
		e.Count, e.Evidence = acc.count, acc.evidence
		e.Confidence = math.Min(0.95, acc.conf+0.05*float64(acc.count-1))
		if g.cooccur(e.From.Key, e.To.Key) {
			e.Confidence = math.Min(0.98, e.Confidence+0.03)
		}
		e.Confidence = round(e.Confidence)
		g.edges = append(g.edges, e)
		g.rep.Counts[CountTyped]++
	}
}

// similar computes SIMILAR edges for the chunks of dirty documents.
func (a *Relationship) similar(ctx context.Context, customer string, chunks []chunkRec) ([]Edge, []string, error) {
	thr, per, maxChunks := a.SimilarThreshold, a.SimilarPerChunk, a.MaxSimilarChunks
	if thr <= 0 {
		thr = 0.45
	}
	if per <= 0 {
		per = 3
	}
	if maxChunks <= 0 {
		maxChunks = 5000
	}
	var dirty []string
	if err := a.State.Scan(ctx, customer, bucketDirty, "", func(k string, _ []byte) (bool, error) {
		dirty = append(dirty, k)
		return true, nil
	}); err != nil {
		return nil, nil, err
	}
	norms := map[string]float64{}
	for _, c := range chunks {
		norms[c.id] = c.norm
	}
	var out []Edge
	done := []string{}
	budget := maxChunks
	for _, doc := range dirty {
		if budget <= 0 {
			break
		}
		pts, _, err := a.Vectors.Scroll(ctx, customer, ScrollOptions{Filter: Filter{Must: []Match{{Key: "document", Value: doc}}}, Limit: 10000, WithVectors: true})
		if err != nil {
			return nil, nil, fmt.Errorf("scroll %q: %w", doc, err)
		}
		for _, p := range pts {
			budget--
			na := norms[p.ID]
			if na == 0 || len(p.Sparse.Indices) == 0 {
				continue
			}
			hits, err := a.Vectors.Search(ctx, customer, SearchQuery{Sparse: p.Sparse, Limit: per + 8,
				Filter: Filter{MustNot: []Match{{Key: "document", Value: doc}}}})
			if err != nil {
				return nil, nil, fmt.Errorf("similarity search: %w", err)
			}
			k := 0
			for _, h := range hits {
				nb := norms[h.Point.ID]
				if nb == 0 {
					continue
				}
				cos := float64(h.Score) / (na * nb)
				if cos < thr {
					break
				}
				out = append(out, Edge{Type: RelSimilar, From: NodeRef{LabelChunk, p.ID}, To: NodeRef{LabelChunk, h.Point.ID},
					Confidence: round(math.Min(cos, 1)), Count: 1, Evidence: []string{p.ID, h.Point.ID},
					Props: map[string]string{"method": "sparse-cosine"}})
				if k++; k == per {
					break
				}
			}
		}
		done = append(done, doc)
	}
	return out, done, nil
}
