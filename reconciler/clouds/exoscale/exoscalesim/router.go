package exoscalesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	v3 "github.com/exoscale/egoscale/v3"
	"github.com/google/uuid"
)

// routed is the outcome of routing one request.
type routed struct {
	key      string // endpoint key for counters and faults, e.g. "PUT /v2/block-storage/{id}:attach"
	handle   func(*call)
	ids      []string // path ids in order
	unsigned bool     // GET /zone is the only call egoscale does not sign
	status   int      // when handle is nil
	msg      string
}

// routeTable maps endpoint keys to handlers; each Server builds its own
// (read-only afterwards).
func routeTable() map[string]func(*call) {
	return map[string]func(*call){
		"GET /v2/zone":                              (*call).listZones,
		"GET /v2/operation/{id}":                    (*call).getOperation,
		"GET /v2/instance-type":                     (*call).listInstanceTypes,
		"GET /v2/instance-type/{id}":                (*call).getInstanceType,
		"GET /v2/template":                          (*call).listTemplates,
		"GET /v2/template/{id}":                     (*call).getTemplate,
		"GET /v2/instance":                          (*call).listInstances,
		"POST /v2/instance":                         (*call).createInstance,
		"GET /v2/instance/{id}":                     (*call).getInstance,
		"PUT /v2/instance/{id}":                     (*call).updateInstance,
		"DELETE /v2/instance/{id}":                  (*call).deleteInstance,
		"PUT /v2/instance/{id}:start":               (*call).startInstance,
		"PUT /v2/instance/{id}:stop":                (*call).stopInstance,
		"PUT /v2/instance/{id}:reboot":              (*call).rebootInstance,
		"PUT /v2/instance/{id}:scale":               (*call).scaleInstance,
		"PUT /v2/instance/{id}:resize-disk":         (*call).resizeInstanceDisk,
		"GET /v2/private-network":                   (*call).listNetworks,
		"POST /v2/private-network":                  (*call).createNetwork,
		"GET /v2/private-network/{id}":              (*call).getNetwork,
		"PUT /v2/private-network/{id}":              (*call).updateNetwork,
		"DELETE /v2/private-network/{id}":           (*call).deleteNetwork,
		"PUT /v2/private-network/{id}:attach":       (*call).attachNetwork,
		"PUT /v2/private-network/{id}:detach":       (*call).detachNetwork,
		"GET /v2/security-group":                    (*call).listSecurityGroups,
		"POST /v2/security-group":                   (*call).createSecurityGroup,
		"GET /v2/security-group/{id}":               (*call).getSecurityGroup,
		"DELETE /v2/security-group/{id}":            (*call).deleteSecurityGroup,
		"POST /v2/security-group/{id}/rules":        (*call).addRule,
		"DELETE /v2/security-group/{id}/rules/{id}": (*call).deleteRule,
		"PUT /v2/security-group/{id}:attach":        (*call).attachSecurityGroup,
		"PUT /v2/security-group/{id}:detach":        (*call).detachSecurityGroup,
		"GET /v2/block-storage":                     (*call).listVolumes,
		"POST /v2/block-storage":                    (*call).createVolume,
		"GET /v2/block-storage/{id}":                (*call).getVolume,
		"PUT /v2/block-storage/{id}":                (*call).updateVolume,
		"DELETE /v2/block-storage/{id}":             (*call).deleteVolume,
		"PUT /v2/block-storage/{id}:attach":         (*call).attachVolume,
		"PUT /v2/block-storage/{id}:detach":         (*call).detachVolume,
		"PUT /v2/block-storage/{id}:resize-volume":  (*call).resizeVolume,
	}
}

// route classifies method + path (relative to /v2).
func route(handlers map[string]func(*call), method, api string) routed {
	segs := strings.Split(strings.Trim(api, "/"), "/")
	var key strings.Builder
	key.WriteString(method + " /v2")
	var ids []string
	for i, seg := range segs {
		if seg == "" {
			return routed{key: method + " /v2/(unknown)", status: http.StatusNotFound, msg: "Not Found"}
		}
		switch {
		case i == 0 || (i == 2 && seg == "rules"):
			key.WriteString("/" + seg)
		case i == 1 || i == 3:
			id, action, hasAction := strings.Cut(seg, ":")
			ids = append(ids, id)
			key.WriteString("/{id}")
			if hasAction {
				key.WriteString(":" + action)
			}
		default:
			return routed{key: method + " /v2/(unknown)", status: http.StatusNotFound, msg: "Not Found"}
		}
	}
	k := key.String()
	h, ok := handlers[k]
	if !ok {
		// Known path with another method → 405, otherwise 404.
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			if _, found := handlers[m+strings.TrimPrefix(k, method)]; found {
				return routed{key: k, status: http.StatusMethodNotAllowed, msg: "Method Not Allowed"}
			}
		}
		return routed{key: method + " /v2/(unknown)", status: http.StatusNotFound, msg: "Not Found"}
	}
	return routed{key: k, handle: h, ids: ids, unsigned: k == "GET /v2/zone"}
}

// call is one authenticated API request.
type call struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	zone string
	key  string
	ids  []string
	body []byte
}

func (c *call) now() time.Time { return c.s.opts.Now().UTC().Truncate(time.Second) }

// id returns path id i, validated as a UUID; a malformed id answers 400.
func (c *call) id(i int) (v3.UUID, bool) {
	raw := c.ids[i]
	u, err := uuid.Parse(raw)
	if err != nil {
		c.fail(http.StatusBadRequest, fmt.Sprintf("invalid id %q: must be a UUID", raw))
		return "", false
	}
	return v3.UUID(u.String()), true
}

// decode reads the JSON body into v; on error it answers 400.
func (c *call) decode(v any) bool {
	if len(c.body) == 0 {
		c.fail(http.StatusBadRequest, "request body is required")
		return false
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		c.fail(http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func (c *call) ok(v any) { writeJSON(c.w, http.StatusOK, v) }

// raw writes an already encoded 200 answer (lists encode under the read
// lock, then write without it).
func (c *call) raw(b []byte, err error) {
	if err != nil {
		c.fail(http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(b)
}
func (c *call) fail(status int, msg string) { writeError(c.w, status, msg) }
func (c *call) notFound(kind string, id v3.UUID) {
	c.fail(http.StatusNotFound, fmt.Sprintf("%s %s not found", kind, id))
}

// operation records an async operation on reference (collection/id) and
// answers with it. It must be called with s.mu held (write), after
// validation; apply runs unless a failure was queued for this endpoint.
func (c *call) operation(command, collection string, ref v3.UUID, apply func()) {
	s := c.s
	failed := s.takeFailure(c.key)
	now := s.opts.Now()
	o := &opRec{
		Op: v3.Operation{
			ID:    v3.UUID(uuid.NewString()),
			State: v3.OperationStateSuccess,
			Reference: &v3.OperationReference{
				ID:      ref,
				Link:    "/v2/" + collection + "/" + string(ref),
				Command: command,
			},
		},
		Created: now,
		Done:    now.Add(s.opts.OperationDelay),
	}
	if s.opts.ImmediateOperations {
		// Final at once for every reader, also GET /v2/operation/{id}.
		o.Done = now
	}
	if failed {
		o.Op.State = v3.OperationStateFailure
		o.Op.Reason = v3.OperationReasonUnavailable
		o.Op.Message = "simulated failure of " + command + " (FailNextOperation)"
	} else if apply != nil {
		apply()
	}
	s.st.addOp(o)
	view := o.Op
	if !s.opts.ImmediateOperations {
		view = opView(o, now)
	}
	s.markDirty()
	c.ok(view)
}

// opView is the operation as seen at time t.
func opView(o *opRec, t time.Time) v3.Operation {
	v := o.Op
	if v.Reference != nil {
		ref := *v.Reference
		v.Reference = &ref
	}
	if t.Before(o.Done) {
		v.State = v3.OperationStatePending
		v.Reason = ""
		v.Message = ""
	}
	return v
}

func (c *call) getOperation() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	c.s.mu.RLock()
	o, found := c.s.st.Operations[string(id)]
	var v v3.Operation
	if found {
		v = opView(o, c.s.opts.Now())
	}
	c.s.mu.RUnlock()
	if !found {
		c.notFound("operation", id)
		return
	}
	c.ok(v)
}

func (c *call) listZones() {
	base := c.s.baseURL(c.r)
	zs := []v3.Zone{}
	for _, z := range zoneNames() {
		zs = append(zs, v3.Zone{
			Name:        v3.ZoneName(z),
			APIEndpoint: v3.Endpoint(c.s.zoneEndpoint(base, z)),
			SOSEndpoint: v3.Endpoint("https://sos-" + z + ".exo.io"),
		})
	}
	c.ok(v3.ListZonesResponse{Zones: zs})
}

func (c *call) listInstanceTypes() {
	c.ok(v3.ListInstanceTypesResponse{InstanceTypes: c.s.cat.types})
}

func (c *call) getInstanceType() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	t, found := c.s.cat.typeByID[id]
	if !found {
		c.notFound("instance type", id)
		return
	}
	c.ok(t)
}

func (c *call) listTemplates() {
	q := c.r.URL.Query()
	vis := q.Get("visibility")
	if vis == "" {
		vis = string(v3.TemplateVisibilityPublic)
	}
	if vis != "public" && vis != "private" {
		c.fail(http.StatusBadRequest, "visibility must be public or private")
		return
	}
	fam := q.Get("family")
	out := []v3.Template{}
	for _, t := range c.s.cat.templates {
		if string(t.Visibility) == vis && (fam == "" || t.Family == fam) {
			out = append(out, t)
		}
	}
	c.ok(v3.ListTemplatesResponse{Templates: out})
}

func (c *call) getTemplate() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	t, found := c.s.cat.tplByID[id]
	if !found {
		c.notFound("template", id)
		return
	}
	c.ok(t)
}

// rawLabels reports whether the JSON body carries a non-null "labels" key
// (egoscale sends "labels": null on updates that do not touch labels).
func rawLabels(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	raw, ok := m["labels"]
	return ok && string(raw) != "null"
}

// validLabels checks label keys and values like the API does.
func validLabels(l v3.Labels) string {
	for k, v := range l {
		if k == "" || len(k) > 255 {
			return "label keys must be 1 to 255 characters"
		}
		if len(v) > 255 {
			return fmt.Sprintf("label %q: value longer than 255 characters", k)
		}
	}
	return ""
}

func copyLabels(l v3.Labels) v3.Labels {
	if l == nil {
		return nil
	}
	out := make(v3.Labels, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}
