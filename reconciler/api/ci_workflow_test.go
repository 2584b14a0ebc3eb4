package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/agentvdc/agentvdc/plan"
)

// The example GitHub Actions workflow (docs/examples/github-workflow.yml):
// it parses, has the steps docs/ci.md describes, and its shell steps work
// against this package's real API server and a fake GitHub REST API.

const workflowFile = "../../docs/examples/github-workflow.yml"

type workflowStep struct {
	Name string            `yaml:"name"`
	ID   string            `yaml:"id"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
}

type workflow struct {
	Name        string                    `yaml:"name"`
	On          map[string]map[string]any `yaml:"on"`
	Permissions map[string]string         `yaml:"permissions"`
	Concurrency map[string]any            `yaml:"concurrency"`
	Jobs        map[string]struct {
		RunsOn  string            `yaml:"runs-on"`
		Timeout int               `yaml:"timeout-minutes"`
		Env     map[string]string `yaml:"env"`
		Steps   []workflowStep    `yaml:"steps"`
	} `yaml:"jobs"`
}

func loadWorkflow(t *testing.T) (workflow, map[string]workflowStep) {
	t.Helper()
	raw, err := os.ReadFile(workflowFile)
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&wf); err != nil {
		t.Fatalf("%s: %v", workflowFile, err)
	}
	job, ok := wf.Jobs["plan"]
	if !ok {
		t.Fatalf("no job 'plan'")
	}
	steps := map[string]workflowStep{}
	for _, s := range job.Steps {
		steps[s.Name] = s
	}
	return wf, steps
}

func TestWorkflowShape(t *testing.T) {
	wf, steps := loadWorkflow(t)
	if _, ok := wf.On["pull_request"]; !ok {
		t.Errorf("not triggered by pull_request: %v", wf.On)
	}
	if wf.Permissions["pull-requests"] != "write" || wf.Permissions["contents"] != "read" {
		t.Errorf("permissions %v", wf.Permissions)
	}
	for _, tc := range []struct {
		step string
		want []string
	}{
		{"Check out", []string{"actions/checkout@"}},
		{"Set up Go", []string{"actions/setup-go@", "1.26"}},
		{"Install vdc", []string{"go install", "github.com/agentvdc/agentvdc/cmd/vdc@${VDC_VERSION}", "VDC_VERSION:v"}},
		{"Validate customer files", []string{"validate --format github"}},
		{"Plan", []string{"/api/v1/sync", "/api/v1/plan", `format: "markdown"`, "plan --sim --format markdown", "secrets.VDC_DAEMON", "secrets.VDC_TOKEN"}},
		{"Post or update the plan comment", []string{"<!-- agentvdc-plan -->", "-X PATCH", "-X POST", "/comments"}},
	} {
		s, ok := steps[tc.step]
		if strings.Contains(s.Run+fmt.Sprint(s.With), "go.mod") || strings.Contains(s.Run, "./cmd/vdc") {
			t.Errorf("step %q needs this repository (go.mod, ./cmd/vdc): the workflow runs in a customers repository", tc.step)
		}
		if !ok {
			t.Errorf("no step %q", tc.step)
			continue
		}
		all := s.Uses + s.Run + fmt.Sprint(s.Env) + fmt.Sprint(s.With)
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("step %q lacks %q", tc.step, w)
			}
		}
	}
}

// needTools skips when the runner's shell tools are missing (the workflow
// runs on GitHub's ubuntu-latest, which has them).
func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run `make prereqs` (the workflow's shell steps need bash, curl and jq)", tool)
		}
	}
}

// runStep runs a step's script with bash -e as Actions does.
func runStep(t *testing.T, script string, env map[string]string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-e", "-c", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestWorkflowPlanStepFromDaemon(t *testing.T) {
	needTools(t)
	_, steps := loadWorkflow(t)
	f := newFixture(t)
	for _, tc := range []struct {
		name, ref string
		ok        bool
	}{
		{"known ref", "main", true},
		{"unknown ref", "0000000000000000000000000000000000000000", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			outputs := filepath.Join(tmp, "outputs")
			out, err := runStep(t, steps["Plan"].Run, map[string]string{
				"VDC_DAEMON": f.srv.URL, "VDC_TOKEN": testToken, "HEAD_SHA": tc.ref,
				"RUNNER_TEMP": tmp, "GITHUB_OUTPUT": outputs,
				"PLAN_RETRIES": "2", "PLAN_RETRY_SECONDS": "0",
			})
			if strings.Contains(out, testToken) {
				t.Errorf("the step printed the token")
			}
			if !tc.ok {
				if err == nil || !strings.Contains(out, "::error::the daemon did not plan") || !strings.Contains(out, "unknown git ref") {
					t.Fatalf("unknown ref: err %v, output:\n%s", err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("plan step: %v\n%s", err, out)
			}
			got, err := os.ReadFile(filepath.Join(tmp, "plan.md"))
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := plan.RenderMarkdown(&want, realPlan(t), plan.MarkdownOptions{Branch: plan.BranchOfRef(tc.ref)}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("plan.md is not the daemon's markdown plan:\n%.300s", got)
			}
			o, _ := os.ReadFile(outputs)
			if !strings.Contains(string(o), "source=the daemon") || !strings.Contains(string(o), "ready=true") {
				t.Errorf("step outputs: %q", o)
			}
		})
	}
	if f.svc.Syncs() != 2 {
		t.Errorf("syncs %d, want one per run", f.svc.Syncs())
	}
}

// fakeGitHub serves the issue-comment endpoints the comment step uses.
type fakeGitHub struct {
	mu       sync.Mutex
	token    string
	comments []ghComment
	nextID   int
	posts    int
	patches  int
}

type ghComment struct {
	ID   int    `json:"id"`
	Body string `json:"body"`
	User struct {
		Login string `json:"login"`
	} `json:"user"`
}

func (g *fakeGitHub) add(login, body string) {
	g.nextID++
	c := ghComment{ID: g.nextID, Body: body}
	c.User.Login = login
	g.comments = append(g.comments, c)
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+g.token {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/repos/o/r/issues/7/comments":
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if per <= 0 || per > 100 {
			per = 30
		}
		if page <= 0 {
			page = 1
		}
		lo, hi := min((page-1)*per, len(g.comments)), min(page*per, len(g.comments))
		json.NewEncoder(w).Encode(g.comments[lo:hi])
	case r.Method == "POST" && r.URL.Path == "/repos/o/r/issues/7/comments":
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		g.posts++
		g.add("github-actions[bot]", in.Body)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(g.comments[len(g.comments)-1])
	case r.Method == "PATCH" && strings.HasPrefix(r.URL.Path, "/repos/o/r/issues/comments/"):
		id, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/repos/o/r/issues/comments/"))
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for i := range g.comments {
			if g.comments[i].ID == id {
				g.patches++
				g.comments[i].Body = in.Body
				json.NewEncoder(w).Encode(g.comments[i])
				return
			}
		}
		http.NotFound(w, r)
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusTeapot)
	}
}

func TestWorkflowCommentStepUpdatesInPlace(t *testing.T) {
	needTools(t)
	_, steps := loadWorkflow(t)
	gh := &fakeGitHub{token: "ghs_test"}
	// 120 comments (two pages), one of them a human quoting the marker.
	for i := range 120 {
		body := fmt.Sprintf("comment %d", i)
		if i == 5 {
			body = "I copied <!-- agentvdc-plan --> here"
		}
		gh.add("alice", body)
	}
	srv := httptest.NewServer(gh)
	defer srv.Close()

	tmp := t.TempDir()
	run := func(planText string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(tmp, "plan.md"), []byte(planText), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := runStep(t, steps["Post or update the plan comment"].Run, map[string]string{
			"GITHUB_API_URL": srv.URL, "GITHUB_REPOSITORY": "o/r", "GITHUB_TOKEN": "ghs_test", "PR": "7",
			"HEAD_SHA": "0123456789abcdef0123456789abcdef01234567", "RUNNER_TEMP": tmp,
			"PLAN_SOURCE": "the daemon", "COMMENT_AUTHOR": "github-actions[bot]",
		})
		if err != nil {
			t.Fatalf("comment step: %v\n%s", err, out)
		}
		return out
	}
	if out := run("### agentvdc plan v1 `with | pipes` and \"quotes\"\n"); !strings.Contains(out, "posted") {
		t.Errorf("first run: %s", out)
	}
	if out := run("### agentvdc plan v2\n"); !strings.Contains(out, "updated plan comment 121") {
		t.Errorf("second run: %s", out)
	}
	gh.mu.Lock()
	defer gh.mu.Unlock()
	if gh.posts != 1 || gh.patches != 1 {
		t.Errorf("posts %d patches %d, want 1 and 1", gh.posts, gh.patches)
	}
	var ours []ghComment
	for _, c := range gh.comments {
		if strings.Contains(c.Body, "<!-- agentvdc-plan -->") && c.User.Login == "github-actions[bot]" {
			ours = append(ours, c)
		}
	}
	if len(ours) != 1 {
		t.Fatalf("%d plan comments, want 1", len(ours))
	}
	body := ours[0].Body
	if !strings.HasPrefix(body, "<!-- agentvdc-plan -->\n### agentvdc plan v2\n") || !strings.Contains(body, "Plan of 0123456789ab from the daemon.") {
		t.Errorf("comment body:\n%s", body)
	}
	if gh.comments[5].Body != "I copied <!-- agentvdc-plan --> here" {
		t.Errorf("a human's comment was changed")
	}
}
