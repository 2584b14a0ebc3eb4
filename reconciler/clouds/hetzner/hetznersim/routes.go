package hetznersim

import (
	"net/http"
	"strings"
	"time"
)

// handler serves one routed /v1 request (the state lock is held).
type handler func(s *Server, q *request, now time.Time) (int, any, *apiError)

// endpoint is one row of the routing table.
type endpoint struct {
	method string   // "" matches every method
	path   []string // "{id}" matches any one segment; a last "*" any rest, also none
	handle handler
}

// routeTable lists the /v1 endpoints; the first row whose method and path
// match serves a request, and a request no row matches is answered "no
// such API endpoint". Rows with no method give the answers the real API
// gives to a known path with another method: 405, or for a path below a
// resource, "not found" when the resource does not exist (so the id is
// parsed and looked up before the path is refused). Action lists
// (/{res}/actions, /{res}/{id}/actions) come before the {id} rows because
// "actions" is not an id. Each Server builds its own (read-only
// afterwards).
func routeTable() []endpoint {
	var t []endpoint
	t = append(t, resourceRoutes("servers", []endpoint{
		{"GET", nil, coll((*Server).listServers)},
		{"POST", nil, (*Server).createServer},
	}, "server", serverByID, []itemRoute[serverRec]{
		{"GET", "", func(s *Server, _ *request, r *serverRec, _ time.Time) (int, any, *apiError) {
			return http.StatusOK, map[string]any{"server": s.renderServer(r)}, nil
		}},
		{"PUT", "", noTime((*Server).updateServer)},
		{"DELETE", "", (*Server).deleteServer},
		{"", "", itemNotAllowed[serverRec]},
		{"GET", "metrics", noTime((*Server).serverMetrics)},
		{"POST", "actions/{action}", withAction((*Server).serverAction)},
		{"", "*", itemNoRoute[serverRec]},
	})...)
	t = append(t, resourceRoutes("networks", []endpoint{
		{"GET", nil, coll((*Server).listNetworks)},
		{"POST", nil, (*Server).createNetwork},
	}, "network", networkByID, []itemRoute[networkRec]{
		{"GET", "", func(_ *Server, _ *request, n *networkRec, _ time.Time) (int, any, *apiError) {
			return http.StatusOK, map[string]any{"network": n.toSchema()}, nil
		}},
		{"PUT", "", noTime((*Server).updateNetwork)},
		{"DELETE", "", noTime((*Server).deleteNetwork)},
		{"", "", itemNotAllowed[networkRec]},
		{"POST", "actions/{action}", withAction((*Server).networkAction)},
		{"", "*", itemNoRoute[networkRec]},
	})...)
	t = append(t, resourceRoutes("firewalls", []endpoint{
		{"GET", nil, coll((*Server).listFirewalls)},
		{"POST", nil, (*Server).createFirewall},
	}, "firewall", firewallByID, []itemRoute[firewallRec]{
		{"GET", "", func(s *Server, _ *request, f *firewallRec, _ time.Time) (int, any, *apiError) {
			return http.StatusOK, map[string]any{"firewall": s.renderFirewall(f)}, nil
		}},
		{"PUT", "", noTime((*Server).updateFirewall)},
		{"DELETE", "", noTime((*Server).deleteFirewall)},
		{"", "", itemNotAllowed[firewallRec]},
		{"POST", "actions/{action}", withAction((*Server).firewallAction)},
		{"", "*", itemNoRoute[firewallRec]},
	})...)
	// SSH keys have no actions: anything below /ssh_keys/{id} is no endpoint.
	t = append(t,
		endpoint{"GET", path("ssh_keys"), coll((*Server).listSSHKeys)},
		endpoint{"POST", path("ssh_keys"), (*Server).createSSHKey},
		endpoint{"", path("ssh_keys"), notAllowed},
		endpoint{"GET", path("ssh_keys/{id}"), item("ssh_key", sshKeyByID, func(_ *Server, _ *request, k *sshKeyRec, _ time.Time) (int, any, *apiError) {
			return http.StatusOK, map[string]any{"ssh_key": k.toSchema()}, nil
		})},
		endpoint{"PUT", path("ssh_keys/{id}"), item("ssh_key", sshKeyByID, noTime((*Server).updateSSHKey))},
		endpoint{"DELETE", path("ssh_keys/{id}"), item("ssh_key", sshKeyByID, noTime((*Server).deleteSSHKey))},
		endpoint{"", path("ssh_keys/{id}"), item("ssh_key", sshKeyByID, itemNotAllowed[sshKeyRec])},
		// GET /actions[/{id}]; the catalogue endpoints answer every method
		// themselves (they are read-only).
		endpoint{"", path("actions/*"), actionsOf("")},
		endpoint{"", path("images/*"), coll((*Server).routeImages)},
		endpoint{"", path("server_types/*"), coll((*Server).routeServerTypes)},
		endpoint{"", path("locations/*"), coll((*Server).routeLocations)},
		endpoint{"", path("datacenters/*"), coll((*Server).routeDatacenters)},
	)
	return t
}

// itemRoute is a row below /{res}/{id}: sub is the rest of the path after
// the id ("" for the resource itself).
type itemRoute[T any] struct {
	method string
	sub    string
	handle itemHandler[T]
}

// resourceRoutes are the rows of a collection with actions: the collection
// rows (coll, given without a path), 405 for its other methods, the action
// lists, then the item rows, each resolving the id first.
func resourceRoutes[T any](res string, coll []endpoint, kind string, get func(*Server, int64) *T, items []itemRoute[T]) []endpoint {
	var t []endpoint
	for _, e := range coll {
		t = append(t, endpoint{e.method, path(res), e.handle})
	}
	t = append(t,
		endpoint{"", path(res), notAllowed},
		endpoint{"", path(res + "/actions/*"), actionsOf(kind)},
		endpoint{"", path(res + "/{id}/actions"), actionsOf(kind)},
		endpoint{"GET", path(res + "/{id}/actions/*"), actionsOf(kind)},
	)
	for _, it := range items {
		p := res + "/{id}"
		if it.sub != "" {
			p += "/" + it.sub
		}
		t = append(t, endpoint{it.method, path(p), item(kind, get, it.handle)})
	}
	return t
}

func path(p string) []string { return strings.Split(p, "/") }

// match reports whether the row serves q.
func (e endpoint) match(q *request) bool {
	if e.method != "" && e.method != q.method {
		return false
	}
	for i, p := range e.path {
		if p == "*" && i == len(e.path)-1 {
			return true
		}
		if i >= len(q.segs) || (p != q.segs[i] && !strings.HasPrefix(p, "{")) {
			return false
		}
	}
	return len(q.segs) == len(e.path)
}

// routeLocked serves q with the first matching row of the table.
func (s *Server) routeLocked(q *request, now time.Time) (int, any, *apiError) {
	for _, e := range s.routes {
		if e.match(q) {
			return e.handle(s, q, now)
		}
	}
	return 0, nil, errNoRoute
}

// itemHandler serves a request on one resource.
type itemHandler[T any] func(s *Server, q *request, r *T, now time.Time) (int, any, *apiError)

// item parses the id in the path's second segment and looks the resource
// up before h runs: a malformed id is a 400, an unknown one a 404.
func item[T any](kind string, get func(*Server, int64) *T, h itemHandler[T]) handler {
	return func(s *Server, q *request, now time.Time) (int, any, *apiError) {
		id, aerr := parseID(kind, q.segs[1])
		if aerr != nil {
			return 0, nil, aerr
		}
		r := get(s, id)
		if r == nil {
			return 0, nil, errNotFound(kind, id)
		}
		return h(s, q, r, now)
	}
}

func serverByID(s *Server, id int64) *serverRec     { return s.st.Servers[id] }
func networkByID(s *Server, id int64) *networkRec   { return s.st.Networks[id] }
func firewallByID(s *Server, id int64) *firewallRec { return s.st.Firewalls[id] }
func sshKeyByID(s *Server, id int64) *sshKeyRec     { return s.st.SSHKeys[id] }

// coll adapts a handler that needs no clock.
func coll(f func(*Server, *request) (int, any, *apiError)) handler {
	return func(s *Server, q *request, _ time.Time) (int, any, *apiError) { return f(s, q) }
}

// noTime adapts an item handler that needs no clock.
func noTime[T any](f func(*Server, *request, *T) (int, any, *apiError)) itemHandler[T] {
	return func(s *Server, q *request, r *T, _ time.Time) (int, any, *apiError) { return f(s, q, r) }
}

// withAction adapts an action handler: the action is the path's fourth
// segment (/{res}/{id}/actions/{action}).
func withAction[T any](f func(*Server, *request, *T, string, time.Time) (int, any, *apiError)) itemHandler[T] {
	return func(s *Server, q *request, r *T, now time.Time) (int, any, *apiError) {
		return f(s, q, r, q.segs[3], now)
	}
}

// actionsOf serves the action lists of resType ("" for /actions).
func actionsOf(resType string) handler {
	return func(s *Server, q *request, _ time.Time) (int, any, *apiError) { return s.routeActions(q, resType) }
}

func notAllowed(_ *Server, q *request, _ time.Time) (int, any, *apiError) {
	return 0, nil, errMethod(q.method)
}

func itemNotAllowed[T any](_ *Server, q *request, _ *T, _ time.Time) (int, any, *apiError) {
	return 0, nil, errMethod(q.method)
}

func itemNoRoute[T any](*Server, *request, *T, time.Time) (int, any, *apiError) {
	return 0, nil, errNoRoute
}
