package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/api/apitest"
)

const chromiumBin = "/usr/bin/chromium"

// chromium returns the browser's path; without it the test fails (or
// skips under -short) telling how to install it.
func chromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumBin); err != nil {
		msg := chromiumBin + " is not installed; run `make prereqs` (it installs Debian's chromium) to run the headless browser test of the status page"
		if testing.Short() {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	return chromiumBin
}

// browse runs headless Chromium on target with extra flags and returns
// its standard output.
func browse(t *testing.T, bin, target string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, target)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Chromium forks helpers: end the whole process group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("chromium %s: %v\nstderr:\n%s", target, err, stderr.String())
	}
	return stdout.Bytes()
}

// rowStatuses maps each tr[data-customer] to the data-status inside it.
func rowStatuses(t *testing.T, dom []byte) map[string]string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(n *html.Node, customer string)
	walk = func(n *html.Node, customer string) {
		if n.Type == html.ElementNode {
			if c := attr(n, "data-customer"); n.Data == "tr" && c != "" {
				customer = c
			}
			if s := attr(n, "data-status"); s != "" && customer != "" {
				out[customer] = s
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, customer)
		}
	}
	walk(doc, "")
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// TestStatusPageInChromium loads the pages in a real browser: the sign-in
// page without a token, then (signed in through /login) the customer list
// and a customer page, and takes screenshots.
func TestStatusPageInChromium(t *testing.T) {
	bin := chromium(t)
	f := newFixture(t)
	login := func(next string) string {
		return f.srv.URL + "/login?" + url.Values{"token": {testToken}, "next": {next}}.Encode()
	}

	t.Run("signed out", func(t *testing.T) {
		dom := string(browse(t, bin, f.srv.URL+"/", "--dump-dom"))
		if !strings.Contains(dom, "Sign in") || strings.Contains(dom, "acme-analytics") {
			t.Errorf("without a token the page is not the sign-in page:\n%.500s", dom)
		}
	})

	t.Run("customers", func(t *testing.T) {
		dom := browse(t, bin, login("/"), "--dump-dom")
		got := rowStatuses(t, dom)
		want := map[string]string{"acme-analytics": "Synced", "bluebird-books": "Error", "casa-verde": "Suspended"}
		for name, st := range want {
			if got[name] != st {
				t.Errorf("customer %s: status %q in the DOM, want %q", name, got[name], st)
			}
		}
		if len(got) != len(want) {
			t.Errorf("rows %v, want %v", got, want)
		}
		for _, s := range []string{"4b825dc642cb", "qdrant: connection refused", "servers 2→3", "$61.10"} {
			if !bytes.Contains(dom, []byte(s)) {
				t.Errorf("the DOM lacks %q", s)
			}
		}
	})

	t.Run("customer page", func(t *testing.T) {
		dom := browse(t, bin, login("/customers/bluebird-books"), "--dump-dom")
		for _, s := range []string{"bluebird-books", `data-status="Error"`, "rate limited (429)", "Apply history", "Conditions", "ApplyFailed",
			"Provisioning", "hosts-monitored", "1m35s", "services-healthy", "waiting"} {
			if !bytes.Contains(dom, []byte(s)) {
				t.Errorf("the customer page DOM lacks %q", s)
			}
		}
	})

	t.Run("screenshots", func(t *testing.T) {
		dir := os.Getenv("VDC_SCREENSHOT_DIR")
		if dir == "" {
			dir = t.TempDir()
		}
		for name, next := range map[string]string{"status-page.png": "/", "customer-page.png": "/customers/acme-analytics"} {
			png := filepath.Join(dir, name)
			browse(t, bin, login(next), "--screenshot="+png, "--window-size=1400,1000", "--hide-scrollbars")
			b, err := os.ReadFile(png)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < 10_000 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
				t.Errorf("%s: %d bytes, not a full-page PNG", name, len(b))
			}
		}
	})
}

// TestStatusPageEmpty: no customers is a page too, not an error.
func TestStatusPageEmpty(t *testing.T) {
	s, err := api.New(api.Config{Service: apitest.New(), Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{}
	f.srv = newServer(t, s)
	resp, b := f.do(t, "GET", "/", testToken, "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), "No customers yet.") {
		t.Errorf("empty page: %d %.300s", resp.StatusCode, b)
	}
}

// TestIssue11Item3OpenRedirectInChromium: issue 11, item 3, as reproduced:
// /login?token=T&next=/%09/127.0.0.1:PORT/ in headless Chromium (which
// drops the tab and would go to the other host) stays on the daemon.
func TestIssue11Item3OpenRedirectInChromium(t *testing.T) {
	bin := chromium(t)
	f := newFixture(t)
	const marker = "ELSEWHERE-PAGE-MARKER"
	other := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>" + marker + "</body></html>"))
	}))
	host := strings.TrimPrefix(other.URL, "http://")
	for _, next := range []string{"/\t/" + host + "/", "/\\" + host + "/", "/\t\\" + host + "/", "//" + host + "/"} {
		target := f.srv.URL + "/login?" + url.Values{"token": {testToken}, "next": {next}}.Encode()
		dom := string(browse(t, bin, target, "--dump-dom"))
		if strings.Contains(dom, marker) {
			t.Errorf("next=%q: the browser left the daemon for %s", next, host)
		}
		if !strings.Contains(dom, `data-customer="acme-analytics"`) {
			t.Errorf("next=%q: not the status page:\n%.300s", next, dom)
		}
	}
}
