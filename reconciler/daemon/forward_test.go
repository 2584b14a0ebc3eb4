package daemon

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

func TestForwarderRelaysAndStops(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	var mu sync.Mutex
	var dialled []string
	dial := func(ctx context.Context, customer, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialled = append(dialled, customer+" "+addr)
		mu.Unlock()
		if addr != "10.64.0.3:7687" {
			return nil, errors.New("no route")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, echo.Addr().String())
	}
	f, err := forward(dial, "alpha", "10.64.0.3:7687", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	mu.Lock()
	got := append([]string(nil), dialled...)
	mu.Unlock()
	if err != nil || line != "ping\n" || len(got) != 1 || got[0] != "alpha 10.64.0.3:7687" {
		t.Fatalf("relay: %q %v %v", line, err, got)
	}
	// Close ends the open relay and stops accepting.
	done := make(chan error, 1)
	go func() { done <- f.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on an open relay")
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("relayed connection still open after Close")
	}
	if _, err := net.DialTimeout("tcp", f.Addr(), time.Second); err == nil {
		t.Error("still accepting after Close")
	}

	// A failed dial closes the accepted connection at once.
	bad, err := forward(dial, "alpha", "10.64.9.3:7687", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	c2, err := net.Dial("tcp", bad.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_ = c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("connection kept open after the dial failed: %v", err)
	}
}
