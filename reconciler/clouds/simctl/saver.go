package simctl

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Saver writes a simulator's state file behind its changes: Dirty
// schedules one write at most Delay later (changes in between share it),
// Close writes now and stops. With an empty Path it does nothing, for
// simulators that keep their state in memory.
type Saver struct {
	// Path is the state file (written with SaveJSON's atomic rename).
	Path string
	// Delay bounds how stale the file may be (default 200 ms).
	Delay time.Duration
	// Encode returns the state as JSON; it takes the simulator's own lock.
	Encode func() ([]byte, error)
	// Log receives errors of background writes (nil: discarded).
	Log *slog.Logger

	mu     sync.Mutex
	timer  *time.Timer
	closed bool
	err    error
	write  sync.Mutex // one write at a time
}

// Dirty schedules a write-behind save.
func (s *Saver) Dirty() {
	if s.Path == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.timer != nil {
		return
	}
	delay := s.Delay
	if delay <= 0 {
		delay = 200 * time.Millisecond
	}
	s.timer = time.AfterFunc(delay, func() {
		s.mu.Lock()
		s.timer = nil
		s.mu.Unlock()
		if err := s.Save(); err != nil && s.Log != nil {
			s.Log.Error("persist simulator state", "path", s.Path, "err", err)
		}
	})
}

// Save writes the state now and records the outcome for Err.
func (s *Saver) Save() error {
	if s.Path == "" {
		return nil
	}
	s.write.Lock()
	defer s.write.Unlock()
	b, err := s.Encode()
	if err != nil {
		err = fmt.Errorf("encode state: %w", err)
	} else {
		err = SaveJSON(s.Path, rawJSON(b))
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	return err
}

// Err is the outcome of the latest write.
func (s *Saver) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close cancels a pending write, writes the state one last time and makes
// later Dirty calls no-ops. Closing twice writes once.
func (s *Saver) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.mu.Unlock()
	return s.Save()
}

// rawJSON is already-encoded JSON that SaveJSON writes as it is.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return nil, errors.New("empty state")
	}
	return r, nil
}
