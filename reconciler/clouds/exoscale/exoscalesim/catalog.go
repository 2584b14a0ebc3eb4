package exoscalesim

import (
	"time"

	v3 "github.com/exoscale/egoscale/v3"
	"github.com/google/uuid"
)

// catalogNS derives stable catalogue ids, so they survive restarts.
const catalogNS = "6f2a4a8e-3b7c-4f1e-9d0a-5e8b2c1d7a90"

const gib = int64(1) << 30

// catalog holds the read-only instance types and templates.
type catalog struct {
	types     []v3.InstanceType
	typeByID  map[v3.UUID]v3.InstanceType
	templates []v3.Template
	tplByID   map[v3.UUID]v3.Template
}

func stableID(kind, name string) v3.UUID {
	return v3.UUID(uuid.NewSHA1(uuid.MustParse(catalogNS), []byte(kind+"/"+name)).String())
}

func allZones() []v3.ZoneName {
	names := zoneNames()
	zs := make([]v3.ZoneName, len(names))
	for i, z := range names {
		zs[i] = v3.ZoneName(z)
	}
	return zs
}

func newCatalog() catalog {
	type it struct {
		family v3.InstanceTypeFamily
		size   v3.InstanceTypeSize
		cpus   int64
		memMiB int64
	}
	defs := []it{
		{"standard", "micro", 1, 512},
		{"standard", "tiny", 1, 1024},
		{"standard", "small", 2, 2048},
		{"standard", "medium", 2, 4096},
		{"standard", "large", 4, 8192},
		{"standard", "extra-large", 4, 16384},
		{"standard", "huge", 8, 32768},
		{"standard", "mega", 12, 65536},
		{"standard", "titan", 16, 131072},
		{"standard", "jumbo", 24, 230400},
		{"cpu", "extra-large", 8, 16384},
		{"cpu", "huge", 16, 32768},
		{"cpu", "mega", 32, 65536},
		{"cpu", "titan", 40, 131072},
		{"memory", "extra-large", 2, 16384},
		{"memory", "huge", 4, 32768},
		{"memory", "mega", 8, 65536},
		{"memory", "titan", 12, 131072},
		{"storage", "extra-large", 4, 16384},
		{"storage", "huge", 8, 32768},
		{"storage", "mega", 12, 65536},
	}
	c := catalog{typeByID: map[v3.UUID]v3.InstanceType{}, tplByID: map[v3.UUID]v3.Template{}}
	for _, d := range defs {
		t := v3.InstanceType{
			ID:         stableID("instance-type", string(d.family)+"."+string(d.size)),
			Family:     d.family,
			Size:       d.size,
			Cpus:       d.cpus,
			Memory:     d.memMiB << 20,
			Authorized: v3.Bool(true),
			Zones:      allZones(),
		}
		c.types = append(c.types, t)
		c.typeByID[t.ID] = t
	}
	type tp struct {
		name, family, version, build, user string
		boot                               v3.TemplateBootMode
		created                            string
	}
	tdefs := []tp{
		{"Linux Ubuntu 24.04 LTS 64-bit", "ubuntu", "24.04", "2025-01-15", "ubuntu", "uefi", "2025-01-20T10:00:00Z"},
		{"Linux Ubuntu 22.04 LTS 64-bit", "ubuntu", "22.04", "2025-01-15", "ubuntu", "legacy", "2025-01-20T10:00:00Z"},
		{"Linux Debian 12 (Bookworm) 64-bit", "debian", "12", "2025-01-10", "debian", "uefi", "2025-01-12T09:30:00Z"},
		{"Linux Debian 11 (Bullseye) 64-bit", "debian", "11", "2025-01-10", "debian", "legacy", "2025-01-12T09:30:00Z"},
	}
	for _, d := range tdefs {
		created, _ := time.Parse(time.RFC3339, d.created)
		t := v3.Template{
			ID:              stableID("template", d.name),
			Name:            d.name,
			Description:     "",
			Family:          d.family,
			Version:         d.version,
			Build:           d.build,
			DefaultUser:     d.user,
			BootMode:        d.boot,
			Maintainer:      "Exoscale",
			Size:            10 * gib,
			PasswordEnabled: v3.Bool(false),
			SSHKeyEnabled:   v3.Bool(true),
			Visibility:      v3.TemplateVisibilityPublic,
			CreatedAT:       created,
			Zones:           allZones(),
		}
		c.templates = append(c.templates, t)
		c.tplByID[t.ID] = t
	}
	return c
}
