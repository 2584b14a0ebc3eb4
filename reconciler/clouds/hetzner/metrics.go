package hetzner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// ServerTypePrices returns server type → location → monthly net price in
// EUR, as the API reports them on GET /server_types (one list call while
// there are at most 50 types).
func (p *Provider) ServerTypePrices(ctx context.Context) (map[string]map[string]float64, error) {
	types, err := p.c.ServerType.AllWithOpts(ctx, hcloud.ServerTypeListOpts{ListOpts: hcloud.ListOpts{PerPage: perPage}})
	if err != nil {
		return nil, fmt.Errorf("hetzner: list server types: %w", err)
	}
	out := make(map[string]map[string]float64, len(types))
	for _, t := range types {
		m := make(map[string]float64, len(t.Pricings))
		for _, pr := range t.Pricings {
			if pr.Location == nil {
				continue
			}
			v, err := strconv.ParseFloat(pr.Monthly.Net, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("hetzner: server type %s in %s: monthly net price %q is not a number", t.Name, pr.Location.Name, pr.Monthly.Net)
			}
			m[pr.Location.Name] = v
		}
		out[t.Name] = m
	}
	return out, nil
}

// ServerCPU returns a server's average CPU usage in percent over the last
// window, from the metrics endpoint (one call).
func (p *Provider) ServerCPU(ctx context.Context, id string, window time.Duration) (float64, error) {
	sid, err := strconv.ParseInt(id, 10, 64)
	if err != nil || sid <= 0 {
		return 0, fmt.Errorf("hetzner: server cpu: id %q is not a Hetzner id", id)
	}
	if window < time.Second {
		return 0, fmt.Errorf("hetzner: server cpu: window %s is shorter than a second", window)
	}
	end := p.now().UTC().Truncate(time.Second)
	m, _, err := p.c.Server.GetMetrics(ctx, &hcloud.Server{ID: sid}, hcloud.ServerGetMetricsOpts{
		Types: []hcloud.ServerMetricType{hcloud.ServerMetricCPU}, Start: end.Add(-window), End: end,
	})
	if err != nil {
		return 0, fmt.Errorf("hetzner: server %d cpu metrics: %w", sid, err)
	}
	return averageCPU(m)
}

var errNoCPUData = errors.New("no cpu data points in the window")

func averageCPU(m *hcloud.ServerMetrics) (float64, error) {
	if m == nil {
		return 0, fmt.Errorf("hetzner: server cpu: %w", errNoCPUData)
	}
	var sum float64
	var n int
	for _, v := range m.TimeSeries["cpu"] {
		f, err := strconv.ParseFloat(v.Value, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("hetzner: server cpu: value %q at %v is not a number", v.Value, v.Timestamp)
		}
		sum += f
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("hetzner: server cpu: %w", errNoCPUData)
	}
	return sum / float64(n), nil
}
