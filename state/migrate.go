package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentvdc/agentvdc/plan"
)

// migration upgrades a file from format version `from` to from+1. Open
// runs each pending step in its own write transaction together with the
// version bump, so a crash leaves the file at a consistent version.
type migration struct {
	from int
	name string
	up   func(tx *bolt.Tx, s *Store) error
}

// migrations lists every step in order; migrations()[i].from == i and the
// last step ends at FormatVersion (both checked by the tests).
func migrations() []migration {
	return []migration{
		{from: 0, name: "create buckets", up: migrateCreateBuckets},
		{from: 1, name: "observed cache per kind, binary records with digests", up: migrateObservedV2},
	}
}

// Version 1 layout of the observed cache (see doc.go).
const (
	v1BucketObservedFetched = "observed_fetched"
)

// migrateCreateBuckets (0 → 1) creates the version 1 buckets. A version 0
// file is new or was written before the format was versioned.
func migrateCreateBuckets(tx *bolt.Tx, s *Store) error {
	for _, name := range []string{
		bucketMeta, bucketObserved, v1BucketObservedFetched, bucketStatus,
		bucketJournal, bucketJournalPending, bucketHistory, bucketHistoryCustomer,
		bucketLeases, bucketSecrets, bucketCursors,
	} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket([]byte(bucketMeta))
	if meta.Get([]byte(keyCreatedAt)) == nil {
		return meta.Put([]byte(keyCreatedAt), []byte(s.now().UTC().Format(time.RFC3339Nano)))
	}
	return nil
}

// migrateObservedV2 (1 → 2) moves the observed cache from version 1 (one
// flat bucket, key KIND\0NAME\0ID, JSON values; fetch times in
// observed_fetched) to one bucket per kind with binary records, count and
// digest. It is a cache: records of unknown kinds or that do not decode
// are dropped (the next refresh refetches them) and logged.
func migrateObservedV2(tx *bolt.Tx, s *Store) error {
	old := tx.Bucket([]byte(bucketObserved))
	fetchedB := tx.Bucket([]byte(v1BucketObservedFetched))
	byKind := map[plan.Kind][]plan.Resource{}
	dropped := 0
	if old != nil {
		err := old.ForEach(func(k, v []byte) error {
			kind, _, _ := bytes.Cut(k, []byte{0})
			var r plan.Resource
			if v == nil || json.Unmarshal(v, &r) != nil || string(r.Kind) != string(kind) || !knownKind(r.Kind) {
				dropped++
				return nil
			}
			byKind[r.Kind] = append(byKind[r.Kind], r)
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket([]byte(bucketObserved)); err != nil {
			return err
		}
	}
	fetched := map[plan.Kind]time.Time{}
	if fetchedB != nil {
		err := fetchedB.ForEach(func(k, v []byte) error {
			t, err := time.Parse(time.RFC3339Nano, string(v))
			if err == nil {
				fetched[plan.Kind(k)] = t
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket([]byte(v1BucketObservedFetched)); err != nil {
			return err
		}
	}
	if _, err := tx.CreateBucket([]byte(bucketObserved)); err != nil {
		return err
	}
	for kind, rs := range byKind {
		set, err := prepareObserved(kind, rs)
		if err != nil {
			s.log.Warn("observed cache kind dropped during upgrade", "kind", string(kind), "error", err.Error())
			continue
		}
		at, ok := fetched[kind]
		if !ok {
			at = time.Unix(0, 0).UTC() // unknown fetch time: as old as possible
		}
		if err := writeObserved(tx, set, at); err != nil {
			return err
		}
	}
	for kind, at := range fetched {
		if _, ok := byKind[kind]; ok || !knownKind(kind) {
			continue
		}
		set, _ := prepareObserved(kind, nil) // fetched and empty
		if err := writeObserved(tx, set, at); err != nil {
			return err
		}
	}
	if dropped > 0 {
		s.log.Warn("observed cache records dropped during upgrade", "count", dropped)
	}
	return nil
}
