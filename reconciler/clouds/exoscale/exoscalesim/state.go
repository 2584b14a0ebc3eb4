package exoscalesim

import (
	"sort"
	"time"

	v3 "github.com/exoscale/egoscale/v3"
)

// stateVersion is the schema version of the state file.
const stateVersion = 1

// maxOperations bounds the operations kept (oldest dropped first).
const maxOperations = 20000

// state is everything the simulator persists. Wire objects are stored in
// egoscale's own (OpenAPI-generated) types so the JSON is the real shape.
type state struct {
	Version   int    `json:"version"`
	APIKey    string `json:"api_key,omitempty"`    // only when generated
	APISecret string `json:"api_secret,omitempty"` // only when generated

	Instances      map[string]*instanceRec      `json:"instances"`
	Volumes        map[string]*volumeRec        `json:"volumes"`
	Networks       map[string]*networkRec       `json:"private_networks"`
	SecurityGroups map[string]*securityGroupRec `json:"security_groups"` // global, as in Exoscale
	Operations     map[string]*opRec            `json:"operations"`
	OpOrder        []string                     `json:"operation_order"`

	NextVNI      int64  `json:"next_vni"`
	NextPublicIP uint32 `json:"next_public_ip"`
	NextMAC      uint32 `json:"next_mac"`
}

type securityGroupRec struct {
	Created time.Time        `json:"created"` // the wire object has no created-at
	Group   v3.SecurityGroup `json:"group"`
}

type instanceRec struct {
	Zone     string      `json:"zone"`
	Instance v3.Instance `json:"instance"`
}

type volumeRec struct {
	Zone   string                `json:"zone"`
	Volume v3.BlockStorageVolume `json:"volume"`
}

type networkRec struct {
	Zone    string            `json:"zone"`
	Created time.Time         `json:"created"` // the wire object has no created-at
	Network v3.PrivateNetwork `json:"network"`
}

// opRec is an async operation: Op holds the final state, reported once
// Done has passed (before that the state is "pending").
type opRec struct {
	Op      v3.Operation `json:"op"`
	Created time.Time    `json:"created"`
	Done    time.Time    `json:"done"`
}

func newState() *state {
	st := &state{}
	st.fill()
	return st
}

// fill initialises nil maps and counters after loading.
func (st *state) fill() {
	if st.Instances == nil {
		st.Instances = map[string]*instanceRec{}
	}
	if st.Volumes == nil {
		st.Volumes = map[string]*volumeRec{}
	}
	if st.Networks == nil {
		st.Networks = map[string]*networkRec{}
	}
	if st.SecurityGroups == nil {
		st.SecurityGroups = map[string]*securityGroupRec{}
	}
	if st.Operations == nil {
		st.Operations = map[string]*opRec{}
	}
	if st.NextVNI == 0 {
		st.NextVNI = 1000
	}
}

// addOp records an operation, dropping the oldest beyond maxOperations.
func (st *state) addOp(o *opRec) {
	st.Operations[string(o.Op.ID)] = o
	st.OpOrder = append(st.OpOrder, string(o.Op.ID))
	if n := len(st.OpOrder) - maxOperations; n > 0 {
		for _, id := range st.OpOrder[:n] {
			delete(st.Operations, id)
		}
		st.OpOrder = append([]string(nil), st.OpOrder[n:]...)
	}
}

// byCreated orders resources by creation time, then id (stable listings).
func byCreated[T any](items []T, created func(T) time.Time, id func(T) v3.UUID) {
	sort.Slice(items, func(i, j int) bool {
		ci, cj := created(items[i]), created(items[j])
		if !ci.Equal(cj) {
			return ci.Before(cj)
		}
		return id(items[i]) < id(items[j])
	})
}
