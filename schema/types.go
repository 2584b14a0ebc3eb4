package schema

import (
	"strings"
	"time"
)

// Tier is a customer's commercial tier.
type Tier string

// The tiers of the business model.
const (
	TierCasual     Tier = "casual"
	TierPro        Tier = "pro"
	TierEnterprise Tier = "enterprise"
)

// Customer is one validated, defaulted customer file.
type Customer struct {
	Name        string            `json:"name"`
	DisplayName string            `json:"displayName"`
	Owner       string            `json:"owner"`
	Tier        Tier              `json:"tier"`
	Region      string            `json:"region"`
	Compute     Compute           `json:"compute"`
	Storage     Storage           `json:"storage"`
	Agents      Agents            `json:"agents"`
	Services    Services          `json:"services"`
	Protection  Protection        `json:"protection"`
	Suspended   bool              `json:"suspended"`
	Labels      map[string]string `json:"labels"`

	// Placement and price derived from region and tier (not in the file).
	Placement Placement `json:"placement"`
	// Source is where the customer came from.
	Source Source `json:"source"`
}

// Compute sizes the customer's Hetzner servers and OneFlow worker VMs.
type Compute struct {
	ServerType string           `json:"serverType"`
	MinServers int              `json:"minServers"`
	MaxServers int              `json:"maxServers"`
	MinWorkers int              `json:"minWorkers"`
	MaxWorkers int              `json:"maxWorkers"`
	Autoscale  ComputeAutoscale `json:"autoscale"`
}

// ComputeAutoscale is the CPU rule for servers and worker VMs.
type ComputeAutoscale struct {
	CPUPercent      int      `json:"cpuPercent"`
	LowWaterPercent int      `json:"lowWaterPercent"`
	Step            int      `json:"step"`
	Cooldown        Duration `json:"cooldown"`
}

// Storage sizes the Exoscale block volume.
type Storage struct {
	InitialGB int              `json:"initialGB"`
	MaxGB     int              `json:"maxGB"`
	Autoscale StorageAutoscale `json:"autoscale"`
}

// StorageAutoscale grows the volume; it never shrinks.
type StorageAutoscale struct {
	UsedPercent int `json:"usedPercent"`
	StepGB      int `json:"stepGB"`
}

// Agents are the data agents' schedules and embedder.
type Agents struct {
	Ingest         Duration `json:"ingest"`
	Relationship   Duration `json:"relationship"`
	Learning       Duration `json:"learning"`
	Embedder       string   `json:"embedder"`
	EmbeddingURL   string   `json:"embeddingURL,omitempty"`
	EmbeddingModel string   `json:"embeddingModel,omitempty"`
}

// Services toggles the data services in the customer's VM.
type Services struct {
	Qdrant bool `json:"qdrant"`
	Neo4j  bool `json:"neo4j"`
	MinIO  bool `json:"minio"`
}

// Protection guards the customer against deletion.
type Protection struct {
	DeletionProtection bool `json:"deletionProtection"`
}

// Placement is where the region puts the customer, and the tier's price.
type Placement struct {
	HetznerLocation string      `json:"hetznerLocation"`
	ExoscaleZone    string      `json:"exoscaleZone"`
	ListPriceUSD    float64     `json:"listPriceUSD"`
	Billing         TierBilling `json:"billing"`
}

// TierBilling is what a tier's monthly list price includes and what usage
// beyond it costs (schema #Tiers billing).
type TierBilling struct {
	IncludedServerHours      float64 `json:"includedServerHours"`
	IncludedStorageGB        float64 `json:"includedStorageGB"`
	OverageServerHourUSD     float64 `json:"overageServerHourUSD"`
	OverageStorageGBMonthUSD float64 `json:"overageStorageGBMonthUSD"`
}

// Source identifies the file a customer was read from.
type Source struct {
	File string `json:"file"`
	// Hash is the SHA-256 of the file's bytes, hex encoded.
	Hash string `json:"hash"`
}

// Duration is a time.Duration written as "5s" in files and JSON.
type Duration struct{ time.Duration }

// String writes the duration the way people do: "1h", "5m", "2h30m".
func (d Duration) String() string {
	s := d.Duration.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText writes the duration as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "5s", "1h30m" and the like.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}
