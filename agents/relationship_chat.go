package agents

import (
	"context"
	"math"
	"strings"
	"sync"

	"github.com/agentvdc/agentvdc/agents/llm"
)

// ChatExtractor is an optional chat model that reads a chunk and names its
// entities and typed relations (llm.Client against an OpenAI-compatible
// /v1/chat/completions endpoint).
type ChatExtractor interface {
	Name() string
	Extract(ctx context.Context, text string) (llm.Extraction, error)
}

// Chat-model report counts (present only when Relationship.Chat is set).
const (
	CountChatChunks    = "chat_chunks"            // chunks the model answered for
	CountChatFailed    = "chat_failures"          // chunks whose call failed or was malformed (heuristics only)
	CountChatEntities  = "chat_entities"          // entity mentions the model added
	CountChatTyped     = "chat_typed_edges"       // typed edges found by the model (new or corroborating)
	CountChatDropped   = "chat_dropped_relations" // relations of unknown type or naming text not in the chunk
	CountChatSkipped   = "chat_skipped_chunks"    // dirty chunks left for a later run (MaxChatChunks)
	chatDefaultMax     = 200
	chatDefaultWorkers = 2
)

// Confidence of model output. A model-only typed edge starts at
// chatEdgeConf, below the 0.8 of a typed-pattern edge; when the heuristic
// entities of both ends co-occur in at least MinCooccur chunks (NPMI
// counting) it is corroborated and starts at the pattern level, 0.8. Either
// way each further supporting chunk adds 0.05 (capped at 0.7 uncorroborated,
// 0.95 corroborated). An edge found by both a pattern and the model keeps the
// pattern's confidence plus 0.05 and both sources' evidence.
const (
	chatEntityConf      = 0.6
	chatEdgeConf        = 0.6
	chatEdgeConfMax     = 0.7
	chatCorroborated    = 0.8
	chatCorroboratedMax = 0.95
)

// chatKinds maps model entity types onto entity kinds.
var chatKinds = map[string]string{
	"person": KindPerson, "people": KindPerson, "org": KindOrg, "organization": KindOrg, "organisation": KindOrg,
	"company": KindOrg, "place": KindPlace, "location": KindPlace, "city": KindPlace, "country": KindPlace,
	"email": KindEmail, "url": KindURL, "date": KindDate, "amount": KindAmount, "money": KindAmount,
	"concept": KindConcept,
}

// chatRelTypes maps model relation types onto the whitelisted types the
// model may produce; structural types (PART_OF, HAS_ENTITY, ...) and
// anything else are dropped.
var chatRelTypes = map[string]string{
	"WORKS_FOR": RelWorksFor, "WORKS_AT": RelWorksFor, "EMPLOYED_BY": RelWorksFor, "EMPLOYEE_OF": RelWorksFor,
	"LEADS": RelLeads, "CEO_OF": RelLeads, "HEADS": RelLeads, "FOUNDED": RelLeads, "RUNS": RelLeads,
	"ACQUIRED": RelAcquired, "ACQUIRES": RelAcquired, "BOUGHT": RelAcquired,
	"LOCATED_IN": RelLocatedIn, "BASED_IN": RelLocatedIn, "HEADQUARTERED_IN": RelLocatedIn,
	"PARTNER_OF": RelPartnerOf, "PARTNERED_WITH": RelPartnerOf, "PARTNERS_WITH": RelPartnerOf,
	"IS_A": RelIsA, "INSTANCE_OF": RelIsA, "TYPE_OF": RelIsA,
}

func chatRelType(t string) string {
	t = strings.ToUpper(strings.TrimSpace(t))
	t = strings.NewReplacer(" ", "_", "-", "_").Replace(t)
	return chatRelTypes[t]
}

// chatRel is one accepted model relation in one chunk.
type chatRel struct {
	rel      string
	from, to Mention
}

// chatOut is the model's accepted answer for one chunk.
type chatOut struct {
	ok        bool
	mentions  []Mention
	relations []chatRel
}

// chatExtract calls the model for the chunks of documents marked dirty
// (changed since the last run), at most MaxChatChunks per run with at most
// ChatConcurrency calls in flight. It returns one result per chunk (ok only
// where the model answered well) and the dirty documents some of whose
// chunks could not be sent this run (pending), which the caller keeps dirty
// for the next run.
// A failed call is counted and logged; it never fails the run.
func (a *Relationship) chatExtract(ctx context.Context, customer string, chunks []chunkRec, rep *Report) ([]chatOut, map[string]bool, error) {
	out := make([]chatOut, len(chunks))
	if a.Chat == nil {
		return out, nil, nil
	}
	dirty := map[string]bool{}
	if err := a.State.Scan(ctx, customer, bucketDirty, "", func(k string, _ []byte) (bool, error) {
		dirty[k] = true
		return true, nil
	}); err != nil {
		return nil, nil, err
	}
	maxChunks, workers := a.MaxChatChunks, a.ChatConcurrency
	if maxChunks <= 0 {
		maxChunks = chatDefaultMax
	}
	if workers <= 0 {
		workers = chatDefaultWorkers
	}
	var todo []int
	pending := map[string]bool{}
	for i, c := range chunks {
		if !dirty[c.doc] {
			continue
		}
		if len(todo) < maxChunks {
			todo = append(todo, i)
		} else {
			pending[c.doc] = true
			rep.Counts[CountChatSkipped]++
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sem  = make(chan struct{}, workers)
		log  = a.log()
		name = a.Chat.Name()
	)
	for _, i := range todo {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ex, err := a.Chat.Extract(ctx, chunks[i].text)
			if err != nil {
				mu.Lock()
				rep.Counts[CountChatFailed]++
				mu.Unlock()
				log.Warn("chat extraction failed; heuristics only", LogCustomer, customer, LogAgent, "relationship",
					"chunk", chunks[i].id, "model", name, "error", err.Error())
				return
			}
			res, dropped := acceptChat(chunks[i].text, ex)
			mu.Lock()
			rep.Counts[CountChatChunks]++
			rep.Counts[CountChatDropped] += dropped
			out[i] = res
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return out, pending, nil
}

// acceptChat turns a model answer into mentions and whitelisted relations.
// Names that do not occur in the chunk (case-insensitively) are dropped:
// the model may only point at the text, not add to it.
func acceptChat(text string, ex llm.Extraction) (chatOut, int) {
	lower := strings.ToLower(text)
	res := chatOut{ok: true}
	dropped := 0
	byKey := map[string]Mention{}
	mention := func(name, typ string) (Mention, bool) {
		name = strings.TrimSpace(name)
		key := CanonicalKey(name)
		if key == "" || !strings.Contains(lower, strings.ToLower(name)) {
			return Mention{}, false
		}
		if m, ok := byKey[key]; ok {
			return m, true
		}
		kind := chatKinds[strings.ToLower(strings.TrimSpace(typ))]
		if kind == "" {
			kind = KindName
		}
		if kind == KindEmail || kind == KindURL || kind == KindAmount {
			key = strings.ToLower(strings.Join(strings.Fields(name), " "))
		}
		m := Mention{Key: key, Name: name, Kind: kind, Confidence: chatEntityConf}
		byKey[CanonicalKey(name)] = m
		res.mentions = append(res.mentions, m)
		return m, true
	}
	for _, e := range ex.Entities {
		if _, ok := mention(e.Name, e.Type); !ok {
			dropped++
		}
	}
	for _, r := range ex.Relations {
		rel := chatRelType(r.Type)
		from, ok1 := mention(r.From, "")
		to, ok2 := mention(r.To, "")
		if rel == "" || !ok1 || !ok2 || from.Key == to.Key {
			dropped++
			continue
		}
		res.relations = append(res.relations, chatRel{rel: rel, from: from, to: to})
	}
	return res, dropped
}

// chatEdges merges the model's typed relations into the pattern edges
// (typed) or returns new edges under the confidence rule above.
func chatEdges(model string, chunks []chunkRec, outs []chatOut, typed map[string]*edgeAcc,
	corroborated func(a, b string) bool, rep *Report) []Edge {
	accs := map[string]*edgeAcc{}
	var order []string
	for ci, o := range outs {
		for _, r := range o.relations {
			k := r.from.Key + "\x00" + r.rel + "\x00" + r.to.Key
			if p := typed[k]; p != nil {
				// Found by a pattern too: the pattern edge gains the evidence.
				p.add(chunks[ci].id, p.conf)
				p.edge.Props["model"] = model
				rep.Counts[CountChatTyped]++
				continue
			}
			acc := accs[k]
			if acc == nil {
				acc = &edgeAcc{edge: Edge{Type: r.rel, From: NodeRef{LabelEntity, r.from.Key}, To: NodeRef{LabelEntity, r.to.Key},
					Props: map[string]string{"method": "chat", "model": model}}}
				accs[k] = acc
				order = append(order, k)
			}
			acc.add(chunks[ci].id, chatEdgeConf)
		}
	}
	var edges []Edge
	for _, k := range order {
		acc := accs[k]
		e := acc.edge
		e.Count, e.Evidence = acc.count, acc.evidence
		base, ceil := chatEdgeConf, chatEdgeConfMax
		if corroborated(e.From.Key, e.To.Key) {
			base, ceil = chatCorroborated, chatCorroboratedMax
			e.Props["corroborated"] = "co-occurrence"
		}
		e.Confidence = round(math.Min(ceil, base+0.05*float64(acc.count-1)))
		edges = append(edges, e)
		rep.Counts[CountChatTyped]++
	}
	return edges
}
