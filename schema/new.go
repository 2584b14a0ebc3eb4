package schema

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
)

// NewFileOptions are the inputs of a new customer file.
type NewFileOptions struct {
	Name, Tier, Region, DisplayName, Owner string
}

// NewFile renders a new customer file with the tier's defaults spelled out
// and commented. The result is validated before it is returned, so what
// `vdc new` writes always loads.
func (l *Loader) NewFile(o NewFileOptions) ([]byte, error) {
	if !customerRE.MatchString(o.Name) {
		return nil, fmt.Errorf("name %q is not a lower-case DNS label of 3 to 32 characters (letters, digits, '-')", o.Name)
	}
	if o.Region == "" {
		o.Region = "fsn1"
	}
	if o.DisplayName == "" {
		o.DisplayName = o.Name
	}
	if o.Owner == "" {
		o.Owner = "owner@example.com"
	}
	path := "customers/" + o.Name + ".yaml"
	minimal := fmt.Sprintf("name: %q\ndisplayName: %q\nowner: %q\ntier: %q\nregion: %q\n", o.Name, o.DisplayName, o.Owner, o.Tier, o.Region)
	res := l.Load([]File{{Path: path, Data: []byte(minimal)}})
	if !res.OK() {
		return nil, &InvalidError{Result: res}
	}
	var buf bytes.Buffer
	c := res.Customers[0]
	if err := newFileTemplate.Execute(&buf, struct {
		Customer
		Types []string
	}{Customer: c, Types: l.types[c.Tier]}); err != nil {
		return nil, fmt.Errorf("render new customer file: %w", err)
	}
	out := alignComments(buf.Bytes())
	if check := l.Load([]File{{Path: path, Data: out}}); !check.OK() {
		return nil, fmt.Errorf("internal error: the rendered file does not validate: %s", check.Error())
	}
	return out, nil
}

// alignComments lines up the trailing comments the template marks with " #~ ".
func alignComments(b []byte) []byte {
	const column = 34
	lines := strings.Split(string(b), "\n")
	for i, ln := range lines {
		code, comment, ok := strings.Cut(ln, " #~ ")
		if !ok {
			continue
		}
		pad := max(1, column-len(code))
		lines[i] = code + strings.Repeat(" ", pad) + "# " + comment
	}
	return []byte(strings.Join(lines, "\n"))
}

// InvalidError reports diagnostics as an error.
type InvalidError struct{ Result *Result }

func (e *InvalidError) Error() string { return e.Result.Error() }

var newFileTemplate = template.Must(template.New("customer").Parse(`# Customer {{.Name}} ({{.Tier}} tier). The format is documented in
# customers/README.md; ` + "`vdc schema`" + ` prints the full schema with the tier bounds.
# Every value below the first block is the {{.Tier}} default, spelled out:
# change it within the tier's bounds or delete the line to keep the default.
name: {{printf "%q" .Name}} #~ must equal the file name
displayName: {{printf "%q" .DisplayName}}
owner: {{printf "%q" .Owner}} #~ who we contact about this customer
tier: {{.Tier}} #~ casual | pro | enterprise
region: {{.Region}} #~ Hetzner {{.Placement.HetznerLocation}}, Exoscale {{.Placement.ExoscaleZone}}

compute:
  serverType: {{.Compute.ServerType}} #~ {{.Tier}} allows {{range $i, $t := .Types}}{{if $i}}, {{end}}{{$t}}{{end}}
  minServers: {{.Compute.MinServers}} #~ Hetzner servers, autoscaled between min and max
  maxServers: {{.Compute.MaxServers}}
  minWorkers: {{.Compute.MinWorkers}} #~ OneFlow worker VMs, scaled by OpenNebula
  maxWorkers: {{.Compute.MaxWorkers}}
  autoscale:
    cpuPercent: {{.Compute.Autoscale.CPUPercent}} #~ scale out above this average CPU %
    lowWaterPercent: {{.Compute.Autoscale.LowWaterPercent}} #~ scale in below it
    step: {{.Compute.Autoscale.Step}} #~ servers / VMs per decision
    cooldown: {{.Compute.Autoscale.Cooldown}} #~ between two decisions

storage:
  initialGB: {{.Storage.InitialGB}} #~ Exoscale block volume
  maxGB: {{.Storage.MaxGB}}
  autoscale:
    usedPercent: {{.Storage.Autoscale.UsedPercent}} #~ grow when the datastore is this full
    stepGB: {{.Storage.Autoscale.StepGB}} #~ GB added per growth; never shrinks

agents:
  ingest: {{.Agents.Ingest}} #~ new files searchable within this
  relationship: {{.Agents.Relationship}} #~ knowledge-graph build
  learning: {{.Agents.Learning}} #~ query-log learning
  embedder: {{.Agents.Embedder}} #~ builtin | openai (then embeddingURL + embeddingModel)

services:
  qdrant: {{.Services.Qdrant}}
  neo4j: {{.Services.Neo4j}}
  minio: {{.Services.MinIO}}

protection:
  deletionProtection: {{.Protection.DeletionProtection}} #~ turn off before removing the customer

suspended: {{.Suspended}} #~ true pauses reconciling and agents

labels: {} #~ free-form, copied onto every cloud resource
`))
