package hetznersim

import (
	"net/http"
	"sort"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func sortByID[T any](list []T, id func(T) int64) {
	sort.Slice(list, func(i, j int) bool { return id(list[i]) < id(list[j]) })
}

// getOrList serves the read-only catalogue endpoints: GET /{key}s and
// GET /{key}s/{id}.
func getOrList[T any](q *request, kind, listKey, itemKey string, items []T, id func(T) int64, name func(T) string, keep func(T) bool) (int, any, *apiError) {
	if q.method != http.MethodGet {
		return 0, nil, newErr(http.StatusForbidden, "forbidden", "%s resources are read-only", kind)
	}
	switch len(q.segs) {
	case 1:
		lq, err := parseList(q.query, "id", "name")
		if err != nil {
			return 0, nil, err
		}
		var list []T
		for _, it := range items {
			if (lq.name == "" || name(it) == lq.name) && (keep == nil || keep(it)) {
				list = append(list, it)
			}
		}
		sortByID(list, id)
		sortBy(list, lq.sorts, func(a, b T, f string) int {
			if f == "name" {
				return cmpStr(name(a), name(b))
			}
			return cmpInt(id(a), id(b))
		})
		pg, meta := page(list, lq)
		return http.StatusOK, listBody(listKey, pg, meta), nil
	case 2:
		want, aerr := parseID(kind, q.segs[1])
		if aerr != nil {
			return 0, nil, aerr
		}
		for _, it := range items {
			if id(it) == want {
				return http.StatusOK, map[string]any{itemKey: it}, nil
			}
		}
		return 0, nil, errNotFound(kind, want)
	}
	return 0, nil, errNoRoute
}

func (s *Server) routeServerTypes(q *request) (int, any, *apiError) {
	return getOrList(q, "server_type", "server_types", "server_type", s.types,
		func(t schema.ServerType) int64 { return t.ID }, func(t schema.ServerType) string { return t.Name }, nil)
}

func (s *Server) routeLocations(q *request) (int, any, *apiError) {
	locs := make([]schema.Location, 0, len(catalogLocations))
	for _, l := range catalogLocations {
		locs = append(locs, l.Location)
	}
	return getOrList(q, "location", "locations", "location", locs,
		func(l schema.Location) int64 { return l.ID }, func(l schema.Location) string { return l.Name }, nil)
}

func (s *Server) routeDatacenters(q *request) (int, any, *apiError) {
	dcs := make([]schema.Datacenter, 0, len(catalogLocations))
	for i := range catalogLocations {
		loc := &catalogLocations[i]
		dc := datacenterOf(loc)
		st := &schema.DatacenterServerTypes{Supported: []int64{}, Available: []int64{}, AvailableForMigration: []int64{}}
		for j := range catalogServerTypes {
			if t := &catalogServerTypes[j]; t.availableIn(loc) {
				st.Supported = append(st.Supported, t.id)
				st.Available = append(st.Available, t.id)
				st.AvailableForMigration = append(st.AvailableForMigration, t.id)
			}
		}
		dc.ServerTypes = st
		dcs = append(dcs, dc)
	}
	return getOrList(q, "datacenter", "datacenters", "datacenter", dcs,
		func(d schema.Datacenter) int64 { return d.ID }, func(d schema.Datacenter) string { return d.Name }, nil)
}

var imageTypes = []string{"system", "snapshot", "backup", "app"}

func (s *Server) routeImages(q *request) (int, any, *apiError) {
	types, archs, statuses := q.query["type"], q.query["architecture"], q.query["status"]
	for _, t := range types {
		if !contains(imageTypes, t) {
			return 0, nil, errInvalid("type", "unknown image type %q", t)
		}
	}
	for _, a := range archs {
		if a != "x86" && a != "arm" {
			return 0, nil, errInvalid("architecture", "unknown architecture %q", a)
		}
	}
	if v := q.query.Get("bound_to"); v != "" {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return 0, nil, errInvalid("bound_to", "bound_to must be a server id")
		}
	}
	lq, aerr := parseList(q.query, "id", "name")
	if aerr != nil {
		return 0, nil, aerr
	}
	keep := func(im schema.Image) bool {
		return (len(types) == 0 || contains(types, im.Type)) &&
			(len(archs) == 0 || contains(archs, im.Architecture)) &&
			(len(statuses) == 0 || contains(statuses, im.Status)) &&
			q.query.Get("bound_to") == "" && // system images are bound to nothing
			lq.sel.matches(im.Labels)
	}
	return getOrList(q, "image", "images", "image", s.images,
		func(im schema.Image) int64 { return im.ID }, func(im schema.Image) string { return *im.Name }, keep)
}
