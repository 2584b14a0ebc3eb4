package opennebula

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"
	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/template"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
)

// createTemplate allocates a VM template whose context carries the services and their credentials.
func (p *Provider) createTemplate(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
	nid, err := ref(ids, plan.ONEVNet, a["vnet"])
	if err != nil {
		return plan.Resource{}, err
	}
	did, err := ref(ids, plan.ONEDatastore, a["datastore"])
	if err != nil {
		return plan.Resource{}, err
	}
	iid, err := ref(ids, plan.ONEImage, a["image"])
	if err != nil {
		return plan.Resource{}, err
	}
	if err := checkCompute(a); err != nil {
		return plan.Resource{}, err
	}
	if a["ip"] != "" {
		if ip, err := netip.ParseAddr(a["ip"]); err != nil || !ip.Is4() {
			return plan.Resource{}, fmt.Errorf("ip=%q must be an IPv4 address", a["ip"])
		}
	}
	t := dyn.NewTemplate()
	t.AddPair("NAME", r.Name)
	t.AddPair("CPU", a["cpu"])
	t.AddPair("MEMORY", a["memory_mb"])
	disk := t.AddVector("DISK")
	disk.AddPair("IMAGE_ID", iid)
	nic := t.AddVector("NIC")
	nic.AddPair("NETWORK_ID", nid)
	if a["ip"] != "" {
		// A fixed lease: oned refuses the VM if the address is taken.
		nic.AddPair("IP", a["ip"])
	}
	// The system datastore the VM's disks are cloned into (shared TM).
	t.AddPair("SCHED_DS_REQUIREMENTS", "ID="+strconv.Itoa(did))
	if err := addContext(t, a["services"], r.Sensitive); err != nil {
		return plan.Resource{}, err
	}
	m.addTo(t)
	return p.allocate(ctx, r, m, "one.template.allocate", func(c *goca.Controller) (int, error) {
		return c.Templates().Create(t.String())
	}, nil)
}

// templateResources converts the owned VM templates.
func (s *snapshot) templateResources() []plan.Resource {
	var out owned
	vnets, dss, imgs := s.vnetNames(), s.datastoreNames(), s.imageNames()
	for _, t := range s.templates {
		tt := &t.Template.Template
		m := marksFrom(tt)
		vnet, ip, img := "", "", ""
		if nic, err := tt.GetVector("NIC"); err == nil {
			if id, err := nic.GetInt("NETWORK_ID"); err == nil {
				vnet = nameOf(vnets, id)
			} else {
				vnet, _ = nic.GetStr("NETWORK")
			}
			ip, _ = nic.GetStr("IP")
		}
		if disk, err := tt.GetVector("DISK"); err == nil {
			if id, err := disk.GetInt("IMAGE_ID"); err == nil {
				img = nameOf(imgs, id)
			} else {
				img, _ = disk.GetStr("IMAGE")
			}
		}
		ds := ""
		if sm := dsReq.FindStringSubmatch(str(tt, "SCHED_DS_REQUIREMENTS")); sm != nil {
			id, _ := strconv.Atoi(sm[1])
			ds = nameOf(dss, id)
		}
		services := ""
		if ctx, err := tt.GetVector("CONTEXT"); err == nil {
			services, _ = ctx.GetStr(tplServices)
		}
		out.add(res(plan.ONETemplate, t.Name, t.ID, m, map[string]string{
			"cpu":       str(tt, "CPU"),
			"memory_mb": str(tt, "MEMORY"),
			"vnet":      vnet,
			"ip":        ip,
			"datastore": ds,
			"image":     img,
			"services":  services,
		}), m)
	}
	return out
}

func (s *snapshot) templateNames() map[int]string {
	return idNames(s.templates, func(o *template.Template) (int, string) { return o.ID, o.Name })
}

// dsReq reads the datastore id from SCHED_DS_REQUIREMENTS = "ID=100".
var dsReq = regexp.MustCompile(`^\s*ID\s*=\s*"?(\d+)"?\s*$`)

func checkCompute(a map[string]string) error {
	if f, err := strconv.ParseFloat(a["cpu"], 64); err != nil || f <= 0 {
		return fmt.Errorf("cpu=%q must be a positive number", a["cpu"])
	}
	if err := positiveInt(a, "memory_mb"); err != nil {
		return err
	}
	if strings.ContainsAny(a["services"], "\"\n\\") {
		return fmt.Errorf("services=%q must not contain quotes, backslashes or newlines", a["services"])
	}
	return nil
}

// addContext writes CONTEXT=[NETWORK="YES", SERVICES="...", credentials,
// START_SCRIPT_BASE64]:
// the VM reads the services to start, and their credentials, from its
// context (OpenNebula contextualization). Empty services are left out
// (oned drops empty attributes anyway). sensitive holds the data
// services' credentials (reconciler.Sensitive* keys), written under
// contextVars' names; they are never read back (Observe reads SERVICES
// only), so they cause no drift and never reach Attrs, plans or logs.
// The start script (plan.SensitiveStartScript) is written base64-encoded
// as START_SCRIPT_BASE64, which the one-context package decodes and runs
// at boot; being encoded, it may hold any bytes.
// Errors name the offending key, never its value.
func addContext(t *dyn.Template, services string, sensitive map[string]string) error {
	keys := make([]string, 0, len(sensitive))
	for k := range sensitive {
		if k == plan.SensitiveStartScript {
			if sensitive[k] == "" {
				return fmt.Errorf("Sensitive[%q] is empty", k)
			}
			continue
		}
		if _, ok := contextVars[k]; !ok {
			return fmt.Errorf("Sensitive[%q] is not a context variable of a VM template", k)
		}
		if v := sensitive[k]; v == "" || strings.ContainsAny(v, "\"\\\n\r]") {
			return fmt.Errorf("Sensitive[%q] is empty or contains quotes, backslashes, ']' or newlines", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ctx := t.AddVector("CONTEXT")
	ctx.AddPair("NETWORK", "YES")
	if services != "" {
		ctx.AddPair(tplServices, services)
	}
	for _, k := range keys {
		ctx.AddPair(contextVars[k], sensitive[k])
	}
	if script := sensitive[plan.SensitiveStartScript]; script != "" {
		ctx.AddPair(tplStartScript, base64.StdEncoding.EncodeToString([]byte(script)))
	}
	return nil
}

// tplStartScript is one-context's variable for a base64 start script.
const tplStartScript = "START_SCRIPT_BASE64"

// contextVars maps the Sensitive keys of the data template to the CONTEXT
// variables the data VM's start scripts read.
var contextVars = map[string]string{
	reconciler.SensitiveMinIOAccessKey: "MINIO_ROOT_USER",
	reconciler.SensitiveMinIOSecretKey: "MINIO_ROOT_PASSWORD",
	reconciler.SensitiveNeo4jPassword:  "NEO4J_PASSWORD",
	reconciler.SensitiveQdrantAPIKey:   "QDRANT_API_KEY",
}

// updateVMTemplate changes cpu, memory_mb and services (and the marks).
func (p *Provider) updateVMTemplate(ctx context.Context, c change, out plan.Resource) (plan.Resource, error) {
	a := c.after.Attrs
	t := dyn.NewTemplate()
	if len(c.changed) > 0 {
		if err := checkCompute(a); err != nil {
			return plan.Resource{}, err
		}
		t.AddPair("CPU", a["cpu"])
		t.AddPair("MEMORY", a["memory_mb"])
		// Merge replaces the whole CONTEXT vector: the credentials
		// (after.Sensitive) are written again with it.
		if err := addContext(t, a["services"], c.after.Sensitive); err != nil {
			return plan.Resource{}, err
		}
	}
	return p.mergeTemplate(ctx, c, t, out)
}

// fetchTemplates reads the pool of VM templates (paged) into s.
func (p *Provider) fetchTemplates(ctx context.Context, s *snapshot) error {
	return pagedInto(ctx, p, "one.templatepool.info", &s.templates, func(t *template.Template) int { return t.ID },
		func(c *goca.Controller, start, end int) ([]template.Template, error) {
			pool, err := c.Templates().Info(parameters.PoolWhoAll, start, end)
			if err != nil {
				return nil, err
			}
			return pool.Templates, nil
		})
}
