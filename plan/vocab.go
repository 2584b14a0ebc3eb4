package plan

import "strings"

// The words the catalogue (doc.go), the adapters, the daemon and the API
// share. They are defined here once; everything else refers to them.

// OutputIP is the Outputs key of an observed opennebula_vm that holds its
// first IPv4 address (the data VM's address the agents reach).
const OutputIP = "ip"

// OutputPublicIP is the Outputs key of a hetzner_server's and an
// exoscale_instance's public IPv4 address (how the front-end reaches a
// host; the WireGuard endpoint of a storage node).
const OutputPublicIP = "public_ip"

// The data services a customer's data VM runs (schema.Services), in the
// order of the "services" attribute of the data template.
const (
	ServiceMinIO  = "minio"
	ServiceNeo4j  = "neo4j"
	ServiceQdrant = "qdrant"
)

// The agent jobs a customer runs (schema.Agents): the scheduler's job
// names and the metrics' job label.
const (
	JobIngest       = "ingest"
	JobRelationship = "relationship"
	JobLearning     = "learning"
)

// Jobs lists the agent jobs.
func Jobs() []string { return []string{JobIngest, JobRelationship, JobLearning} }

// Clouds lists the clouds.
func Clouds() []Cloud { return []Cloud{OpenNebula, Hetzner, Exoscale} }

// ShortCommit abbreviates a commit hash to 12 characters for people;
// anything else (a worktree label, "") is returned as it is.
func ShortCommit(c string) string {
	if len(c) > 12 && !strings.HasPrefix(c, "worktree-") {
		return c[:12]
	}
	return c
}
