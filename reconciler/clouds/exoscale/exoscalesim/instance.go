package exoscalesim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	v3 "github.com/exoscale/egoscale/v3"
	"github.com/google/uuid"
)

// publicIPBase is where simulated public IPv4 addresses start (an Exoscale range).
const publicIPBase = 194<<24 | 182<<16 | 160<<8

// instance returns the instance id in the call's zone (nil if absent).
// Callers hold s.mu.
func (c *call) instance(id v3.UUID) *instanceRec {
	rec, ok := c.s.st.Instances[string(id)]
	if !ok || rec.Zone != c.zone {
		return nil
	}
	return rec
}

func (c *call) listInstances() {
	q := c.r.URL.Query()
	sel, err := parseLabelSelector(q.Get("labels"))
	if err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	ipFilter := q.Get("ip-address")
	mgrID, mgrType := q.Get("manager-id"), q.Get("manager-type")
	c.s.mu.RLock()
	recs := make([]*instanceRec, 0, len(c.s.st.Instances))
	for _, rec := range c.s.st.Instances {
		in := &rec.Instance
		if rec.Zone != c.zone || !sel.matches(in.Labels) {
			continue
		}
		if ipFilter != "" && in.PublicIP.String() != ipFilter && in.Ipv6Address != ipFilter {
			continue
		}
		if mgrID != "" && (in.Manager == nil || string(in.Manager.ID) != mgrID) {
			continue
		}
		if mgrType != "" && (in.Manager == nil || string(in.Manager.Type) != mgrType) {
			continue
		}
		recs = append(recs, rec)
	}
	byCreated(recs, func(r *instanceRec) time.Time { return r.Instance.CreatedAT }, func(r *instanceRec) v3.UUID { return r.Instance.ID })
	out := make([]v3.ListInstancesResponseInstances, len(recs))
	for i, rec := range recs {
		out[i] = listView(&rec.Instance)
	}
	b, err := json.Marshal(v3.ListInstancesResponse{Instances: out})
	c.s.mu.RUnlock()
	c.raw(b, err)
}

// listView is the reduced instance object of the list call.
func listView(in *v3.Instance) v3.ListInstancesResponseInstances {
	v := v3.ListInstancesResponseInstances{
		CreatedAT:          in.CreatedAT,
		ID:                 in.ID,
		InstanceType:       in.InstanceType,
		Ipv6Address:        in.Ipv6Address,
		Labels:             in.Labels,
		MACAddress:         in.MACAddress,
		Manager:            in.Manager,
		Name:               in.Name,
		PublicIP:           in.PublicIP,
		PublicIPAssignment: in.PublicIPAssignment,
		SecurityGroups:     in.SecurityGroups,
		SSHKey:             in.SSHKey,
		SSHKeys:            in.SSHKeys,
		State:              in.State,
		Template:           in.Template,
	}
	for _, pn := range in.PrivateNetworks {
		v.PrivateNetworks = append(v.PrivateNetworks, v3.ListInstancesResponseInstancesPrivateNetworks{ID: pn.ID, MACAddress: pn.MACAddress})
	}
	return v
}

func (c *call) getInstance() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	rec := c.instance(id)
	if rec == nil {
		c.notFound("instance", id)
		return
	}
	c.ok(rec.Instance)
}

func (c *call) createInstance() {
	var req v3.CreateInstanceRequest
	if !c.decode(&req) {
		return
	}
	s := c.s
	if req.InstanceType == nil || req.InstanceType.ID == "" {
		c.fail(http.StatusBadRequest, "instance-type: an instance type id is required")
		return
	}
	it, ok := s.cat.typeByID[req.InstanceType.ID]
	if !ok {
		c.notFound("instance type", req.InstanceType.ID)
		return
	}
	if req.Template == nil || req.Template.ID == "" {
		c.fail(http.StatusBadRequest, "template: a template id is required")
		return
	}
	tpl, ok := s.cat.tplByID[req.Template.ID]
	if !ok {
		c.notFound("template", req.Template.ID)
		return
	}
	if req.DiskSize < 10 || req.DiskSize > 51200 {
		c.fail(http.StatusBadRequest, fmt.Sprintf("disk-size: %d is out of range (10 to 51200 GiB)", req.DiskSize))
		return
	}
	if len(req.Name) > 255 {
		c.fail(http.StatusBadRequest, "name: must be at most 255 characters")
		return
	}
	if msg := validLabels(req.Labels); msg != "" {
		c.fail(http.StatusBadRequest, "labels: "+msg)
		return
	}
	if req.UserData != "" {
		if len(req.UserData) > 32768 {
			c.fail(http.StatusBadRequest, "user-data: must be at most 32768 characters")
			return
		}
		if _, err := base64.StdEncoding.DecodeString(req.UserData); err != nil {
			c.fail(http.StatusBadRequest, "user-data: must be base64 encoded")
			return
		}
	}
	assign := req.PublicIPAssignment
	switch assign {
	case "":
		assign = v3.PublicIPAssignmentInet4
	case v3.PublicIPAssignmentInet4, v3.PublicIPAssignmentDual, v3.PublicIPAssignmentNone:
	default:
		c.fail(http.StatusBadRequest, fmt.Sprintf("public-ip-assignment: %q is not one of inet4, dual, none", assign))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var sgs []v3.SecurityGroup
	seen := map[v3.UUID]bool{}
	for _, sg := range req.SecurityGroups {
		if _, ok := s.st.SecurityGroups[string(sg.ID)]; !ok {
			c.notFound("security group", sg.ID)
			return
		}
		if !seen[sg.ID] {
			seen[sg.ID] = true
			sgs = append(sgs, v3.SecurityGroup{ID: sg.ID})
		}
	}
	id := v3.UUID(uuid.NewString())
	name := req.Name
	if name == "" {
		name = "vm-" + string(id)[:8]
	}
	state := v3.InstanceStateRunning
	if req.AutoStart != nil && !*req.AutoStart {
		state = v3.InstanceStateStopped
	}
	in := v3.Instance{
		ID:                 id,
		Name:               name,
		State:              state,
		InstanceType:       &v3.InstanceType{ID: it.ID}, // references carry the id only
		Template:           &v3.Template{ID: tpl.ID},
		DiskSize:           req.DiskSize,
		Labels:             copyLabels(req.Labels),
		SecurityGroups:     sgs,
		SSHKey:             req.SSHKey,
		SSHKeys:            req.SSHKeys,
		UserData:           req.UserData,
		PublicIPAssignment: assign,
		CreatedAT:          c.now(),
		AntiAffinityGroups: req.AntiAffinityGroups,
	}
	c.operation("create-instance", "instance", id, func() {
		in.MACAddress = s.st.newMAC()
		if assign != v3.PublicIPAssignmentNone {
			s.st.NextPublicIP++
			ip := make(net.IP, 4)
			binary.BigEndian.PutUint32(ip, publicIPBase+s.st.NextPublicIP)
			in.PublicIP = ip
			if assign == v3.PublicIPAssignmentDual {
				in.Ipv6Address = fmt.Sprintf("2a04:c43:e00:%x::%x", s.st.NextPublicIP>>16, s.st.NextPublicIP&0xffff)
			}
		}
		s.st.Instances[string(id)] = &instanceRec{Zone: c.zone, Instance: in}
	})
}

func (st *state) newMAC() string {
	st.NextMAC++
	n := st.NextMAC
	return fmt.Sprintf("06:%02x:%02x:%02x:%02x:%02x", 0x5a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func (c *call) updateInstance() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	var req v3.UpdateInstanceRequest
	if !c.decode(&req) {
		return
	}
	if msg := validLabels(req.Labels); msg != "" {
		c.fail(http.StatusBadRequest, "labels: "+msg)
		return
	}
	if len(req.Name) > 255 {
		c.fail(http.StatusBadRequest, "name: must be at most 255 characters")
		return
	}
	switch req.PublicIPAssignment {
	case "", v3.PublicIPAssignmentInet4, v3.PublicIPAssignmentDual, v3.PublicIPAssignmentNone:
	default:
		c.fail(http.StatusBadRequest, fmt.Sprintf("public-ip-assignment: %q is not one of inet4, dual, none", req.PublicIPAssignment))
		return
	}
	if req.UserData != "" {
		if _, err := base64.StdEncoding.DecodeString(req.UserData); err != nil {
			c.fail(http.StatusBadRequest, "user-data: must be base64 encoded")
			return
		}
	}
	setLabels := rawLabels(c.body)
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := c.instance(id)
	if rec == nil {
		c.notFound("instance", id)
		return
	}
	c.operation("update-instance", "instance", id, func() {
		in := &rec.Instance
		if req.Name != "" {
			in.Name = req.Name
		}
		if setLabels {
			in.Labels = copyLabels(req.Labels)
		}
		if req.UserData != "" {
			in.UserData = req.UserData
		}
		if req.PublicIPAssignment != "" {
			in.PublicIPAssignment = req.PublicIPAssignment
		}
	})
}

func (c *call) deleteInstance() {
	id, ok := c.id(0)
	if !ok {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := c.instance(id)
	if rec == nil {
		c.notFound("instance", id)
		return
	}
	c.operation("delete-instance", "instance", id, func() {
		for _, pn := range rec.Instance.PrivateNetworks {
			if n, ok := s.st.Networks[string(pn.ID)]; ok {
				n.Network.Leases = removeLease(n.Network.Leases, id)
			}
		}
		for _, v := range s.st.Volumes {
			if v.Volume.Instance != nil && v.Volume.Instance.ID == id {
				v.Volume.Instance = nil
				v.Volume.State = v3.BlockStorageVolumeStateDetached
			}
		}
		delete(s.st.Instances, string(id))
	})
}

// instanceAction runs a power action after check accepts the instance.
func (c *call) instanceAction(command string, check func(*v3.Instance) string, apply func(*v3.Instance)) {
	id, ok := c.id(0)
	if !ok {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := c.instance(id)
	if rec == nil {
		c.notFound("instance", id)
		return
	}
	if check != nil {
		if msg := check(&rec.Instance); msg != "" {
			c.fail(http.StatusBadRequest, msg)
			return
		}
	}
	c.operation(command, "instance", id, func() { apply(&rec.Instance) })
}

func (c *call) startInstance() {
	if len(c.body) > 0 {
		var req v3.StartInstanceRequest
		if !c.decode(&req) {
			return
		}
		switch req.RescueProfile {
		case "", "netboot", "netboot-efi":
		default:
			c.fail(http.StatusBadRequest, fmt.Sprintf("rescue-profile: %q is not supported", req.RescueProfile))
			return
		}
	}
	c.instanceAction("start-instance", nil, func(in *v3.Instance) { in.State = v3.InstanceStateRunning })
}

func (c *call) stopInstance() {
	c.instanceAction("stop-instance", nil, func(in *v3.Instance) { in.State = v3.InstanceStateStopped })
}

func (c *call) rebootInstance() {
	c.instanceAction("reboot-instance", func(in *v3.Instance) string {
		if in.State != v3.InstanceStateRunning {
			return fmt.Sprintf("instance %s is %s; only a running instance can be rebooted", in.ID, in.State)
		}
		return ""
	}, func(in *v3.Instance) {})
}

func (c *call) scaleInstance() {
	var req v3.ScaleInstanceRequest
	if !c.decode(&req) {
		return
	}
	if req.InstanceType == nil || req.InstanceType.ID == "" {
		c.fail(http.StatusBadRequest, "instance-type: an instance type id is required")
		return
	}
	it, ok := c.s.cat.typeByID[req.InstanceType.ID]
	if !ok {
		c.notFound("instance type", req.InstanceType.ID)
		return
	}
	c.instanceAction("scale-instance", func(in *v3.Instance) string {
		if in.State != v3.InstanceStateStopped {
			return fmt.Sprintf("instance %s must be stopped to be scaled (state: %s)", in.ID, in.State)
		}
		if tooSmallToAttach[it.Size] && c.s.hasVolumes(in.ID) {
			return fmt.Sprintf("instance %s has block storage volumes attached: it cannot be scaled to %s.%s, below small", in.ID, it.Family, it.Size)
		}
		return ""
	}, func(in *v3.Instance) { in.InstanceType = &v3.InstanceType{ID: it.ID} })
}

func (c *call) resizeInstanceDisk() {
	var req v3.ResizeInstanceDiskRequest
	if !c.decode(&req) {
		return
	}
	if req.DiskSize < 10 || req.DiskSize > 51200 {
		c.fail(http.StatusBadRequest, fmt.Sprintf("disk-size: %d is out of range (10 to 51200 GiB)", req.DiskSize))
		return
	}
	c.instanceAction("resize-instance-disk", func(in *v3.Instance) string {
		if req.DiskSize <= in.DiskSize {
			return fmt.Sprintf("disk-size: the disk can only grow (current %d GiB, requested %d GiB)", in.DiskSize, req.DiskSize)
		}
		return ""
	}, func(in *v3.Instance) { in.DiskSize = req.DiskSize })
}

// labelSelector is the simulator's reading of ListInstances' free-form
// "labels" filter: comma-separated "key=value" (equality) or "key"
// (presence) terms, all of which must match.
type labelSelector []struct {
	key, value string
	hasValue   bool
}

func parseLabelSelector(s string) (labelSelector, error) {
	var sel labelSelector
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, term := range strings.Split(s, ",") {
		term = strings.TrimSpace(term)
		k, v, has := strings.Cut(term, "=")
		if k == "" {
			return nil, fmt.Errorf("labels: invalid filter term %q (want key=value or key)", term)
		}
		sel = append(sel, struct {
			key, value string
			hasValue   bool
		}{k, v, has})
	}
	return sel, nil
}

func (sel labelSelector) matches(l v3.Labels) bool {
	for _, t := range sel {
		v, ok := l[t.key]
		if !ok || (t.hasValue && v != t.value) {
			return false
		}
	}
	return true
}
