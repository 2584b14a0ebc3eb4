package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoak (issue 11): VDC_SOAK=30m (make soak) runs vdc serve --sim as a
// real process under mixed authenticated API traffic, signed and unsigned
// webhook calls and hostile files dumped next to good ones, sampling the
// daemon's memory, file descriptors and goroutines. Afterwards: they are
// flat, the daemon goes idle, no request got a 5xx, every hostile file is
// quarantined and no good file is. Not part of make test.
func TestSoak(t *testing.T) {
	d, _ := time.ParseDuration(os.Getenv("VDC_SOAK"))
	if d <= 0 {
		t.Skip("set VDC_SOAK=30m (make soak) to run the soak")
	}
	const secret = "soak-webhook-secret-0123456789"
	repo := t.TempDir()
	writeFile(t, filepath.Join(repo, "customers/alpha.yaml"), alphaYAML)
	writeFile(t, filepath.Join(repo, "customers/beta.yaml"), betaYAML)
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "two customers")
	data := t.TempDir()
	serve := exec.Command(vdcBin, "serve", "--sim", "--repo", repo, "--ref", "main", "--data", data, "--listen", "127.0.0.1:0", "--poll", "2s")
	serve.Env = append(os.Environ(), "VDC_WEBHOOK_GITHUB_SECRET="+secret)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	serve.Stdout, serve.Stderr = logFile, logFile
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })
	pid := serve.Process.Pid

	var base, token string
	for deadline := time.Now().Add(60 * time.Second); base == "" || token == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("daemon did not start")
		}
		u, _ := os.ReadFile(filepath.Join(data, "daemon-url"))
		k, _ := os.ReadFile(filepath.Join(data, "api-token"))
		base, token = strings.TrimSpace(string(u)), strings.TrimSpace(string(k))
	}
	// The hostile clients (bad tokens, unsigned webhooks) come from
	// 127.0.0.2: the daemon limits failures per address, and the
	// operator's traffic from 127.0.0.1 must not pay for them.
	hc := &http.Client{Timeout: 30 * time.Second}
	hostileHC := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	var requests, server5xx, clientErr, limited atomic.Int64
	call := func(method, path string, body []byte, hdr http.Header) (int, []byte) {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		c := hc
		for k, v := range hdr {
			if k == "X-Soak-Hostile" {
				c = hostileHC
				continue
			}
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		requests.Add(1)
		if err != nil {
			clientErr.Add(1)
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if resp.StatusCode == http.StatusTooManyRequests && c == hc {
			limited.Add(1)
		}
		if resp.StatusCode >= 500 {
			server5xx.Add(1)
			t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode, b
	}
	auth := http.Header{"Authorization": {"Bearer " + token}}
	metric := func(re string) float64 {
		_, b := call(http.MethodGet, "/metrics", nil, auth)
		m := regexp.MustCompile(re + ` ([0-9.e+]+)`).FindSubmatch(b)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}

	ctx, stop := context.WithTimeout(context.Background(), d)
	defer stop()
	var wg sync.WaitGroup
	loop := func(every time.Duration, f func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk := time.NewTicker(every)
			defer tk.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
					f(i)
				}
			}
		}()
	}
	// Authenticated API traffic, about 20 requests a second.
	for w := 0; w < 4; w++ {
		loop(200*time.Millisecond, func(i int) {
			switch i % 6 {
			case 0:
				call(http.MethodGet, "/api/v1/customers", nil, auth)
			case 1:
				call(http.MethodGet, "/api/v1/customers/alpha", nil, auth)
			case 2:
				call(http.MethodGet, "/api/v1/customers/beta/history", nil, auth)
			case 3:
				h := auth.Clone()
				h.Set("Content-Type", "application/json")
				call(http.MethodPost, "/api/v1/plan", []byte(`{"ref":"main","format":"json"}`), h)
			case 4:
				call(http.MethodGet, "/metrics", nil, auth)
			case 5:
				call(http.MethodGet, "/", nil, auth)
			}
		})
	}
	// Webhooks: a signed push every 3s, unsigned junk with big headers
	// twice a second (rate limited after the first few).
	loop(3*time.Second, func(i int) {
		body := []byte(`{"ref":"refs/heads/main","after":"` + strings.Repeat("a", 40) + `"}`)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		call(http.MethodPost, "/webhook", body, http.Header{
			"Content-Type": {"application/json"}, "X-Github-Event": {"push"},
			"X-Github-Delivery": {fmt.Sprintf("soak-%d", i)}, "X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(m.Sum(nil))}})
	})
	loop(500*time.Millisecond, func(i int) {
		call(http.MethodPost, "/webhook", []byte(`{"ref":"refs/heads/main"}`), http.Header{
			"X-Github-Event": {strings.Repeat("e", 30<<10)}, "X-Github-Delivery": {strings.Repeat("é\t<script>", 1000)}, "X-Soak-Hostile": {"1"}})
	})
	// Bad tokens now and then.
	loop(2*time.Second, func(int) {
		call(http.MethodGet, "/api/v1/customers", nil, http.Header{"Authorization": {"Bearer wrong-token-0123456789abcdef"}, "X-Soak-Hostile": {"1"}})
	})
	// Files: good and hostile, one every 5s.
	objects := filepath.Join(data, "agents", "alpha", "objects")
	if err := os.MkdirAll(objects, 0o700); err != nil {
		t.Fatal(err)
	}
	var hostile, good []string
	var filesMu sync.Mutex
	loop(5*time.Second, func(i int) {
		name, content, bad := fmt.Sprintf("good-%04d.txt", i), []byte(fmt.Sprintf("Report %d: the warehouse in Oslo shipped %d crates.", i, i*7)), false
		switch i % 4 {
		case 1:
			name, content, bad = fmt.Sprintf("evil-%04d.pdf", i), selfKidPDF(), true
		case 2:
			name, content, bad = fmt.Sprintf("bomb-%04d.docx", i), zipBomb(), true
		case 3:
			name, content, bad = fmt.Sprintf("deep-%04d.json", i), []byte(strings.Repeat("[", 200_000)), true
		}
		if err := os.WriteFile(filepath.Join(objects, name), content, 0o600); err != nil {
			t.Error(err)
			return
		}
		filesMu.Lock()
		if bad {
			hostile = append(hostile, name)
		} else {
			good = append(good, name)
		}
		filesMu.Unlock()
	})

	type sample struct {
		at              time.Duration
		rssMB, fds, gor float64
	}
	var samples []sample
	start := time.Now()
	take := func() {
		samples = append(samples, sample{time.Since(start), float64(procRSS(pid)) / (1 << 20), float64(procFDs(pid)), metric(`go_goroutines`)})
		s := samples[len(samples)-1]
		t.Logf("t=%v rss=%.1f MiB fds=%.0f goroutines=%.0f requests=%d", s.at.Round(time.Second), s.rssMB, s.fds, s.gor, requests.Load())
	}
	every := max(d/20, 10*time.Second)
	for tk := time.NewTicker(every); ctx.Err() == nil; {
		select {
		case <-ctx.Done():
		case <-tk.C:
			take()
		}
	}
	wg.Wait()
	// Let the last files be ingested (timeouts take 12 s each).
	time.Sleep(45 * time.Second)
	take()

	// Flat: compare the end with the sample after the first fifth
	// (caches warm, the sandbox's children started).
	warm, end := samples[min(len(samples)-1, max(1, len(samples)/5))], samples[len(samples)-1]
	if end.fds > warm.fds+30 {
		t.Errorf("file descriptors grew from %.0f to %.0f", warm.fds, end.fds)
	}
	if end.rssMB > warm.rssMB*1.5+40 {
		t.Errorf("resident memory grew from %.1f to %.1f MiB", warm.rssMB, end.rssMB)
	}
	if end.gor > warm.gor+50 {
		t.Errorf("goroutines grew from %.0f to %.0f", warm.gor, end.gor)
	}
	if n := server5xx.Load(); n > 0 {
		t.Errorf("%d requests answered 5xx", n)
	}
	if n := limited.Load(); n > 0 {
		t.Errorf("%d of the operator's requests were rate limited because of the hostile client", n)
	}
	// Idle afterwards.
	pids := append([]int{pid}, childrenOf(pid)...)
	before := map[int]time.Duration{}
	for _, p := range pids {
		before[p], _ = procCPU(p)
	}
	time.Sleep(3 * time.Second)
	for _, p := range pids {
		if after, ok := procCPU(p); ok && after-before[p] > 600*time.Millisecond {
			t.Errorf("pid %d used %v of CPU in 3s after the soak", p, after-before[p])
		}
	}
	quarantined := metric(`agentvdc_agent_files_quarantined_total\{reason="timeout"\}`) + metric(`agentvdc_agent_files_quarantined_total\{reason="zip-bomb"\}`) +
		metric(`agentvdc_agent_files_quarantined_total\{reason="corrupt"\}`)
	serve.Process.Signal(os.Interrupt)
	serve.Wait()
	logs, _ := os.ReadFile(logFile.Name())
	if bytes.Contains(logs, []byte("panic")) {
		t.Errorf("the daemon log mentions a panic")
	}
	// Nothing lost: the quarantine holds exactly the hostile files.
	out, err := exec.Command(vdcBin, "agents", "quarantine", "alpha", "--data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("vdc agents quarantine: %v\n%s", err, out)
	}
	for _, h := range hostile {
		if !bytes.Contains(out, []byte(h)) {
			t.Errorf("hostile %s not quarantined", h)
		}
	}
	for _, g := range good {
		if bytes.Contains(out, []byte(g)) {
			t.Errorf("good %s quarantined", g)
		}
	}
	t.Logf("soak %v: %d requests (%d client errors, %d 5xx), %d good and %d hostile files (%.0f quarantined per the metrics), log %d KB; rss %.1f→%.1f MiB, fds %.0f→%.0f, goroutines %.0f→%.0f",
		d, requests.Load(), clientErr.Load(), server5xx.Load(), len(good), len(hostile), quarantined, len(logs)>>10, warm.rssMB, end.rssMB, warm.fds, end.fds, warm.gor, end.gor)
}

func procRSS(pid int) int64 {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func procFDs(pid int) int {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	return len(ents)
}

// zipBomb is a .docx whose document.xml inflates to 200 MiB.
func zipBomb() []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("word/document.xml")
	chunk := bytes.Repeat([]byte("0"), 1<<20)
	for i := 0; i < 200; i++ {
		w.Write(chunk)
	}
	zw.Close()
	return b.Bytes()
}
