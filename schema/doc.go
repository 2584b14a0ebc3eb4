// Package schema owns the customer format: the CUE schema (customer.cue,
// embedded), the Go types of a validated customer, and loading a directory
// or a git tree of YAML files into validated, defaulted customers.
//
// # Loading
//
// Loader.Load takes the files of a customers directory and returns every
// valid customer and every problem found, each as a Diagnostic with file,
// line, column, field path, message and hint. Problems are collected, not
// returned one at a time. Before CUE sees a file, the loader refuses what a
// customer file never needs and a hostile one might carry: files over 1 MiB,
// symbolic links, non-UTF-8 bytes, tabs, several YAML documents, anchors and
// aliases (alias bombs), duplicate keys, file names that are not plain
// lower-case ASCII (unicode look-alikes) or try to leave the directory.
//
// # Cache
//
// CUE evaluation costs about a millisecond per file, so results are cached
// by path and content hash: an unchanged file is evaluated once per Loader.
package schema
