// Package llm owns the optional OpenAI-compatible chat-model client the
// relationship agent uses to extract entities and typed relations from a
// chunk of text.
//
// # Wire protocol
//
// Client.Extract sends one POST {BaseURL}/v1/chat/completions per chunk
// (Ollama, llama.cpp server, vLLM and OpenAI all serve it) with
// temperature 0 and response_format {"type":"json_object"}, asking for
//
//	{"entities":[{"name":"…","type":"…"}],
//	 "relations":[{"from":"…","to":"…","type":"…","evidence":"…"}]}
//
// in choices[0].message.content.
//
// # Strictness
//
// The content must be exactly that object (a single surrounding Markdown
// code fence is tolerated): unknown fields, trailing data, a missing
// "entities" or "relations" array, or an entity or relation with an empty
// name, endpoint or type is ErrMalformed. What the types mean is the
// caller's business (the relationship agent maps them onto its
// whitelist).
//
// # Limits and secrets
//
// Every call has a timeout (default 60 s), the response body is read up to
// MaxResponseBytes (default 4 MiB), and the input text is truncated to
// MaxInputBytes (default 16 KiB). The API key is sent only as a bearer
// token; it is removed from every error message (a server that echoes it
// back does not leak it into logs).
package llm
