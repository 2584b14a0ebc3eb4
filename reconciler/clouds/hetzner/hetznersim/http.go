package hetznersim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

// apiError is an error answered in the API's JSON error shape.
type apiError struct {
	status  int
	code    string
	message string
	details any
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%s)", e.message, e.code) }

func newErr(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// fieldDetails is the details object of invalid_input and uniqueness_error.
type fieldDetails struct {
	Fields []fieldMessages `json:"fields"`
}

type fieldMessages struct {
	Name     string   `json:"name"`
	Messages []string `json:"messages,omitempty"`
}

func errInvalid(field, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	return &apiError{status: http.StatusBadRequest, code: "invalid_input",
		message: fmt.Sprintf("invalid input in field '%s'", field),
		details: fieldDetails{Fields: []fieldMessages{{Name: field, Messages: []string{msg}}}}}
}

func errNotFound(kind string, id int64) *apiError {
	return newErr(http.StatusNotFound, "not_found", "%s with ID '%d' not found", kind, id)
}

func errUnique(field string) *apiError {
	return &apiError{status: http.StatusConflict, code: "uniqueness_error",
		message: fmt.Sprintf("%s is already used", field),
		details: fieldDetails{Fields: []fieldMessages{{Name: field}}}}
}

func errLocked(kind string, id int64) *apiError {
	return newErr(http.StatusLocked, "locked", "%s %d is locked: another action is running", kind, id)
}

// writeJSON answers a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, newErr(http.StatusInternalServerError, "server_error", "encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiError) {
	details := e.details
	if details == nil {
		details = struct{}{}
	}
	body := map[string]any{"error": map[string]any{"code": e.code, "message": e.message, "details": details}}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// statusCodes maps an injected HTTP status to the API's error code.
var statusCodes = map[int]string{
	400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found",
	409: "conflict", 423: "locked", 429: "rate_limit_exceeded", 500: "server_error",
	502: "bad_gateway", 503: "service_error", 504: "timeout",
}

// faultResponder writes an injected fault in the API's own error shape.
func (s *Server) faultResponder(w http.ResponseWriter, r *http.Request, status int) {
	code, ok := statusCodes[status]
	if !ok {
		code = "unknown_error"
		if status >= 500 {
			code = "server_error"
		}
	}
	msg := "injected fault: " + http.StatusText(status)
	if status == http.StatusTooManyRequests {
		msg = fmt.Sprintf("limit of %d requests per hour reached", s.opts.RateLimitPerHour)
		now := s.now()
		s.setRateHeaders(w, 0, now.Add(time.Second))
	}
	writeError(w, &apiError{status: status, code: code, message: msg})
}

// endpointKey is the counter and fault key: "GET /v1/servers/{id}/actions/poweron".
func endpointKey(method, p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, sg := range segs {
		if _, err := strconv.ParseInt(sg, 10, 64); err == nil && sg != "" {
			segs[i] = "{id}"
		}
	}
	return method + " /" + strings.Join(segs, "/")
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// ServeHTTP serves the API under /v1 and the control API under /_sim/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/_sim" || strings.HasPrefix(p, "/_sim/") {
		s.serveControl(w, r, strings.TrimPrefix(p, "/_sim"))
		return
	}
	w.Header().Set("X-Correlation-Id", randomString(16, "0123456789abcdef"))
	key := endpointKey(r.Method, p)
	start := s.now()
	if s.ctl.Apply(w, r, key, s.faultResponder) {
		return
	}
	tok := bearer(r)
	if !s.tokens[tok] {
		writeError(w, newErr(http.StatusUnauthorized, "unauthorized", "unable to authenticate"))
		return
	}
	if s.limit != nil {
		ok, remaining, reset := s.limit.take(tok, s.now(), true)
		s.setRateHeaders(w, remaining, reset)
		if !ok {
			writeError(w, newErr(http.StatusTooManyRequests, "rate_limit_exceeded",
				"limit of %d requests per hour reached", s.opts.RateLimitPerHour))
			return
		}
	}
	rest, ok := strings.CutPrefix(p, "/v1/")
	if !ok {
		writeError(w, newErr(http.StatusNotFound, "not_found", "no API endpoint at %s", p))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, newErr(http.StatusRequestEntityTooLarge, "invalid_input", "request body too large"))
		return
	}
	req := &request{method: r.Method, segs: strings.Split(strings.Trim(rest, "/"), "/"), query: r.URL.Query(), body: body}
	status, out, aerr := s.route(req)
	switch {
	case aerr != nil:
		writeError(w, aerr)
	case out == nil:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, out)
	}
	s.log.Debug("hetznersim request", "endpoint", key, "status", status, "duration", s.now().Sub(start))
}

// request is a parsed API call.
type request struct {
	method string
	segs   []string
	query  url.Values
	body   []byte
}

// decode reads the JSON body into v; an empty body leaves v as is.
func (q *request) decode(v any) *apiError {
	if len(bytes.TrimSpace(q.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(q.body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errInvalid(te.Field, "wrong type: %s", te.Value)
		}
		return newErr(http.StatusBadRequest, "json_error", "invalid JSON in request body")
	}
	return nil
}

func parseID(kind, s string) (int64, *apiError) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, newErr(http.StatusBadRequest, "invalid_input", "invalid %s id '%s'", kind, s)
	}
	return id, nil
}

var errNoRoute = newErr(http.StatusNotFound, "not_found", "no such API endpoint")

func errMethod(method string) *apiError {
	return newErr(http.StatusMethodNotAllowed, "method_not_allowed", "method %s not allowed here", method)
}

// route dispatches an authenticated /v1 request. It returns the status and
// the body (nil = no body) or an API error.
func (s *Server) route(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.settleLocked(now)
	status, out, err := s.routeLocked(q, now)
	if q.method != http.MethodGet && err == nil {
		s.changed()
	}
	return status, out, err
}

// ---- listing: filters, sorting, pagination ----

type pagination struct {
	Page         int  `json:"page"`
	PerPage      int  `json:"per_page"`
	PreviousPage *int `json:"previous_page"`
	NextPage     *int `json:"next_page"`
	LastPage     int  `json:"last_page"`
	TotalEntries int  `json:"total_entries"`
}

type listQuery struct {
	page, perPage int
	name          string
	sel           selector
	sorts         []sortKey
}

type sortKey struct {
	field string
	desc  bool
}

// parseList reads page, per_page, name, label_selector and sort. sortable
// lists the accepted sort fields.
func parseList(q url.Values, sortable ...string) (listQuery, *apiError) {
	lq := listQuery{page: 1, perPage: 25, name: q.Get("name")}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return lq, errInvalid("page", "must be a positive integer")
		}
		lq.page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return lq, errInvalid("per_page", "must be a positive integer")
		}
		lq.perPage = min(n, 50)
	}
	if v, ok := q["label_selector"]; ok {
		sel, err := parseSelector(strings.Join(v, ","))
		if err != nil {
			return lq, errInvalid("label_selector", "%v", err)
		}
		lq.sel = sel
	}
	for _, v := range q["sort"] {
		f, dir, _ := strings.Cut(v, ":")
		if !contains(sortable, f) || (dir != "" && dir != "asc" && dir != "desc") {
			return lq, errInvalid("sort", "unsupported sort %q", v)
		}
		lq.sorts = append(lq.sorts, sortKey{field: f, desc: dir == "desc"})
	}
	return lq, nil
}

// sortBy orders items by the query's sort keys; cmp compares one field.
func sortBy[T any](items []T, keys []sortKey, cmp func(a, b T, field string) int) {
	if len(keys) == 0 {
		return
	}
	sort.SliceStable(items, func(i, j int) bool {
		for _, k := range keys {
			c := cmp(items[i], items[j], k.field)
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpTime(a, b time.Time) int { return a.Compare(b) }

// page cuts one page out of items and returns its pagination meta.
func page[T any](items []T, lq listQuery) ([]T, pagination) {
	total := len(items)
	last := max(1, (total+lq.perPage-1)/lq.perPage)
	p := pagination{Page: lq.page, PerPage: lq.perPage, LastPage: last, TotalEntries: total}
	if lq.page > 1 {
		prev := min(lq.page-1, last)
		p.PreviousPage = &prev
	}
	if lq.page < last {
		next := lq.page + 1
		p.NextPage = &next
	}
	start := (lq.page - 1) * lq.perPage
	if start >= total {
		return []T{}, p
	}
	end := min(total, start+lq.perPage)
	return items[start:end], p
}

// listBody is a list response: {"<key>": [...], "meta": {"pagination": ...}}.
func listBody[T any](key string, items []T, p pagination) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{key: items, "meta": map[string]any{"pagination": p}}
}

// labelsOrEmpty never renders labels as null.
func labelsOrEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func copyLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ---- control API ----

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request, rest string) {
	if s.ctl.ServeControl(w, r, rest) {
		return
	}
	switch {
	case rest == "/cpu" && r.Method == http.MethodPost:
		var in struct {
			Selector *string  `json:"selector"`
			ServerID int64    `json:"server_id"`
			CPU      *float64 `json:"cpu"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
			simctl.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "cpu: " + err.Error()})
			return
		}
		if in.CPU == nil {
			simctl.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "cpu: missing \"cpu\""})
			return
		}
		var ids []int64
		var err error
		switch {
		case in.ServerID != 0 && in.Selector != nil:
			err = errors.New("give either server_id or selector, not both")
		case in.ServerID != 0:
			err = s.SetServerCPU(in.ServerID, *in.CPU)
			ids = []int64{in.ServerID}
		case in.Selector != nil:
			ids, err = s.SetCPUBySelector(*in.Selector, *in.CPU)
		default:
			err = errors.New("give server_id or selector")
		}
		if err != nil {
			simctl.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if ids == nil {
			ids = []int64{}
		}
		simctl.WriteJSON(w, http.StatusOK, map[string]any{"servers": ids, "cpu": *in.CPU})
	case rest == "/servers" && r.Method == http.MethodGet:
		simctl.WriteJSON(w, http.StatusOK, s.Servers())
	case rest == "/action_failures" && r.Method == http.MethodPost:
		var f ActionFailure
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&f); err != nil {
			simctl.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "action_failures: " + err.Error()})
			return
		}
		if err := s.FailActions(f); err != nil {
			simctl.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		simctl.WriteJSON(w, http.StatusCreated, f)
	case rest == "/action_failures" && r.Method == http.MethodDelete:
		s.mu.Lock()
		s.st.Failures = nil
		s.mu.Unlock()
		s.changed()
		w.WriteHeader(http.StatusNoContent)
	default:
		simctl.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no such control endpoint: " + r.Method + " /_sim" + rest})
	}
}
