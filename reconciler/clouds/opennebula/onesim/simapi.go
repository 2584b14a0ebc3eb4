package onesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

func checkPct(pct float64) error {
	if pct < 0 || pct > 100 || pct != pct {
		return fmt.Errorf("percentage %v out of range 0..100", pct)
	}
	return nil
}

// SetHostCPU sets a host's measured CPU use in percent of its capacity;
// HOST_SHARE/CPU_USAGE and MONITORING/CAPACITY report it.
func (s *Server) SetHostCPU(id int, pct float64) error {
	if err := checkPct(pct); err != nil {
		return err
	}
	s.mu.Lock()
	h, ok := s.d.Hosts[id]
	if ok {
		h.CPUPct = pct
		h.MonTime = s.opts.Now().Unix()
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("host %d does not exist", id)
	}
	s.markDirty()
	return nil
}

// SetVMCPU sets a VM's MONITORING/CPU (percent of one CPU, as oned reports).
func (s *Server) SetVMCPU(id int, pct float64) error {
	if pct < 0 || pct != pct {
		return fmt.Errorf("cpu %v must be >= 0", pct)
	}
	s.mu.Lock()
	v, ok := s.d.VMs[id]
	if ok {
		v.CPU = pct
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("vm %d does not exist", id)
	}
	s.markDirty()
	return nil
}

// SetRoleCPU sets the CPU of every VM of a OneFlow service role (including
// VMs the role creates later, until set again) and returns how many VMs
// it touched.
func (s *Server) SetRoleCPU(serviceID int, roleName string, pct float64) (int, error) {
	if pct < 0 || pct != pct {
		return 0, fmt.Errorf("cpu %v must be >= 0", pct)
	}
	s.mu.Lock()
	defer s.markDirty()
	defer s.mu.Unlock()
	svc, ok := s.d.Services[serviceID]
	if !ok {
		return 0, fmt.Errorf("service %d does not exist", serviceID)
	}
	for _, r := range svc.Roles {
		if r.Name != roleName {
			continue
		}
		n := 0
		for _, id := range r.Nodes {
			if v, ok := s.d.VMs[id]; ok {
				v.CPU = pct
				n++
			}
		}
		r.CPU = &pct
		return n, nil
	}
	return 0, fmt.Errorf("service %d has no role %q", serviceID, roleName)
}

// SetDatastoreUsed sets the used share of a datastore in percent;
// USED_MB/FREE_MB follow from TOTAL_MB.
func (s *Server) SetDatastoreUsed(id int, pct float64) error {
	if err := checkPct(pct); err != nil {
		return err
	}
	s.mu.Lock()
	ds, ok := s.d.Datastores[id]
	if ok {
		ds.UsedPct = pct
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("datastore %d does not exist", id)
	}
	s.markDirty()
	return nil
}

// SetDatastoreSize sets a datastore's TOTAL_MB (the capacity the storage
// behind it reports, e.g. after a volume grew).
func (s *Server) SetDatastoreSize(id, totalMB int) error {
	if totalMB <= 0 {
		return fmt.Errorf("total_mb %d must be > 0", totalMB)
	}
	s.mu.Lock()
	ds, ok := s.d.Datastores[id]
	if ok {
		ds.TotalMB = totalMB
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("datastore %d does not exist", id)
	}
	s.markDirty()
	return nil
}

type simReq struct {
	ID      *int     `json:"id"`
	Name    string   `json:"name"`
	CPU     *float64 `json:"cpu"`
	Used    *float64 `json:"used"`
	TotalMB int      `json:"total_mb"`
	Service *int     `json:"service"`
	Role    string   `json:"role"`
	Now     string   `json:"now"`
}

// resolve finds an id by name among hosts or datastores.
func (s *Server) resolve(req simReq, hosts bool) (int, error) {
	if req.ID != nil {
		return *req.ID, nil
	}
	if req.Name == "" {
		return 0, fmt.Errorf("give id or name")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if hosts {
		for id, h := range s.d.Hosts {
			if h.Name == req.Name {
				return id, nil
			}
		}
		return 0, fmt.Errorf("host %q does not exist", req.Name)
	}
	for id, d := range s.d.Datastores {
		if d.Name == req.Name {
			return id, nil
		}
	}
	return 0, fmt.Errorf("datastore %q does not exist", req.Name)
}

func (s *Server) serveSim(w http.ResponseWriter, r *http.Request, rest string) {
	if s.ctl.ServeControl(w, r, rest) {
		return
	}
	if r.Method != http.MethodPost {
		simctl.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "unknown control endpoint " + r.Method + " /_sim" + rest})
		return
	}
	var req simReq
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		simctl.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
		return
	}
	bad := func(err error) {
		simctl.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	switch rest {
	case "/host-cpu":
		id, err := s.resolve(req, true)
		if err != nil {
			bad(err)
			return
		}
		if req.CPU == nil {
			bad(fmt.Errorf("cpu is required"))
			return
		}
		if err := s.SetHostCPU(id, *req.CPU); err != nil {
			bad(err)
			return
		}
		simctl.WriteJSON(w, http.StatusOK, map[string]any{"id": id, "cpu": *req.CPU})
	case "/vm-cpu":
		if req.CPU == nil {
			bad(fmt.Errorf("cpu is required"))
			return
		}
		if req.Service != nil {
			n, err := s.SetRoleCPU(*req.Service, req.Role, *req.CPU)
			if err != nil {
				bad(err)
				return
			}
			simctl.WriteJSON(w, http.StatusOK, map[string]any{"service": *req.Service, "role": req.Role, "vms": n, "cpu": *req.CPU})
			return
		}
		if req.ID == nil {
			bad(fmt.Errorf("give id, or service and role"))
			return
		}
		if err := s.SetVMCPU(*req.ID, *req.CPU); err != nil {
			bad(err)
			return
		}
		simctl.WriteJSON(w, http.StatusOK, map[string]any{"id": *req.ID, "cpu": *req.CPU})
	case "/datastore-used":
		id, err := s.resolve(req, false)
		if err != nil {
			bad(err)
			return
		}
		if req.TotalMB != 0 {
			if err := s.SetDatastoreSize(id, req.TotalMB); err != nil {
				bad(err)
				return
			}
		}
		if req.Used != nil {
			if err := s.SetDatastoreUsed(id, *req.Used); err != nil {
				bad(err)
				return
			}
		}
		simctl.WriteJSON(w, http.StatusOK, map[string]any{"id": id})
	case "/elasticity":
		now := s.opts.Now()
		if req.Now != "" {
			t, err := time.Parse(time.RFC3339, req.Now)
			if err != nil {
				bad(fmt.Errorf("now: %w", err))
				return
			}
			now = t
		}
		simctl.WriteJSON(w, http.StatusOK, map[string]any{"changed_roles": s.EvaluateElasticity(now)})
	default:
		simctl.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "unknown control endpoint POST /_sim" + rest})
	}
}
