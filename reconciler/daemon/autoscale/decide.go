package autoscale

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/schema"
)

// custObserved is what the rules read from one customer's observed resources.
type custObserved struct {
	// servers are the slots N of the hetzner_server resources agentvdc-C-srv-N.
	servers []int
	// hosts are the names of the opennebula_host resources agentvdc-C-srv-N.
	hosts     []string
	volumeGB  int
	hasVolume bool
}

// indexObserved groups the resources of the wanted customers.
func indexObserved(observed []plan.Resource, want map[string]bool) map[string]*custObserved {
	out := make(map[string]*custObserved, len(want))
	get := func(c string) *custObserved {
		o := out[c]
		if o == nil {
			o = &custObserved{}
			out[c] = o
		}
		return o
	}
	for i := range observed {
		r := &observed[i]
		c := r.Customer
		if c == "" {
			c = r.Labels[plan.LabelCustomer]
		}
		if !want[c] {
			continue
		}
		switch r.Kind {
		case plan.HetznerServer:
			if n, ok := plan.ServerSlot(c, r.Name); ok {
				o := get(c)
				o.servers = append(o.servers, n)
			}
		case plan.ONEHost:
			if _, ok := plan.ServerSlot(c, r.Name); ok {
				o := get(c)
				o.hosts = append(o.hosts, r.Name)
			}
		case plan.ExoBlockVolume:
			if r.Name == plan.BaseName(c)+"-data" {
				if v, err := strconv.Atoi(plan.Normalise("size_gb", r.Attrs["size_gb"])); err == nil && v > 0 {
					o := get(c)
					o.volumeGB, o.hasVolume = v, true
				}
			}
		}
	}
	for _, o := range out {
		slices.Sort(o.servers)
		o.servers = slices.Compact(o.servers)
		slices.Sort(o.hosts)
		o.hosts = slices.Compact(o.hosts)
	}
	return out
}

// eval applies the rules to one customer; the Scaler's lock is held.
type eval struct {
	s      *Scaler
	c      *schema.Customer
	st     *custState
	ob     *custObserved
	now    time.Time
	prices plan.Prices
}

func (e *eval) run(cpu, usage map[string]float64) []Decision {
	c, st := e.c, e.st
	st.bounds = bounds{MinServers: c.Compute.MinServers, MaxServers: max(c.Compute.MaxServers, c.Compute.MinServers), MaxGB: c.Storage.MaxGB}
	if c.Suspended {
		st.samples = st.samples[:0]
		st.target = plan.Scale{}
		return nil
	}
	e.settle()
	var out []Decision
	if cpu != nil {
		if d, ok := e.compute(cpu); ok {
			out = append(out, d)
		}
	}
	if usage != nil {
		if d, ok := e.storage(usage); ok {
			out = append(out, d)
		}
	}
	if len(out) > 0 {
		st.recent = append(st.recent, out...)
		if n := len(st.recent) - RecentPerCustomer; n > 0 {
			st.recent = slices.Delete(st.recent, 0, n)
		}
	}
	return out
}

// settle clamps the pending targets to the file's bounds and clears those
// the observed resources have reached.
func (e *eval) settle() {
	st, b := e.st, e.st.bounds
	if t := st.target.Servers; t > 0 {
		t = min(max(t, b.MinServers), b.MaxServers)
		if t == len(e.ob.servers) {
			t = 0
		}
		st.target.Servers = t
	}
	if t := st.target.VolumeGB; t > 0 {
		if b.MaxGB > 0 && t > b.MaxGB {
			t = b.MaxGB
		}
		if e.ob.hasVolume && e.ob.volumeGB >= t {
			t = 0
		}
		st.target.VolumeGB = t
	}
}

// compute adds this evaluation's CPU sample and applies the server rule.
func (e *eval) compute(cpu map[string]float64) (Decision, bool) {
	c, st, win := e.c, e.st, e.s.window
	var sum float64
	n := 0
	for _, h := range e.ob.hosts {
		if v, ok := cpu[h]; ok && v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n > 0 {
		if k := len(st.samples); k > 0 && st.samples[k-1].hosts != n {
			st.samples = st.samples[:0]
		}
		st.samples = append(st.samples, sample{at: e.now, cpu: sum / float64(n), hosts: n})
	}
	// Drop samples that left the window (and any from a clock that went back).
	cut := e.now.Add(-win)
	keep := st.samples[:0]
	for _, sm := range st.samples {
		if sm.at.After(cut) && !sm.at.After(e.now) {
			keep = append(keep, sm)
		}
	}
	clear(st.samples[len(keep):])
	st.samples = keep

	k := len(st.samples)
	if k < 2 || st.samples[k-1].at.Sub(st.samples[0].at) < win/2 {
		return Decision{}, false
	}
	var total float64
	for _, sm := range st.samples {
		total += sm.cpu
	}
	avg := total / float64(k)
	hosts := st.samples[k-1].hosts

	a, b := c.Compute.Autoscale, st.bounds
	cur := len(e.ob.servers)
	switch {
	case st.target.Servers != 0, cur == 0, a.Step < 1:
		return Decision{}, false
	case cur < b.MinServers || cur > b.MaxServers:
		// The plan moves the count into the file's bounds first.
		return Decision{}, false
	case !st.lastCompute.IsZero() && e.now.Sub(st.lastCompute) < a.Cooldown.Duration:
		return Decision{}, false
	}
	var to int
	var reason string
	switch {
	case avg > float64(a.CPUPercent) && cur < b.MaxServers:
		to = min(cur+a.Step, b.MaxServers)
		reason = fmt.Sprintf("avg host CPU %s%% > %d%% over %s on %s: +%d %s", pct(avg), a.CPUPercent, win, plural(hosts, "host"), to-cur, word(to-cur, "server"))
		if cur+a.Step > b.MaxServers {
			reason += fmt.Sprintf(" (capped at maxServers %d)", b.MaxServers)
		}
	case avg < float64(a.LowWaterPercent) && cur > b.MinServers:
		to = max(cur-a.Step, b.MinServers)
		gone := make([]string, 0, cur-to)
		for i := cur - 1; i >= to; i-- {
			gone = append(gone, plan.ServerName(c.Name, e.ob.servers[i]))
		}
		reason = fmt.Sprintf("avg host CPU %s%% < %d%% over %s on %s: -%d %s (removes %s)", pct(avg), a.LowWaterPercent, win, plural(hosts, "host"), cur-to, word(cur-to, "server"), strings.Join(gone, ", "))
		if cur-a.Step < b.MinServers {
			reason += fmt.Sprintf(" (floored at minServers %d)", b.MinServers)
		}
	default:
		return Decision{}, false
	}
	d := Decision{Customer: c.Name, At: e.now, Resource: ResourceServers, From: cur, To: to, Reason: reason}
	t, l := plan.Normalise("server_type", c.Compute.ServerType), plan.Normalise("location", c.Placement.HetznerLocation)
	if price, ok := e.prices.HetznerServerMonthly[t][l]; ok {
		d.MonthlyCostDeltaUSD = round2(float64(to-cur) * price * e.prices.EURToUSD)
	} else {
		d.Unpriced = true
	}
	st.target.Servers = to
	st.lastCompute = e.now
	st.samples = st.samples[:0]
	return d, true
}

// storage applies the volume rule to this evaluation's datastore usage.
func (e *eval) storage(usage map[string]float64) (Decision, bool) {
	c, st := e.c, e.st
	a, maxGB := c.Storage.Autoscale, st.bounds.MaxGB
	// Both datastores live on the one NFS volume; the fuller one decides.
	ds, used, ok := "", 0.0, false
	for _, name := range []string{plan.SystemDatastoreName(c.Name), plan.ImagesDatastoreName(c.Name)} {
		if u, has := usage[name]; has && !math.IsNaN(u) && (!ok || u > used) {
			ds, used, ok = name, u, true
		}
	}
	switch {
	case !ok, math.IsNaN(used), !e.ob.hasVolume, a.StepGB < 1, a.UsedPercent <= 0:
		return Decision{}, false
	case st.target.VolumeGB != 0:
		return Decision{}, false
	case !st.lastStorage.IsZero() && e.now.Sub(st.lastStorage) < e.s.storageCooldown:
		return Decision{}, false
	case used <= float64(a.UsedPercent):
		return Decision{}, false
	case maxGB > 0 && e.ob.volumeGB >= maxGB:
		return Decision{}, false
	}
	cur := e.ob.volumeGB
	to := cur + a.StepGB
	if maxGB > 0 && to > maxGB {
		to = maxGB
	}
	reason := fmt.Sprintf("datastore %s %s%% used > %d%%: +%d GB (%d → %d GB)", ds, pct(used), a.UsedPercent, to-cur, cur, to)
	if maxGB > 0 && cur+a.StepGB > maxGB {
		reason += fmt.Sprintf(" (capped at maxGB %d)", maxGB)
	}
	st.target.VolumeGB = to
	st.lastStorage = e.now
	return Decision{
		Customer: c.Name, At: e.now, Resource: ResourceStorageGB, From: cur, To: to, Reason: reason,
		MonthlyCostDeltaUSD: round2(float64(to-cur) * e.prices.ExoscaleVolumeGBMonthly * e.prices.EURToUSD),
	}, true
}

// pct formats a percentage with at most one decimal ("91", "80.4").
func pct(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// plural is "1 host", "2 hosts".
func plural(n int, w string) string { return strconv.Itoa(n) + " " + word(n, w) }

func word(n int, w string) string {
	if n == 1 {
		return w
	}
	return w + "s"
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
