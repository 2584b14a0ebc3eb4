package onesim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/service"
	srvtmpl "github.com/OpenNebula/one/src/oca/go/src/goca/schemas/service_template"
)

// createWorkersTemplate creates a service template with a "workers" role
// through goca and returns its id.
func createWorkersTemplate(t testing.TB, c *goca.Controller, vmTemplate int, policies string, card, minVMs, maxVMs int) int {
	t.Helper()
	var pols []service.ElasticityPolicy
	if err := json.Unmarshal([]byte(policies), &pols); err != nil {
		t.Fatal(err)
	}
	st := &srvtmpl.ServiceTemplate{Template: srvtmpl.Template{Body: srvtmpl.Body{
		Name:       "svc",
		Deployment: "straight",
		Roles: []srvtmpl.Role{{
			Name: "workers", Cardinality: card, VMTemplate: vmTemplate,
			MinVMs: minVMs, MaxVMS: maxVMs, Cooldown: 60, ElasticityPolicies: pols,
		}},
	}}}
	if err := c.STemplates().Create(st); err != nil {
		t.Fatal(err)
	}
	return st.ID
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func flowFixture(t *testing.T, policies string, card, minVMs, maxVMs int) (*fixture, *clock, int) {
	t.Helper()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	f := newFixture(t, Options{Now: clk.now})
	if _, err := f.ctrl.Hosts().Create("kvm1", "kvm", "kvm", -1); err != nil {
		t.Fatal(err)
	}
	tid, err := f.ctrl.Templates().Create("NAME=\"worker\"\nCPU=1\nMEMORY=512\nAGENTVDC_CUSTOMER=\"acme\"" + bootDisk(t, f.ctrl))
	if err != nil {
		t.Fatal(err)
	}
	stID := createWorkersTemplate(t, f.ctrl, tid, policies, card, minVMs, maxVMs)
	svc, err := f.ctrl.STemplate(stID).Instantiate("")
	if err != nil {
		t.Fatal(err)
	}
	return f, clk, svc.ID
}

func workers(t *testing.T, f *fixture, id int) (int, int) {
	t.Helper()
	s, err := f.ctrl.Service(id).Info()
	if err != nil {
		t.Fatal(err)
	}
	r := s.Template.Body.Roles[0]
	return len(r.Nodes), r.StateRaw
}

func TestServiceTemplateCRUD(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	f := newFixture(t, Options{Now: clk.now})
	c := f.ctrl
	if _, err := c.Hosts().Create("kvm1", "kvm", "kvm", -1); err != nil {
		t.Fatal(err)
	}
	tid, err := c.Templates().Create("NAME=\"worker\"\nCPU=1\nMEMORY=512" + bootDisk(t, c))
	if err != nil {
		t.Fatal(err)
	}
	id := createWorkersTemplate(t, c, tid, `[{"type":"CHANGE","adjust":2,"expression":"CPU > 80","period":30,"period_number":3,"cooldown":120}]`, 2, 1, 6)
	st, err := c.STemplate(id).Info()
	if err != nil {
		t.Fatal(err)
	}
	r := st.Template.Body.Roles[0]
	if st.Name != "svc" || r.Name != "workers" || r.MaxVMS != 6 || len(r.ElasticityPolicies) != 1 || r.ElasticityPolicies[0].Period_number != 3 {
		t.Errorf("service template = %+v", st)
	}
	pool, err := c.STemplates().Info()
	if err != nil || len(pool.ServiceTemplates) != 1 {
		t.Fatalf("pool = %v %v", pool, err)
	}
	bad := []struct {
		name string
		body srvtmpl.Body
		msg  string
	}{
		{"no roles", srvtmpl.Body{Name: "x"}, "roles"},
		{"bad type", srvtmpl.Body{Name: "x", Roles: []srvtmpl.Role{{Name: "w", Cardinality: 1, MinVMs: 1, MaxVMS: 2, ElasticityPolicies: []service.ElasticityPolicy{{Type: "DOUBLE", Adjust: 1, Expression: "CPU > 1"}}}}}, "DOUBLE"},
		{"bad expression", srvtmpl.Body{Name: "x", Roles: []srvtmpl.Role{{Name: "w", Cardinality: 1, MinVMs: 1, MaxVMS: 2, ElasticityPolicies: []service.ElasticityPolicy{{Type: "CHANGE", Adjust: 1, Expression: "CPU >"}}}}}, "expression"},
		{"cardinality above max", srvtmpl.Body{Name: "x", Roles: []srvtmpl.Role{{Name: "w", Cardinality: 5, MaxVMS: 2}}}, "max_vms"},
	}
	for _, tc := range bad {
		err := c.STemplates().Create(&srvtmpl.ServiceTemplate{Template: srvtmpl.Template{Body: tc.body}})
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	svc, err := c.STemplate(id).Instantiate(`{"name":"acme-workers"}`)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Name != "acme-workers" || len(svc.Template.Body.Roles[0].Nodes) != 2 || svc.Template.Body.StateRaw != flowRunning {
		t.Errorf("service = %+v", svc)
	}
	vmID := svc.Template.Body.Roles[0].Nodes[0].DeployID
	v, err := c.VM(vmID).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	if sid, _ := v.UserTemplate.GetInt("SERVICE_ID"); sid != svc.ID || v.Name != "workers_0_(service_"+itoa(svc.ID)+")" {
		t.Errorf("role VM name %q SERVICE_ID %d", v.Name, sid)
	}
	if err := c.Service(svc.ID).Scale("workers", 4, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Service(svc.ID).Scale("workers", 9, false); err == nil {
		t.Error("scale above max_vms without force must fail")
	}
	if n, _ := workers(t, f, svc.ID); n != 4 {
		t.Errorf("after scale: %d nodes", n)
	}
	if err := c.Service(svc.ID).VMAction("workers", "poweroff", nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.VM(vmID).Info(false); v.StateRaw != vmPoweroff {
		t.Errorf("role action: VM state %d", v.StateRaw)
	}
	if err := c.Service(svc.ID).Rename("renamed"); err != nil {
		t.Fatal(err)
	}
	sp, err := c.Services().Info()
	if err != nil || len(sp.Services) != 1 || sp.Services[0].Name != "renamed" {
		t.Fatalf("services = %+v %v", sp, err)
	}
	if err := c.Service(svc.ID).Delete(); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.VM(vmID).Info(false); v.StateRaw != vmDone {
		t.Errorf("VM after service delete: %d", v.StateRaw)
	}
	if _, err := c.Service(svc.ID).Info(); err == nil {
		t.Error("deleted service still answers")
	}
	if err := c.STemplate(id).Delete(); err != nil {
		t.Fatal(err)
	}
}

func TestElasticityChange(t *testing.T) {
	// +2 VMs when CPU > 80 for 3 periods of 30 s, cooldown 120 s, max 6;
	// -2 when CPU < 20 for 2 periods, down to min 2.
	pols := `[{"type":"CHANGE","adjust":2,"expression":"CPU > 80","period":30,"period_number":3,"cooldown":120},
	          {"type":"CHANGE","adjust":-2,"expression":"CPU < 20","period":30,"period_number":2,"cooldown":120}]`
	f, clk, id := flowFixture(t, pols, 2, 2, 6)
	if _, err := f.sim.SetRoleCPU(id, "workers", 90); err != nil {
		t.Fatal(err)
	}
	step := func(d time.Duration) int {
		clk.t = clk.t.Add(d)
		f.sim.EvaluateElasticity(clk.t)
		n, _ := workers(t, f, id)
		return n
	}
	// three evaluations 30 s apart: scale on the third
	for i, want := range []int{2, 2, 4} {
		d := 30 * time.Second
		if i == 0 {
			d = 0
		}
		if n := step(d); n != want {
			t.Fatalf("evaluation %d: %d nodes, want %d", i+1, n, want)
		}
	}
	if _, st := workers(t, f, id); st != flowCooldown {
		t.Errorf("role state after scaling = %d, want COOLDOWN", st)
	}
	// during the 120 s cooldown nothing happens even with high CPU
	for i := 0; i < 3; i++ {
		if n := step(30 * time.Second); n != 4 {
			t.Fatalf("cooldown step %d: %d nodes", i, n)
		}
	}
	// after cooldown: three more true periods → 6 (max)
	var n int
	for i := 0; i < 4; i++ {
		n = step(30 * time.Second)
	}
	if n != 6 {
		t.Fatalf("after second scale-up: %d nodes, want 6", n)
	}
	// at max_vms it stays
	clk.t = clk.t.Add(10 * time.Minute)
	for i := 0; i < 4; i++ {
		n = step(30 * time.Second)
	}
	if n != 6 {
		t.Errorf("above max: %d nodes", n)
	}
	// new VMs inherit the role CPU; now drop it: shrink by 2 per
	// 2 periods + cooldown, down to min 2
	if _, err := f.sim.SetRoleCPU(id, "workers", 10); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40 && n > 2; i++ {
		n = step(30 * time.Second)
	}
	if n != 2 {
		t.Errorf("after low CPU: %d nodes, want min 2", n)
	}
	s, _ := f.ctrl.Service(id).Info()
	raw, _ := json.Marshal(s)
	if !strings.Contains(string(raw), "workers") {
		t.Errorf("service json: %s", raw)
	}
	// the VMs beyond the role were terminated
	p, err := f.ctrl.VMs().Info()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.VMs) != 2 {
		t.Errorf("live VMs = %d, want 2", len(p.VMs))
	}
}

func TestElasticityTypes(t *testing.T) {
	cases := []struct {
		name  string
		pols  string
		card  int
		min   int
		max   int
		cpu   float64
		evals int
		want  int
	}{
		{"cardinality", `[{"type":"CARDINALITY","adjust":5,"expression":"CPU > 80"}]`, 1, 1, 8, 95, 1, 5},
		{"cardinality clamps to max", `[{"type":"CARDINALITY","adjust":50,"expression":"CPU > 80"}]`, 1, 1, 8, 95, 1, 8},
		{"percentage up", `[{"type":"PERCENTAGE_CHANGE","adjust":50,"expression":"CPU > 80"}]`, 4, 1, 10, 95, 1, 6},
		{"percentage min step", `[{"type":"PERCENTAGE_CHANGE","adjust":10,"min_adjust_step":3,"expression":"CPU > 80"}]`, 4, 1, 10, 95, 1, 7},
		{"percentage down", `[{"type":"PERCENTAGE_CHANGE","adjust":-50,"expression":"CPU < 20"}]`, 4, 1, 10, 5, 1, 2},
		{"false expression", `[{"type":"CHANGE","adjust":1,"expression":"CPU > 80 & CPU < 90"}]`, 2, 1, 10, 95, 3, 2},
		{"compound", `[{"type":"CHANGE","adjust":1,"expression":"(CPU > 80 | MEMORY > 1) & !(CPU < 0)"}]`, 2, 1, 10, 95, 1, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, clk, id := flowFixture(t, tc.pols, tc.card, tc.min, tc.max)
			if _, err := f.sim.SetRoleCPU(id, "workers", tc.cpu); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tc.evals; i++ {
				f.sim.EvaluateElasticity(clk.t)
				clk.t = clk.t.Add(time.Second)
			}
			if n, _ := workers(t, f, id); n != tc.want {
				t.Errorf("%d nodes, want %d", n, tc.want)
			}
		})
	}
}

func TestElasticityTicker(t *testing.T) {
	f := newFixture(t, Options{ElasticityInterval: 10 * time.Millisecond})
	if _, err := f.ctrl.Hosts().Create("kvm1", "kvm", "kvm", -1); err != nil {
		t.Fatal(err)
	}
	tid, err := f.ctrl.Templates().Create("NAME=\"w\"\nCPU=1\nMEMORY=64" + bootDisk(t, f.ctrl))
	if err != nil {
		t.Fatal(err)
	}
	st := createWorkersTemplate(t, f.ctrl, tid, `[{"type":"CHANGE","adjust":1,"expression":"CPU > 80","cooldown":1}]`, 1, 1, 2)
	svc, err := f.ctrl.STemplate(st).Instantiate("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sim.SetRoleCPU(svc.ID, "workers", 99); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n, _ := workers(t, f, svc.ID); n == 2 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("the background ticker did not scale the role")
}
