package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestWorkflowInCustomersRepo runs the example GitHub workflow's steps as
// written (their shell, from the YAML) in a repository holding only
// customers/ — no go.mod, no vdc source — as a customer's repository is:
// the install step (with a stand-in go that records its arguments and puts
// this build of vdc where go install would), validation with annotations,
// the plan from the simulators, and the comment posted to a fake GitHub API.
func TestWorkflowInCustomersRepo(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run `make prereqs`", tool)
		}
	}
	raw, err := os.ReadFile("../../docs/examples/github-workflow.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string            `yaml:"name"`
				Run  string            `yaml:"run"`
				Env  map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	steps := map[string]string{}
	stepEnv := map[string]map[string]string{}
	for _, s := range wf.Jobs["plan"].Steps {
		steps[s.Name], stepEnv[s.Name] = s.Run, s.Env
	}

	// The customers repository, checked out detached at the PR's head.
	repo := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	if err := os.MkdirAll(filepath.Join(repo, "customers"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("customers/acme.yaml", "name: acme\ndisplayName: Acme <Corp> & Co\nowner: ops@acme.example\ntier: pro\n")
	git("add", ".")
	git("commit", "-q", "-m", "acme")
	git("checkout", "-q", "--detach")
	head := git("rev-parse", "HEAD")

	// A fake GitHub REST API: lists no comments, records the posted one.
	var mu sync.Mutex
	var posted []string
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gh-token" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/repos/o/r/issues/7/comments":
			io.WriteString(w, "[]")
		case r.Method == http.MethodPost && r.URL.Path == "/repos/o/r/issues/7/comments":
			var b struct{ Body string }
			if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			posted = append(posted, b.Body)
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":1}`)
		default:
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		}
	}))
	defer gh.Close()

	runner := t.TempDir()
	fakebin := t.TempDir()
	// The stand-in go: records the install and puts this build in GOBIN.
	fakeGo := "#!/bin/sh\nprintf '%s\\n' \"$*\" \"GOBIN=$GOBIN\" \"GONOSUMDB=$GONOSUMDB\" > \"$RUNNER_TEMP/go-install\"\n" +
		"mkdir -p \"$GOBIN\" && cp \"$VDC_BUILD\" \"$GOBIN/vdc\"\n"
	if err := os.WriteFile(filepath.Join(fakebin, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	outputs := filepath.Join(runner, "outputs")
	base := map[string]string{
		"PATH": fakebin + ":" + os.Getenv("PATH"), "HOME": t.TempDir(), "RUNNER_TEMP": runner, "GITHUB_OUTPUT": outputs,
		"HEAD_SHA": head, "HEAD_REF": "add-acme", "PR": "7", "VDC_BUILD": vdcBin,
		"GITHUB_API_URL": gh.URL, "GITHUB_REPOSITORY": "o/r", "XDG_CACHE_HOME": t.TempDir(),
	}
	run := func(step string, extra map[string]string) string {
		t.Helper()
		script, ok := steps[step]
		if !ok {
			t.Fatalf("the workflow has no step %q", step)
		}
		cmd := exec.Command("bash", "-e", "-c", script)
		cmd.Dir = repo
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range stepEnv[step] {
			if !strings.Contains(v, "${{") { // literal values, as written
				env[k] = v
			}
		}
		for k, v := range extra {
			env[k] = v
		}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("step %q: %v\n%s", step, err, out)
		}
		return string(out)
	}

	out := run("Install vdc", nil)
	rec, err := os.ReadFile(filepath.Join(runner, "go-install"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^install github\.com/agentvdc/agentvdc/cmd/vdc@v\d+\.\d+\.\d+\nGOBIN=` + regexp.QuoteMeta(runner) + `/bin\nGONOSUMDB=github.com/OpenNebula\n$`).Match(rec) {
		t.Errorf("the install step ran go as:\n%s", rec)
	}
	if !strings.HasPrefix(out, "vdc ") {
		t.Errorf("the install step does not print the version: %q", out)
	}

	if out := run("Validate customer files", nil); strings.Contains(out, "::error") {
		t.Errorf("validation of a valid file: %s", out)
	}
	run("Plan", nil) // no daemon secrets: from the simulators
	o, _ := os.ReadFile(outputs)
	if !strings.Contains(string(o), "ready=true") || !strings.Contains(string(o), "source=the simulators") {
		t.Fatalf("plan step outputs: %q", o)
	}
	run("Post or update the plan comment", map[string]string{"GITHUB_TOKEN": "gh-token", "PLAN_SOURCE": "the simulators", "COMMENT_AUTHOR": "github-actions[bot]"})
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 1 {
		t.Fatalf("%d comments posted", len(posted))
	}
	body := posted[0]
	for _, want := range []string{
		"<!-- agentvdc-plan -->\n### agentvdc plan: `" + head[:12] + "` on `add-acme`\n",
		"| `acme` | pro | create |",
		"+ hetzner_server.agentvdc-acme-srv-1: new customer\n",
		"Plan of " + head[:12] + " from the simulators.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the comment lacks %q:\n%.1500s", want, body)
		}
	}

	// An invalid file: annotations on its line, the plan says it is refused
	// and is still posted.
	write("customers/acme.yaml", "name: acme\nowner: ops@acme.example\ntier: gold\n")
	cmd := exec.Command("bash", "-e", "-c", steps["Validate customer files"])
	cmd.Dir = repo
	for k, v := range base {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	ann, err := cmd.CombinedOutput()
	if err == nil || !regexp.MustCompile(`(?m)^::error file=customers/acme\.yaml,line=3,`).Match(ann) {
		t.Errorf("validation of an invalid file: %v\n%s", err, ann)
	}
}
