// Package gitsource owns reading customer files from git: opening a local
// repository or keeping a bare cache of a remote one (file://, git://,
// https with a token, ssh with a key file), fetching incrementally,
// following force-pushed branches (and reporting the rewrite), resolving a
// branch, tag or commit, and reading a directory of a commit's tree without
// a working tree.
//
// Errors name the remote and the ref, never a credential: a URL's user
// information is moved into the transport's auth and shown redacted.
package gitsource
