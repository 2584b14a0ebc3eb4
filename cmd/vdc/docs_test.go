package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runnableBlock is a shell block of the README or docs/ marked, on the
// line before it, "<!-- runnable -->" (run in a checkout copy) or
// "<!-- runnable: daemon -->" (with vdc serve --sim running there).
type runnableBlock struct {
	file, script string
	line         int
	daemon       bool
}

var runnableMark = regexp.MustCompile("(?m)^<!-- runnable(: daemon)? -->\n```sh\n((?s:.*?))```")

func runnableBlocks(t *testing.T) []runnableBlock {
	t.Helper()
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	var out []runnableBlock
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range runnableMark.FindAllSubmatchIndex(b, -1) {
			out = append(out, runnableBlock{file: filepath.Base(f), script: string(b[m[4]:m[5]]), daemon: m[2] >= 0,
				line: bytes.Count(b[:m[0]], []byte("\n")) + 1})
		}
	}
	return out
}

// TestRunnableDocs (issue 15) runs every block the README and docs mark as
// runnable, as written, with this build's vdc on the PATH, in a git
// checkout holding the example customers; a block whose commands fail
// fails the test.
func TestRunnableDocs(t *testing.T) {
	blocks := runnableBlocks(t)
	if len(blocks) < 2 {
		t.Fatalf("found %d runnable blocks; the README's tour and docs/ci.md's API call are marked", len(blocks))
	}
	for _, b := range blocks {
		t.Run(b.file+":"+strings.TrimSpace(strings.SplitN(b.script, "\n", 2)[0]), func(t *testing.T) {
			dir := t.TempDir()
			ents, _ := os.ReadDir("../../customers")
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".yaml") {
					data, _ := os.ReadFile(filepath.Join("../../customers", e.Name()))
					writeFile(t, filepath.Join(dir, "customers", e.Name()), string(data))
				}
			}
			env := append(os.Environ(), "PATH="+filepath.Dir(vdcBin)+string(os.PathListSeparator)+os.Getenv("PATH"),
				"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
			for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "examples"}, {"branch", "my-branch"}} {
				cmd := exec.Command("git", args...)
				cmd.Dir, cmd.Env = dir, env
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
			}
			if b.daemon {
				serve := exec.Command(vdcBin, "serve", "--sim", "--repo", ".", "--ref", "main", "--data", ".vdc", "--listen", "127.0.0.1:0", "--poll", "200ms")
				serve.Dir, serve.Env = dir, env
				if err := serve.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })
				deadline := time.Now().Add(60 * time.Second)
				for {
					u, _ := os.ReadFile(filepath.Join(dir, ".vdc", "daemon-url"))
					k, _ := os.ReadFile(filepath.Join(dir, ".vdc", "api-token"))
					if len(u) > 0 && len(k) > 0 {
						// The block names the default address; point it at this daemon.
						env = append(env, "VDC_TEST_DAEMON="+strings.TrimSpace(string(u)))
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("vdc serve --sim did not start")
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			script := b.script
			if b.daemon {
				script = strings.ReplaceAll(script, "http://127.0.0.1:8787", "$VDC_TEST_DAEMON")
			}
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s:%d: the block fails: %v\n%s", b.file, b.line, err, out)
			}
		})
	}
}
