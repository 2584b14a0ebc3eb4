package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// selfKidPDF is issue 11's repro (testdata/hostile/README.md).
func selfKidPDF() []byte {
	b, err := os.ReadFile("../../testdata/hostile/self-kid.pdf")
	if err != nil {
		panic(err)
	}
	return b
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// procCPU is a process's user+system CPU time (Linux /proc, USER_HZ 100).
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

// childrenOf lists the live processes whose parent is pid.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			out = append(out, c)
		}
	}
	return out
}

// TestHostilePDFDoesNotPinTheDaemon (issue 11, item 1): vdc serve --sim
// as a real process; a customer dumps the self-referencing PDF next to a
// good file. The file is quarantined as a timeout, the failure metric
// counts it, and afterwards neither the daemon nor any process it started
// burns CPU.
func TestHostilePDFDoesNotPinTheDaemon(t *testing.T) {
	repo := t.TempDir()
	writeFile(t, filepath.Join(repo, "customers/alpha.yaml"), alphaYAML)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "one customer"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	data := t.TempDir()
	serve := exec.Command(vdcBin, "serve", "--sim", "--repo", repo, "--ref", "main", "--data", data, "--listen", "127.0.0.1:0", "--poll", "200ms")
	logs := &lockedBuffer{}
	serve.Stdout, serve.Stderr = logs, logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })

	objects := filepath.Join(data, "agents", "alpha", "objects")
	if err := os.MkdirAll(objects, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(objects, "evil.pdf"), selfKidPDF(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(objects, "notes.txt"), []byte("The warehouse in Oslo opens in March."), 0o600); err != nil {
		t.Fatal(err)
	}

	var base, token string
	metrics := func() string {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	const want = `agentvdc_agent_files_quarantined_total{reason="timeout"} 1`
	deadline := time.Now().Add(90 * time.Second)
	for {
		if base == "" {
			u, _ := os.ReadFile(filepath.Join(data, "daemon-url"))
			k, _ := os.ReadFile(filepath.Join(data, "api-token"))
			base, token = strings.TrimSpace(string(u)), strings.TrimSpace(string(k))
			if token == "" {
				base = ""
			}
		}
		if base != "" && strings.Contains(metrics(), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 90s; daemon log:\n%s", want, tail(logs.String()))
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "evil.pdf") || !strings.Contains(logs.String(), "timeout") {
		t.Errorf("the quarantine is not logged with its reason:\n%s", tail(logs.String()))
	}

	// Idle afterwards: the daemon and every process it started use at
	// most a sliver of a core over two seconds (the ingest agent still
	// ticks every 5s).
	pids := append([]int{serve.Process.Pid}, childrenOf(serve.Process.Pid)...)
	before := map[int]time.Duration{}
	for _, p := range pids {
		before[p], _ = procCPU(p)
	}
	time.Sleep(2 * time.Second)
	for _, p := range pids {
		after, ok := procCPU(p)
		if !ok {
			continue // gone: fine
		}
		if used := after - before[p]; used > 400*time.Millisecond {
			t.Errorf("pid %d (daemon %d) used %v of CPU in 2s after the hostile file", p, serve.Process.Pid, used)
		}
	}
	t.Logf("quarantined as timeout; %d processes checked idle", len(pids))
}
