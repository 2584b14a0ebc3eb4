// Package simctl owns what the three cloud simulators share: fault injection
// (latency, 5xx, 429, timeouts, dropped connections per endpoint pattern),
// per-endpoint call counters, the control API that drives both over HTTP,
// and crash-safe persistence of a simulator's state file (SaveJSON,
// LoadJSON, and Saver, which writes behind changes and on Close).
//
// # Endpoint keys
//
// Every request is classified by a key chosen by the simulator: "GET
// /v1/servers" style for REST, the XML-RPC method name ("one.vm.allocate")
// for OpenNebula. Fault patterns are globs over that key in which "*"
// matches any run of characters, "/" included, so "GET /v1/*", "* /v2/*"
// or "one.vm.*" select families of calls and "*" selects every call.
//
// # Control API
//
// Mounted by each simulator under "/_sim/":
//
//	GET    /_sim/counters          {"GET /v1/servers": 12, ...}
//	DELETE /_sim/counters          reset counters
//	GET    /_sim/faults            the active fault rules
//	POST   /_sim/faults            add a rule (JSON Fault), returns it with its id
//	DELETE /_sim/faults            remove all rules
//	DELETE /_sim/faults/{id}       remove one rule
package simctl
