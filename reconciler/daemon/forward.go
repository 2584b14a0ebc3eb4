package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
)

// DialFunc reaches an address in a customer's network (the customer's
// WireGuard tunnel).
type DialFunc func(ctx context.Context, customer, network, addr string) (net.Conn, error)

// forwarder relays connections accepted on a loopback port to one address
// in a customer's network. It stands in for a dialer option for clients
// that have none (the Neo4j driver dials with its own net.Dialer).
type forwarder struct {
	ln     net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// forward listens on 127.0.0.1 (an ephemeral port) and relays every
// connection to addr through dial; Close stops it and its relays.
func forward(dial DialFunc, customer, addr string, log *slog.Logger) (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &forwarder{ln: ln, cancel: cancel}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.relay(ctx, c, dial, customer, addr, log)
			}()
		}
	}()
	return f, nil
}

func (f *forwarder) relay(ctx context.Context, c net.Conn, dial DialFunc, customer, addr string, log *slog.Logger) {
	defer c.Close()
	up, err := dial(ctx, customer, "tcp", addr)
	if err != nil {
		log.Warn("forward: dial through the customer's network", "customer", customer, "addr", addr, "err", err)
		return
	}
	defer up.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); up.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// Addr is the loopback address to connect to.
func (f *forwarder) Addr() string { return f.ln.Addr().String() }

// Close stops accepting, ends the relays and waits for them.
func (f *forwarder) Close() error {
	err := f.ln.Close()
	f.cancel()
	f.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
