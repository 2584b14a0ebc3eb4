package daemon_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIssue11Item9ConcurrentSyncAndPlan: issue 11, item 9 (concurrent git
// fetches race: "ref file is empty" under 600 concurrent sync and plan
// requests). Concurrent API syncs and plans against the daemon's cache of
// a real git daemon's repository, while commits are pushed, all succeed,
// and the daemon ends on the last commit.
func TestIssue11Item9ConcurrentSyncAndPlan(t *testing.T) {
	f := newFixture(t)
	f.push(t, "alpha", map[string]string{"alpha.yaml": alpha})
	d, _ := f.start(t, time.Hour)
	ctx := context.Background()
	const requests, pushes = 300, 4
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	sem := make(chan struct{}, 60) // requests in flight at once
	for i := 0; i < requests; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var err error
			if i%2 == 0 {
				err = d.Sync(ctx)
			} else {
				_, err = d.Plan(ctx, "main")
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < pushes; i++ {
		name := fmt.Sprintf("c%d", i)
		f.push(t, name, map[string]string{name + ".yaml": strings.ReplaceAll(alpha, "alpha", name)})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d concurrent sync/plan requests failed, e.g.:\n%s", len(errs), requests, strings.Join(errs[:min(5, len(errs))], "\n"))
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	last := head(t, f.work)
	waitFor(t, 30*time.Second, "the last commit planned", func() bool {
		p, err := d.Plan(ctx, "main")
		return err == nil && p.Commit == last
	})
}
