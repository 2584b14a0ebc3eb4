// Package wgtest runs the far side of a customer's WireGuard mesh in a
// test process: userspace peers (wireguard-go over gVisor's netstack)
// started from wg-quick configuration text, such as what apply renders for
// the storage node and the data VM. A node can be the hub (Options.Forward:
// it routes between its peers as the storage node does) and can expose
// services in its mesh address that are really served by a server on
// 127.0.0.1 (Node.Expose), e.g. a real MinIO.
//
// Nothing leaves the machine: a node binds 127.0.0.1 and refuses to send
// to an endpoint that is not a loopback address; endpoints written in the
// configuration (the storage node's public address) are mapped to where
// the test's peers really listen with Options.Endpoints.
//
// # Configuration text
//
// Parse reads wg-quick text as wg(8) does (see its doc) with errors that
// give file:line, section and key and never a value that could be a key.
// It is a small parser of its own rather than gopkg.in/ini.v1, which the
// module already has: ini reports no line numbers, its delimiter error
// repeats the offending line (a mistyped "PrivateKey xxx" line would be
// printed whole), and it accepts what wg rejects (';' comments, quoted
// values, continuation lines, keys before any section), so a config could
// pass here and fail on a machine.
package wgtest
