// Package qdrantsim is an in-process Qdrant server that speaks Qdrant's real
// gRPC API (the services generated in github.com/qdrant/go-client/qdrant), so
// the production vector adapter and the real go-client can run against it on
// a loopback port with no Qdrant binary. It backs `vdc serve --sim` and the
// adapter's conformance tests. Data lives in memory only.
//
// # What is implemented
//
// Qdrant: HealthCheck. Collections: Create, Get, List, Update (metadata and
// sparse vector parameters), Delete, CollectionExists. Points: Upsert,
// Delete (by ids or filter), Get, Scroll, Count, CreateFieldIndex,
// DeleteFieldIndex, Search and Query. Every other method answers
// codes.Unimplemented, as the generated Unimplemented*Server does.
//
// Collections take one unnamed dense vector or named dense vectors
// (Cosine, Dot, Euclid, Manhattan) plus named sparse vectors, optional
// `modifier: idf`, and arbitrary metadata. Point ids are unsigned integers
// or UUIDs (normalised to lower-case hyphenated form, ordered as Qdrant
// orders them: numbers first, then UUIDs as 128-bit integers).
//
// # Search semantics
//
// Search is exact (a full scan), so results equal what Qdrant's HNSW returns
// at recall 1.0.
//
//   - Dense: Cosine normalises stored and query vectors and scores by dot
//     product; Dot scores by dot product; Euclid and Manhattan return the
//     distance as the score, smallest first, and a score threshold keeps
//     distances at or below it (Qdrant's convention).
//   - Sparse: the score is the dot product over shared indices; only points
//     sharing at least one index with the query are candidates. With
//     `modifier: idf` each query weight is multiplied by
//     idf(t) = ln((N - df(t) + 0.5) / (df(t) + 0.5) + 1), where N is the
//     number of points in the collection holding that sparse vector and
//     df(t) the number of them holding index t — the formula and
//     statistics Qdrant uses (global statistics, applied on the query side).
//   - Query: prefetches run first (the request's filter is merged into every
//     prefetch, as Qdrant does); Fusion RRF and the parameterised Rrf query
//     fuse the prefetch result lists with score = sum over lists of
//     1 / ((rank + 1) / weight + k - 1), rank 0-based, k defaulting to 2 —
//     Qdrant's DEFAULT_RRF_K, not the 60 of the original paper; a Nearest
//     query over prefetches rescores their union. The score threshold, the
//     offset and the limit (default 10) apply last.
//
// Ties are broken by point id so results are deterministic.
//
// # Filters
//
// must, should, must_not, min_should and nested filters; field conditions
// match (keyword, integer, bool, keywords, integers, except, text as a
// substring), range, values_count, is_empty, is_null; has_id, has_vector and
// nested (array of objects). Keys are dotted paths; arrays are flattened.
// Geo, datetime, phrase and text_any conditions answer InvalidArgument with
// a message naming the unsupported condition rather than silently matching.
//
// # Payload defaults
//
// As in Qdrant's REST defaults: Scroll and Get return payloads unless told
// not to; Search and Query return none unless asked. Vectors are returned
// only when asked.
package qdrantsim
