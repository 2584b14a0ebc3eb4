package gitsource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestIssue11Item9ConcurrentFetchesSerialised: issue 11, item 9 (concurrent
// git fetches race: "ref file is empty" under concurrent sync and plan
// requests). Many goroutines fetch, resolve and read files from one cache
// of a real git daemon's repository while new commits are pushed to it;
// none of them sees an error, and at the end the cache has the last commit.
func TestIssue11Item9ConcurrentFetchesSerialised(t *testing.T) {
	ctx := context.Background()
	url, work := setup(t)
	repo, _, err := Open(ctx, Options{URL: url, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds, pushes = 24, 15, 6
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	stop := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := repo.Fetch(ctx); err != nil {
					fail("fetch: %v", err)
					continue
				}
				c, err := repo.Resolve("main")
				if err != nil {
					fail("resolve: %v", err)
					continue
				}
				if _, err := repo.Files(c, "customers"); err != nil {
					fail("files: %v", err)
				}
			}
		}()
	}
	for i := 0; i < pushes; i++ {
		writeCustomer(t, work, fmt.Sprintf("c%02d", i))
		run(t, work, "add", ".")
		run(t, work, "commit", "-q", "-m", fmt.Sprintf("add c%02d", i))
		run(t, work, "push", "-q", "origin", "main")
	}
	wg.Wait()
	close(stop)
	if len(errs) > 0 {
		t.Fatalf("%d of %d concurrent fetch/resolve/read rounds failed, e.g.:\n%s", len(errs), workers*rounds, strings.Join(errs[:min(len(errs), 5)], "\n"))
	}
	if _, err := repo.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := repo.Resolve("main")
	if err != nil {
		t.Fatal(err)
	}
	if want := run(t, work, "rev-parse", "HEAD"); c.Hash.String() != want {
		t.Fatalf("main = %s after the pushes, want %s", c.Hash, want)
	}
}

// TestHeadBranch: HEAD names the checked-out branch locally and the
// default branch of a remote; a detached HEAD is an error saying so.
func TestHeadBranch(t *testing.T) {
	ctx := context.Background()
	url, work := setup(t)
	run(t, work, "checkout", "-q", "-b", "release")
	local, _, err := Open(ctx, Options{URL: work})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := local.HeadBranch(); err != nil || b != "release" {
		t.Fatalf("local HeadBranch = %q, %v; want release", b, err)
	}
	run(t, work, "checkout", "-q", "--detach")
	if _, err := local.HeadBranch(); err == nil || !strings.Contains(err.Error(), "detached") {
		t.Fatalf("detached HEAD: err %v", err)
	}
	remote, _, err := Open(ctx, Options{URL: url, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := remote.HeadBranch(); err != nil || b != "main" {
		t.Fatalf("remote HeadBranch = %q, %v; want main", b, err)
	}
	if _, err := remote.Resolve("nope"); !errors.Is(err, ErrRefNotFound) {
		t.Fatalf("Resolve(nope) = %v, want ErrRefNotFound", err)
	}
}
