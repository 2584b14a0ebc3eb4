package opennebula

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/agentvdc/agentvdc/plan"
)

// BenchmarkObserve1000Customers observes 1,000 customers' OpenNebula
// resources (12 each) through goca against the simulator and reports the
// API calls per Observe.
func BenchmarkObserve1000Customers(b *testing.B) {
	const customers = 1000
	for _, page := range []int{0, 500} {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			e := newEnv(b, func(c *Config) { c.PageSize = page })
			seed(b, e, customers)
			c := e.sim.Control()
			c.ResetCounters()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rs, err := e.p.Observe(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if len(rs) != customers*12 {
					b.Fatalf("observed %d, want %d", len(rs), customers*12)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(sum(c.Counters()))/float64(b.N), "calls/op")
		})
	}
}

// seed creates n customers through the adapter, 8 at a time.
func seed(b *testing.B, e *env, n int) {
	b.Helper()
	ix := newIDs()
	work := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				for _, r := range desired(fmt.Sprintf("c%04d", i)) {
					got, err := seedOne(e, r, ix)
					if err != nil {
						once.Do(func() { firstErr = err })
						break
					}
					ix.set(got)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

// seedOne creates r through the adapter; flow documents are posted
// directly with the adapter's own bodies, skipping Create's look-up of
// the whole OneFlow pool (which would make seeding quadratic).
func seedOne(e *env, r plan.Resource, ix *ids) (plan.Resource, error) {
	ctx := context.Background()
	m, err := marksOf(r)
	if err != nil {
		return plan.Resource{}, err
	}
	switch r.Kind {
	case plan.ONEFlowTemplate:
		body, err := flowTemplateBody(r, m, ix.lookup)
		if err != nil {
			return plan.Resource{}, err
		}
		var resp struct {
			Doc flowDoc `json:"DOCUMENT"`
		}
		if err := e.p.flow(ctx, "seed", "POST", "service_template", body, &resp, false); err != nil {
			return plan.Resource{}, err
		}
		return created(r, m, int(resp.Doc.ID)), nil
	case plan.ONEFlowService:
		tid, err := ref(ix.lookup, plan.ONEFlowTemplate, r.Attrs["flow_template"])
		if err != nil {
			return plan.Resource{}, err
		}
		merge, err := serviceMerge(r, m, -1)
		if err != nil {
			return plan.Resource{}, err
		}
		id, err := e.p.instantiateService(ctx, tid, merge)
		return created(r, m, id), err
	}
	return e.p.Create(ctx, r, ix.lookup)
}
