package gitsource

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/gitsource/gittest"
)

func gitDaemon(t *testing.T, root string) string { return gittest.Daemon(t, root) }

func run(t *testing.T, dir string, args ...string) string { return gittest.Git(t, dir, args...) }

func writeCustomer(t *testing.T, work, name string) {
	t.Helper()
	data := fmt.Sprintf("name: %s\ndisplayName: %s\nowner: a@b.example\ntier: pro\n", name, name)
	if err := os.MkdirAll(filepath.Join(work, "customers"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "customers", name+".yaml"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setup makes a bare repository served by git daemon and a work clone of it
// with one commit on main.
func setup(t *testing.T) (url, work string) {
	t.Helper()
	root := t.TempDir()
	run(t, root, "init", "-q", "--bare", "-b", "main", "customers.git")
	url = gitDaemon(t, root) + "/customers.git"
	work = filepath.Join(t.TempDir(), "work")
	run(t, filepath.Dir(work), "init", "-q", "-b", "main", work)
	writeCustomer(t, work, "acme")
	run(t, work, "add", ".")
	run(t, work, "commit", "-q", "-m", "add acme")
	run(t, work, "remote", "add", "origin", url)
	run(t, work, "push", "-q", "origin", "main")
	return url, work
}

func names(t *testing.T, r *Repo, ref string) []string {
	t.Helper()
	c, err := r.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.Files(c, "customers")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

func TestRemoteCloneFetchForcePush(t *testing.T) {
	ctx := context.Background()
	url, work := setup(t)
	cache := t.TempDir()

	repo, _, err := Open(ctx, Options{URL: url, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, repo, "main"); strings.Join(got, ",") != "customers/acme.yaml" {
		t.Fatalf("files at main = %v", got)
	}
	if got := names(t, repo, ""); len(got) != 1 {
		t.Fatalf("default branch files = %v", got)
	}

	// Nothing new: the fetch transfers nothing.
	before, _ := repo.ObjectCount()
	res, err := repo.Fetch(ctx)
	if err != nil || !res.UpToDate {
		t.Fatalf("fetch with nothing new: %+v, %v", res, err)
	}
	if after, _ := repo.ObjectCount(); after != before {
		t.Fatalf("objects %d -> %d on an empty fetch", before, after)
	}

	// A new commit arrives incrementally: only its own objects.
	writeCustomer(t, work, "bluebird")
	run(t, work, "add", ".")
	run(t, work, "commit", "-q", "-m", "add bluebird")
	run(t, work, "push", "-q", "origin", "main")
	res, err = repo.Fetch(ctx)
	if err != nil || res.UpToDate || len(res.Updates) != 1 || res.Updates[0].Forced {
		t.Fatalf("fetch of a new commit: %+v, %v", res, err)
	}
	after, _ := repo.ObjectCount()
	if d := after - before; d != 4 { // commit, root tree, customers tree, blob
		t.Errorf("incremental fetch added %d objects, want 4", d)
	}
	if got := names(t, repo, "main"); len(got) != 2 {
		t.Fatalf("after the new commit: %v", got)
	}

	// A force-push rewrites history: followed and reported.
	run(t, work, "reset", "-q", "--hard", "HEAD~1")
	writeCustomer(t, work, "casa-verde")
	run(t, work, "add", ".")
	run(t, work, "commit", "-q", "-m", "add casa-verde instead")
	run(t, work, "push", "-q", "-f", "origin", "main")
	res, err = repo.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	forced := res.Forced()
	if len(forced) != 1 || forced[0].Ref != "refs/remotes/origin/main" {
		t.Fatalf("force-push not reported: %+v", res)
	}
	if got := strings.Join(names(t, repo, "main"), ","); got != "customers/acme.yaml,customers/casa-verde.yaml" {
		t.Fatalf("after force-push: %s", got)
	}

	// Reopening the cache does not clone again.
	repo2, res2, err := Open(ctx, Options{URL: url, CacheDir: cache})
	if err != nil || !res2.UpToDate {
		t.Fatalf("reopen: %+v %v", res2, err)
	}
	if n, _ := repo2.ObjectCount(); n != after+4 {
		t.Logf("objects after reopen: %d", n)
	}
}

func TestResolveTagsCommitsAndErrors(t *testing.T) {
	ctx := context.Background()
	url, work := setup(t)
	first := run(t, work, "rev-parse", "HEAD")
	run(t, work, "tag", "-a", "v1", "-m", "release 1")
	writeCustomer(t, work, "bluebird")
	run(t, work, "add", ".")
	run(t, work, "commit", "-q", "-m", "two")
	run(t, work, "push", "-q", "--tags", "origin", "main")
	repo, _, err := Open(ctx, Options{URL: url, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]int{"v1": 1, first: 1, first[:10]: 1, "main": 2} {
		if got := names(t, repo, ref); len(got) != want {
			t.Errorf("ref %s: %d files, want %d", ref, len(got), want)
		}
	}
	_, err = repo.Resolve("no-such-branch")
	if err == nil || !strings.Contains(err.Error(), `"no-such-branch"`) || !strings.Contains(err.Error(), url) {
		t.Errorf("unknown ref error must name the ref and the remote: %v", err)
	}
}

func TestUnreachableRemoteNamesItWithoutCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens here now
	for _, u := range []string{
		fmt.Sprintf("git://127.0.0.1:%d/customers.git", port),
		fmt.Sprintf("https://deploy:s3cr3t-t0ken@127.0.0.1:%d/org/customers.git", port),
	} {
		_, _, err := Open(ctx, Options{URL: u, CacheDir: t.TempDir(), Token: "another-s3cr3t"})
		if err == nil {
			t.Fatalf("%s: no error", Redact(u))
		}
		msg := err.Error()
		if strings.Contains(msg, "s3cr3t") {
			t.Errorf("error leaks a credential: %s", msg)
		}
		if !strings.Contains(msg, fmt.Sprintf("127.0.0.1:%d", port)) {
			t.Errorf("error does not name the remote: %s", msg)
		}
	}
}

func TestLocalRepositoryAndFileURL(t *testing.T) {
	ctx := context.Background()
	work := filepath.Join(t.TempDir(), "work")
	run(t, filepath.Dir(work), "init", "-q", "-b", "main", work)
	writeCustomer(t, work, "acme")
	if err := os.Symlink("acme.yaml", filepath.Join(work, "customers", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	run(t, work, "add", ".")
	run(t, work, "commit", "-q", "-m", "one")

	local, _, err := Open(ctx, Options{URL: work})
	if err != nil {
		t.Fatal(err)
	}
	c, err := local.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	files, err := local.Files(c, "customers")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Data == nil || !files[1].Symlink || files[1].Data != nil {
		t.Fatalf("local files: %+v", files)
	}

	remote, _, err := Open(ctx, Options{URL: "file://" + work, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, remote, "main"); len(got) != 2 {
		t.Fatalf("file:// files: %v", got)
	}
	if _, err := remote.Files(c, "nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing directory: %v", err)
	}
}
