// Package metering turns what the daemon observes running into hourly
// usage records per customer: Hetzner server-hours by type, Exoscale
// storage-node hours by type and block-storage GB-hours.
//
// The daemon samples its observation (the cache every refresh and apply
// keeps current) about once a minute. Between two samples the earlier one
// holds (a server created at 02:20 and deleted at 03:40 is billed 40
// minutes in each hour). An hour is closed once a sample lies beyond its
// end, and its records and the meter's progress are committed in one
// state transaction, records put only if absent: an hour is never counted
// twice, and nothing is lost across restarts and crashes. Time nobody
// observed (the daemon down or killed, samples further apart than
// MaxGap) carries the last observation forward and marks the hour
// Estimated; the in-memory samples of the open hour die with a killed
// daemon, so that hour becomes estimated rather than lost.
package metering

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/state"
)

// Store is the part of the state file the meter uses.
type Store interface {
	MeterProgress() (time.Time, []byte, error)
	CommitUsage(recs []state.UsageRecord, through time.Time, lastSample []byte) (int, error)
}

// DefaultMaxGap: samples further apart leave the time beyond it
// unobserved (estimated).
const DefaultMaxGap = 10 * time.Minute

// Use is one customer's billable inventory at one moment.
type Use struct {
	Servers  map[string]int `json:"servers,omitempty"`   // Hetzner server type → count
	Nodes    map[string]int `json:"nodes,omitempty"`     // Exoscale instance type → count
	VolumeGB int            `json:"volume_gb,omitempty"` // provisioned block storage
}

// Sample is the fleet's inventory at At.
type Sample struct {
	At  time.Time      `json:"at"`
	Use map[string]Use `json:"use"`
}

// UseOf reduces observed resources to billable use per customer.
func UseOf(observed []plan.Resource) map[string]Use {
	out := map[string]Use{}
	for _, r := range observed {
		if r.Customer == "" {
			continue
		}
		u := out[r.Customer]
		switch r.Kind {
		case plan.HetznerServer:
			if u.Servers == nil {
				u.Servers = map[string]int{}
			}
			u.Servers[r.Attrs["server_type"]]++
		case plan.ExoInstance:
			if u.Nodes == nil {
				u.Nodes = map[string]int{}
			}
			u.Nodes[r.Attrs["instance_type"]]++
		case plan.ExoBlockVolume:
			gb, _ := strconv.Atoi(r.Attrs["size_gb"])
			u.VolumeGB += gb
		default:
			continue
		}
		out[r.Customer] = u
	}
	return out
}

// Meter accumulates samples and commits closed hours.
type Meter struct {
	store  Store
	maxGap time.Duration

	mu      sync.Mutex
	loaded  bool
	through time.Time // end of the last committed hour
	last    *Sample   // the sample in force at through (nil: none yet)
	open    []Sample  // samples after through
}

// New returns a meter over store; maxGap <= 0 means DefaultMaxGap.
func New(store Store, maxGap time.Duration) *Meter {
	if maxGap <= 0 {
		maxGap = DefaultMaxGap
	}
	return &Meter{store: store, maxGap: maxGap}
}

func (m *Meter) load() error {
	if m.loaded {
		return nil
	}
	through, raw, err := m.store.MeterProgress()
	if err != nil {
		return err
	}
	if raw != nil {
		var s Sample
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("meter: last sample: %w", err)
		}
		m.last = &s
	}
	m.through, m.loaded = through, true
	return nil
}

// Sample records the observation at at and commits every hour that ended
// at or before at. It returns how many records it wrote.
func (m *Meter) Sample(at time.Time, observed []plan.Resource) (int, error) {
	at = at.UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.load(); err != nil {
		return 0, err
	}
	s := Sample{At: at, Use: UseOf(observed)}
	if m.last == nil && m.through.IsZero() {
		// The first sample ever: metering starts with its hour.
		m.through = at.Truncate(time.Hour)
	}
	if at.Before(m.through) {
		return 0, nil // a clock that went back: that hour is closed
	}
	m.open = append(m.open, s)
	end := at.Truncate(time.Hour)
	if !end.After(m.through) {
		return 0, nil
	}
	var recs []state.UsageRecord
	for h := m.through; h.Before(end); h = h.Add(time.Hour) {
		recs = append(recs, m.hour(h)...)
	}
	// The sample in force at end, and the samples after it.
	last := m.last
	var rest []Sample
	for i := range m.open {
		if m.open[i].At.After(end) {
			rest = append(rest, m.open[i])
		} else {
			last = &m.open[i]
		}
	}
	var raw []byte
	if last != nil {
		var err error
		if raw, err = json.Marshal(last); err != nil {
			return 0, err
		}
	}
	n, err := m.store.CommitUsage(recs, end, raw)
	if err != nil {
		m.open = m.open[:len(m.open)-1]
		return 0, err
	}
	m.through, m.last, m.open = end, last, rest
	return n, nil
}

// segment is a stretch of time during which one sample was in force;
// observed is false beyond MaxGap after the sample.
type segment struct {
	from, to time.Time
	use      map[string]Use
	observed bool
}

// hour computes the records of [h, h+1h) from the sample in force at h
// and the open samples within the hour.
func (m *Meter) hour(h time.Time) []state.UsageRecord {
	end := h.Add(time.Hour)
	var segs []segment
	cur := m.last
	for i := range m.open {
		s := &m.open[i]
		if !s.At.Before(end) {
			break
		}
		if s.At.After(h) && cur != nil {
			segs = append(segs, splitGap(h, s.At, cur, m.maxGap)...)
		}
		cur = s
	}
	if cur != nil {
		segs = append(segs, splitGap(h, end, cur, m.maxGap)...)
	}
	covered := 0.0
	byCustomer := map[string]*state.UsageRecord{}
	for _, sg := range segs {
		hours := sg.to.Sub(sg.from).Hours()
		if sg.observed {
			covered += hours * 60
		}
		for c, u := range sg.use {
			r := byCustomer[c]
			if r == nil {
				r = &state.UsageRecord{Customer: c, Hour: h}
				byCustomer[c] = r
			}
			for t, n := range u.Servers {
				if r.ServerHours == nil {
					r.ServerHours = map[string]float64{}
				}
				r.ServerHours[t] += float64(n) * hours
			}
			for t, n := range u.Nodes {
				if r.StorageNodeHours == nil {
					r.StorageNodeHours = map[string]float64{}
				}
				r.StorageNodeHours[t] += float64(n) * hours
			}
			r.VolumeGBHours += float64(u.VolumeGB) * hours
		}
	}
	out := make([]state.UsageRecord, 0, len(byCustomer))
	for _, r := range byCustomer {
		r.ObservedMinutes = round(covered)
		r.Estimated = covered < 60-1e-6
		for t, v := range r.ServerHours {
			r.ServerHours[t] = round(v)
		}
		for t, v := range r.StorageNodeHours {
			r.StorageNodeHours[t] = round(v)
		}
		r.VolumeGBHours = round(r.VolumeGBHours)
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Customer < out[j].Customer })
	return out
}

// splitGap cuts [from, to), during which s is in force, into the part
// within maxGap of s (observed) and the rest (carried forward).
func splitGap(from, to time.Time, s *Sample, maxGap time.Duration) []segment {
	if s.At.After(from) {
		from = s.At
	}
	if !to.After(from) {
		return nil
	}
	limit := s.At.Add(maxGap)
	switch {
	case !limit.After(from):
		return []segment{{from, to, s.Use, false}}
	case !limit.Before(to):
		return []segment{{from, to, s.Use, true}}
	}
	return []segment{{from, limit, s.Use, true}, {limit, to, s.Use, false}}
}

func round(v float64) float64 { return math.Round(v*1e4) / 1e4 }
