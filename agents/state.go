package agents

import "context"

// State is the agents' small per-customer key-value state: the ingest
// cursor and per-object records, term statistics, the quarantine list, the
// query log and what the learning agent learned. Keys within a bucket are
// ordered byte-wise. The embedded implementation is embedded.State (a bbolt
// file per customer); the project's state package may take over later.
type State interface {
	// Get returns the value, ErrNotFound if absent.
	Get(ctx context.Context, customer, bucket, key string) ([]byte, error)
	// Scan calls fn for every key >= from in ascending order until fn
	// returns false or an error.
	Scan(ctx context.Context, customer, bucket, from string, fn func(key string, val []byte) (bool, error)) error
	// Update runs fn in one atomic write transaction.
	Update(ctx context.Context, customer string, fn func(w StateWriter) error) error
}

// StateWriter is the write side of a State transaction. Values passed to
// Put are copied; values returned by Get are only valid inside the
// transaction.
type StateWriter interface {
	Get(bucket, key string) []byte
	Put(bucket, key string, val []byte) error
	Delete(bucket, key string) error
	// DeleteBucket removes a whole bucket (missing is fine).
	DeleteBucket(bucket string) error
}
