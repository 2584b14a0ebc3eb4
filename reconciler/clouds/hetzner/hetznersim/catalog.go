package hetznersim

import (
	"fmt"
	"math"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// The static catalogue: locations, datacenters, server types (with prices)
// and system images, modelled on the real Hetzner Cloud API. It is the same
// for every simulator and never persisted.

type location struct {
	schema.Location
	datacenterID   int64
	datacenterName string
	dcDescription  string
}

var catalogLocations = []location{
	{schema.Location{ID: 1, Name: "fsn1", Description: "Falkenstein DC Park 1", Country: "DE", City: "Falkenstein", Latitude: 50.47612, Longitude: 12.370071, NetworkZone: "eu-central"}, 4, "fsn1-dc14", "Falkenstein 1 virtual DC 14"},
	{schema.Location{ID: 2, Name: "nbg1", Description: "Nuremberg DC Park 1", Country: "DE", City: "Nuremberg", Latitude: 49.452102, Longitude: 11.076665, NetworkZone: "eu-central"}, 2, "nbg1-dc3", "Nuremberg 1 virtual DC 3"},
	{schema.Location{ID: 3, Name: "hel1", Description: "Helsinki DC Park 1", Country: "FI", City: "Helsinki", Latitude: 60.169855, Longitude: 24.938379, NetworkZone: "eu-central"}, 3, "hel1-dc2", "Helsinki 1 virtual DC 2"},
	{schema.Location{ID: 4, Name: "ash", Description: "Ashburn, VA", Country: "US", City: "Ashburn, VA", Latitude: 39.045821, Longitude: -77.487073, NetworkZone: "us-east"}, 5, "ash-dc1", "Ashburn virtual DC 1"},
	{schema.Location{ID: 5, Name: "hil", Description: "Hillsboro, OR", Country: "US", City: "Hillsboro, OR", Latitude: 45.54222, Longitude: -122.95194, NetworkZone: "us-west"}, 6, "hil-dc1", "Hillsboro virtual DC 1"},
	{schema.Location{ID: 6, Name: "sin", Description: "Singapore", Country: "SG", City: "Singapore", Latitude: 1.283333, Longitude: 103.833333, NetworkZone: "ap-southeast"}, 7, "sin-dc1", "Singapore virtual DC 1"},
}

var networkZones = map[string]bool{"eu-central": true, "us-east": true, "us-west": true, "ap-southeast": true}

func locationByName(name string) *location {
	for i := range catalogLocations {
		if catalogLocations[i].Name == name {
			return &catalogLocations[i]
		}
	}
	return nil
}

func locationByID(id int64) *location {
	for i := range catalogLocations {
		if catalogLocations[i].ID == id {
			return &catalogLocations[i]
		}
	}
	return nil
}

type serverType struct {
	id           int64
	name         string
	description  string
	category     string
	cores        int
	memory       float32
	disk         int
	cpuType      string // shared | dedicated
	arch         string // x86 | arm
	euroPerMonth float64
	euOnly       bool
}

// Net monthly prices in EUR for the EU locations; ash/hil and sin are
// dearer, as on the real price list.
var catalogServerTypes = []serverType{
	{22, "cx22", "CX22", "cost_optimized", 2, 4, 40, "shared", "x86", 3.79, true},
	{23, "cx32", "CX32", "cost_optimized", 4, 8, 80, "shared", "x86", 6.80, true},
	{24, "cx42", "CX42", "cost_optimized", 8, 16, 160, "shared", "x86", 16.40, true},
	{25, "cx52", "CX52", "cost_optimized", 16, 32, 320, "shared", "x86", 32.40, true},
	{122, "cpx11", "CPX 11", "regular_purpose", 2, 2, 40, "shared", "x86", 4.35, false},
	{123, "cpx21", "CPX 21", "regular_purpose", 3, 4, 80, "shared", "x86", 7.55, false},
	{124, "cpx31", "CPX 31", "regular_purpose", 4, 8, 160, "shared", "x86", 13.60, false},
	{125, "cpx41", "CPX 41", "regular_purpose", 8, 16, 240, "shared", "x86", 25.20, false},
	{126, "cpx51", "CPX 51", "regular_purpose", 16, 32, 360, "shared", "x86", 54.90, false},
	{45, "cax11", "CAX11", "cost_optimized", 2, 4, 40, "shared", "arm", 3.79, true},
	{93, "cax21", "CAX21", "cost_optimized", 4, 8, 80, "shared", "arm", 6.49, true},
	{94, "cax31", "CAX31", "cost_optimized", 8, 16, 160, "shared", "arm", 12.49, true},
	{95, "cax41", "CAX41", "cost_optimized", 16, 32, 320, "shared", "arm", 24.49, true},
	{96, "ccx13", "CCX13 Dedicated CPU", "general_purpose", 2, 8, 80, "dedicated", "x86", 12.49, false},
	{97, "ccx23", "CCX23 Dedicated CPU", "general_purpose", 4, 16, 160, "dedicated", "x86", 24.49, false},
	{98, "ccx33", "CCX33 Dedicated CPU", "general_purpose", 8, 32, 240, "dedicated", "x86", 48.49, false},
	{99, "ccx43", "CCX43 Dedicated CPU", "general_purpose", 16, 64, 360, "dedicated", "x86", 96.49, false},
}

func serverTypeByName(name string) *serverType {
	for i := range catalogServerTypes {
		if catalogServerTypes[i].name == name {
			return &catalogServerTypes[i]
		}
	}
	return nil
}

func serverTypeByID(id int64) *serverType {
	for i := range catalogServerTypes {
		if catalogServerTypes[i].id == id {
			return &catalogServerTypes[i]
		}
	}
	return nil
}

func (t *serverType) availableIn(loc *location) bool {
	return !t.euOnly || loc.NetworkZone == "eu-central"
}

// priceString formats a price the way the API does: a decimal string with
// ten fractional digits.
func priceString(v float64) string { return fmt.Sprintf("%.10f", v) }

const vatRate = 0.19 // German VAT, as the API reports gross prices for a German account

func (t *serverType) prices() []schema.PricingServerTypePrice {
	var out []schema.PricingServerTypePrice
	for i := range catalogLocations {
		loc := &catalogLocations[i]
		if !t.availableIn(loc) {
			continue
		}
		monthly, traffic, perTB := t.euroPerMonth, uint64(20)<<40, 1.0
		switch loc.NetworkZone {
		case "us-east", "us-west":
			monthly, traffic, perTB = math.Round(t.euroPerMonth*1.15*100)/100, uint64(1)<<40, 1.0
		case "ap-southeast":
			monthly, traffic, perTB = math.Round(t.euroPerMonth*1.30*100)/100, uint64(1)<<40, 7.40
		}
		hourly := math.Round(monthly/624*10000) / 10000
		out = append(out, schema.PricingServerTypePrice{
			Location:          loc.Name,
			PriceHourly:       schema.Price{Net: priceString(hourly), Gross: priceString(hourly * (1 + vatRate))},
			PriceMonthly:      schema.Price{Net: priceString(monthly), Gross: priceString(monthly * (1 + vatRate))},
			IncludedTraffic:   traffic,
			PricePerTBTraffic: schema.Price{Net: priceString(perTB), Gross: priceString(perTB * (1 + vatRate))},
		})
	}
	return out
}

func (t *serverType) toSchema() schema.ServerType {
	st := schema.ServerType{
		ID: t.id, Name: t.name, Description: t.description, Category: t.category,
		Cores: t.cores, Memory: t.memory, Disk: t.disk, StorageType: "local",
		CPUType: t.cpuType, Architecture: t.arch, Prices: t.prices(),
		Locations: []schema.ServerTypeLocation{},
	}
	for i := range catalogLocations {
		loc := &catalogLocations[i]
		if t.availableIn(loc) {
			st.Locations = append(st.Locations, schema.ServerTypeLocation{ID: loc.ID, Name: loc.Name, Available: true, Recommended: true})
		}
	}
	return st
}

type image struct {
	id        int64
	name      string
	desc      string
	osFlavor  string
	osVersion string
	arch      string
	created   time.Time
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 0, 0, 0, time.UTC) }

var catalogImages = []image{
	{67794396, "ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04", "x86", day(2022, 4, 21)},
	{103908070, "ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04", "arm", day(2022, 4, 21)},
	{161547269, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04", "x86", day(2024, 4, 25)},
	{161547270, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04", "arm", day(2024, 4, 25)},
	{114690387, "debian-12", "Debian 12", "debian", "12", "x86", day(2023, 6, 13)},
	{114690389, "debian-12", "Debian 12", "debian", "12", "arm", day(2023, 6, 13)},
	{45557056, "debian-11", "Debian 11", "debian", "11", "x86", day(2021, 8, 16)},
	{76766499, "rocky-9", "Rocky Linux 9", "rocky", "9", "x86", day(2022, 7, 14)},
	{103908072, "rocky-9", "Rocky Linux 9", "rocky", "9", "arm", day(2022, 7, 14)},
	{52365089, "rocky-8", "Rocky Linux 8", "rocky", "8", "x86", day(2021, 11, 16)},
	{76766502, "alma-9", "AlmaLinux 9", "alma", "9", "x86", day(2022, 7, 14)},
	{59752342, "centos-stream-9", "CentOS Stream 9", "centos", "stream-9", "x86", day(2022, 1, 13)},
	{186889548, "fedora-41", "Fedora 41", "fedora", "41", "x86", day(2024, 10, 29)},
}

func imageByID(id int64) *image {
	for i := range catalogImages {
		if catalogImages[i].id == id {
			return &catalogImages[i]
		}
	}
	return nil
}

// imageFor resolves a name or id for a server of the given architecture.
func imageFor(ref schema.IDOrName, arch string) *image {
	if ref.ID != 0 {
		return imageByID(ref.ID)
	}
	for i := range catalogImages {
		if catalogImages[i].name == ref.Name && catalogImages[i].arch == arch {
			return &catalogImages[i]
		}
	}
	return nil
}

func (im *image) toSchema() schema.Image {
	name, ver, created := im.name, im.osVersion, im.created
	return schema.Image{
		ID: im.id, Status: "available", Type: "system", Name: &name, Description: im.desc,
		DiskSize: 5, Created: &created, OSFlavor: im.osFlavor, OSVersion: &ver,
		Architecture: im.arch, RapidDeploy: true, Labels: map[string]string{},
	}
}
