package hetznersim

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// actionRec is an asynchronous action and what it does when it completes.
type actionRec struct {
	ID        int64                            `json:"id"`
	Command   string                           `json:"command"`
	Status    string                           `json:"status"`
	Started   time.Time                        `json:"started"`
	Finished  *time.Time                       `json:"finished,omitempty"`
	Due       time.Time                        `json:"due"`
	Resources []schema.ActionResourceReference `json:"resources"`
	ErrCode   string                           `json:"error_code,omitempty"`
	ErrMsg    string                           `json:"error_message,omitempty"`

	// Effect on the server, applied on completion.
	Server    int64  `json:"server,omitempty"`
	SetStatus string `json:"set_status,omitempty"` // on success
	Revert    string `json:"revert,omitempty"`     // status on failure
	NewType   int64  `json:"new_type,omitempty"`
	NewDisk   int    `json:"new_disk,omitempty"`
	Delete    bool   `json:"delete,omitempty"`
	// Fail is decided when the action is created (see FailActions).
	Fail bool `json:"fail,omitempty"`
}

// ActionFailure makes the next Times actions of Command (or every command
// when Command is "*") end with status "error" and this code and message.
type ActionFailure struct {
	Command string `json:"command"`
	Times   int    `json:"times"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type actionFailure = ActionFailure

// FailActions installs an action failure rule.
func (s *Server) FailActions(f ActionFailure) error {
	if f.Command == "" || f.Times <= 0 {
		return errors.New("action failure: command and a positive times are required")
	}
	if f.Code == "" {
		f.Code = "action_failed"
	}
	if f.Message == "" {
		f.Message = "action failed (injected by the simulator)"
	}
	s.mu.Lock()
	s.st.Failures = append(s.st.Failures, f)
	s.mu.Unlock()
	s.changed()
	return nil
}

// newAction records a running action due after ActionDelay.
func (s *Server) newAction(now time.Time, command string, res ...schema.ActionResourceReference) *actionRec {
	a := &actionRec{
		ID: s.st.nextID("action"), Command: command, Status: "running",
		Started: now, Due: now.Add(s.opts.ActionDelay), Resources: res,
	}
	for i := range s.st.Failures {
		f := &s.st.Failures[i]
		if f.Command == command || f.Command == "*" {
			a.Fail, a.ErrCode, a.ErrMsg = true, f.Code, f.Message
			f.Times--
			if f.Times <= 0 {
				s.st.Failures = append(s.st.Failures[:i], s.st.Failures[i+1:]...)
			}
			break
		}
	}
	s.st.Actions[a.ID] = a
	s.pending = append(s.pending, a.ID)
	return a
}

func ref(typ string, id int64) schema.ActionResourceReference {
	return schema.ActionResourceReference{ID: id, Type: typ}
}

// serverBusy reports whether a server has a running action (the API then
// answers "locked").
func (s *Server) serverBusy(id int64) bool {
	for _, aid := range s.pending {
		if a := s.st.Actions[aid]; a != nil && a.Server == id && a.Status == "running" {
			return true
		}
	}
	return false
}

// settleLocked completes every action whose time has come.
func (s *Server) settleLocked(now time.Time) {
	if len(s.pending) == 0 {
		return
	}
	kept := s.pending[:0]
	done := false
	for _, id := range s.pending {
		a := s.st.Actions[id]
		if a == nil {
			continue
		}
		if a.Due.After(now) {
			kept = append(kept, id)
			continue
		}
		s.complete(a)
		done = true
	}
	s.pending = kept
	if done {
		s.pruneActions()
		s.changed()
	}
}

func (s *Server) complete(a *actionRec) {
	fin := a.Due
	a.Finished = &fin
	srv := s.st.Servers[a.Server]
	if a.Fail {
		a.Status = "error"
		if srv != nil {
			if a.Command == "create_server" {
				s.removeServer(srv.ID)
			} else if a.Revert != "" {
				srv.Status = a.Revert
			}
		}
		return
	}
	a.Status = "success"
	if srv == nil {
		return
	}
	if a.NewType != 0 {
		srv.Type = a.NewType
		if a.NewDisk != 0 {
			srv.DiskSize = a.NewDisk
		}
	}
	if a.SetStatus != "" {
		srv.Status = a.SetStatus
	}
	if a.Delete {
		s.removeServer(srv.ID)
	}
}

// maxActions bounds the kept action history; the oldest finished go first.
const maxActions = 50000

func (s *Server) pruneActions() {
	if len(s.st.Actions) <= maxActions {
		return
	}
	var finished []int64
	for id, a := range s.st.Actions {
		if a.Status != "running" {
			finished = append(finished, id)
		}
	}
	sort.Slice(finished, func(i, j int) bool { return finished[i] < finished[j] })
	for _, id := range finished[:min(len(finished), len(s.st.Actions)-maxActions*9/10)] {
		delete(s.st.Actions, id)
	}
}

func (a *actionRec) toSchema() schema.Action {
	out := schema.Action{ID: a.ID, Status: a.Status, Command: a.Command, Started: a.Started,
		Finished: a.Finished, Resources: a.Resources}
	if out.Resources == nil {
		out.Resources = []schema.ActionResourceReference{}
	}
	if a.Status != "running" {
		out.Progress = 100
	}
	if a.Status == "error" {
		out.Error = &schema.ActionError{Code: a.ErrCode, Message: a.ErrMsg}
	}
	return out
}

func actionBody(a *actionRec) map[string]any { return map[string]any{"action": a.toSchema()} }

func actionsBody(as ...*actionRec) map[string]any {
	out := make([]schema.Action, 0, len(as))
	for _, a := range as {
		out = append(out, a.toSchema())
	}
	return map[string]any{"actions": out}
}

func (a *actionRec) touches(typ string, id int64) bool {
	for _, r := range a.Resources {
		if r.Type == typ && (id == 0 || r.ID == id) {
			return true
		}
	}
	return false
}

var actionStatuses = []string{"running", "success", "error"}

// routeActions serves GET /actions, /actions/{id} and, with resType set,
// GET /{res}/actions[/{id}] and /{res}/{id}/actions[/{aid}].
func (s *Server) routeActions(q *request, resType string) (int, any, *apiError) {
	if q.method != http.MethodGet {
		return 0, nil, errMethod(q.method)
	}
	segs := q.segs
	var resID int64
	if resType != "" && len(segs) >= 2 && segs[1] != "actions" {
		id, err := parseID(resType, segs[1])
		if err != nil {
			return 0, nil, err
		}
		resID = id
		segs = segs[2:] // ["actions", ...]
	} else {
		segs = segs[1:]
		if resType == "" {
			segs = append([]string{"actions"}, segs...)
		}
	}
	if len(segs) == 0 || segs[0] != "actions" || len(segs) > 2 {
		return 0, nil, errNoRoute
	}
	if len(segs) == 2 {
		id, err := parseID("action", segs[1])
		if err != nil {
			return 0, nil, err
		}
		a := s.st.Actions[id]
		if a == nil || (resType != "" && !a.touches(resType, resID)) {
			return 0, nil, errNotFound("action", id)
		}
		return http.StatusOK, actionBody(a), nil
	}
	lq, err := parseList(q.query, "id", "command", "status", "started", "finished", "progress")
	if err != nil {
		return 0, nil, err
	}
	var ids map[int64]bool
	if vs := q.query["id"]; len(vs) > 0 {
		ids = map[int64]bool{}
		for _, v := range vs {
			id, perr := strconv.ParseInt(v, 10, 64)
			if perr != nil {
				return 0, nil, errInvalid("id", "invalid action id '%s'", v)
			}
			ids[id] = true
		}
	} else if resType == "" {
		// Since 2025-01-30 the API requires ids on GET /actions.
		return 0, nil, errInvalid("id", "at least one action id is required")
	}
	statuses := q.query["status"]
	for _, st := range statuses {
		if !contains(actionStatuses, st) {
			return 0, nil, errInvalid("status", "unknown status %q", st)
		}
	}
	var list []*actionRec
	candidates := s.st.Actions
	if ids != nil {
		candidates = make(map[int64]*actionRec, len(ids))
		for id := range ids {
			if a := s.st.Actions[id]; a != nil {
				candidates[id] = a
			}
		}
	}
	for _, a := range candidates {
		if resType != "" && !a.touches(resType, resID) {
			continue
		}
		if len(statuses) > 0 && !contains(statuses, a.Status) {
			continue
		}
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	sortBy(list, lq.sorts, func(a, b *actionRec, f string) int {
		switch f {
		case "command":
			return cmpStr(a.Command, b.Command)
		case "status":
			return cmpStr(a.Status, b.Status)
		case "started":
			return cmpTime(a.Started, b.Started)
		case "finished":
			return cmpTime(finishedOrZero(a), finishedOrZero(b))
		case "progress":
			return cmpInt(int64(a.toSchema().Progress), int64(b.toSchema().Progress))
		}
		return cmpInt(a.ID, b.ID)
	})
	pg, meta := page(list, lq)
	out := make([]any, 0, len(pg))
	for _, a := range pg {
		out = append(out, a.toSchema())
	}
	return http.StatusOK, listBody("actions", out, meta), nil
}

func finishedOrZero(a *actionRec) time.Time {
	if a.Finished == nil {
		return time.Time{}
	}
	return *a.Finished
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
