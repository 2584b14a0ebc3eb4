package plan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ActionKind is what a plan does to one resource.
type ActionKind string

// The action kinds.
const (
	ActionCreate  ActionKind = "create"
	ActionUpdate  ActionKind = "update"
	ActionReplace ActionKind = "replace"
	ActionDelete  ActionKind = "delete"
	ActionNoOp    ActionKind = "no-op"
)

// ReplaceMode says in which order a replace runs its two halves.
type ReplaceMode string

// Replace modes. Every kind replaces delete-then-create: names are
// deterministic and unique per customer (Hetzner and Exoscale refuse a
// second resource with the same name, and Provider.Create adopts an
// existing resource with the name and labels), so a create-before-delete
// would adopt the very resource it is meant to replace. ReplaceModeOf is
// the single place to change this for a kind.
const (
	DeleteThenCreate ReplaceMode = "delete-then-create"
	CreateThenDelete ReplaceMode = "create-then-delete"
)

// ReplaceModeOf returns how a kind is replaced.
func ReplaceModeOf(Kind) ReplaceMode { return DeleteThenCreate }

// Change is one attribute or label that differs.
type Change struct {
	// Key is the attribute name, or "labels.KEY" for a label.
	Key    string `json:"key"`
	Before string `json:"before"`
	After  string `json:"after"`
	// InPlace is true when the change alone allows an update in place.
	InPlace bool `json:"in_place"`
}

// Action is the plan for one resource.
type Action struct {
	Action   ActionKind `json:"action"`
	Address  string     `json:"address"`
	Kind     Kind       `json:"kind"`
	Name     string     `json:"name"`
	Customer string     `json:"customer"`
	// Reason explains the action to a person.
	Reason string `json:"reason"`
	// Changes are the attribute and label differences (update, replace).
	Changes []Change `json:"changes,omitempty"`
	// Before is the observed resource (nil for create), After the desired
	// one (nil for delete).
	Before *Resource `json:"before"`
	After  *Resource `json:"after"`
	// ReplaceMode is set on replace actions.
	ReplaceMode ReplaceMode `json:"replace_mode,omitempty"`
	// Blocked actions are shown but must not be applied.
	Blocked       bool   `json:"blocked,omitempty"`
	BlockedReason string `json:"blocked_reason,omitempty"`
}

// Destructive reports whether the action removes a resource.
func (a Action) Destructive() bool { return a.Action == ActionDelete || a.Action == ActionReplace }

// DiffOptions tunes Diff.
type DiffOptions struct {
	// IncludeNoOp keeps an ActionNoOp for every unchanged resource.
	IncludeNoOp bool
}

// attrClass describes how a differing attribute is handled.
type attrClass struct {
	inPlace  bool // updated in place
	growOnly bool // a decrease is an error, never a replace
	ignored  bool // owned by an autoscaler, never compared
}

func classOf(k Kind, key string) attrClass {
	switch k {
	case HetznerFirewall, ExoSecurityGroup:
		return attrClass{inPlace: key == "rules"}
	case HetznerServer:
		return attrClass{inPlace: key == "server_type" || key == "firewall"}
	case ExoInstance:
		return attrClass{inPlace: key == "instance_type"}
	case ExoBlockVolume:
		// "instance" is an attachment: a changed or missing attachment is
		// re-attached in place, never a reason to replace (lose) the data.
		return attrClass{inPlace: key == "size_gb" || key == "instance", growOnly: key == "size_gb"}
	case ONEDatastore:
		// bridge_list follows the customer's hosts (scaling).
		return attrClass{inPlace: key == "limit_mb" || key == "bridge_list"}
	case ONETemplate:
		return attrClass{inPlace: key == "cpu" || key == "memory_mb" || key == "services"}
	case ONEFlowTemplate:
		return attrClass{inPlace: key == "min_vms" || key == "max_vms" || key == "cooldown" || key == "policies"}
	case ONEFlowService:
		return attrClass{inPlace: key == "min_vms" || key == "max_vms" || key == "policies", ignored: key == "cardinality"}
	}
	return attrClass{}
}

// hasLabels reports whether the cloud stores labels for the kind.
// Exoscale security groups have none (ownership is the name prefix).
func hasLabels(k Kind) bool { return k != ExoSecurityGroup }

// Normalise returns the canonical form of an attribute value, so that a
// provider's spelling (order of rules, JSON key order, "300s" for 300,
// upper case zone names, a /32 on an address) compares equal.
func Normalise(key, v string) string {
	v = strings.TrimSpace(v)
	switch key {
	case "rules":
		return normaliseRules(v)
	case "services":
		return sortedList(v, ",")
	case "bridge_list":
		f := strings.Fields(v)
		sort.Strings(f)
		return strings.Join(f, " ")
	case "policies":
		var ps []Policy
		if err := json.Unmarshal([]byte(v), &ps); err != nil {
			return v
		}
		if ps == nil {
			ps = []Policy{}
		}
		return PoliciesJSON(ps)
	case "cooldown":
		if d, err := time.ParseDuration(v); err == nil {
			return strconv.Itoa(int(d.Seconds()))
		}
		return normaliseInt(v)
	case "size_gb", "limit_mb", "cpu", "memory_mb", "min_vms", "max_vms", "disk_gb", "ar_size":
		return normaliseInt(v)
	case "zone", "location", "server_type", "instance_type", "network_zone", "image", "vn_mad", "im_mad", "vm_mad", "ds_mad", "tm_mad", "auth_driver", "type":
		return strings.ToLower(v)
	case "private_ip", "start_ip", "end_ip", "ar_ip", "ip":
		return strings.TrimSuffix(v, "/32")
	}
	return v
}

func normaliseInt(v string) string {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(v, 64); ferr == nil && f == float64(int64(f)) {
			return strconv.FormatInt(int64(f), 10)
		}
		return v
	}
	return strconv.FormatInt(n, 10)
}

func sortedList(v, sep string) string {
	if v == "" {
		return ""
	}
	parts := strings.Split(v, sep)
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return strings.Join(out, sep)
}

// normaliseRules sorts the rules and the CIDRs inside each rule.
func normaliseRules(v string) string {
	if v == "" {
		return ""
	}
	rules := strings.Split(v, ";")
	out := rules[:0]
	for _, r := range rules {
		f := strings.Fields(r)
		if len(f) == 0 {
			continue
		}
		if len(f) == 4 {
			f[0], f[1] = strings.ToLower(f[0]), strings.ToLower(f[1])
			f[3] = sortedList(f[3], ",")
		}
		out = append(out, strings.Join(f, " "))
	}
	sort.Strings(out)
	return strings.Join(out, ";")
}

func attrEqual(key, a, b string) bool { return a == b || Normalise(key, a) == Normalise(key, b) }

// Diff compares desired with observed resources and returns the actions,
// grouped by customer (sorted by name) and ordered within a customer for
// execution: first the deletes, children first, then replaces, updates and
// creates, parents first (a topological order over DependsOn with the
// Kinds order breaking ties). Steps splits replaces into their halves.
//
// An update changes only in-place attributes and labels; any other
// attribute change replaces the resource, and a replace cascades to the
// resources that depend on it (a block volume is re-attached instead).
// A decrease of a grow-only attribute (a volume's size) is a blocked
// update: shrinking is an error, never a replace.
func Diff(desired, observed []Resource, opts DiffOptions) []Action {
	byCust := map[string]*custRes{}
	get := func(c string) *custRes {
		g := byCust[c]
		if g == nil {
			g = &custRes{}
			byCust[c] = g
		}
		return g
	}
	for i := range desired {
		g := get(customerOf(desired[i]))
		g.desired = append(g.desired, desired[i])
	}
	for i := range observed {
		g := get(customerOf(observed[i]))
		g.observed = append(g.observed, observed[i])
	}
	names := make([]string, 0, len(byCust))
	for n := range byCust {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Action
	for _, n := range names {
		out = append(out, diffCustomer(byCust[n].desired, byCust[n].observed, opts)...)
	}
	return out
}

type custRes struct{ desired, observed []Resource }

// diffCustomer diffs one customer's resources.
func diffCustomer(desired, observed []Resource, opts DiffOptions) []Action {
	obs := make(map[Address]int, len(observed))
	for i := range observed {
		a := observed[i].Address()
		// Two resources with one name: keep the lower ID; the other is
		// deleted as a duplicate below.
		if j, ok := obs[a]; !ok || observed[i].ID < observed[j].ID {
			obs[a] = i
		}
	}
	wantServers := 0
	for i := range desired {
		if desired[i].Kind == HetznerServer {
			wantServers++
		}
	}
	actions := make([]Action, 0, len(desired))
	index := make(map[Address]int, len(desired))
	seen := make(map[Address]bool, len(desired))
	for i := range desired {
		d := &desired[i]
		a := d.Address()
		seen[a] = true
		j, ok := obs[a]
		if !ok {
			actions = append(actions, newAction(ActionCreate, d, nil, createReason(d, len(observed), wantServers)))
			index[a] = len(actions) - 1
			continue
		}
		o := &observed[j]
		act := compare(d, o)
		index[a] = len(actions)
		actions = append(actions, act)
	}
	for i := range observed {
		o := &observed[i]
		a := o.Address()
		if seen[a] && obs[a] == i {
			continue
		}
		reason := deleteReason(o, len(desired), wantServers)
		if seen[a] {
			reason = "duplicate of " + a.String() + " (id " + observed[obs[a]].ID + ")"
		}
		actions = append(actions, newAction(ActionDelete, nil, o, reason))
	}
	cascade(actions, index, desired)
	ordered := orderActions(actions)
	if !opts.IncludeNoOp {
		kept := ordered[:0]
		for _, a := range ordered {
			if a.Action != ActionNoOp {
				kept = append(kept, a)
			}
		}
		ordered = kept
	}
	return ordered
}

func newAction(k ActionKind, desired, observed *Resource, reason string) Action {
	a := Action{Action: k, Reason: reason}
	r := desired
	if r == nil {
		r = observed
	}
	a.Kind, a.Name, a.Customer, a.Address = r.Kind, r.Name, customerOf(*r), r.Address().String()
	if desired != nil {
		d := *desired
		a.After = &d
	}
	if observed != nil {
		o := *observed
		a.Before = &o
		if a.After != nil {
			a.After.ID = o.ID
		}
	}
	if k == ActionReplace {
		a.ReplaceMode = ReplaceModeOf(r.Kind)
	}
	return a
}

// compare diffs one desired resource against its observed counterpart.
func compare(d, o *Resource) Action {
	var changes []Change
	replace, blocked := false, ""
	keys := make([]string, 0, len(d.Attrs))
	for k := range d.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cl := classOf(d.Kind, k)
		if cl.ignored {
			continue
		}
		dv, ov := d.Attrs[k], o.Attrs[k]
		if attrEqual(k, dv, ov) {
			continue
		}
		changes = append(changes, Change{Key: k, Before: ov, After: dv, InPlace: cl.inPlace})
		if !cl.inPlace {
			replace = true
		}
		if cl.growOnly {
			nb, e1 := strconv.Atoi(Normalise(k, ov))
			na, e2 := strconv.Atoi(Normalise(k, dv))
			if e1 == nil && e2 == nil && na < nb {
				blocked = fmt.Sprintf("%s %s → %s would shrink the volume: volumes never shrink; raise storage.maxGB to at least %d", k, ov, dv, nb)
			}
		}
	}
	if hasLabels(d.Kind) {
		changes = append(changes, labelChanges(d.Labels, o.Labels)...)
	}
	switch {
	case len(changes) == 0:
		return newAction(ActionNoOp, d, o, "up to date")
	case replace:
		a := newAction(ActionReplace, d, o, changeReason(changes, true, d.Kind))
		a.Changes = changes
		return a
	default:
		a := newAction(ActionUpdate, d, o, changeReason(changes, false, d.Kind))
		a.Changes = changes
		if blocked != "" {
			a.Blocked, a.BlockedReason = true, blocked
		}
		return a
	}
}

func labelChanges(want, have map[string]string) []Change {
	var ch []Change
	for k, v := range want {
		if k == LabelBootstrap {
			continue
		}
		if hv, ok := have[k]; !ok || hv != v {
			ch = append(ch, Change{Key: "labels." + k, Before: hv, After: v, InPlace: true})
		}
	}
	for k, v := range have {
		if k == LabelBootstrap {
			continue
		}
		if _, ok := want[k]; !ok {
			ch = append(ch, Change{Key: "labels." + k, Before: v, After: "", InPlace: true})
		}
	}
	sort.Slice(ch, func(i, j int) bool { return ch[i].Key < ch[j].Key })
	return ch
}

// changeReason writes "server_type ccx13 → ccx23 (in place)" and the like.
func changeReason(ch []Change, replace bool, k Kind) string {
	parts := make([]string, 0, len(ch))
	var labels []string
	for _, c := range ch {
		if l, ok := strings.CutPrefix(c.Key, "labels."); ok {
			labels = append(labels, l)
			continue
		}
		if len(c.Before)+len(c.After) > 48 {
			parts = append(parts, c.Key+" changed")
			continue
		}
		parts = append(parts, c.Key+" "+orNone(c.Before)+" → "+orNone(c.After))
	}
	if len(labels) > 0 {
		parts = append(parts, "labels "+strings.Join(labels, ", "))
	}
	s := strings.Join(parts, "; ")
	if replace {
		s += " (forces replacement)"
		if k == ExoBlockVolume {
			s += "; the volume's data is lost"
		}
		return s
	}
	return s + " (in place)"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func createReason(d *Resource, observedCount, wantServers int) string {
	switch {
	case observedCount == 0:
		return "new customer"
	case d.Kind == HetznerServer || d.Kind == ONEHost:
		return fmt.Sprintf("scale-out: %d servers desired", wantServers)
	default:
		return "missing in the cloud"
	}
}

func deleteReason(o *Resource, desiredCount, wantServers int) string {
	switch {
	case desiredCount == 0:
		return "not in git any more"
	case o.Kind == HetznerServer || o.Kind == ONEHost:
		return fmt.Sprintf("scale-in: %d servers desired", wantServers)
	case o.Kind == ExoBlockVolume:
		return "no longer desired; the volume's data is lost"
	default:
		return "no longer desired"
	}
}

// cascade turns the dependents of a replaced resource into replaces (a
// block volume into a re-attach update), until nothing changes.
func cascade(actions []Action, index map[Address]int, desired []Resource) {
	dependents := map[Address][]Address{}
	for i := range desired {
		for _, p := range desired[i].DependsOn {
			dependents[p] = append(dependents[p], desired[i].Address())
		}
	}
	var queue []Address
	for _, a := range actions {
		if a.Action == ActionReplace {
			queue = append(queue, Address{Kind: a.Kind, Name: a.Name})
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range dependents[p] {
			i, ok := index[c]
			if !ok {
				continue
			}
			a := &actions[i]
			if a.Action != ActionNoOp && a.Action != ActionUpdate {
				continue
			}
			if a.Kind == ExoBlockVolume {
				if !hasChange(a.Changes, "instance") {
					a.Changes = append(a.Changes, Change{Key: "instance", Before: a.Before.Attrs["instance"], After: a.After.Attrs["instance"], InPlace: true})
				}
				if a.Action == ActionNoOp {
					a.Action = ActionUpdate
					a.Reason = "re-attach to the replaced " + p.String() + " (in place)"
				} else {
					a.Reason += "; re-attach to the replaced " + p.String()
				}
				continue
			}
			why := "replaced because " + p.String() + " is replaced"
			if a.Action == ActionUpdate {
				why = a.Reason + "; " + why
			}
			a.Action, a.Reason, a.ReplaceMode = ActionReplace, why, ReplaceModeOf(a.Kind)
			queue = append(queue, c)
		}
	}
}

func hasChange(ch []Change, key string) bool {
	for _, c := range ch {
		if c.Key == key {
			return true
		}
	}
	return false
}

// kindRank is a kind's position in Kinds (unknown kinds last).
func kindRank(k Kind) int {
	for i, kk := range Kinds {
		if kk == k {
			return i
		}
	}
	return len(Kinds)
}

// topoOrder returns a topological order (parents first) of one customer's
// actions: Kahn's algorithm over DependsOn, the smallest (kind rank, name)
// first among the ready ones. A cycle (never produced by Expand) falls
// back to the rank order for the rest.
func topoOrder(actions []Action) []int {
	n := len(actions)
	pos := make(map[Address]int, n)
	for i, a := range actions {
		pos[Address{Kind: a.Kind, Name: a.Name}] = i
	}
	indeg := make([]int, n)
	children := make([][]int, n)
	for i, a := range actions {
		var deps []Address
		if a.After != nil {
			deps = a.After.DependsOn
		} else if a.Before != nil {
			deps = a.Before.DependsOn
		}
		for _, d := range deps {
			if j, ok := pos[d]; ok && j != i {
				indeg[i]++
				children[j] = append(children[j], i)
			}
		}
	}
	rank := make([]int, n)
	for i, a := range actions {
		rank[i] = kindRank(a.Kind)
	}
	less := func(i, j int) bool {
		if rank[i] != rank[j] {
			return rank[i] < rank[j]
		}
		return actions[i].Name < actions[j].Name
	}
	done := make([]bool, n)
	order := make([]int, 0, n)
	for len(order) < n {
		best := -1
		for i := 0; i < n; i++ {
			if !done[i] && indeg[i] == 0 && (best < 0 || less(i, best)) {
				best = i
			}
		}
		if best < 0 { // cycle: take the smallest remaining
			for i := 0; i < n; i++ {
				if !done[i] && (best < 0 || less(i, best)) {
					best = i
				}
			}
		}
		done[best] = true
		order = append(order, best)
		for _, c := range children[best] {
			indeg[c]--
		}
	}
	return order
}

// orderActions puts one customer's actions in execution order: deletes
// children first, then everything else parents first.
func orderActions(actions []Action) []Action {
	order := topoOrder(actions)
	out := make([]Action, 0, len(actions))
	for i := len(order) - 1; i >= 0; i-- {
		if a := actions[order[i]]; a.Action == ActionDelete {
			out = append(out, a)
		}
	}
	for _, i := range order {
		if a := actions[i]; a.Action != ActionDelete {
			out = append(out, a)
		}
	}
	return out
}

// Step is one call of the apply executor: a create, update or delete of
// the action at Index. A replace contributes two steps.
type Step struct {
	Op      ActionKind `json:"op"`
	Address string     `json:"address"`
	Index   int        `json:"index"`
}

// Steps returns the execution order of actions (as Diff orders them):
// customer by customer, first every delete and the delete half of every
// delete-then-create replace, children first, then creates, updates and
// the create half of replaces, parents first. Blocked and no-op actions
// have no steps.
func Steps(actions []Action) []Step {
	var out []Step
	for start := 0; start < len(actions); {
		end := start
		for end < len(actions) && actions[end].Customer == actions[start].Customer {
			end++
		}
		group := actions[start:end]
		order := topoOrder(group)
		for i := len(order) - 1; i >= 0; i-- {
			a := group[order[i]]
			if a.Blocked {
				continue
			}
			if a.Action == ActionDelete || (a.Action == ActionReplace && a.ReplaceMode == DeleteThenCreate) {
				out = append(out, Step{Op: ActionDelete, Address: a.Address, Index: start + order[i]})
			}
		}
		for _, i := range order {
			a := group[i]
			if a.Blocked {
				continue
			}
			switch a.Action {
			case ActionCreate, ActionReplace:
				out = append(out, Step{Op: ActionCreate, Address: a.Address, Index: start + i})
			case ActionUpdate:
				out = append(out, Step{Op: ActionUpdate, Address: a.Address, Index: start + i})
			}
		}
		for i := len(order) - 1; i >= 0; i-- {
			a := group[order[i]]
			if !a.Blocked && a.Action == ActionReplace && a.ReplaceMode == CreateThenDelete {
				out = append(out, Step{Op: ActionDelete, Address: a.Address, Index: start + order[i]})
			}
		}
		start = end
	}
	return out
}
