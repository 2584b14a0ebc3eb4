// Package agents owns the per-customer data agents and everything they need:
// the store interfaces (objects, vectors, graph) with their embedded
// implementations, text extraction, the embedders, the ingest, relationship
// and learning agents, and the query path.
//
// # Stores
//
// ObjectStore is the customer's dump folder, VectorStore holds the chunk
// collection (sparse BM25-weighted vectors, optionally dense ones, hybrid
// search fused with RRF), GraphStore holds the knowledge graph (Document,
// Chunk and Entity nodes, whitelisted relationship types, MERGE semantics).
// Every method takes ctx and the customer name; a store value serves all
// customers and never mixes them. Embedded implementations live in
// agents/embedded (a directory and bbolt files under the data dir);
// production adapters in agents/minio, agents/qdrant and agents/neo4j. All
// of them pass the conformance suite in agents/storetest.
//
// # Isolation
//
// Every store method takes ctx and the customer name (validated with
// ValidateCustomer: a DNS label of 3-32 characters); there is no call that
// spans customers, and every implementation keeps customers in separate
// namespaces. The conformance suite proves that customer A never sees,
// changes or deletes B's objects, points or graph; point ids include the
// customer (PointID), so even a shared Qdrant collection could not mix them.
//
// # State
//
// State is a small per-customer key-value store (ingest cursor and object
// records, BM25 term statistics, quarantine list, query log, learned
// expansions and weights); embedded.State keeps it in DATA/agents/CUSTOMER/
// state.db.
//
// # Agents
//
// Each agent has Run(ctx, customer) (Report, error); one run is one call and
// does bounded work, so a scheduler may call it at any rate:
//   - Ingest: lists new and changed objects after its cursor, extracts text,
//     chunks it, embeds the chunks and upserts them; deleted objects lose
//     their vectors and graph nodes; unreadable files are quarantined.
//   - Relationship: builds Document/Chunk nodes and entity relations with a
//     confidence and evidence on every edge.
//   - Learning: reads the query log, reports gaps and learns query
//     expansions and term weights used by the query path.
//
// Run must not be called concurrently for the same customer and agent; the
// scheduler serialises runs per customer.
//
// # Query
//
// Searcher.Query embeds the query (IDF-weighted, with learned expansions and
// boosts), searches the vectors (hybrid with RRF when a dense embedder is
// configured), ranks documents by their chunks' scores (best chunk plus a
// share of the next two), adds the graph neighbours of entities the query
// names, says why each result was returned, and logs the query for the
// learning agent. Chunk vectors are BM25F: each chunk carries its
// document's title and section path as fields weighted above its body, and
// the opening chunk's body above later ones. RM3 pseudo-relevance feedback
// is available (Searcher.Feedback) but off by default, since it lowered
// MRR on both evaluation corpora (agents/evaluate).
package agents
