package opennebula

import (
	"context"
	"fmt"

	"github.com/agentvdc/agentvdc/plan"
)

// HostCPU returns the CPU use, in percent of capacity, of every managed
// host by name, from one hostpool call. It reads the monitoring record
// (MONITORING/CAPACITY USED_CPU and FREE_CPU) and falls back to
// HOST_SHARE CPU_USAGE/MAX_CPU when a host has not been monitored yet.
func (p *Provider) HostCPU(ctx context.Context) (map[string]float64, error) {
	s, err := p.fetch(ctx, plan.ONEHost)
	if err != nil {
		return nil, fmt.Errorf("opennebula: host cpu: %w", err)
	}
	out := map[string]float64{}
	for i := range s.hosts {
		h := &s.hosts[i]
		if !marksFrom(&h.Template.Template).owned() {
			continue
		}
		pct := 0.0
		if capv, err := h.MonitoringInfos.GetVector("CAPACITY"); err == nil {
			used, uerr := capv.GetFloat("USED_CPU")
			free, ferr := capv.GetFloat("FREE_CPU")
			if uerr == nil && ferr == nil && used+free > 0 {
				pct = 100 * used / (used + free)
				out[hostName(h)] = pct
				continue
			}
		}
		if h.Share.MaxCPU > 0 {
			pct = 100 * float64(h.Share.CPUUsage) / float64(h.Share.MaxCPU)
		}
		out[hostName(h)] = pct
	}
	return out, nil
}

// DatastoreUsage returns the used share, in percent, of every managed
// datastore by name (USED_MB/TOTAL_MB), from one datastorepool call.
func (p *Provider) DatastoreUsage(ctx context.Context) (map[string]float64, error) {
	s, err := p.fetch(ctx, plan.ONEDatastore)
	if err != nil {
		return nil, fmt.Errorf("opennebula: datastore usage: %w", err)
	}
	out := map[string]float64{}
	for _, d := range s.datastores {
		if !marksFrom(&d.Template.Template).owned() {
			continue
		}
		pct := 0.0
		if d.TotalMB > 0 {
			pct = 100 * float64(d.UsedMB) / float64(d.TotalMB)
		}
		out[d.Name] = pct
	}
	return out, nil
}
