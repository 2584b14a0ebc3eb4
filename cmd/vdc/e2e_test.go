package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/plan"
	"github.com/agentvdc/agentvdc/reconciler"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
	"github.com/agentvdc/agentvdc/reconciler/clouds/simstack"
)

// vdcBin is the vdc binary the end-to-end tests run as a real process.
var vdcBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vdc-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vdcBin = filepath.Join(dir, "vdc")
	if out, err := exec.Command("go", "build", "-o", vdcBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build vdc: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cloud is the simulators, served in this test process, that vdc
// processes reach through the environment a user would paste.

type cloud struct {
	stack *simstack.Stack
	env   []string
}

func newCloud(t *testing.T) *cloud {
	t.Helper()
	st, err := simstack.Start(simstack.Options{HetznerRateLimitPerHour: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	env := os.Environ()
	for k, v := range st.Env() {
		env = append(env, k+"="+v)
	}
	// The front-end's public key, as an operator configures it.
	key := filepath.Join(t.TempDir(), "frontend.pub")
	// (the simulated front-end's: the hosts only get MONITORED with it)
	if err := os.WriteFile(key, []byte(st.FrontendSSHKey()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &cloud{stack: st, env: append(env, "NO_COLOR=1", "VDC_FRONTEND_SSH_KEY="+key)}
}

type result struct {
	stdout, stderr string
	code           int
}

// vdc runs the binary in dir and returns its output and exit code.
func (c *cloud) vdc(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(vdcBin, args...)
	cmd.Dir, cmd.Env = dir, c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

func (c *cloud) must(t *testing.T, dir string, wantCode int, args ...string) result {
	t.Helper()
	r := c.vdc(t, dir, args...)
	if r.code != wantCode {
		t.Fatalf("vdc %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, wantCode, tail(r.stdout), tail(r.stderr))
	}
	return r
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// providers are the real adapters on the simulators, to inspect the clouds.
func (c *cloud) providers(t *testing.T) map[plan.Cloud]reconciler.Provider {
	t.Helper()
	ps, err := c.stack.NewProviders(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ps.All
}

// inventory lists every managed resource as "kind.name attrs" (sorted) and
// fails on a duplicated name.
func (c *cloud) inventory(t *testing.T) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	for _, p := range c.providers(t) {
		rs, err := p.Observe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			addr := r.Address().String()
			if seen[addr] {
				t.Errorf("duplicate resource %s", addr)
			}
			seen[addr] = true
			var kv []string
			for k, v := range r.Attrs {
				if k != "cardinality" {
					kv = append(kv, k+"="+v)
				}
			}
			sort.Strings(kv)
			out = append(out, addr+" "+strings.Join(kv, " "))
		}
	}
	sort.Strings(out)
	return out
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	alphaYAML = "name: alpha\ndisplayName: Alpha\nowner: ops@alpha.example\ntier: pro\n"
	betaYAML  = "name: beta\ndisplayName: Beta\nowner: ops@beta.example\ntier: casual\nregion: nbg1\n"
	gammaYAML = "name: gamma\ndisplayName: Gamma\nowner: ops@gamma.example\ntier: enterprise\n"
)

type jsonPlan struct {
	Actions []struct {
		Action  string `json:"action"`
		Address string `json:"address"`
		Blocked bool   `json:"blocked"`
		Changes []struct {
			Key, Before, After string
		} `json:"changes"`
	} `json:"actions"`
}

// TestLifecycle drives vdc apply and plan, as real processes, against the
// simulators through the real clients: create three customers, converge,
// edit one, refuse to delete a protected customer, delete it once
// unprotected and allowed, leaving nothing with its labels.
func TestLifecycle(t *testing.T) {
	c := newCloud(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "customers/alpha.yaml"), alphaYAML)
	writeFile(t, filepath.Join(dir, "customers/beta.yaml"), betaYAML)
	writeFile(t, filepath.Join(dir, "customers/gamma.yaml"), gammaYAML)

	r := c.must(t, dir, 0, "apply", "--auto-approve")
	if !strings.Contains(r.stdout, "Apply complete") || !strings.Contains(r.stderr, "create hetzner_server.agentvdc-gamma-srv-2 ok") {
		t.Fatalf("apply output:\n%s\n%s", tail(r.stdout), tail(r.stderr))
	}
	c.must(t, dir, 0, "plan", "--detailed-exitcode")

	// Edit: beta's server type and storage; alpha's minimum servers.
	writeFile(t, filepath.Join(dir, "customers/beta.yaml"), betaYAML+"compute:\n  serverType: cx32\n  maxServers: 2\nstorage:\n  initialGB: 20\n")
	writeFile(t, filepath.Join(dir, "customers/alpha.yaml"), alphaYAML+"compute:\n  minServers: 2\n")
	r = c.must(t, dir, 2, "plan", "--detailed-exitcode", "--format", "json")
	var p jsonPlan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range p.Actions {
		line := a.Action + " " + a.Address
		for _, ch := range a.Changes {
			line += fmt.Sprintf(" %s:%s->%s", ch.Key, ch.Before, ch.After)
		}
		got = append(got, line)
	}
	sort.Strings(got)
	want := []string{
		"create hetzner_server.agentvdc-alpha-srv-2",
		"create opennebula_host.agentvdc-alpha-srv-2",
		"update exoscale_block_volume.agentvdc-beta-data size_gb:10->20",
		"update hetzner_server.agentvdc-beta-srv-1 server_type:cx22->cx32",
		"update opennebula_datastore.agentvdc-alpha-images bridge_list:agentvdc-alpha-srv-1->agentvdc-alpha-srv-1 agentvdc-alpha-srv-2",
		"update opennebula_datastore.agentvdc-beta-images limit_mb:10240->20480",
		"update opennebula_datastore.agentvdc-beta-system limit_mb:10240->20480",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan after the edit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c.must(t, dir, 0, "apply", "--auto-approve")
	c.must(t, dir, 0, "plan", "--detailed-exitcode")

	// Removing a protected customer is refused, even with --allow-delete.
	before := c.inventory(t)
	os.Remove(filepath.Join(dir, "customers/gamma.yaml"))
	r = c.must(t, dir, 1, "apply", "--auto-approve", "--allow-delete")
	if !strings.Contains(r.stderr, "customer gamma: deletion protection is on") {
		t.Fatalf("refusal not explained:\n%s", tail(r.stderr))
	}
	if after := c.inventory(t); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatal("a refused delete changed the clouds")
	}

	// Unprotect and apply, then remove: without --allow-delete still refused.
	writeFile(t, filepath.Join(dir, "customers/gamma.yaml"), gammaYAML+"protection:\n  deletionProtection: false\n")
	c.must(t, dir, 0, "apply", "--auto-approve")
	os.Remove(filepath.Join(dir, "customers/gamma.yaml"))
	r = c.must(t, dir, 1, "apply", "--auto-approve")
	if !strings.Contains(r.stderr, "needs --allow-delete") {
		t.Fatalf("refusal not explained:\n%s", tail(r.stderr))
	}
	c.must(t, dir, 0, "apply", "--auto-approve", "--allow-delete")
	for _, line := range c.inventory(t) {
		if strings.Contains(line, "gamma") {
			t.Errorf("left behind: %s", line)
		}
	}
	for _, s := range c.stack.Hetzner.Servers() {
		if strings.Contains(s.Name, "gamma") {
			t.Errorf("hetzner server left: %s", s.Name)
		}
	}
	c.must(t, dir, 0, "plan", "--detailed-exitcode")
}

// mutating reports whether a simulator endpoint key changes state.
func mutating(key string) bool {
	if m, _, ok := strings.Cut(key, " "); ok && strings.ToUpper(m) == m {
		return m != "GET" && m != "HEAD"
	}
	return strings.HasPrefix(key, "one.") && !strings.Contains(key, "info") &&
		!strings.Contains(key, "monitoring") && !strings.HasPrefix(key, "one.system.")
}

func mutatingCalls(st *simstack.Stack) int64 {
	var n int64
	for _, c := range []*simctl.Controller{st.Hetzner.Control(), st.Exoscale.Control(), st.ONE.Control()} {
		for k, v := range c.Counters() {
			if mutating(k) {
				n += v
			}
		}
	}
	return n
}

// TestCrashSafety SIGKILLs a real `vdc apply` at each of its mutating calls
// (the simulators' counters pick the moment), reruns it, and requires the
// clouds to end exactly as after a clean apply: no duplicates, nothing
// orphaned.
func TestCrashSafety(t *testing.T) {
	const files = "name: delta\ndisplayName: Delta\nowner: ops@delta.example\ntier: pro\ncompute:\n  minServers: 2\n"
	ref := newCloud(t)
	refDir := t.TempDir()
	writeFile(t, filepath.Join(refDir, "customers/delta.yaml"), files)
	ref.must(t, refDir, 0, "apply", "--auto-approve")
	want := ref.inventory(t)
	total := mutatingCalls(ref.stack)
	if total < 20 {
		t.Fatalf("a clean apply made only %d mutating calls", total)
	}
	step := int64(1)
	if testing.Short() {
		step = 5
	}
	killed := 0
	for k := int64(1); k < total; k += step {
		c := newCloud(t)
		// Slow every mutating call a little so the kill lands right at it.
		for _, ctl := range []*simctl.Controller{c.stack.Hetzner.Control(), c.stack.Exoscale.Control()} {
			ctl.AddFault(simctl.Fault{Pattern: "POST *", Latency: simctl.Duration(15 * time.Millisecond)})
			ctl.AddFault(simctl.Fault{Pattern: "PUT *", Latency: simctl.Duration(15 * time.Millisecond)})
		}
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "customers/delta.yaml"), files)
		cmd := exec.Command(vdcBin, "apply", "--auto-approve")
		cmd.Dir, cmd.Env = dir, c.env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		deadline := time.After(60 * time.Second)
	watch:
		for {
			select {
			case <-done:
				break watch // finished before reaching k
			case <-deadline:
				cmd.Process.Kill()
				t.Fatalf("k=%d: apply hung", k)
			default:
			}
			if mutatingCalls(c.stack) >= k {
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				killed++
				break
			}
			time.Sleep(500 * time.Microsecond)
		}
		for _, ctl := range []*simctl.Controller{c.stack.Hetzner.Control(), c.stack.Exoscale.Control()} {
			ctl.ClearFaults()
		}
		r := c.must(t, dir, 0, "apply", "--auto-approve")
		if got := c.inventory(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("killed at mutating call %d: clouds differ from a clean apply\nrerun stderr:\n%s\ngot:\n%s\nwant:\n%s",
				k, tail(r.stderr), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		c.must(t, dir, 0, "plan", "--detailed-exitcode")
	}
	t.Logf("clean apply: %d mutating calls, %d resources; killed and recovered at %d points", total, len(want), killed)
}

// TestDaemonSurvivesSIGKILL starts `vdc serve` on a git checkout, SIGKILLs
// it in the middle of converging three customers, restarts it, and
// requires the clouds to end exactly as a clean apply leaves them.
func TestDaemonSurvivesSIGKILL(t *testing.T) {
	files := map[string]string{"customers/alpha.yaml": alphaYAML, "customers/beta.yaml": betaYAML, "customers/gamma.yaml": gammaYAML}
	ref := newCloud(t)
	refDir := t.TempDir()
	for p, d := range files {
		writeFile(t, filepath.Join(refDir, p), d)
	}
	ref.must(t, refDir, 0, "apply", "--auto-approve")
	want := ref.inventory(t)
	total := mutatingCalls(ref.stack)

	c := newCloud(t)
	repo := t.TempDir()
	for p, d := range files {
		writeFile(t, filepath.Join(repo, p), d)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "three customers"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	data := t.TempDir()
	serve := func() *exec.Cmd {
		cmd := exec.Command(vdcBin, "serve", "--repo", repo, "--ref", "main", "--data", data, "--listen", "127.0.0.1:0", "--poll", "200ms")
		cmd.Env = c.env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	// Slow the mutating calls so the kill lands in the middle.
	for _, ctl := range []*simctl.Controller{c.stack.Hetzner.Control(), c.stack.Exoscale.Control()} {
		ctl.AddFault(simctl.Fault{Pattern: "POST *", Latency: simctl.Duration(20 * time.Millisecond)})
	}
	first := serve()
	deadline := time.Now().Add(60 * time.Second)
	for mutatingCalls(c.stack) < total/2 {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon made only %d of %d mutating calls in 60s", mutatingCalls(c.stack), total)
		}
		time.Sleep(time.Millisecond)
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	killedAt := mutatingCalls(c.stack)
	for _, ctl := range []*simctl.Controller{c.stack.Hetzner.Control(), c.stack.Exoscale.Control()} {
		ctl.ClearFaults()
	}

	second := serve()
	var got []string
	deadline = time.Now().Add(90 * time.Second)
	for {
		got = c.inventory(t)
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not converged 90s after the restart\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	second.Process.Signal(syscall.SIGTERM)
	if err := second.Wait(); err != nil {
		t.Errorf("daemon after SIGTERM: %v", err)
	}
	t.Logf("killed after %d of a clean apply's %d mutating calls; after the restart the clouds match a clean apply (%d resources, no duplicates)", killedAt, total, len(want))
}
