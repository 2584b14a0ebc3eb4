package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agentvdc/agentvdc/plan"
)

// ObservedCache keeps what a refresh saw (state.Store implements it).
type ObservedCache interface {
	PutObserved(kind plan.Kind, rs []plan.Resource, fetchedAt time.Time) error
}

// Refresh observes every provider at once and replaces each kind's cached
// set. A provider that fails leaves its kinds' cache untouched and makes
// Refresh return an error; the others are still stored.
func Refresh(ctx context.Context, providers map[plan.Cloud]Provider, cache ObservedCache) ([]plan.Resource, error) {
	type result struct {
		cloud plan.Cloud
		rs    []plan.Resource
		at    time.Time
		err   error
	}
	results := make(chan result, len(providers))
	var wg sync.WaitGroup
	for cloud, p := range providers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs, err := p.Observe(ctx)
			results <- result{cloud: cloud, rs: rs, at: time.Now().UTC(), err: err}
		}()
	}
	wg.Wait()
	close(results)
	var all []plan.Resource
	var errs []error
	for r := range results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("refresh %s: %w", r.cloud, r.err))
			continue
		}
		byKind := map[plan.Kind][]plan.Resource{}
		for _, res := range r.rs {
			byKind[res.Kind] = append(byKind[res.Kind], res)
		}
		for _, k := range plan.Kinds {
			if k.Cloud() != r.cloud {
				continue
			}
			if cache != nil {
				if err := cache.PutObserved(k, byKind[k], r.at); err != nil {
					errs = append(errs, fmt.Errorf("cache %s: %w", k, err))
				}
			}
		}
		all = append(all, r.rs...)
	}
	plan.SortResources(all)
	return all, errors.Join(errs...)
}
