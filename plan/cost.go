package plan

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/agentvdc/agentvdc/schema"
)

// HoursPerMonth converts hourly prices to monthly ones (365×24/12).
const HoursPerMonth = 730

// DefaultEURToUSD is used when Prices.EURToUSD is zero.
const DefaultEURToUSD = 1.08

// Prices are the unit prices the cost estimate uses. Hetzner prices come
// from the API (GET /server_types: price_monthly.net for the location, in
// EUR); Exoscale prices come from configuration, with
// DefaultExoscalePrices filling whatever configuration leaves out.
type Prices struct {
	// HetznerServerMonthly maps server type → location → EUR per month (net).
	HetznerServerMonthly map[string]map[string]float64 `json:"hetzner_server_monthly,omitempty"`
	// ExoscaleInstanceHourly maps instance type ("standard.medium") → EUR per hour.
	ExoscaleInstanceHourly map[string]float64 `json:"exoscale_instance_hourly,omitempty"`
	// ExoscaleVolumeGBMonthly is EUR per GB and month of block storage.
	ExoscaleVolumeGBMonthly float64 `json:"exoscale_volume_gb_monthly,omitempty"`
	// ExoscaleDiskGBMonthly is EUR per GB and month of an instance's root disk.
	ExoscaleDiskGBMonthly float64 `json:"exoscale_disk_gb_monthly,omitempty"`
	// EURToUSD converts every price to USD (DefaultEURToUSD when zero).
	EURToUSD float64 `json:"eur_to_usd,omitempty"`
}

// DefaultExoscalePrices is the Exoscale price table (EUR, list prices of
// the standard instance family and block storage) used unless
// configuration overrides it. It returns a fresh value on every call.
func DefaultExoscalePrices() Prices {
	return Prices{
		ExoscaleInstanceHourly: map[string]float64{
			"standard.micro":       0.0110,
			"standard.tiny":        0.0180,
			"standard.small":       0.0250,
			"standard.medium":      0.0500,
			"standard.large":       0.0920,
			"standard.extra-large": 0.1830,
			"standard.huge":        0.3670,
			"standard.mega":        0.5450,
			"standard.titan":       1.0870,
			"standard.jumbo":       1.4500,
		},
		ExoscaleVolumeGBMonthly: 0.0790,
		ExoscaleDiskGBMonthly:   0.0980,
		EURToUSD:                DefaultEURToUSD,
	}
}

// withDefaults fills what p leaves out from DefaultExoscalePrices; an
// instance type set in p wins over the default table.
func (p Prices) withDefaults() Prices {
	d := DefaultExoscalePrices()
	out := p
	out.ExoscaleInstanceHourly = make(map[string]float64, len(d.ExoscaleInstanceHourly)+len(p.ExoscaleInstanceHourly))
	for k, v := range d.ExoscaleInstanceHourly {
		out.ExoscaleInstanceHourly[k] = v
	}
	for k, v := range p.ExoscaleInstanceHourly {
		out.ExoscaleInstanceHourly[k] = v
	}
	if out.ExoscaleVolumeGBMonthly == 0 {
		out.ExoscaleVolumeGBMonthly = d.ExoscaleVolumeGBMonthly
	}
	if out.ExoscaleDiskGBMonthly == 0 {
		out.ExoscaleDiskGBMonthly = d.ExoscaleDiskGBMonthly
	}
	if out.EURToUSD == 0 {
		out.EURToUSD = d.EURToUSD
	}
	return out
}

func (p Prices) validate() error {
	if p.EURToUSD < 0 || p.ExoscaleVolumeGBMonthly < 0 || p.ExoscaleDiskGBMonthly < 0 {
		return fmt.Errorf("prices: negative value")
	}
	for t, byLoc := range p.HetznerServerMonthly {
		for l, v := range byLoc {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("prices: hetzner %s in %s: %v is not a price", t, l, v)
			}
		}
	}
	for t, v := range p.ExoscaleInstanceHourly {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("prices: exoscale %s: %v is not a price", t, v)
		}
	}
	return nil
}

// CustomerCost is one customer's monthly cost estimate in USD.
type CustomerCost struct {
	// BeforeUSD is the cost of the observed resources, AfterUSD of the
	// desired ones (at the current server count and volume size).
	BeforeUSD float64 `json:"before_usd"`
	AfterUSD  float64 `json:"after_usd"`
	DeltaUSD  float64 `json:"delta_usd"`
	// MaxUSD is AfterUSD with maxServers servers and a maxGB volume.
	MaxUSD float64 `json:"max_usd"`
	// ListPriceUSD is the tier's list price. ExpectedInvoiceUSD is what
	// the customer would be invoiced for a month at the desired state: the
	// list price plus the overage beyond what it includes (ExpectedInvoice);
	// MaxInvoiceUSD the same at max scale. MarginUSD = expected invoice −
	// after, MaxMarginUSD = max invoice − max.
	ListPriceUSD       float64 `json:"list_price_usd"`
	ExpectedInvoiceUSD float64 `json:"expected_invoice_usd,omitempty"`
	MaxInvoiceUSD      float64 `json:"max_invoice_usd,omitempty"`
	MarginUSD          float64 `json:"margin_usd"`
	MaxMarginUSD       float64 `json:"max_margin_usd,omitempty"`
	// Unpriced names resources with no known price (counted as zero).
	Unpriced []string `json:"unpriced,omitempty"`
}

// ExpectedInvoice is a month's invoice for a customer running servers
// servers all month and gb of storage: the list price plus the server-hours
// beyond IncludedServerHours at OverageServerHourUSD and the GB beyond
// IncludedStorageGB at OverageStorageGBMonthUSD (the rules
// reconciler/billing invoices by, on metered usage).
func ExpectedInvoice(list float64, b schema.TierBilling, servers, gb int) float64 {
	inv := list
	if h := float64(servers)*HoursPerMonth - b.IncludedServerHours; h > 0 {
		inv += h * b.OverageServerHourUSD
	}
	if g := float64(gb) - b.IncludedStorageGB; g > 0 {
		inv += g * b.OverageStorageGBMonthUSD
	}
	return round2(inv)
}

// unitCosts are a resource's monthly cost in USD.
type coster struct{ p Prices }

func (c coster) serverUSD(serverType, location string) (float64, bool) {
	v, ok := c.p.HetznerServerMonthly[serverType][location]
	return v * c.p.EURToUSD, ok
}

func (c coster) volumeUSD(gb int) float64 {
	return float64(gb) * c.p.ExoscaleVolumeGBMonthly * c.p.EURToUSD
}

// of returns the monthly USD cost of resources and what could not be priced.
func (c coster) of(rs []Resource) (float64, []string) {
	total := 0.0
	var unpriced []string
	for _, r := range rs {
		switch r.Kind {
		case HetznerServer:
			t, l := Normalise("server_type", r.Attrs["server_type"]), Normalise("location", r.Attrs["location"])
			v, ok := c.serverUSD(t, l)
			if !ok {
				unpriced = appendUnique(unpriced, "hetzner server type "+t+" in "+l)
			}
			total += v
		case ExoInstance:
			t := Normalise("instance_type", r.Attrs["instance_type"])
			v, ok := c.p.ExoscaleInstanceHourly[t]
			if !ok {
				unpriced = appendUnique(unpriced, "exoscale instance type "+t)
			}
			disk, _ := strconv.Atoi(Normalise("disk_gb", r.Attrs["disk_gb"]))
			total += (v*HoursPerMonth + float64(disk)*c.p.ExoscaleDiskGBMonthly) * c.p.EURToUSD
		case ExoBlockVolume:
			gb, _ := strconv.Atoi(Normalise("size_gb", r.Attrs["size_gb"]))
			total += c.volumeUSD(gb)
		}
	}
	sort.Strings(unpriced)
	return total, unpriced
}

func appendUnique(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

// round2 rounds to cents so that plans and golden files are stable.
func round2(v float64) float64 { return math.Round(v*100) / 100 }

// MonthlyCostUSD is the monthly cost in USD of resources (observed or
// desired) at prices; unpriced resources count as zero.
func MonthlyCostUSD(rs []Resource, p Prices) float64 {
	total, _ := coster{p.withDefaults()}.of(rs)
	return round2(total)
}
