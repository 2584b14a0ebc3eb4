package state

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Usage buckets: usage holds one record per customer and hour (key
// customer NUL hour-start RFC 3339); usage_meta the meter's progress.
const (
	bucketUsage     = "usage"
	bucketUsageMeta = "usage_meta"
	keyMeteredTo    = "metered_through"
	keyLastSample   = "last_sample"
)

// UsageRecord is what one customer used in one hour, from what the daemon
// observed running.
type UsageRecord struct {
	Customer string    `json:"customer"`
	Hour     time.Time `json:"hour"` // the hour's start, UTC
	// ServerHours are Hetzner server-hours by server type.
	ServerHours map[string]float64 `json:"server_hours,omitempty"`
	// StorageNodeHours are Exoscale instance-hours by instance type.
	StorageNodeHours map[string]float64 `json:"storage_node_hours,omitempty"`
	// VolumeGBHours are provisioned block-storage GB × hours.
	VolumeGBHours float64 `json:"volume_gb_hours,omitempty"`
	// ObservedMinutes is how much of the hour was covered by
	// observations at most the meter's gap apart; the rest carries the
	// last observation forward and makes the record Estimated.
	ObservedMinutes float64 `json:"observed_minutes"`
	Estimated       bool    `json:"estimated,omitempty"`
}

func usageKey(customer string, hour time.Time) []byte {
	return []byte(customer + "\x00" + hour.UTC().Format(time.RFC3339))
}

// MeterProgress returns the end of the last metered hour (zero before the
// first) and the meter's last sample (nil before the first), as
// CommitUsage stored them.
func (s *Store) MeterProgress() (time.Time, []byte, error) {
	var through time.Time
	var last []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketUsageMeta))
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(keyMeteredTo)); v != nil {
			t, err := time.Parse(time.RFC3339, string(v))
			if err != nil {
				return fmt.Errorf("state file: malformed %s %q", keyMeteredTo, v)
			}
			through = t
		}
		last = append([]byte(nil), b.Get([]byte(keyLastSample))...)
		return nil
	})
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("read meter progress: %w", err)
	}
	if len(last) == 0 {
		last = nil
	}
	return through, last, nil
}

// CommitUsage stores the records of closed hours and the meter's progress
// in one transaction. A record already stored for its customer and hour
// is kept (never counted twice); through must not go backwards.
func (s *Store) CommitUsage(recs []UsageRecord, through time.Time, lastSample []byte) (int, error) {
	written := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists([]byte(bucketUsageMeta))
		if err != nil {
			return err
		}
		if v := meta.Get([]byte(keyMeteredTo)); v != nil {
			if prev, err := time.Parse(time.RFC3339, string(v)); err == nil && through.Before(prev) {
				return invalid("meter progress would go back from %s to %s", prev.Format(time.RFC3339), through.Format(time.RFC3339))
			}
		}
		b, err := tx.CreateBucketIfNotExists([]byte(bucketUsage))
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := validName("usage customer", r.Customer); err != nil {
				return err
			}
			k := usageKey(r.Customer, r.Hour)
			if b.Get(k) != nil {
				continue
			}
			raw, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put(k, raw); err != nil {
				return err
			}
			written++
		}
		if err := meta.Put([]byte(keyMeteredTo), []byte(through.UTC().Format(time.RFC3339))); err != nil {
			return err
		}
		return meta.Put([]byte(keyLastSample), lastSample)
	})
	if err != nil {
		return 0, fmt.Errorf("commit usage: %w", err)
	}
	return written, nil
}

// Usage returns customer's hourly records with from <= hour < to, oldest
// first.
func (s *Store) Usage(customer string, from, to time.Time) ([]UsageRecord, error) {
	if err := validName("customer name", customer); err != nil {
		return nil, err
	}
	var out []UsageRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketUsage))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		lo, hi := usageKey(customer, from), usageKey(customer, to)
		for k, v := c.Seek(lo); k != nil && string(k) < string(hi); k, v = c.Next() {
			var r UsageRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("usage record %q: %w", k, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read usage of %s: %w", customer, err)
	}
	return out, nil
}
