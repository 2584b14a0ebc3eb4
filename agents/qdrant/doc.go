// Package qdrant is the production agents.VectorStore on Qdrant, spoken
// through the official go-client over gRPC. agents/qdrant/qdrantsim serves
// the same gRPC API in process for `vdc serve --sim` and the tests.
//
// # Isolation: one collection per customer
//
// A customer's chunks live in the collection CollectionPrefix + customer
// (default "vdc-chunks-acme-corp"); the customer name is validated with
// agents.ValidateCustomer, so the name is deterministic and always a legal
// collection name. Every call names exactly one collection, and point ids
// are agents.PointID(customer, document, chunk) (UUIDv5), which Upsert
// checks, so a point of one customer can never be written to another's
// collection.
//
// # Collection layout
//
//   - named vectors: "dense" (cosine, CollectionConfig.DenseDim; only when
//     DenseDim > 0) and the sparse vector "sparse" (only when Sparse).
//     With Config.SparseIDF the sparse vector is created with
//     `modifier: idf`, so Qdrant multiplies query weights by its own BM25
//     IDF; without it (the default) scores are the plain dot product the
//     agents.VectorStore contract specifies, and the embedder is expected
//     to put the weighting into the values.
//   - payload: "document" (keyword index), "chunk" (integer), "text", and
//     each Point.Payload entry under its own key.
//   - collection metadata (Qdrant >= 1.16): "agentvdc.embedder",
//     "agentvdc.dense_dim", "agentvdc.sparse", "agentvdc.sparse_idf" and
//     "agentvdc.format". EnsureCollection compares them with the requested
//     config and drops and recreates the collection on any difference, so
//     a new embedder (or dimension) always means a full re-embed.
//
// # Search
//
// A sparse-only or dense-only search is one Query with that vector. A
// hybrid search sends both as prefetches (Limit * agents.PrefetchFactor
// each, the filter and score threshold on each) fused with the
// parameterised RRF query at k = agents.RRFK (60). Qdrant's own default k
// is 2, so k is always sent explicitly. Hits are re-sorted by score, then
// ascending id, so ties are deterministic whatever the server does.
package qdrant
