// Package embed turns text into vectors for the agents' search.
//
// Sparse (the default, no download): text is normalised into terms
// (lower-cased, stop words dropped, light English suffix stripping), word
// unigrams and bigrams (and, optionally, character 3-grams for typo
// tolerance) are hashed into a 2^32 index space with FNV-1a, and weighted
// with BM25: the document side carries the saturated term frequency, the
// query side the inverse document frequency, so the dot product of the two
// is the BM25 score.
//
// Dense (optional): Client calls an OpenAI-compatible /v1/embeddings
// endpoint (Ollama, llama.cpp, vLLM, OpenAI) and returns one vector per
// input.
package embed
