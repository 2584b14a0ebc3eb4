package opennebula

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

func serviceCreds(tag string) map[string]string {
	return map[string]string{
		reconciler.SensitiveMinIOAccessKey: "vdc" + tag + "a1b2c3",
		reconciler.SensitiveMinIOSecretKey: "minio-secret-" + tag + "-Qx7",
		reconciler.SensitiveNeo4jPassword:  "neo4j-pw-" + tag + "-Lk3",
		reconciler.SensitiveQdrantAPIKey:   "qdrant-key-" + tag + "-Zr9",
	}
}

// contextOf reads a VM template's CONTEXT with goca (template info).
func (e *env) contextOf(t *testing.T, id string) map[string]string {
	t.Helper()
	n, _ := strconv.Atoi(id)
	tpl, err := e.ctrl.Template(n).Info(false, false)
	if err != nil {
		t.Fatal(err)
	}
	vec, err := tpl.Template.GetVector("CONTEXT")
	if err != nil {
		t.Fatalf("template %s has no CONTEXT: %v", id, err)
	}
	out := map[string]string{}
	for _, p := range vec.Pairs {
		out[p.Key()] = p.Value
	}
	return out
}

// TestDataTemplateContextCarriesCredentials: the data template's
// credentials (Sensitive) land in its CONTEXT, as OpenNebula passes values
// to a VM; Observe still gives exactly the catalogue attributes (no drift,
// nothing secret in Attrs, Outputs or logs); an update writes the new
// credentials with the new CONTEXT; the data VM's Outputs["ip"] is the IP
// oned leased to its NIC.
func TestDataTemplateContextCarriesCredentials(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ix := newIDs()
	rs := desired("acme")
	creds := serviceCreds("one")
	script := "#!/bin/sh\nset -eu\necho \"start qdrant\" > /run/agentvdc\n"
	rs[9].Sensitive = maps.Clone(creds)
	rs[9].Sensitive[plan.SensitiveStartScript] = script
	made := createAll(t, e.p, rs, ix)

	want := map[string]string{"NETWORK": "YES", "SERVICES": "minio,neo4j,qdrant",
		"MINIO_ROOT_USER": creds[reconciler.SensitiveMinIOAccessKey], "MINIO_ROOT_PASSWORD": creds[reconciler.SensitiveMinIOSecretKey],
		"NEO4J_PASSWORD": creds[reconciler.SensitiveNeo4jPassword], "QDRANT_API_KEY": creds[reconciler.SensitiveQdrantAPIKey],
		// one-context decodes and runs it at boot
		"START_SCRIPT_BASE64": base64.StdEncoding.EncodeToString([]byte(script))}
	if got := e.contextOf(t, made[rs[9].Address()].ID); !maps.Equal(got, want) {
		t.Errorf("data template CONTEXT:\n got  %v\n want %v", got, want)
	}
	// The worker template gets no credentials.
	if got := e.contextOf(t, made[rs[10].Address()].ID); !maps.Equal(got, map[string]string{"NETWORK": "YES"}) {
		t.Errorf("worker template CONTEXT = %v", got)
	}

	seen := observe(t, e.p)
	data := seen[rs[9].Address()]
	if !maps.Equal(data.Attrs, rs[9].Attrs) || data.Outputs != nil || data.Sensitive != nil {
		t.Errorf("observed data template: attrs %v outputs %v, want attrs %v and nothing else", data.Attrs, data.Outputs, rs[9].Attrs)
	}
	if !maps.Equal(made[rs[9].Address()].Attrs, rs[9].Attrs) {
		t.Errorf("Create returned attrs %v", made[rs[9].Address()].Attrs)
	}

	// The data VM's address is its NIC's lease, read from the vmpool answer.
	vm := seen[rs[11].Address()]
	vmID, _ := strconv.Atoi(vm.ID)
	info, err := e.ctrl.VM(vmID).Info(false)
	if err != nil {
		t.Fatal(err)
	}
	nics := info.Template.GetNICs()
	if len(nics) != 1 {
		t.Fatalf("data VM has %d NICs", len(nics))
	}
	leased, _ := nics[0].Get("IP")
	if leased == "" || vm.Outputs[plan.OutputIP] != leased {
		t.Errorf("data VM Outputs[ip] = %q, oned leased %q", vm.Outputs[plan.OutputIP], leased)
	}
	if leased != "10.64.0.130" {
		t.Errorf("leased %q, want the template's fixed IP 10.64.0.130", leased)
	}
	if !maps.Equal(vm.Attrs, rs[11].Attrs) {
		t.Errorf("observed VM attrs %v, want %v", vm.Attrs, rs[11].Attrs)
	}

	// An in-place update rewrites CONTEXT with the new services and the
	// (rotated) credentials; a service no longer enabled loses its
	// credentials.
	after := rs[9]
	after.Attrs = maps.Clone(after.Attrs)
	after.Attrs["cpu"], after.Attrs["services"] = "4", "minio,qdrant"
	rotated := serviceCreds("two")
	delete(rotated, reconciler.SensitiveNeo4jPassword)
	after.Sensitive = rotated
	got, err := e.p.Update(ctx, data, after, ix.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Attrs, after.Attrs) {
		t.Errorf("Update returned attrs %v", got.Attrs)
	}
	want = map[string]string{"NETWORK": "YES", "SERVICES": "minio,qdrant",
		"MINIO_ROOT_USER": rotated[reconciler.SensitiveMinIOAccessKey], "MINIO_ROOT_PASSWORD": rotated[reconciler.SensitiveMinIOSecretKey],
		"QDRANT_API_KEY": rotated[reconciler.SensitiveQdrantAPIKey]}
	if got := e.contextOf(t, data.ID); !maps.Equal(got, want) {
		t.Errorf("CONTEXT after update:\n got  %v\n want %v", got, want)
	}
	seen = observe(t, e.p)
	if o := seen[rs[9].Address()]; !maps.Equal(o.Attrs, after.Attrs) {
		t.Errorf("observed after update %v, want %v", o.Attrs, after.Attrs)
	}

	// Failures: a failing oned and bad Sensitive input give errors that
	// never carry a credential.
	other := desired("globex")
	createAll(t, e.p, other[:9], ix)
	if _, err := e.sim.Control().AddFault(simctl.Fault{Pattern: "one.template.allocate", ErrorRate: 1, Status: 502}); err != nil {
		t.Fatal(err)
	}
	gcreds := serviceCreds("glob")
	other[9].Sensitive = gcreds
	var errs []string
	if _, err := e.p.Create(ctx, other[9], ix.lookup); err == nil {
		t.Error("create succeeded against a failing oned")
	} else {
		errs = append(errs, err.Error())
	}
	e.sim.Control().ClearFaults()
	for _, bad := range []map[string]string{
		{"ssh_key": "private-stuff-Qm1"},
		{reconciler.SensitiveQdrantAPIKey: `quote"d-Wn5`},
	} {
		r := other[9]
		r.Sensitive = bad
		_, err := e.p.Create(ctx, r, ix.lookup)
		if err == nil {
			t.Errorf("Sensitive %v accepted", slices.Collect(maps.Keys(bad)))
			continue
		}
		errs = append(errs, err.Error())
		for _, v := range bad {
			if strings.Contains(err.Error(), v) {
				t.Errorf("error carries the value: %v", err)
			}
		}
	}
	observed, err := e.p.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(observed)
	text := string(js) + fmt.Sprintf("%+v", observed) + strings.Join(errs, "\n") + e.logs.String()
	for _, cs := range []map[string]string{creds, rotated, gcreds, {plan.SensitiveStartScript: script, "encoded": base64.StdEncoding.EncodeToString([]byte(script))}} {
		for k, v := range cs {
			if strings.Contains(text, v) {
				t.Errorf("credential %s appears in observed resources, errors or logs", k)
			}
		}
	}
}
