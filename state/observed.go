package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agentvdc/agentvdc/plan"
)

// Keys inside observed/<kind>.
const (
	obsItems     = "items"
	obsFetchedAt = "fetched_at"
	obsDigest    = "digest"
	obsCount     = "count"
)

type kv struct{ k, v []byte }

// observedSet is a kind's resources encoded and sorted, ready to store.
type observedSet struct {
	kind   plan.Kind
	items  []kv
	digest [sha256.Size]byte
}

func knownKind(k plan.Kind) bool { return slices.Contains(plan.Kinds, k) }

func kindRank(k plan.Kind) int {
	if i := slices.Index(plan.Kinds, k); i >= 0 {
		return i
	}
	return len(plan.Kinds)
}

// prepareObserved validates and encodes rs outside any transaction, so the
// write transaction only inserts.
func prepareObserved(kind plan.Kind, rs []plan.Resource) (observedSet, error) {
	set := observedSet{kind: kind}
	if !knownKind(kind) {
		return set, invalid("unknown resource kind %q", kind)
	}
	set.items = make([]kv, 0, len(rs))
	var buf []byte
	for i, r := range rs {
		if r.Kind != kind {
			return set, invalid("observed %s: resource %d (%q) has kind %q", kind, i, r.Name, r.Kind)
		}
		if r.Name == "" || strings.ContainsRune(r.Name, 0) || strings.ContainsRune(r.ID, 0) {
			return set, invalid("observed %s: resource %d has an empty name or a NUL byte in its name or id", kind, i)
		}
		key := make([]byte, 0, len(r.Name)+1+len(r.ID))
		key = append(append(append(key, r.Name...), 0), r.ID...)
		buf = encodeResource(buf[:0], r)
		set.items = append(set.items, kv{k: key, v: bytes.Clone(buf)})
	}
	slices.SortFunc(set.items, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	h := sha256.New()
	var lenBuf []byte
	for i, it := range set.items {
		if i > 0 && bytes.Equal(set.items[i-1].k, it.k) {
			name, id, _ := bytes.Cut(it.k, []byte{0})
			return set, invalid("observed %s: resource %q with id %q appears twice", kind, name, id)
		}
		lenBuf = binary.AppendUvarint(lenBuf[:0], uint64(len(it.k)))
		h.Write(lenBuf)
		h.Write(it.k)
		lenBuf = binary.AppendUvarint(lenBuf[:0], uint64(len(it.v)))
		h.Write(lenBuf)
		h.Write(it.v)
	}
	h.Sum(set.digest[:0])
	return set, nil
}

// writeObserved replaces the kind's bucket with set.
func writeObserved(tx *bolt.Tx, set observedSet, fetchedAt time.Time) error {
	root := tx.Bucket([]byte(bucketObserved))
	if root == nil {
		return fmt.Errorf("state file: bucket %s missing", bucketObserved)
	}
	name := []byte(set.kind)
	if root.Bucket(name) != nil {
		if err := root.DeleteBucket(name); err != nil {
			return err
		}
	}
	kb, err := root.CreateBucket(name)
	if err != nil {
		return err
	}
	items, err := kb.CreateBucket([]byte(obsItems))
	if err != nil {
		return err
	}
	items.FillPercent = 1.0 // keys arrive sorted: pack pages full
	for _, it := range set.items {
		if err := items.Put(it.k, it.v); err != nil {
			return err
		}
	}
	for _, p := range []kv{
		{[]byte(obsFetchedAt), []byte(fetchedAt.UTC().Format(time.RFC3339Nano))},
		{[]byte(obsDigest), set.digest[:]},
		{[]byte(obsCount), []byte(strconv.Itoa(len(set.items)))},
	} {
		if err := kb.Put(p.k, p.v); err != nil {
			return err
		}
	}
	return nil
}

// PutObserved replaces the cached observed resources of one kind, all at
// once, with rs as fetched at fetchedAt. Every resource must be of kind;
// a (name, id) pair may appear once. Sensitive inputs are not stored.
func (s *Store) PutObserved(kind plan.Kind, rs []plan.Resource, fetchedAt time.Time) error {
	if fetchedAt.IsZero() {
		return invalid("observed %s: fetch time is zero", kind)
	}
	set, err := prepareObserved(kind, rs)
	if err != nil {
		return err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return writeObserved(tx, set, fetchedAt) }); err != nil {
		return fmt.Errorf("store observed %s: %w", kind, err)
	}
	return nil
}

// PutObservedKinds replaces several kinds at once, in one transaction
// (one fsync): a full refresh stores a consistent snapshot. Each entry is
// checked as by PutObserved; on any error nothing is stored.
func (s *Store) PutObservedKinds(byKind map[plan.Kind][]plan.Resource, fetchedAt time.Time) error {
	if fetchedAt.IsZero() {
		return invalid("observed: fetch time is zero")
	}
	sets := make([]observedSet, 0, len(byKind))
	for kind, rs := range byKind {
		set, err := prepareObserved(kind, rs)
		if err != nil {
			return err
		}
		sets = append(sets, set)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, set := range sets {
			if err := writeObserved(tx, set, fetchedAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store observed cache: %w", err)
	}
	return nil
}

type kindMeta struct {
	kind      plan.Kind
	fetchedAt time.Time
	count     int
	digest    []byte
}

func readKindMeta(kind plan.Kind, kb *bolt.Bucket) (kindMeta, error) {
	m := kindMeta{kind: kind, digest: kb.Get([]byte(obsDigest))}
	var err error
	if m.fetchedAt, err = time.Parse(time.RFC3339Nano, string(kb.Get([]byte(obsFetchedAt)))); err != nil {
		return m, fmt.Errorf("observed %s: malformed fetch time: %w", kind, err)
	}
	if m.count, err = strconv.Atoi(string(kb.Get([]byte(obsCount)))); err != nil {
		return m, fmt.Errorf("observed %s: malformed count: %w", kind, err)
	}
	if len(m.digest) != sha256.Size {
		return m, fmt.Errorf("observed %s: malformed digest", kind)
	}
	return m, nil
}

// observedKinds lists the stored kinds in creation order (plan.Kinds).
func observedKinds(tx *bolt.Tx) (*bolt.Bucket, []kindMeta, error) {
	root := tx.Bucket([]byte(bucketObserved))
	if root == nil {
		return nil, nil, fmt.Errorf("state file: bucket %s missing", bucketObserved)
	}
	var metas []kindMeta
	err := root.ForEachBucket(func(k []byte) error {
		m, err := readKindMeta(plan.Kind(k), root.Bucket(k))
		metas = append(metas, m)
		return err
	})
	slices.SortFunc(metas, func(a, b kindMeta) int {
		if ra, rb := kindRank(a.kind), kindRank(b.kind); ra != rb {
			return ra - rb
		}
		return strings.Compare(string(a.kind), string(b.kind))
	})
	return root, metas, err
}

func decodeKind(d *decoder, kb *bolt.Bucket, kind plan.Kind, out []plan.Resource) ([]plan.Resource, error) {
	items := kb.Bucket([]byte(obsItems))
	if items == nil {
		return out, fmt.Errorf("observed %s: items bucket missing", kind)
	}
	err := items.ForEach(func(k, v []byte) error {
		r, err := d.decodeResource(v)
		if err != nil {
			name, _, _ := bytes.Cut(k, []byte{0})
			return fmt.Errorf("observed %s.%s: %w", kind, strings.ToValidUTF8(string(name), "?"), err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Observed returns every cached resource in creation order (kind as in
// plan.Kinds, then name, then id) and the fetch time of each stored kind
// (kinds stored with no resources are in the map too).
func (s *Store) Observed() ([]plan.Resource, map[plan.Kind]time.Time, error) {
	var out []plan.Resource
	fetched := map[plan.Kind]time.Time{}
	err := s.db.View(func(tx *bolt.Tx) error {
		root, metas, err := observedKinds(tx)
		if err != nil {
			return err
		}
		total := 0
		for _, m := range metas {
			total += m.count
		}
		out = make([]plan.Resource, 0, total)
		d := newDecoder()
		for _, m := range metas {
			fetched[m.kind] = m.fetchedAt
			if out, err = decodeKind(d, root.Bucket([]byte(m.kind)), m.kind, out); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read observed cache: %w", err)
	}
	return out, fetched, nil
}

// ObservedKind returns one kind's cached resources and fetch time, or
// ErrNotFound if that kind was never stored.
func (s *Store) ObservedKind(kind plan.Kind) ([]plan.Resource, time.Time, error) {
	var out []plan.Resource
	var at time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket([]byte(bucketObserved))
		if root == nil {
			return fmt.Errorf("state file: bucket %s missing", bucketObserved)
		}
		kb := root.Bucket([]byte(kind))
		if kb == nil {
			return fmt.Errorf("observed %s: %w", kind, ErrNotFound)
		}
		m, err := readKindMeta(kind, kb)
		if err != nil {
			return err
		}
		at = m.fetchedAt
		out, err = decodeKind(newDecoder(), kb, kind, make([]plan.Resource, 0, m.count))
		return err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read observed cache: %w", err)
	}
	return out, at, nil
}

// ObservedFingerprint is a stable hash ("sha256:HEX") of the cached
// observed resources, independent of fetch times: a saved plan records it
// and apply refuses the plan if it changed. Kinds stored empty count as
// absent, so refetching an empty kind does not move it.
func (s *Store) ObservedFingerprint() (string, error) {
	h := sha256.New()
	err := s.db.View(func(tx *bolt.Tx) error {
		_, metas, err := observedKinds(tx)
		if err != nil {
			return err
		}
		slices.SortFunc(metas, func(a, b kindMeta) int { return strings.Compare(string(a.kind), string(b.kind)) })
		for _, m := range metas {
			if m.count == 0 {
				continue
			}
			h.Write([]byte(m.kind))
			h.Write([]byte{0})
			h.Write(m.digest)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("fingerprint observed cache: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
