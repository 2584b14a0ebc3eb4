package daemon_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/reconciler/gitsource"
	"github.com/agentvdc/agentvdc/reconciler/gitsource/gittest"
	"github.com/agentvdc/agentvdc/state"
)

// TestIssue11Item9PlanErrorsHideRepoPath: issue 11, item 9 (plan errors
// show the daemon's repo path to API users). The errors of Plan, which the
// API returns to its callers, name the ref but not where the daemon's
// repository lives.
func TestIssue11Item9PlanErrorsHideRepoPath(t *testing.T) {
	repoDir := filepath.Join(t.TempDir(), "secret-location", "customers-repo")
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repoDir, "init", "-q", "-b", "main", ".")
	gittest.Git(t, repoDir, "commit", "-q", "--allow-empty", "-m", "empty")
	src, _, err := gitsource.Open(context.Background(), gitsource.Options{URL: repoDir})
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	f := newFixture(t)
	d, err := daemon.New(daemon.Config{Source: src, Ref: "main", Path: "customers", Providers: f.ps.All, Store: store,
		FrontendSSHKey: f.stack.FrontendSSHKey(), Prices: func(context.Context) (plan.Prices, error) { return plan.DefaultExoscalePrices(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ref, want string }{
		{"no-such-branch", `"no-such-branch" is not a branch, tag or commit`},
		{"main", `"main" has no directory "customers"`}, // the commit has no customers/
	} {
		_, err := d.Plan(context.Background(), tc.ref)
		if !errors.Is(err, daemon.ErrBadRef) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Plan(%q) = %v, want ErrBadRef saying %s", tc.ref, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "secret-location") || strings.Contains(err.Error(), repoDir) {
			t.Errorf("Plan(%q) error shows the repository's path: %v", tc.ref, err)
		}
	}
}
