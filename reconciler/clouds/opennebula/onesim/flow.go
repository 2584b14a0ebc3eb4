package onesim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// OneFlow service and role states (lib/models/service.rb, role.rb).
const (
	flowPending     = 0
	flowDeploying   = 1
	flowRunning     = 2
	flowUndeploying = 3
	flowWarning     = 4
	flowDone        = 5
	flowScaling     = 8
	flowCooldown    = 10
)

// defaultCooldown is oneflow-server.conf's :default_cooldown (seconds).
const defaultCooldown = 300

// policy is one elasticity policy with OneFlow's evaluation bookkeeping.
type policy struct {
	Type                string `json:"type"`
	Adjust              int    `json:"adjust"`
	MinAdjustStep       int    `json:"min_adjust_step,omitempty"`
	Expression          string `json:"expression"`
	Period              int    `json:"period,omitempty"`
	PeriodNumber        int    `json:"period_number,omitempty"`
	Cooldown            int    `json:"cooldown,omitempty"`
	LastEval            int64  `json:"last_eval,omitempty"`
	TrueEvals           int    `json:"true_evals"`
	ExpressionEvaluated string `json:"expression_evaluated,omitempty"`
}

// role is a service template role and, inside a service, its live state.
type role struct {
	Name               string            `json:"name"`
	Cardinality        *int              `json:"cardinality,omitempty"`
	VMTemplate         int               `json:"vm_template"`
	VMTemplateContents string            `json:"vm_template_contents,omitempty"`
	ShutdownAction     string            `json:"shutdown_action,omitempty"`
	Parents            []string          `json:"parents,omitempty"`
	MinVMs             *int              `json:"min_vms,omitempty"`
	MaxVMs             *int              `json:"max_vms,omitempty"`
	Cooldown           int               `json:"cooldown,omitempty"`
	Elasticity         []*policy         `json:"elasticity_policies,omitempty"`
	Scheduled          []json.RawMessage `json:"scheduled_policies,omitempty"`

	State       int   `json:"state"`
	Nodes       []int `json:"nodes_ids,omitempty"`
	LastVMName  int   `json:"last_vmname"`
	CooldownEnd int64 `json:"cooldown_end,omitempty"`
	// CPU is the simulated CPU of VMs the role creates (SetRoleCPU).
	CPU *float64 `json:"sim_cpu,omitempty"`
}

func (r *role) card() int {
	if r.Cardinality == nil {
		return 1
	}
	return *r.Cardinality
}

type flowTemplate struct {
	ID      int            `json:"id"`
	UID     int            `json:"uid"`
	GID     int            `json:"gid"`
	Name    string         `json:"name"`
	Perms   perms          `json:"perms"`
	RegTime int64          `json:"regtime"`
	Body    map[string]any `json:"body"`
}

type flowLog struct {
	Timestamp int64  `json:"timestamp"`
	Severity  string `json:"severity"`
	Message   string `json:"message"`
}

type flowService struct {
	ID         int            `json:"id"`
	UID        int            `json:"uid"`
	GID        int            `json:"gid"`
	Name       string         `json:"name"`
	Perms      perms          `json:"perms"`
	StartTime  int64          `json:"start_time"`
	TemplateID int            `json:"template_id"`
	State      int            `json:"state"`
	Extra      map[string]any `json:"extra,omitempty"` // deployment, description, custom attrs ...
	Cooldown   int            `json:"cooldown,omitempty"`
	Roles      []*role        `json:"roles"`
	Log        []flowLog      `json:"log,omitempty"`
}

// flowError is OneFlow's error body.
func flowError(w http.ResponseWriter, status int, format string, a ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"message": fmt.Sprintf(format, a...)}})
	_, _ = w.Write(b)
}

func flowJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		flowError(w, http.StatusInternalServerError, "encode: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func flowFault(w http.ResponseWriter, r *http.Request, status int) {
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	flowError(w, status, "%s", http.StatusText(status))
}

// serveFlow serves OneFlow's REST API; rest is the path after "/flow".
func (s *Server) serveFlow(w http.ResponseWriter, r *http.Request, rest string) {
	if s.ctl.Apply(w, r, restKey(r), flowFault) {
		return
	}
	u, ok := s.authBasic(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="OneFlow"`)
		flowError(w, http.StatusUnauthorized, "Invalid credentials")
		return
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
		if err != nil {
			flowError(w, http.StatusBadRequest, "read body: %v", err)
			return
		}
		if len(strings.TrimSpace(string(b))) > 0 && string(b) != "null" {
			if err := json.Unmarshal(b, &body); err != nil {
				flowError(w, http.StatusBadRequest, "Error parsing JSON body: %v", err)
				return
			}
		}
	}
	id := -1
	if len(segs) >= 2 {
		n, err := strconv.Atoi(segs[1])
		if err != nil {
			flowError(w, http.StatusNotFound, "Not found: %s", r.URL.Path)
			return
		}
		id = n
	}
	now := s.opts.Now()
	s.mu.Lock()
	if s.pending(now) {
		s.advance(now)
	}
	status, res, err := s.flowRoute(r.Method, segs, id, body, u, now)
	s.mu.Unlock()
	if err != nil {
		var fe *httpErr
		if errors.As(err, &fe) {
			flowError(w, fe.status, "%s", fe.msg)
		} else {
			flowError(w, http.StatusInternalServerError, "%v", err)
		}
		return
	}
	if r.Method != http.MethodGet {
		s.markDirty()
	}
	if res == nil {
		w.WriteHeader(status)
		return
	}
	flowJSON(w, status, res)
}

type httpErr struct {
	status int
	msg    string
}

func (e *httpErr) Error() string { return e.msg }

func herr(status int, format string, a ...any) error {
	return &httpErr{status: status, msg: fmt.Sprintf(format, a...)}
}

func (s *Server) flowRoute(method string, segs []string, id int, body map[string]any, u *user, now timeT) (int, any, error) {
	switch {
	case segs[0] == "service_template" && len(segs) == 1 && method == http.MethodGet:
		docs := []any{}
		for _, i := range sortedIDs(s.d.STemplates) {
			docs = append(docs, s.stemplateDoc(s.d.STemplates[i]))
		}
		return 200, map[string]any{"DOCUMENT_POOL": map[string]any{"DOCUMENT": docs}}, nil
	case segs[0] == "service_template" && len(segs) == 1 && method == http.MethodPost:
		t, err := s.createSTemplate(body, u, now)
		if err != nil {
			return 0, nil, err
		}
		return 201, map[string]any{"DOCUMENT": s.stemplateDoc(t)}, nil
	case segs[0] == "service_template" && len(segs) >= 2:
		t, ok := s.d.STemplates[id]
		if !ok {
			return 0, nil, herr(404, "Error getting document [%d].", id)
		}
		switch {
		case len(segs) == 2 && method == http.MethodGet:
			return 200, map[string]any{"DOCUMENT": s.stemplateDoc(t)}, nil
		case len(segs) == 2 && method == http.MethodDelete:
			delete(s.d.STemplates, id)
			return 204, nil, nil
		case len(segs) == 3 && segs[2] == "action" && method == http.MethodPost:
			return s.stemplateAction(t, body, u, now)
		}
	case segs[0] == "service" && len(segs) == 1 && method == http.MethodGet:
		docs := []any{}
		for _, i := range sortedIDs(s.d.Services) {
			svc := s.d.Services[i]
			s.refreshService(svc, now)
			docs = append(docs, s.serviceDoc(svc))
		}
		return 200, map[string]any{"DOCUMENT_POOL": map[string]any{"DOCUMENT": docs}}, nil
	case segs[0] == "service" && len(segs) >= 2:
		svc, ok := s.d.Services[id]
		if !ok {
			return 0, nil, herr(404, "Error getting document [%d].", id)
		}
		switch {
		case len(segs) == 2 && method == http.MethodGet:
			s.refreshService(svc, now)
			return 200, map[string]any{"DOCUMENT": s.serviceDoc(svc)}, nil
		case len(segs) == 2 && method == http.MethodDelete:
			s.undeployService(svc, now)
			delete(s.d.Services, id)
			return 204, nil, nil
		case len(segs) == 3 && segs[2] == "scale" && method == http.MethodPost:
			return s.scaleAction(svc, body, now)
		case len(segs) == 3 && segs[2] == "action" && method == http.MethodPost:
			return s.serviceAction(svc, body, now)
		case len(segs) == 5 && segs[2] == "role" && segs[4] == "action" && method == http.MethodPost:
			return s.roleAction(svc, segs[3], body, now)
		}
	}
	return 0, nil, herr(404, "Not found: %s %s", method, "/"+strings.Join(segs, "/"))
}

// ------------------------------------------------------------ templates

func decodeInto(v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

var policyTypes = map[string]bool{"CHANGE": true, "CARDINALITY": true, "PERCENTAGE_CHANGE": true}

// validateBody checks a service template body the way OneFlow's schema
// does and returns its roles.
func (s *Server) validateBody(body map[string]any) ([]*role, error) {
	name, _ := body["name"].(string)
	if strings.TrimSpace(name) == "" {
		return nil, herr(400, "KEY: name is required")
	}
	if dep, ok := body["deployment"].(string); ok && dep != "" && dep != "straight" && dep != "none" {
		return nil, herr(400, "KEY: deployment must be one of none, straight")
	}
	rawRoles, ok := body["roles"].([]any)
	if !ok || len(rawRoles) == 0 {
		return nil, herr(400, "KEY: roles is required and must be a non-empty array")
	}
	var roles []*role
	if err := decodeInto(rawRoles, &roles); err != nil {
		return nil, herr(400, "KEY: roles: %v", err)
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if r.Name == "" {
			return nil, herr(400, "KEY: roles/name is required")
		}
		if seen[r.Name] {
			return nil, herr(400, "Role name %q is repeated", r.Name)
		}
		seen[r.Name] = true
		if r.card() < 0 {
			return nil, herr(400, "Role %s: cardinality must be >= 0", r.Name)
		}
		if r.MinVMs != nil && r.MaxVMs != nil && *r.MinVMs > *r.MaxVMs {
			return nil, herr(400, "Role %s: min_vms %d is greater than max_vms %d", r.Name, *r.MinVMs, *r.MaxVMs)
		}
		if r.MinVMs != nil && r.card() < *r.MinVMs {
			return nil, herr(400, "Role %s: cardinality %d is lower than min_vms %d", r.Name, r.card(), *r.MinVMs)
		}
		if r.MaxVMs != nil && r.card() > *r.MaxVMs {
			return nil, herr(400, "Role %s: cardinality %d is greater than max_vms %d", r.Name, r.card(), *r.MaxVMs)
		}
		if len(r.Elasticity) > 0 && (r.MinVMs == nil || r.MaxVMs == nil) {
			return nil, herr(400, "Role %s: elasticity policies need min_vms and max_vms", r.Name)
		}
		for _, p := range r.Elasticity {
			p.Type = strings.ToUpper(p.Type)
			if !policyTypes[p.Type] {
				return nil, herr(400, "Role %s: elasticity policy type %q must be one of CHANGE, CARDINALITY, PERCENTAGE_CHANGE", r.Name, p.Type)
			}
			if _, err := parseExpr(p.Expression); err != nil {
				return nil, herr(400, "Role %s: elasticity policy expression %q: %v", r.Name, p.Expression, err)
			}
			if p.Period < 0 || p.PeriodNumber < 0 || p.Cooldown < 0 {
				return nil, herr(400, "Role %s: period, period_number and cooldown must be >= 0", r.Name)
			}
		}
		for _, p := range r.Parents {
			if !seen[p] {
				found := false
				for _, q := range roles {
					found = found || q.Name == p
				}
				if !found {
					return nil, herr(400, "Role %s: parent role %q does not exist", r.Name, p)
				}
			}
		}
	}
	return roles, nil
}

func (s *Server) createSTemplate(body map[string]any, u *user, now timeT) (*flowTemplate, error) {
	if body == nil {
		return nil, herr(400, "Missing service template body")
	}
	if _, err := s.validateBody(body); err != nil {
		return nil, err
	}
	id := s.d.nextID("document", 0)
	t := &flowTemplate{ID: id, UID: u.ID, GID: u.GID, Name: body["name"].(string), Perms: defaultPerms, RegTime: now.Unix(), Body: body}
	s.d.STemplates[id] = t
	return t, nil
}

func (s *Server) permsJSON(p perms) map[string]string {
	names := [...]string{"OWNER_U", "OWNER_M", "OWNER_A", "GROUP_U", "GROUP_M", "GROUP_A", "OTHER_U", "OTHER_M", "OTHER_A"}
	out := map[string]string{}
	for i, n := range names {
		out[n] = strconv.Itoa(p[i])
	}
	return out
}

func (s *Server) docHead(id, uid, gid int, name string, p perms, typ string) map[string]any {
	uname, gname := "", ""
	if u, ok := s.d.Users[uid]; ok {
		uname = u.Name
	}
	if g, ok := s.d.Groups[gid]; ok {
		gname = g.Name
	}
	return map[string]any{
		"ID": strconv.Itoa(id), "UID": strconv.Itoa(uid), "GID": strconv.Itoa(gid),
		"UNAME": uname, "GNAME": gname, "NAME": name, "TYPE": typ,
		"PERMISSIONS": s.permsJSON(p),
	}
}

func (s *Server) stemplateDoc(t *flowTemplate) map[string]any {
	doc := s.docHead(t.ID, t.UID, t.GID, t.Name, t.Perms, "101")
	body := map[string]any{}
	for k, v := range t.Body {
		body[k] = v
	}
	body["name"] = t.Name
	body["registration_time"] = t.RegTime
	doc["TEMPLATE"] = map[string]any{"BODY": body}
	return doc
}

func (s *Server) stemplateAction(t *flowTemplate, body map[string]any, u *user, now timeT) (int, any, error) {
	perform, params, err := actionOf(body)
	if err != nil {
		return 0, nil, err
	}
	switch perform {
	case "instantiate":
		merge, _ := params["merge_template"].(map[string]any)
		svc, err := s.instantiateService(t, merge, u, now)
		if err != nil {
			return 0, nil, err
		}
		return 201, map[string]any{"DOCUMENT": s.serviceDoc(svc)}, nil
	case "update":
		raw, _ := params["template_json"].(string)
		var nb map[string]any
		if err := json.Unmarshal([]byte(raw), &nb); err != nil {
			return 0, nil, herr(400, "template_json: %v", err)
		}
		if app, _ := params["append"].(bool); app {
			merged := map[string]any{}
			for k, v := range t.Body {
				merged[k] = v
			}
			for k, v := range nb {
				merged[k] = v
			}
			nb = merged
		}
		if _, ok := nb["name"]; !ok {
			nb["name"] = t.Name
		}
		if _, err := s.validateBody(nb); err != nil {
			return 0, nil, err
		}
		t.Body = nb
		t.Name = nb["name"].(string)
		return 200, map[string]any{"DOCUMENT": s.stemplateDoc(t)}, nil
	case "rename":
		name, _ := params["name"].(string)
		if strings.TrimSpace(name) == "" {
			return 0, nil, herr(400, "name is required")
		}
		t.Name = name
		t.Body["name"] = name
		return 200, nil, nil
	case "clone":
		name, _ := params["name"].(string)
		if strings.TrimSpace(name) == "" {
			return 0, nil, herr(400, "name is required")
		}
		nb := map[string]any{}
		if err := decodeInto(t.Body, &nb); err != nil {
			return 0, nil, err
		}
		nb["name"] = name
		c, err := s.createSTemplate(nb, u, now)
		if err != nil {
			return 0, nil, err
		}
		return 201, map[string]any{"DOCUMENT": s.stemplateDoc(c)}, nil
	case "chown", "chgrp":
		uid, gid, err := s.ownerParams(params)
		if err != nil {
			return 0, nil, err
		}
		if uid >= 0 {
			t.UID = uid
		}
		if gid >= 0 {
			t.GID = gid
		}
		return 200, nil, nil
	case "chmod":
		p, err := octet(params)
		if err != nil {
			return 0, nil, err
		}
		t.Perms = p
		return 200, nil, nil
	}
	return 0, nil, herr(400, "Action %q is not supported for service templates", perform)
}

func actionOf(body map[string]any) (string, map[string]any, error) {
	act, ok := body["action"].(map[string]any)
	if !ok {
		return "", nil, herr(400, "Missing action")
	}
	perform, _ := act["perform"].(string)
	if perform == "" {
		return "", nil, herr(400, "Missing action perform")
	}
	params, _ := act["params"].(map[string]any)
	if params == nil {
		params = map[string]any{}
	}
	return perform, params, nil
}

func (s *Server) ownerParams(params map[string]any) (int, int, error) {
	num := func(k string) int {
		switch v := params[k].(type) {
		case float64:
			return int(v)
		case string:
			n, err := strconv.Atoi(v)
			if err == nil {
				return n
			}
		}
		return -1
	}
	uid, gid := num("owner_id"), num("group_id")
	if uid >= 0 {
		if _, ok := s.d.Users[uid]; !ok {
			return 0, 0, herr(404, "Error getting user [%d].", uid)
		}
	}
	if gid >= 0 {
		if _, ok := s.d.Groups[gid]; !ok {
			return 0, 0, herr(404, "Error getting group [%d].", gid)
		}
	}
	return uid, gid, nil
}

func octet(params map[string]any) (perms, error) {
	o, _ := params["octet"].(string)
	if len(o) != 3 {
		return perms{}, herr(400, "octet must be three octal digits")
	}
	var p perms
	for i := 0; i < 3; i++ {
		d := int(o[i] - '0')
		if d < 0 || d > 7 {
			return perms{}, herr(400, "octet must be three octal digits")
		}
		p[i*3], p[i*3+1], p[i*3+2] = d>>2&1, d>>1&1, d&1
	}
	return p, nil
}

// ------------------------------------------------------------ services

func (s *Server) instantiateService(t *flowTemplate, merge map[string]any, u *user, now timeT) (*flowService, error) {
	body := map[string]any{}
	if err := decodeInto(t.Body, &body); err != nil {
		return nil, err
	}
	for k, v := range merge {
		if k == "roles" {
			continue
		}
		body[k] = v
	}
	roles, err := s.validateBody(body)
	if err != nil {
		return nil, err
	}
	if mr, ok := merge["roles"].([]any); ok {
		var over []map[string]any
		if err := decodeInto(mr, &over); err != nil {
			return nil, herr(400, "merge_template roles: %v", err)
		}
		for _, o := range over {
			for _, r := range roles {
				if n, _ := o["name"].(string); n == r.Name {
					if err := decodeInto(o, r); err != nil {
						return nil, herr(400, "merge_template role %s: %v", r.Name, err)
					}
				}
			}
		}
	}
	for _, r := range roles {
		if _, ok := s.d.Templates[r.VMTemplate]; !ok {
			return nil, herr(400, "Role %s: error getting virtual machine template [%d].", r.Name, r.VMTemplate)
		}
		r.State = flowPending
		r.Nodes = nil
		for _, p := range r.Elasticity {
			p.LastEval, p.TrueEvals, p.ExpressionEvaluated = 0, 0, ""
			p.Type = strings.ToUpper(p.Type)
		}
	}
	id := s.d.nextID("document", 0)
	name, _ := body["name"].(string)
	svc := &flowService{ID: id, UID: u.ID, GID: u.GID, Name: name, Perms: defaultPerms, StartTime: now.Unix(), TemplateID: t.ID, State: flowDeploying, Roles: roles, Extra: map[string]any{}}
	if cd, ok := body["cooldown"].(float64); ok {
		svc.Cooldown = int(cd)
	}
	for k, v := range body {
		switch k {
		case "name", "roles", "registration_time", "state", "log":
		default:
			svc.Extra[k] = v
		}
	}
	s.d.Services[id] = svc
	for _, r := range roles {
		if err := s.scaleRoleTo(svc, r, r.card(), now); err != nil {
			s.undeployService(svc, now)
			delete(s.d.Services, id)
			return nil, err
		}
	}
	s.logf(svc, now, "I", "New state: DEPLOYING")
	s.refreshService(svc, now)
	return svc, nil
}

func (s *Server) logf(svc *flowService, now timeT, sev, format string, a ...any) {
	svc.Log = append(svc.Log, flowLog{Timestamp: now.Unix(), Severity: sev, Message: fmt.Sprintf(format, a...)})
	if len(svc.Log) > 50 {
		svc.Log = svc.Log[len(svc.Log)-50:]
	}
}

// scaleRoleTo creates or terminates VMs until the role has n nodes.
func (s *Server) scaleRoleTo(svc *flowService, r *role, n int, now timeT) error {
	owner := s.d.Users[svc.UID]
	if owner == nil {
		owner = s.d.Users[0]
	}
	for len(r.Nodes) < n {
		tpl, ok := s.d.Templates[r.VMTemplate]
		if !ok {
			return herr(400, "Role %s: error getting virtual machine template [%d].", r.Name, r.VMTemplate)
		}
		t := tpl.Tmpl.clone()
		if strings.TrimSpace(r.VMTemplateContents) != "" {
			et, err := ParseTemplate(r.VMTemplateContents)
			if err != nil {
				return herr(400, "Role %s: vm_template_contents: %v", r.Name, err)
			}
			t = t.Merge(et)
		}
		t = t.Set("SERVICE_ID", strconv.Itoa(svc.ID)).Set("ROLE_NAME", r.Name)
		name := fmt.Sprintf("%s_%d_(service_%d)", r.Name, r.LastVMName, svc.ID)
		v, rerr := s.createVM(now, name, tpl.Name, t, owner, false, tpl.ID)
		if rerr != nil {
			return herr(500, "Role %s: %s", r.Name, rerr.msg)
		}
		if r.CPU != nil {
			v.CPU = *r.CPU
		}
		r.LastVMName++
		r.Nodes = append(r.Nodes, v.ID)
	}
	for len(r.Nodes) > n {
		last := r.Nodes[len(r.Nodes)-1]
		if v, ok := s.d.VMs[last]; ok && v.State != vmDone {
			s.terminate(v, now)
		}
		r.Nodes = r.Nodes[:len(r.Nodes)-1]
	}
	c := n
	r.Cardinality = &c
	return nil
}

func (s *Server) undeployService(svc *flowService, now timeT) {
	for _, r := range svc.Roles {
		for _, id := range r.Nodes {
			if v, ok := s.d.VMs[id]; ok && v.State != vmDone {
				s.terminate(v, now)
			}
		}
		r.Nodes = nil
		r.State = flowDone
	}
	svc.State = flowDone
}

// refreshService derives role and service states from the VMs, as
// OneFlow's monitor does: DEPLOYING until every node runs, COOLDOWN until
// the cooldown ends, then RUNNING.
func (s *Server) refreshService(svc *flowService, now timeT) {
	if svc.State == flowDone || svc.State == flowUndeploying {
		return
	}
	all := flowRunning
	for _, r := range svc.Roles {
		st := flowRunning
		for _, id := range r.Nodes {
			v, ok := s.d.VMs[id]
			if !ok || v.State == vmDone {
				st = flowWarning
				break
			}
			if v.State == vmPending || v.State == vmHold {
				st = flowDeploying
			}
		}
		if st == flowRunning && r.CooldownEnd > now.Unix() {
			st = flowCooldown
		}
		r.State = st
		switch {
		case st == flowWarning:
			all = flowWarning
		case st == flowDeploying && all != flowWarning:
			all = flowDeploying
		case st == flowCooldown && all == flowRunning:
			all = flowCooldown
		}
	}
	if all != svc.State {
		s.logf(svc, now, "I", "New state: %s", flowStateName(all))
	}
	svc.State = all
}

func flowStateName(st int) string {
	return map[int]string{0: "PENDING", 1: "DEPLOYING", 2: "RUNNING", 3: "UNDEPLOYING", 4: "WARNING", 5: "DONE", 8: "SCALING", 10: "COOLDOWN"}[st]
}

func (s *Server) serviceDoc(svc *flowService) map[string]any {
	doc := s.docHead(svc.ID, svc.UID, svc.GID, svc.Name, svc.Perms, "100")
	body := map[string]any{}
	for k, v := range svc.Extra {
		body[k] = v
	}
	body["name"] = svc.Name
	body["state"] = svc.State
	body["start_time"] = svc.StartTime
	body["template_id"] = svc.TemplateID
	logs := []any{}
	for _, l := range svc.Log {
		logs = append(logs, l)
	}
	body["log"] = logs
	roles := []any{}
	for _, r := range svc.Roles {
		rm := map[string]any{}
		_ = decodeInto(r, &rm)
		delete(rm, "nodes_ids")
		delete(rm, "cooldown_end")
		delete(rm, "sim_cpu")
		rm["cardinality"] = r.card()
		nodes := []any{}
		for _, id := range r.Nodes {
			node := map[string]any{"deploy_id": id}
			if v, ok := s.d.VMs[id]; ok {
				vmm := map[string]any{
					"ID": strconv.Itoa(v.ID), "UID": strconv.Itoa(v.UID), "GID": strconv.Itoa(v.GID),
					"NAME": v.Name, "STATE": strconv.Itoa(v.State), "LCM_STATE": strconv.Itoa(v.LCM),
				}
				if u, ok := s.d.Users[v.UID]; ok {
					vmm["UNAME"] = u.Name
				}
				if g, ok := s.d.Groups[v.GID]; ok {
					vmm["GNAME"] = g.Name
				}
				node["vm_info"] = map[string]any{"VM": vmm}
			}
			nodes = append(nodes, node)
		}
		rm["nodes"] = nodes
		roles = append(roles, rm)
	}
	body["roles"] = roles
	doc["TEMPLATE"] = map[string]any{"BODY": body}
	return doc
}

func (s *Server) findRole(svc *flowService, name string) (*role, error) {
	for _, r := range svc.Roles {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, herr(400, "Role %q not found in service %d", name, svc.ID)
}

func (s *Server) scaleAction(svc *flowService, body map[string]any, now timeT) (int, any, error) {
	name, _ := body["role_name"].(string)
	r, err := s.findRole(svc, name)
	if err != nil {
		return 0, nil, err
	}
	cf, ok := body["cardinality"].(float64)
	if !ok || cf < 0 || cf != float64(int(cf)) {
		return 0, nil, herr(400, "cardinality must be an integer >= 0")
	}
	n := int(cf)
	force, _ := body["force"].(bool)
	if !force {
		if r.MinVMs != nil && n < *r.MinVMs {
			return 0, nil, herr(400, "Minimum cardinality is %d", *r.MinVMs)
		}
		if r.MaxVMs != nil && n > *r.MaxVMs {
			return 0, nil, herr(400, "Maximum cardinality is %d", *r.MaxVMs)
		}
	}
	if svc.State != flowRunning && svc.State != flowCooldown && svc.State != flowWarning && svc.State != flowDeploying {
		return 0, nil, herr(400, "Service cannot be scaled in state %s", flowStateName(svc.State))
	}
	before := len(r.Nodes)
	if err := s.scaleRoleTo(svc, r, n, now); err != nil {
		return 0, nil, err
	}
	s.logf(svc, now, "I", "Role %s scaling from %d to %d nodes (manual)", r.Name, before, n)
	s.refreshService(svc, now)
	return 201, nil, nil
}

func (s *Server) serviceAction(svc *flowService, body map[string]any, now timeT) (int, any, error) {
	perform, params, err := actionOf(body)
	if err != nil {
		return 0, nil, err
	}
	switch perform {
	case "rename":
		name, _ := params["name"].(string)
		if strings.TrimSpace(name) == "" {
			return 0, nil, herr(400, "name is required")
		}
		svc.Name = name
	case "chown", "chgrp":
		uid, gid, err := s.ownerParams(params)
		if err != nil {
			return 0, nil, err
		}
		if uid >= 0 {
			svc.UID = uid
		}
		if gid >= 0 {
			svc.GID = gid
		}
	case "chmod":
		p, err := octet(params)
		if err != nil {
			return 0, nil, err
		}
		svc.Perms = p
	case "recover":
		if del, _ := params["delete"].(bool); del {
			s.undeployService(svc, now)
			delete(s.d.Services, svc.ID)
			return 201, nil, nil
		}
		for _, r := range svc.Roles {
			live := r.Nodes[:0:0]
			for _, id := range r.Nodes {
				if v, ok := s.d.VMs[id]; ok && v.State != vmDone {
					live = append(live, id)
				}
			}
			r.Nodes = live
			if err := s.scaleRoleTo(svc, r, r.card(), now); err != nil {
				return 0, nil, err
			}
		}
		s.refreshService(svc, now)
	case "shutdown", "undeploy":
		s.undeployService(svc, now)
	default:
		return 0, nil, herr(400, "Action %q is not supported for services", perform)
	}
	return 201, nil, nil
}

var roleActions = map[string]string{
	"terminate": "terminate", "terminate-hard": "terminate-hard", "poweroff": "poweroff",
	"poweroff-hard": "poweroff-hard", "resume": "resume", "suspend": "suspend", "stop": "stop",
	"reboot": "reboot", "reboot-hard": "reboot-hard", "undeploy": "undeploy", "undeploy-hard": "undeploy-hard",
	"hold": "hold", "release": "release", "resched": "resched", "unresched": "unresched",
}

func (s *Server) roleAction(svc *flowService, name string, body map[string]any, now timeT) (int, any, error) {
	r, err := s.findRole(svc, name)
	if err != nil {
		return 0, nil, err
	}
	perform, _, err := actionOf(body)
	if err != nil {
		return 0, nil, err
	}
	act, ok := roleActions[perform]
	if !ok {
		return 0, nil, herr(400, "Action %q is not supported for roles", perform)
	}
	var failed []string
	for _, id := range r.Nodes {
		v, ok := s.d.VMs[id]
		if !ok {
			continue
		}
		if rerr := s.vmAction(v, act, now); rerr != nil {
			failed = append(failed, rerr.msg)
		}
	}
	if strings.HasPrefix(act, "terminate") {
		live := r.Nodes[:0:0]
		for _, id := range r.Nodes {
			if v, ok := s.d.VMs[id]; ok && v.State != vmDone {
				live = append(live, id)
			}
		}
		r.Nodes = live
	}
	s.logf(svc, now, "I", "Role %s: action %s performed on %d VMs", r.Name, act, len(r.Nodes))
	if len(failed) > 0 {
		sort.Strings(failed)
		return 0, nil, herr(400, "%s", strings.Join(failed, "; "))
	}
	return 201, nil, nil
}
