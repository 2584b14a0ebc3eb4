package embedded_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/embedded"
	"github.com/agentvdc/agentvdc/agents/storetest"
)

func TestObjectStoreConformance(t *testing.T) {
	storetest.TestObjectStore(t, func(t *testing.T) agents.ObjectStore {
		return embedded.NewDir(t.TempDir())
	})
}

func TestVectorStoreConformance(t *testing.T) {
	storetest.TestVectorStore(t, func(t *testing.T) agents.VectorStore {
		v := embedded.NewVectors(t.TempDir())
		t.Cleanup(func() { v.Close() })
		return v
	})
}

func TestGraphStoreConformance(t *testing.T) {
	storetest.TestGraphStore(t, func(t *testing.T) agents.GraphStore {
		g := embedded.NewGraph(t.TempDir())
		t.Cleanup(func() { g.Close() })
		return g
	})
}

func TestDirRefusesEscapes(t *testing.T) {
	root := t.TempDir()
	d := embedded.NewDir(root)
	ctx := context.Background()
	if _, err := d.Put(ctx, "acme-co", "ok.txt", strings.NewReader("fine"), -1); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("outside the customer dir"), 0o600); err != nil {
		t.Fatal(err)
	}
	objs, _ := d.ObjectsPath("acme-co")
	if err := os.Symlink(outside, filepath.Join(objs, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(objs, "linkdir")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  string
		want error
	}{
		{"dot-dot", "../beta-co/objects/x", agents.ErrInvalidKey},
		{"absolute", "/etc/passwd", agents.ErrInvalidKey},
		{"symlink to a file outside", "link.txt", nil},
		{"through a symlinked dir", "linkdir/secret.txt", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, _, err := d.Get(ctx, "acme-co", tc.key)
			if err == nil {
				b, _ := io.ReadAll(rc)
				rc.Close()
				t.Fatalf("Get(%q) escaped the customer dir and read %q", tc.key, b)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Get(%q): %v, want %v", tc.key, err, tc.want)
			}
		})
	}
	p, err := d.List(ctx, "acme-co", agents.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Objects) != 1 || p.Objects[0].Key != "ok.txt" {
		t.Fatalf("List shows symlinks: %+v", p.Objects)
	}
	if _, err := d.ObjectsPath("../etc"); !errors.Is(err, agents.ErrInvalidCustomer) {
		t.Fatalf("ObjectsPath accepted a path: %v", err)
	}
}

func TestDroppedFileWeakETag(t *testing.T) {
	d := embedded.NewDir(t.TempDir())
	ctx := context.Background()
	if _, err := d.Put(ctx, "acme-co", "a.txt", strings.NewReader("v1"), -1); err != nil {
		t.Fatal(err)
	}
	objs, _ := d.ObjectsPath("acme-co")
	if err := os.WriteFile(filepath.Join(objs, "dropped.txt"), []byte("dropped by hand"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := d.Stat(ctx, "acme-co", "dropped.txt")
	if err != nil || !strings.HasPrefix(st.ETag, "w-") || st.Size != 15 {
		t.Fatalf("dropped file info %+v, %v", st, err)
	}
	a1, _ := d.Stat(ctx, "acme-co", "a.txt")
	// Rewriting a Put object behind the store's back invalidates its MD5.
	if err := os.WriteFile(filepath.Join(objs, "a.txt"), []byte("v2 changed"), 0o600); err != nil {
		t.Fatal(err)
	}
	a2, _ := d.Stat(ctx, "acme-co", "a.txt")
	if a2.ETag == a1.ETag || !strings.HasPrefix(a2.ETag, "w-") {
		t.Fatalf("etag after out-of-band change: %q -> %q", a1.ETag, a2.ETag)
	}
}

// TestDumpFoldersArePrivate: a customer's dump holds its data; nobody but
// the daemon's user may read it (issue 11: folders were 0750, files 0640).
func TestDumpFoldersArePrivate(t *testing.T) {
	root := t.TempDir()
	// A dump made by an earlier release, with the old group-readable mode.
	if err := os.MkdirAll(filepath.Join(root, "acme-co", "objects"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "acme-co"), 0o750); err != nil {
		t.Fatal(err)
	}
	d := embedded.NewDir(root)
	ctx := context.Background()
	for _, key := range []string{"top.txt", "reports/2026/q1.txt"} {
		if _, err := d.Put(ctx, "acme-co", key, strings.NewReader("private"), -1); err != nil {
			t.Fatal(err)
		}
	}
	v := embedded.NewVectors(root)
	t.Cleanup(func() { v.Close() })
	if _, err := v.EnsureCollection(ctx, "acme-co", agents.CollectionConfig{Embedder: "test-v1", Sparse: true}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err := filepath.WalkDir(filepath.Join(root, "acme-co"), func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 && p != filepath.Join(root, "acme-co", "objects") {
			t.Errorf("%s: mode %v, want no group or other access", p, perm)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 5 {
		t.Fatalf("walked only %d entries; the test no longer sees the dump", seen)
	}
}
