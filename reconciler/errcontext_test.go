package reconciler_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
)

// TestAdapterErrorContextOnce: a create that a cloud refuses reaches the
// caller of Converge with each piece of context once — the customer, the
// step ("create KIND.NAME", added by the executor), the cloud (added by
// the adapter), then the cloud's answer — and no segment of the message
// repeated.
func TestAdapterErrorContextOnce(t *testing.T) {
	for _, tc := range []struct {
		cloud   plan.Cloud
		pattern string // the create calls the simulator refuses with 403
	}{
		{plan.Hetzner, "POST /v1/*"},
		{plan.Exoscale, "POST /v2/*"},
		{plan.OpenNebula, "one.*.allocate"},
	} {
		t.Run(string(tc.cloud), func(t *testing.T) {
			ctx := context.Background()
			cs := customers(t, 1)
			w := newWorld(t, simstack.Options{HetznerRateLimitPerHour: -1})
			observed, p := w.plan(t, cs)
			ctl := map[plan.Cloud]*simctl.Controller{
				plan.Hetzner: w.stack.Hetzner.Control(), plan.Exoscale: w.stack.Exoscale.Control(), plan.OpenNebula: w.stack.ONE.Control(),
			}[tc.cloud]
			if _, err := ctl.AddFault(simctl.Fault{Pattern: tc.pattern, ErrorRate: 1, Status: 403}); err != nil {
				t.Fatal(err)
			}
			conv := &reconciler.Converger{Providers: w.providers, Store: w.store, FrontendSSHKey: w.stack.FrontendSSHKey(), Holder: "e2e", Who: "test", Concurrency: 1}
			res, err := conv.Converge(ctx, p, observed)
			if err != nil {
				t.Fatalf("converge: %v", err)
			}
			ferr := res.Err()
			if ferr == nil {
				t.Fatalf("no customer failed although every %s create answered 403", tc.cloud)
			}
			msg := ferr.Error()
			t.Logf("%s", msg)
			prefix := "customer " + cs[0].Name + ": create " + string(tc.cloud) + "_"
			if !strings.HasPrefix(msg, prefix) {
				t.Fatalf("message %q does not start with %q", msg, prefix)
			}
			if n := strings.Count(msg, string(tc.cloud)+": "); n != 1 {
				t.Errorf("the cloud is named %d times, want once: %q", n, msg)
			}
			seen := map[string]bool{}
			for _, seg := range strings.Split(msg, ": ") {
				if seen[seg] {
					t.Errorf("segment %q repeated in %q", seg, msg)
				}
				seen[seg] = true
			}
			// The address appears once, in the executor's step.
			step := strings.SplitN(strings.TrimPrefix(msg, "customer "+cs[0].Name+": create "), ":", 2)[0]
			if n := strings.Count(msg, step); n != 1 {
				t.Errorf("address %s appears %d times in %q", step, n, msg)
			}
		})
	}
}
