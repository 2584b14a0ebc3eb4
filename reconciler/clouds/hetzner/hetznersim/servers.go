package hetznersim

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// serverRec is a server as the simulator keeps it.
type serverRec struct {
	ID             int64             `json:"id"`
	Name           string            `json:"name"`
	Status         string            `json:"status"`
	Created        time.Time         `json:"created"`
	Type           int64             `json:"type"`
	Image          int64             `json:"image"`
	Location       int64             `json:"location"`
	Labels         map[string]string `json:"labels"`
	UserData       string            `json:"user_data,omitempty"`
	SSHKeys        []int64           `json:"ssh_keys,omitempty"`
	IPv4ID         int64             `json:"ipv4_id,omitempty"`
	IPv4           string            `json:"ipv4,omitempty"`
	IPv6ID         int64             `json:"ipv6_id,omitempty"`
	IPv6           string            `json:"ipv6,omitempty"`
	PrivateNet     []privateNet      `json:"private_net,omitempty"`
	ProtectDelete  bool              `json:"protect_delete,omitempty"`
	ProtectRebuild bool              `json:"protect_rebuild,omitempty"`
	DiskSize       int               `json:"disk_size"`
	CPU            float64           `json:"cpu"`
}

type privateNet struct {
	Network  int64    `json:"network"`
	IP       string   `json:"ip"`
	AliasIPs []string `json:"alias_ips,omitempty"`
	MAC      string   `json:"mac"`
}

// ServerInfo is a snapshot of one simulated server, for tests and the CLI.
type ServerInfo struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Status     string            `json:"status"`
	ServerType string            `json:"server_type"`
	Location   string            `json:"location"`
	Image      string            `json:"image"`
	Labels     map[string]string `json:"labels"`
	CPU        float64           `json:"cpu"`
	Networks   []int64           `json:"networks"`
	Created    time.Time         `json:"created"`
	// PublicIPv4 is "" for a server without one; Cores and MemoryGB are
	// its type's; UserData is what it booted with (it carries secrets, so
	// it is never serialised).
	PublicIPv4 string  `json:"public_ipv4,omitempty"`
	Cores      int     `json:"cores"`
	MemoryGB   float64 `json:"memory_gb"`
	UserData   string  `json:"-"`
}

// Servers returns a snapshot of every server, ordered by id.
func (s *Server) Servers() []ServerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked(s.now())
	out := make([]ServerInfo, 0, len(s.order))
	for _, id := range s.order {
		r := s.st.Servers[id]
		info := ServerInfo{ID: r.ID, Name: r.Name, Status: r.Status, Labels: copyLabels(r.Labels),
			CPU: r.CPU, Created: r.Created, Networks: []int64{}, PublicIPv4: r.IPv4, UserData: r.UserData}
		if t := serverTypeByID(r.Type); t != nil {
			info.ServerType, info.Cores, info.MemoryGB = t.name, t.cores, float64(t.memory)
		}
		if l := locationByID(r.Location); l != nil {
			info.Location = l.Name
		}
		if im := imageByID(r.Image); im != nil {
			info.Image = im.name
		}
		for _, pn := range r.PrivateNet {
			info.Networks = append(info.Networks, pn.Network)
		}
		out = append(out, info)
	}
	return out
}

func checkCPU(pct float64) error {
	if math.IsNaN(pct) || pct < 0 || pct > 100 {
		return fmt.Errorf("cpu %v: want a percentage between 0 and 100", pct)
	}
	return nil
}

// SetServerCPU sets the CPU percentage the metrics endpoint reports for a
// running server.
func (s *Server) SetServerCPU(id int64, pct float64) error {
	if err := checkCPU(pct); err != nil {
		return err
	}
	s.mu.Lock()
	r := s.st.Servers[id]
	if r != nil {
		r.CPU = pct
	}
	s.mu.Unlock()
	if r == nil {
		return fmt.Errorf("server %d: not found", id)
	}
	s.changed()
	return nil
}

// SetCPUBySelector sets the CPU percentage of every server matching a label
// selector and returns their ids.
func (s *Server) SetCPUBySelector(sel string, pct float64) ([]int64, error) {
	if err := checkCPU(pct); err != nil {
		return nil, err
	}
	ps, err := parseSelector(sel)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	var ids []int64
	for _, id := range s.order {
		if r := s.st.Servers[id]; ps.matches(r.Labels) {
			r.CPU = pct
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	s.changed()
	return ids, nil
}

// ---- rendering ----

type serverJSON struct {
	schema.Server
	PublicNet  publicNetJSON     `json:"public_net"`
	Datacenter schema.Datacenter `json:"datacenter"`
}

type publicNetJSON struct {
	IPv4        *schema.ServerPublicNetIPv4 `json:"ipv4"`
	IPv6        *schema.ServerPublicNetIPv6 `json:"ipv6"`
	FloatingIPs []int64                     `json:"floating_ips"`
	Firewalls   []schema.ServerFirewall     `json:"firewalls"`
}

func datacenterOf(loc *location) schema.Datacenter {
	return schema.Datacenter{ID: loc.datacenterID, Name: loc.datacenterName, Description: loc.dcDescription, Location: loc.Location}
}

func (s *Server) renderServer(r *serverRec) serverJSON {
	loc := locationByID(r.Location)
	t := s.typeByID[r.Type]
	out := serverJSON{Server: schema.Server{
		ID: r.ID, Name: r.Name, Status: r.Status, Created: r.Created,
		PrivateNet: []schema.ServerPrivateNet{}, ServerType: t,
		OutgoingTraffic: new(uint64), IngoingTraffic: new(uint64),
		Location: loc.Location, Protection: schema.ServerProtection{Delete: r.ProtectDelete, Rebuild: r.ProtectRebuild},
		Labels: labelsOrEmpty(r.Labels), Volumes: []int64{}, PrimaryDiskSize: r.DiskSize, LoadBalancers: []int64{},
	}}
	for _, p := range t.Prices {
		if p.Location == loc.Name {
			out.IncludedTraffic = p.IncludedTraffic
		}
	}
	for i := range s.images {
		if s.images[i].ID == r.Image {
			out.Image = &s.images[i]
		}
	}
	for _, pn := range r.PrivateNet {
		alias := pn.AliasIPs
		if alias == nil {
			alias = []string{}
		}
		out.PrivateNet = append(out.PrivateNet, schema.ServerPrivateNet{Network: pn.Network, IP: pn.IP, AliasIPs: alias, MACAddress: pn.MAC})
	}
	out.PublicNet = publicNetJSON{FloatingIPs: []int64{}, Firewalls: s.firewallsOf(r)}
	if r.IPv4 != "" {
		out.PublicNet.IPv4 = &schema.ServerPublicNetIPv4{ID: r.IPv4ID, IP: r.IPv4, DNSPtr: "static." + reverseDots(r.IPv4) + ".clients.your-server.de"}
	}
	if r.IPv6 != "" {
		out.PublicNet.IPv6 = &schema.ServerPublicNetIPv6{ID: r.IPv6ID, IP: r.IPv6, DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}}
	}
	out.Datacenter = datacenterOf(loc)
	return out
}

func reverseDots(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return ip
	}
	b := a.As4()
	return fmt.Sprintf("%d.%d.%d.%d", b[3], b[2], b[1], b[0])
}

// ---- routing ----

var hostnameRe = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

func validName(field, name string) *apiError {
	if name == "" {
		return errInvalid(field, "name is required")
	}
	if len(name) > 253 || !hostnameRe.MatchString(name) {
		return errInvalid(field, "name must be a valid hostname (RFC 1123)")
	}
	return nil
}

var serverStatuses = []string{"initializing", "starting", "running", "stopping", "off", "deleting", "migrating", "rebuilding", "unknown"}

// deleteServer serves DELETE /servers/{id}: the server is deleted by an
// action, in the background.
func (s *Server) deleteServer(q *request, r *serverRec, now time.Time) (int, any, *apiError) {
	if r.ProtectDelete {
		return 0, nil, newErr(http.StatusLocked, "protected", "server %d is protected against deletion", r.ID)
	}
	a := s.newAction(now, "delete_server", ref("server", r.ID))
	a.Server, a.Delete, a.Revert = r.ID, true, r.Status
	r.Status = "deleting"
	return http.StatusOK, actionBody(a), nil
}

func (s *Server) listServers(q *request) (int, any, *apiError) {
	lq, err := parseList(q.query, "id", "name", "created")
	if err != nil {
		return 0, nil, err
	}
	statuses := q.query["status"]
	for _, st := range statuses {
		if !contains(serverStatuses, st) {
			return 0, nil, errInvalid("status", "unknown server status %q", st)
		}
	}
	var list []*serverRec
	for _, id := range s.order {
		r := s.st.Servers[id]
		if lq.name != "" && r.Name != lq.name {
			continue
		}
		if len(statuses) > 0 && !contains(statuses, r.Status) {
			continue
		}
		if !lq.sel.matches(r.Labels) {
			continue
		}
		list = append(list, r)
	}
	sortBy(list, lq.sorts, func(a, b *serverRec, f string) int {
		switch f {
		case "name":
			return cmpStr(a.Name, b.Name)
		case "created":
			return cmpTime(a.Created, b.Created)
		}
		return cmpInt(a.ID, b.ID)
	})
	pg, meta := page(list, lq)
	out := make([]serverJSON, 0, len(pg))
	for _, r := range pg {
		out = append(out, s.renderServer(r))
	}
	return http.StatusOK, listBody("servers", out, meta), nil
}

func (s *Server) serverByName(name string) *serverRec {
	if id, ok := s.names[name]; ok {
		return s.st.Servers[id]
	}
	return nil
}

// resolveServerType finds a server type by id or name.
func resolveServerType(ref schema.IDOrName) (*serverType, *apiError) {
	var t *serverType
	switch {
	case ref.ID != 0:
		t = serverTypeByID(ref.ID)
	case ref.Name != "":
		t = serverTypeByName(ref.Name)
	default:
		return nil, errInvalid("server_type", "server_type is required")
	}
	if t == nil {
		return nil, errInvalid("server_type", "server type not found")
	}
	return t, nil
}

// createServer serves POST /servers in the API's steps: validate the
// request, resolve what it refers to (type, location, image, SSH keys,
// networks, firewalls), allocate the server with its addresses, then
// answer with the create action and the actions that follow it. The
// checks run in the order the real API reports them.
func (s *Server) createServer(q *request, now time.Time) (int, any, *apiError) {
	var in schema.ServerCreateRequest
	if err := q.decode(&in); err != nil {
		return 0, nil, err
	}
	if err := validName("name", in.Name); err != nil {
		return 0, nil, err
	}
	if s.serverByName(in.Name) != nil {
		return 0, nil, errUnique("name")
	}
	if max := s.opts.ServerLimit; max > 0 && len(s.st.Servers) >= max {
		return 0, nil, newErr(http.StatusForbidden, "resource_limit_exceeded",
			"server limit exceeded: the project already has %d of its %d servers", len(s.st.Servers), max)
	}
	pl, aerr := resolvePlacement(in)
	if aerr != nil {
		return 0, nil, aerr
	}
	labels, aerr := serverLabels(in)
	if aerr != nil {
		return 0, nil, aerr
	}
	nets, fws, aerr := s.resolveServerRefs(in, pl.loc)
	if aerr != nil {
		return 0, nil, aerr
	}
	v4, v6, aerr := publicNet(in, nets, fws)
	if aerr != nil {
		return 0, nil, aerr
	}
	r := s.allocateServer(in, pl, labels, v4, v6, now)
	create, next, aerr := s.serverCreateActions(r, in, nets, fws, now)
	if aerr != nil {
		return 0, nil, aerr
	}
	var rootPW *string
	if len(in.SSHKeys) == 0 {
		pw := randomString(20, tokenAlphabet)
		rootPW = &pw
	}
	nextOut := make([]schema.Action, 0, len(next))
	for _, a := range next {
		nextOut = append(nextOut, a.toSchema())
	}
	return http.StatusCreated, map[string]any{
		"server": s.renderServer(r), "action": create.toSchema(),
		"next_actions": nextOut, "root_password": rootPW,
	}, nil
}

// placement is where and from what a new server is built.
type placement struct {
	t   *serverType
	loc *location
	im  *image
}

// resolvePlacement resolves the server type, the location (default fsn1)
// and the image, and checks they fit together.
func resolvePlacement(in schema.ServerCreateRequest) (placement, *apiError) {
	t, aerr := resolveServerType(in.ServerType)
	if aerr != nil {
		return placement{}, aerr
	}
	loc := locationByName("fsn1")
	if in.Location != "" {
		loc = locationByName(in.Location)
		if id, err := strconv.ParseInt(in.Location, 10, 64); err == nil {
			loc = locationByID(id)
		}
		if loc == nil {
			return placement{}, errInvalid("location", "location %q not found", in.Location)
		}
	}
	if !t.availableIn(loc) {
		return placement{}, newErr(http.StatusUnprocessableEntity, "invalid_server_type", "server type %s is not available in location %s", t.name, loc.Name)
	}
	if in.Image.ID == 0 && in.Image.Name == "" {
		return placement{}, errInvalid("image", "image is required")
	}
	im := imageFor(in.Image, t.arch)
	if im == nil {
		return placement{}, errInvalid("image", "image not found for architecture %s", t.arch)
	}
	if im.arch != t.arch {
		return placement{}, errInvalid("image", "image architecture %s does not match server type architecture %s", im.arch, t.arch)
	}
	return placement{t: t, loc: loc, im: im}, nil
}

// serverLabels checks the labels and the size of user_data.
func serverLabels(in schema.ServerCreateRequest) (map[string]string, *apiError) {
	labels := map[string]string{}
	if in.Labels != nil {
		labels = copyLabels(*in.Labels)
	}
	if err := validateLabels(labels); err != nil {
		return nil, errInvalid("labels", "%v", err)
	}
	if len(in.UserData) > 32*1024 {
		return nil, errInvalid("user_data", "user_data must not exceed 32 KiB")
	}
	return labels, nil
}

// resolveServerRefs resolves the SSH keys, networks (each with a subnet in
// the location's network zone) and firewalls; volumes, placement groups
// and primary IPs are not simulated, so any reference to one is unknown.
func (s *Server) resolveServerRefs(in schema.ServerCreateRequest, loc *location) ([]*networkRec, []*firewallRec, *apiError) {
	for _, k := range in.SSHKeys {
		if s.st.SSHKeys[k] == nil {
			return nil, nil, errInvalid("ssh_keys", "SSH key %d not found", k)
		}
	}
	if len(in.Volumes) > 0 {
		return nil, nil, errInvalid("volumes", "volume %d not found", in.Volumes[0])
	}
	if in.PlacementGroup != 0 {
		return nil, nil, errInvalid("placement_group", "placement group %d not found", in.PlacementGroup)
	}
	var nets []*networkRec
	for _, nid := range in.Networks {
		n := s.st.Networks[nid]
		if n == nil {
			return nil, nil, errInvalid("networks", "network %d not found", nid)
		}
		if n.subnetFor(loc.NetworkZone, "") == nil {
			return nil, nil, newErr(http.StatusUnprocessableEntity, "no_subnet_available", "network %d has no subnet in network zone %s", nid, loc.NetworkZone)
		}
		nets = append(nets, n)
	}
	var fws []*firewallRec
	for _, f := range in.Firewalls {
		fw := s.st.Firewalls[f.Firewall]
		if fw == nil {
			return nil, nil, errInvalid("firewalls", "firewall %d not found", f.Firewall)
		}
		fws = append(fws, fw)
	}
	return nets, fws, nil
}

// publicNet reads which public addresses the server gets (both by
// default); a server without any needs a network and takes no firewall.
func publicNet(in schema.ServerCreateRequest, nets []*networkRec, fws []*firewallRec) (v4, v6 bool, aerr *apiError) {
	v4, v6 = true, true
	if in.PublicNet != nil {
		v4, v6 = in.PublicNet.EnableIPv4, in.PublicNet.EnableIPv6
		if in.PublicNet.IPv4ID != 0 || in.PublicNet.IPv6ID != 0 {
			return false, false, errInvalid("public_net", "primary IP not found")
		}
	}
	if !v4 && !v6 && len(nets) == 0 {
		return false, false, errInvalid("networks", "a server without public IPs must be attached to at least one network")
	}
	if !v4 && !v6 && len(fws) > 0 {
		return false, false, newErr(http.StatusUnprocessableEntity, "private_net_only_server", "firewalls cannot be applied to a server without a public interface")
	}
	return v4, v6, nil
}

// allocateServer stores the new server with its id and public addresses.
func (s *Server) allocateServer(in schema.ServerCreateRequest, pl placement, labels map[string]string, v4, v6 bool, now time.Time) *serverRec {
	r := &serverRec{
		ID: s.st.nextID("server"), Name: in.Name, Status: "initializing", Created: now.UTC().Truncate(time.Second),
		Type: pl.t.id, Image: pl.im.id, Location: pl.loc.ID, Labels: labels, UserData: in.UserData,
		SSHKeys: append([]int64(nil), in.SSHKeys...), DiskSize: pl.t.disk,
	}
	if v4 {
		n := s.st.nextID("ip")
		r.IPv4ID, r.IPv4 = n, ipv4For(n)
	}
	if v6 {
		n := s.st.nextID("ip")
		r.IPv6ID, r.IPv6 = n, ipv6For(n)
	}
	s.st.Servers[r.ID] = r
	s.names[r.Name] = r.ID
	s.order = append(s.order, r.ID) // ids only grow: order stays sorted
	return r
}

// serverCreateActions queues the create action and the ones that follow
// it (start, one attach per network) and applies the firewalls.
func (s *Server) serverCreateActions(r *serverRec, in schema.ServerCreateRequest, nets []*networkRec, fws []*firewallRec, now time.Time) (*actionRec, []*actionRec, *apiError) {
	create := s.newAction(now, "create_server", ref("server", r.ID))
	create.Server, create.SetStatus = r.ID, "off"
	next := []*actionRec{}
	start := in.StartAfterCreate == nil || *in.StartAfterCreate
	if start {
		a := s.newAction(now, "start_server", ref("server", r.ID))
		a.Server, a.SetStatus = r.ID, "running"
		next = append(next, a)
	}
	for _, n := range nets {
		if err := s.attach(r, n, "", nil); err != nil {
			return nil, nil, err // cannot happen: subnet checked above
		}
		next = append(next, s.newAction(now, "attach_to_network", ref("server", r.ID), ref("network", n.ID)))
	}
	for _, fw := range fws {
		if !containsID(fw.Servers, r.ID) {
			fw.Servers = append(fw.Servers, r.ID)
		}
	}
	return create, next, nil
}

// ipv4For derives a unique address in 100.64.0.0/10 (shared address space:
// never a real public host).
func ipv4For(n int64) string {
	v := uint32(100)<<24 | uint32(64)<<16 + uint32(n%(1<<22))
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// ipv6For derives a /64 in the documentation prefix 2001:db8::/32.
func ipv6For(n int64) string {
	return fmt.Sprintf("2001:db8:%x:%x::/64", (n>>16)&0xffff, n&0xffff)
}

func containsID(list []int64, id int64) bool {
	for _, x := range list {
		if x == id {
			return true
		}
	}
	return false
}

func removeID(list []int64, id int64) []int64 {
	out := list[:0]
	for _, x := range list {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

func (s *Server) updateServer(q *request, r *serverRec) (int, any, *apiError) {
	var in schema.ServerUpdateRequest
	if err := q.decode(&in); err != nil {
		return 0, nil, err
	}
	if in.Name != "" && in.Name != r.Name {
		if err := validName("name", in.Name); err != nil {
			return 0, nil, err
		}
		if s.serverByName(in.Name) != nil {
			return 0, nil, errUnique("name")
		}
	}
	if in.Labels != nil {
		if err := validateLabels(*in.Labels); err != nil {
			return 0, nil, errInvalid("labels", "%v", err)
		}
	}
	if in.Name != "" {
		delete(s.names, r.Name)
		r.Name = in.Name
		s.names[r.Name] = r.ID
	}
	if in.Labels != nil {
		r.Labels = copyLabels(*in.Labels)
	}
	return http.StatusOK, map[string]any{"server": s.renderServer(r)}, nil
}

// removeServer deletes a server and every reference to it.
func (s *Server) removeServer(id int64) {
	r := s.st.Servers[id]
	if r == nil {
		return
	}
	for _, pn := range r.PrivateNet {
		if n := s.st.Networks[pn.Network]; n != nil {
			n.Servers = removeID(n.Servers, id)
		}
	}
	for _, fw := range s.st.Firewalls {
		fw.Servers = removeID(fw.Servers, id)
	}
	delete(s.st.Servers, id)
	delete(s.names, r.Name)
	i := sort.Search(len(s.order), func(i int) bool { return s.order[i] >= id })
	if i < len(s.order) && s.order[i] == id {
		s.order = append(s.order[:i], s.order[i+1:]...)
	}
}

func (s *Server) serverAction(q *request, r *serverRec, cmd string, now time.Time) (int, any, *apiError) {
	if cmd == "change_protection" {
		var in schema.ServerActionChangeProtectionRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		if in.Delete != nil {
			r.ProtectDelete = *in.Delete
		}
		if in.Rebuild != nil {
			r.ProtectRebuild = *in.Rebuild
		}
		return http.StatusCreated, actionBody(s.newAction(now, "change_protection", ref("server", r.ID))), nil
	}
	type power struct {
		command, during, after string
	}
	powers := map[string]power{
		"poweron":  {"start_server", "starting", "running"},
		"poweroff": {"stop_server", "stopping", "off"},
		"shutdown": {"shutdown_server", "stopping", "off"},
		"reboot":   {"reboot_server", "running", "running"},
		"reset":    {"reset_server", "running", "running"},
	}
	p, isPower := powers[cmd]
	switch {
	case isPower, cmd == "change_type", cmd == "attach_to_network", cmd == "detach_from_network":
	default:
		return 0, nil, newErr(http.StatusNotFound, "not_found", "server action %q not supported by the simulator", cmd)
	}
	if r.Status == "deleting" {
		return 0, nil, errLocked("server", r.ID)
	}
	if s.serverBusy(r.ID) {
		return 0, nil, errLocked("server", r.ID)
	}
	if isPower {
		a := s.newAction(now, p.command, ref("server", r.ID))
		a.Server, a.SetStatus, a.Revert = r.ID, p.after, r.Status
		r.Status = p.during
		return http.StatusCreated, actionBody(a), nil
	}
	switch cmd {
	case "change_type":
		var in schema.ServerActionChangeTypeRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		t, aerr := resolveServerType(in.ServerType)
		if aerr != nil {
			return 0, nil, aerr
		}
		if r.Status != "off" {
			return 0, nil, newErr(http.StatusPreconditionFailed, "server_not_stopped", "server %d must be stopped to change its type", r.ID)
		}
		cur := serverTypeByID(r.Type)
		if t.arch != cur.arch {
			return 0, nil, newErr(http.StatusUnprocessableEntity, "invalid_server_type", "cannot change architecture from %s to %s", cur.arch, t.arch)
		}
		if !t.availableIn(locationByID(r.Location)) {
			return 0, nil, newErr(http.StatusUnprocessableEntity, "invalid_server_type", "server type %s is not available in this location", t.name)
		}
		if t.disk < r.DiskSize {
			return 0, nil, newErr(http.StatusUnprocessableEntity, "invalid_server_type", "server type %s has a smaller disk (%d GB) than the server (%d GB)", t.name, t.disk, r.DiskSize)
		}
		a := s.newAction(now, "change_server_type", ref("server", r.ID))
		a.Server, a.NewType, a.SetStatus, a.Revert = r.ID, t.id, "off", "off"
		if in.UpgradeDisk {
			a.NewDisk = t.disk
		}
		r.Status = "migrating"
		return http.StatusCreated, actionBody(a), nil
	case "attach_to_network":
		var in schema.ServerActionAttachToNetworkRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		n := s.st.Networks[in.Network]
		if n == nil {
			return 0, nil, errNotFound("network", in.Network)
		}
		ip := ""
		if in.IP != nil {
			ip = *in.IP
		}
		var alias []string
		for _, a := range in.AliasIPs {
			if a != nil {
				alias = append(alias, *a)
			}
		}
		if err := s.attach(r, n, ip, alias); err != nil {
			return 0, nil, err
		}
		a := s.newAction(now, "attach_to_network", ref("server", r.ID), ref("network", n.ID))
		a.Server = r.ID
		return http.StatusCreated, actionBody(a), nil
	default: // detach_from_network
		var in schema.ServerActionDetachFromNetworkRequest
		if err := q.decode(&in); err != nil {
			return 0, nil, err
		}
		n := s.st.Networks[in.Network]
		if n == nil {
			return 0, nil, errNotFound("network", in.Network)
		}
		if err := s.detach(r, n); err != nil {
			return 0, nil, err
		}
		a := s.newAction(now, "detach_from_network", ref("server", r.ID), ref("network", n.ID))
		a.Server = r.ID
		return http.StatusCreated, actionBody(a), nil
	}
}

// ---- metrics ----

var metricSeries = map[string][]string{
	"cpu":     {"cpu"},
	"disk":    {"disk.0.iops.read", "disk.0.iops.write", "disk.0.bandwidth.read", "disk.0.bandwidth.write"},
	"network": {"network.0.pps.in", "network.0.pps.out", "network.0.bandwidth.in", "network.0.bandwidth.out"},
}

const maxMetricPoints = 10000

func (s *Server) serverMetrics(q *request, r *serverRec) (int, any, *apiError) {
	types := q.query["type"]
	if len(types) == 0 {
		return 0, nil, errInvalid("type", "at least one metric type is required")
	}
	for _, t := range types {
		if metricSeries[t] == nil {
			return 0, nil, errInvalid("type", "unknown metric type %q (want cpu, disk or network)", t)
		}
	}
	start, err := time.Parse(time.RFC3339, q.query.Get("start"))
	if err != nil {
		return 0, nil, errInvalid("start", "start must be an RFC 3339 timestamp")
	}
	end, err := time.Parse(time.RFC3339, q.query.Get("end"))
	if err != nil {
		return 0, nil, errInvalid("end", "end must be an RFC 3339 timestamp")
	}
	if end.Before(start) {
		return 0, nil, errInvalid("end", "end must not be before start")
	}
	span := int64(end.Sub(start) / time.Second)
	step := max(int64(1), (span+99)/100) // about 100 points by default
	if v := q.query.Get("step"); v != "" {
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 1 {
			return 0, nil, errInvalid("step", "step must be a positive number of seconds")
		}
		step = n
	}
	if span/step+1 > maxMetricPoints {
		return 0, nil, errInvalid("step", "too many data points; use a larger step")
	}
	cpu := 0.0
	if r.Status == "running" {
		cpu = r.CPU
	}
	series := map[string]any{}
	for _, t := range types {
		for _, name := range metricSeries[t] {
			v := "0"
			if name == "cpu" {
				v = strconv.FormatFloat(cpu, 'f', -1, 64)
			}
			vals := make([][2]any, 0, span/step+1)
			for ts := start.Unix(); ts <= end.Unix(); ts += step {
				vals = append(vals, [2]any{float64(ts), v})
			}
			series[name] = map[string]any{"values": vals}
		}
	}
	return http.StatusOK, map[string]any{"metrics": map[string]any{
		"start": start.UTC(), "end": end.UTC(), "step": step, "time_series": series,
	}}, nil
}
