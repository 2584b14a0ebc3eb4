// Package storetest is the conformance suite every agents store
// implementation runs: the embedded stores and the production adapters
// (MinIO, Qdrant, Neo4j) call TestObjectStore, TestVectorStore and
// TestGraphStore from their own tests with a factory that returns a fresh,
// empty store. Each suite includes isolation checks: customer A never sees,
// changes or deletes customer B's data.
package storetest
