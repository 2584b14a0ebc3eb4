package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionShowsRevision builds vdc as a release build would, in a git
// checkout, and checks that vdc --version and vdc version show the commit,
// its time and the dirty flag, clean and with an uncommitted file. The
// checkout is a clone of this repository with the working tree's files
// committed on top (so the code under test is this tree's, and the go
// command stamps VCS information, which it does not in a git worktree,
// whose .git is a file).
func TestVersionShowsRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds vdc twice")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout (git rev-parse: %v): there is no revision to stamp", err)
	}
	repo := strings.TrimSpace(string(top))
	src := filepath.Join(t.TempDir(), "src")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	git("", "clone", "-q", "--shared", repo, src)
	files := git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, f := range strings.Split(files, "\x00") {
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			continue // deleted in the working tree
		}
		dst := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(src, "add", "-A")
	git(src, "commit", "-q", "--allow-empty", "--no-verify", "-m", "the working tree under test")
	head := git(src, "rev-parse", "HEAD")
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}

	bin := filepath.Join(t.TempDir(), "vdc")
	build := func() {
		t.Helper()
		// -trimpath: the packages' cache entries do not depend on the
		// clone's directory, so only the main package is rebuilt.
		run(filepath.Join(src, "cmd", "vdc"), "go", "build", "-trimpath", "-buildvcs=auto", "-o", bin, ".")
	}
	check := func(dirty bool) {
		t.Helper()
		line, err := exec.Command(bin, "--version").Output()
		if err != nil {
			t.Fatalf("vdc --version: %v", err)
		}
		got := strings.TrimSpace(string(line))
		if !strings.HasPrefix(got, "vdc ") || !strings.Contains(got, "("+head[:12]+", ") {
			t.Errorf("vdc --version = %q, want the revision %s", got, head[:12])
		}
		if strings.HasSuffix(got, ", dirty)") != dirty {
			t.Errorf("vdc --version = %q, want dirty=%v", got, dirty)
		}
		raw, err := exec.Command(bin, "version", "--format", "json").Output()
		if err != nil {
			t.Fatalf("vdc version: %v", err)
		}
		var b struct {
			Version, Module, Revision, Time, VCS string
			Dirty                                bool
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatalf("vdc version --format json: %v\n%s", err, raw)
		}
		if b.Revision != head || b.VCS != "git" || b.Time == "" || b.Dirty != dirty || b.Module != "github.com/agentvdc/agentvdc" || b.Version == "" {
			t.Errorf("vdc version = %+v, want revision %s, vcs git, a commit time, dirty=%v", b, head, dirty)
		}
		text, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), "revision: "+head+"\n") {
			t.Errorf("vdc version text lacks the revision:\n%s", text)
		}
	}
	build()
	check(false)
	if err := os.WriteFile(filepath.Join(src, "uncommitted.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	build()
	check(true)
}
