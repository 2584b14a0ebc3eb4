// Package state owns the daemon's bbolt file: the observed cache of the
// clouds, per-customer status, the operation journal, the apply history,
// per-customer leases, per-customer secrets and the cursors of the
// autoscaler and the agents. It imports plan for the resource types only.
//
// One process holds the file at a time (bbolt's flock): Open fails with
// ErrFileInUse after Options.LockTimeout instead of waiting. A CLI talks to
// a running daemon over its API rather than opening its file.
//
// # Files
//
//	PATH           the bbolt database, mode 0600 (tightened on open)
//	PATH.key       the secrets key: 32 random bytes, hex, mode 0600,
//	               created on the first PutSecrets (Options.KeyFile moves it)
//	PATH.vN.bak    a copy taken before upgrading from format version N
//
// # On-disk format, version 2 (FormatVersion)
//
// Buckets at the top level:
//
//	meta                 format_version (decimal ASCII), created_at (RFC 3339)
//	observed/KIND/       one nested bucket per plan.Kind stored, holding:
//	    items/           NAME\x00ID → binary record (codec.go: a version
//	                     byte, then uvarint-length-prefixed kind, name,
//	                     customer, id, attrs and labels in key order, and
//	                     depends_on); Sensitive is never stored
//	    fetched_at       RFC 3339 time of the fetch
//	    count            decimal number of items
//	    digest           sha256 over the (key, record) pairs in key order
//	status               customer → CustomerStatus (JSON)
//	journal              seq (8-byte big-endian) → JournalEntry (JSON)
//	journal_pending      seq → empty: entries without an outcome
//	history              when (8 bytes, sign bit flipped) + seq → ApplyRecord (JSON)
//	history_by_customer  customer \x00 history key → empty
//	leases               customer → Lease (JSON); the bucket sequence is
//	                     the fencing token
//	secrets              customer → 0x01, 12-byte nonce, AES-256-GCM
//	                     ciphertext of the secret map (additional data:
//	                     the customer's name)
//	cursors/NS/          customer → opaque bytes
//
// The observed fingerprint hashes, in kind-name order, each non-empty
// kind's name and digest: it moves when any observed resource changes and
// not when only fetch times do.
//
// # Versions and upgrades
//
// Version 0 is a file without a meta bucket: a new file, or one written
// before the format was versioned. Version 1 had the buckets above but the
// observed cache in one flat bucket (KIND\x00NAME\x00ID → JSON
// plan.Resource) with fetch times in a bucket observed_fetched. Open runs
// the missing steps of migrations() in order, each in its own write
// transaction that also bumps format_version, after copying an existing
// file to PATH.vN.bak. A file whose version is above FormatVersion is
// refused with ErrNewerFormat (a *FormatError), never modified.
//
// # Durability and secrets
//
// Every write is a bbolt transaction fsynced on commit: Begin returns only
// once the intent is on disk, so it is called before each mutating cloud
// call, and Finish after. Secret values are only in the secrets bucket,
// encrypted; no listing returns them and no error or log line contains
// them. The journal and the other buckets are not encrypted: callers must
// not put secrets there.
package state
