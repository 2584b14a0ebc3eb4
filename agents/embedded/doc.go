// Package embedded implements the agents store interfaces on one machine,
// with no server: the data dir holds one directory per customer,
//
//	ROOT/CUSTOMER/objects/KEY   the dump folder (ObjectStore, Dir)
//	ROOT/CUSTOMER/vectors.db    bbolt: chunk points (VectorStore, Vectors)
//	ROOT/CUSTOMER/graph.db      bbolt: nodes and edges (GraphStore, Graph)
//
// where ROOT is DATA/agents. Customer names are validated before they become
// path elements and object keys are resolved through os.Root, so neither can
// escape the customer's directory. A bbolt file is held exclusively by one
// process; the stores open each customer's file on first use and keep it
// open until Close.
//
// Vectors are searched exactly: an in-memory inverted index over the sparse
// vectors (built from the file on first use and kept in step with every
// write) and a brute-force cosine scan over dense vectors; with both, the two
// lists are fused with reciprocal rank fusion as agents.RRFK prescribes.
package embedded
