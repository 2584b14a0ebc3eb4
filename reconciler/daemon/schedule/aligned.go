package schedule

import (
	"hash/fnv"
	"time"

	"github.com/robfig/cron/v3"
)

// Aligned is a cron.Schedule that fires at every instant t where
// (t − Offset) mod Interval = 0, counted in Unix nanoseconds. Interval must
// be positive.
type Aligned struct {
	Interval time.Duration
	Offset   time.Duration
}

var _ cron.Schedule = Aligned{}

// Next returns the first firing instant strictly after t, in t's location.
func (a Aligned) Next(t time.Time) time.Time {
	iv := int64(a.Interval)
	if iv <= 0 {
		return time.Time{} // never: cron leaves an entry with a zero Next alone
	}
	off := int64(a.Offset) % iv
	if off < 0 {
		off += iv
	}
	n := t.UnixNano() - off
	k := n / iv
	if n%iv < 0 { // floor division for instants before the epoch
		k--
	}
	return time.Unix(0, (k+1)*iv+off).In(t.Location())
}

// Offset is the deterministic start offset of (customer, job) within
// interval: FNV-1a of "customer\x00job", mixed by the SplitMix64 finalizer,
// modulo the interval; in [0, interval).
func Offset(customer, job string, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(customer))
	h.Write([]byte{0})
	h.Write([]byte(job))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return time.Duration(x % uint64(interval))
}
