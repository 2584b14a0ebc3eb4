// Package neo4j is the production agents.GraphStore on Neo4j 5, spoken
// through the official neo4j-go-driver v5 over Bolt.
//
// # Isolation: a customer property on every node and edge
//
// All customers share one database. Every node and relationship carries a
// `customer` property, every query binds it as the parameter $customer and
// matches it on every node (and relationship) it touches, and the
// uniqueness constraints include it: (customer, key) is unique per label.
// An edge is only created between two nodes matched with the same
// $customer, so no path can join two customers' graphs, and a traversal
// also checks the customer of every relationship and node it crosses.
//
// # Schema
//
// EnsureSchema (run by New) creates, idempotently:
//   - CONSTRAINT vdc_<label>_key: (n.customer, n.key) IS UNIQUE for
//     Document, Chunk and Entity. MERGE is only unique under concurrency
//     with such a constraint;
//   - INDEX vdc_<label>_document on (n.customer, n.document) for
//     DeleteByDocument;
//   - INDEX vdc_rel_<type>_customer on (r.customer) for every whitelisted
//     relationship type.
//
// # Writes
//
// Labels and relationship types cannot be Cypher parameters, so they are
// checked against agents.ValidLabel / agents.ValidRelType before any
// statement is built, and only then spliced into the query text. Nodes are
// merged before relationships (merging a whole pattern creates duplicate
// nodes) with batched `UNWIND $rows ... MERGE`, BatchSize rows per
// statement, all batches of one call in one transaction, so a rejected or
// failing call writes nothing.
//
// Node and edge Props are stored as properties of the same name; the names
// customer and key (nodes) and customer, confidence, count and evidence
// (edges) are reserved and refused.
//
// # Tests
//
// The conformance suite runs only against a real server: set NEO4J_URI
// (e.g. neo4j://127.0.0.1:7687), NEO4J_USER and NEO4J_PASSWORD. No Neo4j
// server can be installed on the build machines, so it is skipped there
// with that message; the query builders are tested without a server.
package neo4j
