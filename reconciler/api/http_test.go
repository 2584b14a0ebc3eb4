package api_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/api/apitest"
)

// serveLimited runs the real API server behind api.NewHTTPServer and
// api.Listen with limits l on 127.0.0.1 until the test ends. Its webhook
// reads the whole body and answers 202.
func serveLimited(t *testing.T, l api.HTTPLimits) string {
	t.Helper()
	s, err := api.New(api.Config{
		Service: apitest.New(apitest.Sample(time.Now())...), Token: testToken,
		Webhook: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := api.Listen("127.0.0.1:0", l)
	if err != nil {
		t.Fatal(err)
	}
	hs := api.NewHTTPServer(s, l)
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close(); <-done })
	return ln.Addr().String()
}

// slowPost sends a POST whose body of n bytes trickles one byte per
// interval, and returns the status the server answered (0: it closed the
// connection without an answer) and how long after the headers it did so.
// The client gives up after wait.
func slowPost(t *testing.T, addr, path, ctype string, n int, interval, wait time.Duration) (int, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nX-GitHub-Event: push\r\nContent-Length: %d\r\n\r\n", path, addr, ctype, n)
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < n; i++ {
			select {
			case <-stop:
				return
			case <-time.After(interval):
			}
			if _, err := c.Write([]byte("a")); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	took := time.Since(start)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("POST %s: the server still holds the slow body after %s", path, wait)
	case err != nil:
		return 0, took // closed without an answer
	}
	resp.Body.Close()
	return resp.StatusCode, took
}

// TestIssue11Item2SlowBodyCutOff: issue 11, item 2 (HTTP server timeouts).
// A client trickling a sign-in form is cut off after ReadTimeout; the
// webhook's body has its own, longer deadline, so a slow but finite
// delivery still arrives, and one slower than that is cut off too.
func TestIssue11Item2SlowBodyCutOff(t *testing.T) {
	l := api.HTTPLimits{ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 400 * time.Millisecond, WebhookReadTimeout: 2 * time.Second}
	addr := serveLimited(t, l)

	code, took := slowPost(t, addr, "/login", "application/x-www-form-urlencoded", 1000, 50*time.Millisecond, 5*time.Second)
	t.Logf("slow sign-in form: answered %d after %s", code, took.Round(time.Millisecond))
	if took > 1500*time.Millisecond || code == http.StatusOK || code == http.StatusSeeOther {
		t.Errorf("slow sign-in form: %d after %s, want cut off after about %s", code, took, l.ReadTimeout)
	}

	code, took = slowPost(t, addr, "/webhook", "application/json", 8, 100*time.Millisecond, 5*time.Second)
	t.Logf("webhook body over 0.8s: answered %d after %s", code, took.Round(time.Millisecond))
	if code != http.StatusAccepted {
		t.Errorf("webhook body sent over 0.8s (ReadTimeout %s, webhook %s): %d, want 202", l.ReadTimeout, l.WebhookReadTimeout, code)
	}

	code, took = slowPost(t, addr, "/webhook", "application/json", 1000, 50*time.Millisecond, 6*time.Second)
	t.Logf("endless webhook body: answered %d after %s", code, took.Round(time.Millisecond))
	if took > 3500*time.Millisecond || code == http.StatusAccepted {
		t.Errorf("endless webhook body: %d after %s, want cut off after about %s", code, took, l.WebhookReadTimeout)
	}
}

// TestIssue11Item2IdleConnectionClosed: a keep-alive connection left idle
// after a request is closed by the server after IdleTimeout.
func TestIssue11Item2IdleConnectionClosed(t *testing.T) {
	l := api.HTTPLimits{IdleTimeout: 300 * time.Millisecond}
	addr := serveLimited(t, l)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("healthz: %d, close %v", resp.StatusCode, resp.Close)
	}
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = br.ReadByte()
	idle := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the idle keep-alive connection is still open after 3s")
	}
	if !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %v, want EOF", err)
	}
	t.Logf("idle keep-alive connection closed by the server after %s", idle.Round(time.Millisecond))
	if idle > 2*time.Second {
		t.Errorf("closed after %s, want about %s", idle, l.IdleTimeout)
	}
}

// TestIssue11Item2ConnectionCap: connections past MaxConnections wait
// (they are not served) until one closes; the server then answers a
// normal request, and the held ones do not outlive ReadHeaderTimeout.
func TestIssue11Item2ConnectionCap(t *testing.T) {
	l := api.HTTPLimits{MaxConnections: 2, ReadHeaderTimeout: 5 * time.Second}
	addr := serveLimited(t, l)
	var held []net.Conn
	for i := 0; i < l.MaxConnections; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n", addr) // headers never finished
		held = append(held, c)
	}
	get := func(timeout time.Duration) error {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(500 * time.Millisecond); err == nil {
		t.Fatalf("a connection past the cap of %d was served", l.MaxConnections)
	} else if !errors.Is(err, os.ErrDeadlineExceeded) && !strings.Contains(err.Error(), "Timeout") {
		t.Logf("past the cap: %v", err)
	}
	held[0].Close()
	start := time.Now()
	if err := get(3 * time.Second); err != nil {
		t.Fatalf("after a held connection closed: %v", err)
	}
	t.Logf("served %s after a slot freed", time.Since(start).Round(time.Millisecond))
}

// TestIssue11Item2HeaderLimit: headers over MaxHeaderBytes are refused
// with 431 before any handler runs.
func TestIssue11Item2HeaderLimit(t *testing.T) {
	addr := serveLimited(t, api.HTTPLimits{})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhook", strings.NewReader("{}"))
	req.Header.Set("X-GitHub-Event", strings.Repeat("a", 450<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("450 KB header: %d, want 431", resp.StatusCode)
	}
}

// TestIssue11Item2SlowClientFlood: the reproduced attack, scaled down:
// 300 slow-body sign-in POSTs from one address (127.0.0.1). That address
// gets at most MaxConnectionsPerClient connections (the rest are closed at
// once), the server never serves more than MaxConnections, each slow
// client is cut off after ReadTimeout, and a normal request from another
// address (127.0.0.2) is answered at once meanwhile.
func TestIssue11Item2SlowClientFlood(t *testing.T) {
	const clients, maxConns, perClient = 300, 60, 40
	l := api.HTTPLimits{MaxConnections: maxConns, MaxConnectionsPerClient: perClient,
		ReadTimeout: 500 * time.Millisecond, ReadHeaderTimeout: 500 * time.Millisecond}
	s, err := api.New(api.Config{Service: apitest.New(), Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := api.Listen("127.0.0.1:0", l)
	if err != nil {
		t.Fatal(err)
	}
	hs := api.NewHTTPServer(s, l)
	var mu sync.Mutex
	open, peak := 0, 0
	hs.ConnState = func(_ net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch st {
		case http.StateNew:
			open++
			peak = max(peak, open)
		case http.StateClosed, http.StateHijacked:
			open--
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close(); <-done })
	addr := ln.Addr().String()

	start := time.Now()
	var wg sync.WaitGroup
	var refused atomic.Int32
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				refused.Add(1)
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n")
			for j := 0; j < 200; j++ { // a byte every 50 ms, for 10 s
				if _, err := c.Write([]byte("a")); err != nil {
					refused.Add(1)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	other := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: other.DialContext}}
	reqStart := time.Now()
	resp, err := hc.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("normal request from 127.0.0.2 during the flood: %v", err)
	}
	resp.Body.Close()
	answered := time.Since(reqStart)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d slow-body clients from one address, cap %d (%d per address): peak %d connections served at once, "+
		"%d cut off or closed before sending their whole body, a normal request from another address answered in %s, all slow clients gone after %s",
		clients, maxConns, perClient, peak, refused.Load(), answered.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if peak > perClient+1 {
		t.Errorf("peak %d connections, want at most %d from the flooding address + 1", peak, perClient)
	}
	if resp.StatusCode != http.StatusOK || answered > time.Second {
		t.Errorf("normal request: %d after %s", resp.StatusCode, answered)
	}
	if took := time.Since(start); took > 9*time.Second {
		t.Errorf("the slow clients were held %s (each sends for 10 s; ReadTimeout %s)", took, l.ReadTimeout)
	}
}
