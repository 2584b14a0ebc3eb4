// Package relay copies TCP streams between connections: the pool's
// loopback forwards and wgtest's exposed services are relay Servers.
package relay

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
)

// Pipe copies a↔b until both directions end, then closes both. A clean
// end of stream on one side is passed on as a half-close (CloseWrite) so
// request/response protocols finish; an error closes both at once.
func Pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	copyHalf := func(dst, src net.Conn) {
		defer wg.Done()
		_, err := io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
			if cw.CloseWrite() == nil {
				return
			}
		}
		dst.Close()
		src.Close()
	}
	go copyHalf(a, b)
	go copyHalf(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

// Server relays every connection accepted on a listener to one that dial
// opens, until Close.
type Server struct {
	l      net.Listener
	dial   func(context.Context) (net.Conn, error)
	ctx    context.Context // ends pending dials on Close
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// Serve starts relaying l's connections; a failed dial closes the
// accepted connection (and is reported to dial's caller by dial itself).
func Serve(l net.Listener, dial func(context.Context) (net.Conn, error)) *Server {
	s := &Server{l: l, dial: dial, conns: map[net.Conn]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.accept()
	return s
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			t, err := s.dial(s.ctx)
			if err != nil {
				return
			}
			if !s.track(t) {
				t.Close()
				return
			}
			defer s.untrack(t)
			Pipe(c, t)
		}()
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// Close stops accepting, ends the relayed connections and waits for
// them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	conns := slices.Collect(maps.Keys(s.conns))
	s.mu.Unlock()
	err := s.l.Close()
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
