package agents_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents"
)

// Issue 11, item 9: hostile or careless use of the data agents.

func TestIssue11QueryLengthCapped(t *testing.T) {
	e := newEnv(t)
	e.upload(t, "acme", "a.txt", []byte("The warehouse in Oslo opens in March."))
	e.ingestAll(t, "acme")
	s := &agents.Searcher{Deps: e.deps}
	_, err := s.Query(ctx(), "acme", strings.Repeat("warehouse ", 13_000), 5) // 128 KB
	if !errors.Is(err, agents.ErrInvalidArgument) || !strings.Contains(err.Error(), "at most 2048") {
		t.Fatalf("a 128 KB query: %v, want an invalid-argument error naming the limit", err)
	}
	if log, _, err := agents.QueryLog(ctx(), e.stores.State, "acme", "", 100); err != nil || len(log) != 0 {
		t.Fatalf("the refused query was logged: %d entries, %v", len(log), err)
	}
}

func TestIssue11QueryLogPruned(t *testing.T) {
	e := newEnv(t)
	e.upload(t, "acme", "a.txt", []byte("The warehouse in Oslo opens in March. Lumen Freight runs it."))
	e.ingestAll(t, "acme")
	s := &agents.Searcher{Deps: e.deps}
	for i := 0; i < 21; i++ {
		if _, err := s.Query(ctx(), "acme", "warehouse Oslo", 5); err != nil {
			t.Fatal(err)
		}
	}
	l := &agents.Learning{Deps: e.deps}
	if _, err := l.Run(ctx(), "acme"); err != nil {
		t.Fatal(err)
	}
	// Read but recent: kept.
	if log, _, _ := agents.QueryLog(ctx(), e.stores.State, "acme", "", 100); len(log) != 21 {
		t.Fatalf("%d entries right after learning, want 21 kept within the retention", len(log))
	}
	e.clock.t = e.clock.t.Add(agents.QueryLogRetention + time.Hour)
	if _, err := s.Query(ctx(), "acme", "warehouse Oslo", 5); err != nil { // one new, unread entry
		t.Fatal(err)
	}
	rep, err := l.Run(ctx(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[agents.CountLogPruned] != 21 {
		t.Fatalf("report %v, want 21 pruned", rep.Counts)
	}
	if log, _, _ := agents.QueryLog(ctx(), e.stores.State, "acme", "", 100); len(log) != 1 {
		t.Fatalf("%d entries left, want the one newer than the retention", len(log))
	}
	gr, err := agents.LoadGapReport(ctx(), e.stores.State, "acme")
	if err != nil || gr.Queries != 22 {
		t.Fatalf("gap report after pruning: %d queries, %v (the statistics must outlive the log)", gr.Queries, err)
	}
}

func TestIssue11ObjectKeysRefuseInvisibleCharacters(t *testing.T) {
	for _, key := range []string{
		"invoice\u202Efdp.exe",   // right-to-left override
		"report\u2066x\u2069.md", // isolates
		"pay\u200Broll.csv",      // zero-width space
		"a\u200Fb.txt",           // right-to-left mark
		"bom\uFEFF.txt",          // zero-width no-break space
		"c1\u0085control.txt",    // C1 control
	} {
		if err := agents.ValidateKey(key); !errors.Is(err, agents.ErrInvalidKey) {
			t.Errorf("%q: %v, want ErrInvalidKey", key, err)
		}
		e := newEnv(t)
		if _, err := e.stores.Objects.Put(ctx(), "acme", key, strings.NewReader("x"), 1); !errors.Is(err, agents.ErrInvalidKey) {
			t.Errorf("Put %q: %v, want ErrInvalidKey", key, err)
		}
	}
	for _, key := range []string{"Zürich/Übersicht.md", "日本語/資料.txt", "résumé.pdf"} {
		if err := agents.ValidateKey(key); err != nil {
			t.Errorf("%q refused: %v", key, err)
		}
	}
}

func TestIssue11GraphLinePrintedOnce(t *testing.T) {
	e := newEnv(t)
	e.upload(t, "acme", "a.txt", []byte("Lumen Freight opened a warehouse in Oslo.\n\nLumen Freight hires drivers in Oslo.\n\nLumen Freight and Oslo again."))
	e.upload(t, "acme", "b.txt", []byte("Nothing about them here, only weather in Bergen."))
	e.ingestAll(t, "acme")
	if _, err := (&agents.Relationship{Deps: e.deps}).Run(ctx(), "acme"); err != nil {
		t.Fatal(err)
	}
	res, err := (&agents.Searcher{Deps: e.deps}).Query(ctx(), "acme", "Lumen Freight Oslo", 5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	linked := false
	for _, g := range res.Graph {
		seen[g.Why]++
		linked = linked || strings.Contains(g.Why, "Oslo") && strings.Contains(g.Why, "Lumen Freight")
	}
	if !linked {
		t.Fatalf("no edge between the two query entities in %+v; the test needs one", res.Graph)
	}
	for why, n := range seen {
		if n > 1 {
			t.Errorf("graph line printed %d times: %s", n, why)
		}
	}
}

// FuzzUploadName: any name a client sends either is refused with
// ErrInvalidKey or stores and reads back under exactly that key, inside
// the customer's folder.
func FuzzUploadName(f *testing.F) {
	for _, s := range []string{"a.txt", "dir/b.md", "../escape", "a//b", "x\u202Ey", "./a", "a/..", "\x00", "ü/ß.txt", strings.Repeat("k", 2000)} {
		f.Add(s)
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, key string) {
		err := agents.ValidateKey(key)
		if err != nil {
			if !errors.Is(err, agents.ErrInvalidKey) {
				t.Fatalf("%q: %v is not ErrInvalidKey", key, err)
			}
			if _, perr := e.stores.Objects.Put(ctx(), "acme", key, strings.NewReader("x"), 1); perr == nil {
				t.Fatalf("%q refused by ValidateKey but stored", key)
			}
			return
		}
		if strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x202E || r == 0x200B }) {
			t.Fatalf("%q accepted with a control or invisible character", key)
		}
		if _, err := e.stores.Objects.Put(ctx(), "acme", key, strings.NewReader("fuzz"), 4); err != nil {
			// A name that collides with a folder (a then a/b) is refused by
			// the store: fine, as long as it says so with an error.
			return
		}
		rc, _, err := e.stores.Objects.Get(ctx(), "acme", key)
		if err != nil {
			t.Fatalf("%q stored but not readable: %v", key, err)
		}
		rc.Close()
	})
}
