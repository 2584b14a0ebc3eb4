package state

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentvdc/agentvdc/plan"
)

func TestJournalBeginFinishPending(t *testing.T) {
	c := newClock()
	s := openTest(t, Options{Now: c.Now})
	ctx := t.Context()
	intents := []Intent{
		{Customer: "acme", ApplyID: "a1", Action: "create", Address: plan.Address{Kind: plan.HetznerNetwork, Name: "agentvdc-acme"}},
		{Customer: "acme", ApplyID: "a1", Action: "create", Address: plan.Address{Kind: plan.HetznerServer, Name: "agentvdc-acme-srv-1"}, Attrs: map[string]string{"server_type": "cx22"}},
		{Customer: "acme", ApplyID: "a1", Action: "delete", Address: plan.Address{Kind: plan.ExoBlockVolume, Name: "agentvdc-acme-data"}, ID: "vol-1"},
	}
	var seqs []uint64
	for _, in := range intents {
		seq, err := s.Begin(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
		c.Advance(time.Second)
	}
	if seqs[0] != 1 || seqs[1] != 2 || seqs[2] != 3 {
		t.Errorf("sequences = %v, want 1 2 3", seqs)
	}
	if err := s.Finish(seqs[1], Outcome{OK: true, ID: "4711"}); err != nil {
		t.Fatal(err)
	}
	pending, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].Seq != 1 || pending[1].Seq != 3 {
		t.Fatalf("pending = %+v", pending)
	}
	if d := cmp.Diff(intents[2], pending[1].Intent); d != "" || pending[1].Done() {
		t.Errorf("pending[1] (-want +got):\n%s", d)
	}
	e, err := s.Entry(seqs[1])
	if err != nil || !e.Done() || e.Outcome.ID != "4711" || !e.Finished.Equal(c.Now()) || !e.Started.Equal(c.Now().Add(-2*time.Second)) {
		t.Errorf("finished entry = %+v, %v", e, err)
	}
	if err := s.Finish(seqs[1], Outcome{OK: false}); !errors.Is(err, ErrAlreadyFinished) {
		t.Errorf("second Finish: %v", err)
	}
	if err := s.Finish(99, Outcome{OK: true}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Finish of an unknown seq: %v", err)
	}
}

func TestJournalBeginRejects(t *testing.T) {
	s := openTest(t, Options{})
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Begin(cancelled, crashIntent); !errors.Is(err, context.Canceled) {
		t.Errorf("Begin with a cancelled context: %v", err)
	}
	for _, in := range []Intent{
		{ApplyID: "a", Action: "create", Address: crashIntent.Address},
		{Customer: "acme", Address: crashIntent.Address},
		{Customer: "acme", Action: "create"},
	} {
		if _, err := s.Begin(t.Context(), in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Begin(%+v) = %v; want ErrInvalid", in, err)
		}
	}
	if p, _ := s.Pending(); len(p) != 0 {
		t.Errorf("rejected intents were journaled: %+v", p)
	}
}

// A process killed between Begin and Finish leaves the intent pending for
// the next process; Begin returned only after it was on disk.
func TestJournalSurvivesCrashAfterBegin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	cmd, _, line := startHelper(t, "crash-after-begin", path)
	err := cmd.Wait()
	if err == nil || cmd.ProcessState.Sys() == nil || cmd.ProcessState.String() != "signal: killed" {
		t.Fatalf("helper did not die by SIGKILL: %v (%v)", err, cmd.ProcessState)
	}
	seq, err := strconv.ParseUint(line, 10, 64)
	if err != nil {
		t.Fatalf("helper printed %q", line)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Seq != seq {
		t.Fatalf("pending after crash = %+v; want seq %d", pending, seq)
	}
	if d := cmp.Diff(crashIntent, pending[0].Intent); d != "" {
		t.Errorf("intent after crash (-want +got):\n%s", d)
	}
	// The restart rolls it forward and records the outcome; it stays done.
	if err := s.Finish(seq, Outcome{OK: true, ID: "adopted-42"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p, err := s.Pending(); err != nil || len(p) != 0 {
		t.Errorf("pending after Finish and reopen = %+v, %v", p, err)
	}
	if next, err := s.Begin(t.Context(), crashIntent); err != nil || next != seq+1 {
		t.Errorf("next seq = %d, %v; want %d", next, err, seq+1)
	}
}

func TestCompactJournal(t *testing.T) {
	c := newClock()
	s := openTest(t, Options{Now: c.Now})
	var seqs []uint64
	for i := range 6 {
		seq, err := s.Begin(t.Context(), crashIntent)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
		if i%3 != 2 { // every third stays pending
			if err := s.Finish(seq, Outcome{OK: true}); err != nil {
				t.Fatal(err)
			}
		}
		c.Advance(time.Hour)
	}
	// Finished at t0, t0+1h (seqs 1, 2), t0+3h, t0+4h (seqs 4, 5);
	// pending: 3 and 6. Cut off at t0+3h: 1 and 2 go.
	cutoff := newClock().Now().Add(3 * time.Hour)
	n, err := s.CompactJournal(cutoff)
	if err != nil || n != 2 {
		t.Fatalf("CompactJournal = %d, %v; want 2", n, err)
	}
	for _, tc := range []struct {
		seq  uint64
		kept bool
	}{{1, false}, {2, false}, {3, true}, {4, true}, {5, true}, {6, true}} {
		_, err := s.Entry(tc.seq)
		if kept := err == nil; kept != tc.kept {
			t.Errorf("entry %d kept = %v, want %v (%v)", tc.seq, kept, tc.kept, err)
		}
	}
	// Pending entries survive any cutoff.
	if _, err := s.CompactJournal(c.Now().Add(1000 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(); len(p) != 2 || p[0].Seq != 3 || p[1].Seq != 6 {
		t.Errorf("pending after compaction = %+v", p)
	}
}
