package autoscale

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentvdc/agentvdc/plan"
)

// SnapshotVersion is the version of the Snapshot format. Version 1:
//
//	{"version":1,"customers":{"NAME":{"last_compute":T,"last_storage":T,
//	 "target":{"servers":N,"volume_gb":N},"bounds":{...},"recent":[Decision...]}}}
//
// Times are RFC 3339; zero times, zero targets and empty lists are omitted.
const SnapshotVersion = 1

type snapshot struct {
	Version   int                      `json:"version"`
	Customers map[string]snapshotState `json:"customers"`
}

type snapshotState struct {
	LastCompute *time.Time `json:"last_compute,omitempty"`
	LastStorage *time.Time `json:"last_storage,omitempty"`
	Target      plan.Scale `json:"target"`
	Bounds      bounds     `json:"bounds"`
	Recent      []Decision `json:"recent,omitempty"`
}

// Snapshot returns the scaler's persistent state (cooldown times, pending
// targets, recent decisions) as versioned JSON. CPU samples are not kept.
func (s *Scaler) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := snapshot{Version: SnapshotVersion, Customers: make(map[string]snapshotState, len(s.state))}
	for name, st := range s.state {
		ss := snapshotState{Target: st.target, Bounds: st.bounds, Recent: st.recent}
		if !st.lastCompute.IsZero() {
			t := st.lastCompute
			ss.LastCompute = &t
		}
		if !st.lastStorage.IsZero() {
			t := st.lastStorage
			ss.LastStorage = &t
		}
		out.Customers[name] = ss
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("autoscale: snapshot: %w", err)
	}
	return b, nil
}

// Restore replaces the scaler's state with a Snapshot. It refuses a newer
// version, an unversioned document and invalid values, and then changes
// nothing.
func (s *Scaler) Restore(data []byte) error {
	var in snapshot
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("autoscale: restore: %w", err)
	}
	switch {
	case in.Version == 0:
		return fmt.Errorf("autoscale: restore: no version in the snapshot")
	case in.Version > SnapshotVersion:
		return fmt.Errorf("autoscale: restore: snapshot version %d is newer than this program's (%d)", in.Version, SnapshotVersion)
	}
	state := make(map[string]*custState, len(in.Customers))
	for name, ss := range in.Customers {
		if name == "" {
			return fmt.Errorf("autoscale: restore: a customer without a name")
		}
		if ss.Target.Servers < 0 || ss.Target.VolumeGB < 0 {
			return fmt.Errorf("autoscale: restore: customer %s: negative target %+v", name, ss.Target)
		}
		if ss.Bounds.MinServers < 0 || ss.Bounds.MaxServers < 0 || ss.Bounds.MaxGB < 0 {
			return fmt.Errorf("autoscale: restore: customer %s: negative bounds %+v", name, ss.Bounds)
		}
		st := &custState{target: ss.Target, bounds: ss.Bounds, recent: ss.Recent}
		if ss.LastCompute != nil {
			st.lastCompute = *ss.LastCompute
		}
		if ss.LastStorage != nil {
			st.lastStorage = *ss.LastStorage
		}
		if n := len(st.recent) - RecentPerCustomer; n > 0 {
			st.recent = st.recent[n:]
		}
		state[name] = st
	}
	s.mu.Lock()
	s.state = state
	s.mu.Unlock()
	return nil
}
