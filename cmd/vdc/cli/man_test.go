package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestManPages: make man writes a page per command, with its flags, and
// man(1) reads them when it is installed.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if err := WriteManPages(dir); err != nil {
		t.Fatal(err)
	}
	for page, want := range map[string]string{
		"vdc.1":            `\fBvdc-plan(1)\fP`,
		"vdc-plan.1":       `\fB--detailed-exitcode\fP`,
		"vdc-agents-run.1": "vdc agents run",
		"vdc-completion.1": "bash|zsh|fish",
		"vdc-version.1":    "the git commit",
	} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Errorf("%s: %v", page, err)
			continue
		}
		if !strings.HasPrefix(string(b), ".nh\n.TH \"VDC\" \"1\"") {
			t.Errorf("%s: not a section-1 man page:\n%.200s", page, b)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", page, want)
		}
	}
	if _, err := exec.LookPath("man"); err == nil {
		out, err := exec.Command("man", "-l", "-P", "cat", filepath.Join(dir, "vdc-plan.1")).CombinedOutput()
		if err != nil {
			t.Logf("man -l: %v\n%s", err, out) // man without groff: not ours to fail
		} else if !strings.Contains(string(out), "detailed-exitcode") {
			t.Errorf("man -l vdc-plan.1:\n%s", out)
		}
	}
}
