package reconciler_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/agentvdc/agentvdc/"

// goFile is one parsed file of the module, with its directory relative to
// the module root.
type goFile struct {
	dir, path string
	test      bool
	ast       *ast.File
}

func moduleFiles(t *testing.T) []goFile {
	t.Helper()
	root := ".."
	var out []goFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		out = append(out, goFile{dir: filepath.ToSlash(rel), path: filepath.ToSlash(path), test: strings.HasSuffix(path, "_test.go"), ast: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func under(dir, prefix string) bool { return dir == prefix || strings.HasPrefix(dir, prefix+"/") }

// TestLayering keeps the architecture the folders show: the daemon does
// not know the HTTP API (the API adapts the daemon's types), the clouds
// know neither, and plan stays pure.
func TestLayering(t *testing.T) {
	rules := []struct {
		from, why string
		banned    []string
	}{
		{"reconciler/daemon", "the API adapts the daemon, not the reverse", []string{module + "reconciler/api"}},
		{"reconciler/clouds", "a cloud adapter or simulator knows nothing of the daemon or the API",
			[]string{module + "reconciler/daemon", module + "reconciler/api", module + "cmd"}},
		{"plan", "plan is pure (no I/O)", []string{"os", "os/exec", "net/http", "io/fs", "path/filepath", module + "state", module + "reconciler"}},
		{"state", "state stores; it does not reconcile", []string{module + "reconciler", module + "agents"}},
	}
	for _, f := range moduleFiles(t) {
		if f.test {
			continue
		}
		for _, r := range rules {
			if !under(f.dir, r.from) {
				continue
			}
			for _, imp := range f.ast.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, b := range r.banned {
					if p == b || strings.HasPrefix(p, b+"/") {
						t.Errorf("%s imports %s: %s", f.path, p, r.why)
					}
				}
			}
		}
	}
}

// TestOneConvergePath: only Converge runs the executor, takes customer
// leases and writes the apply history; everything else (the daemon,
// vdc apply, vdc reconcile) calls Converge.
func TestOneConvergePath(t *testing.T) {
	owner := map[string]string{
		"executor":      "reconciler/converge.go", // the executor's only user
		"TakeLease":     "reconciler/converge.go",
		"AppendHistory": "reconciler/converge.go",
	}
	for _, f := range moduleFiles(t) {
		if f.test || under(f.dir, "state") {
			continue
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			var name string
			switch x := n.(type) {
			case *ast.CompositeLit:
				if id, ok := x.Type.(*ast.Ident); ok {
					name = id.Name
				}
			case *ast.CallExpr:
				switch fn := x.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					name = fn.Sel.Name
				}
			}
			if want, ok := owner[name]; ok && f.path != "../"+want {
				t.Errorf("%s uses %s: a converge step outside Converge (%s); call reconciler.Converger.Converge", f.path, name, want)
			}
			return true
		})
	}
}
