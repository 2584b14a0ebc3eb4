package evaluate

import (
	"context"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents"
)

// TestLearningOnUnseenQueries splits each corpus's questions: the even ones
// are the "history" asked through the logged query path, a learning run
// reads that log, and the odd ones (never logged) are scored before and
// after. The held-out MRR must not drop.
func TestLearningOnUnseenQueries(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		dir  string
		qs   []Query
	}{{"godoc", godocCorpus, godocQueries(t)}, {"agents", ownCorpus, ownQueries(t)}} {
		t.Run(c.name, func(t *testing.T) {
			var history, held []Query
			for i, q := range c.qs {
				if i%2 == 0 {
					history = append(history, q)
				} else {
					held = append(held, q)
				}
			}
			e, err := Ingest(ctx, c.dir)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			quiet := &agents.Searcher{Deps: e.Deps, NoLog: true}
			before, err := e.Rank(ctx, quiet, held, 10)
			if err != nil {
				t.Fatal(err)
			}
			// The history is a log of separate users' questions, not one
			// user's session: they are logged 10 minutes apart, beyond
			// the learning agent's reformulation window (5 minutes), so
			// unrelated neighbours are not taken for reformulations.
			clock := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
			e.Deps.Now = func() time.Time { clock = clock.Add(10 * time.Minute); return clock }
			logged := &agents.Searcher{Deps: e.Deps}
			for _, q := range history {
				if _, err := logged.Query(ctx, e.Customer, q.Text, 10); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := (&agents.Learning{Deps: e.Deps}).Run(ctx, e.Customer)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Counts[agents.CountQueries] != len(history) {
				t.Fatalf("learning read %d queries, want %d", rep.Counts[agents.CountQueries], len(history))
			}
			after, err := e.Rank(ctx, quiet, held, 10)
			if err != nil {
				t.Fatal(err)
			}
			mb, ma := Score(held, before, 10), Score(held, after, 10)
			t.Logf("%s: learning %v; held-out %d: before %s; after %s", c.name, rep.Counts, len(held), line(mb), line(ma))
			if ma.MRR < mb.MRR {
				t.Errorf("held-out MRR dropped after learning: %.3f -> %.3f", mb.MRR, ma.MRR)
			}
		})
	}
}
