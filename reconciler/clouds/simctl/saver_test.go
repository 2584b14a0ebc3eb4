package simctl

import (
	"encoding/json"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestSaverWritesBehindAndOnClose(t *testing.T) {
	var n atomic.Int64
	path := filepath.Join(t.TempDir(), "state.json")
	s := &Saver{Path: path, Delay: 20 * time.Millisecond, Encode: func() ([]byte, error) {
		return json.Marshal(map[string]int64{"n": n.Load()})
	}}
	for i := 0; i < 50; i++ { // many changes share one write
		n.Add(1)
		s.Dirty()
	}
	deadline := time.Now().Add(5 * time.Second)
	var got map[string]int64
	for time.Now().Before(deadline) {
		if ok, _ := LoadJSON(path, &got); ok && got["n"] == 50 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got["n"] != 50 {
		t.Fatalf("write-behind state = %v, want n=50", got)
	}
	n.Add(1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, err := LoadJSON(path, &got); !ok || err != nil || got["n"] != 51 {
		t.Fatalf("state after Close = %v (%v, %v), want n=51", got, ok, err)
	}
	n.Add(1)
	s.Dirty() // after Close: no write
	time.Sleep(50 * time.Millisecond)
	if _, _ = LoadJSON(path, &got); got["n"] != 51 {
		t.Fatalf("a write happened after Close: %v", got)
	}
	if (&Saver{}).Close() != nil {
		t.Fatal("a saver without a path must do nothing")
	}
}
