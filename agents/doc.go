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
package agents
