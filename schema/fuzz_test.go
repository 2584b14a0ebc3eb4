package schema

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes and file names to the loader: it must never
// panic or hang, and every problem must come back as a positioned diagnostic.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/bad/*/customers/*")
	examples, _ := filepath.Glob("../customers/*.yaml")
	for _, p := range append(seeds, examples...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(filepath.Base(p), b)
		}
	}
	l, err := NewLoader()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		res := l.Load([]File{{Path: "customers/" + name, Data: data}})
		for _, d := range res.Diagnostics {
			if d.Line < 1 || d.Column < 1 || d.Message == "" {
				t.Fatalf("diagnostic without position or message: %+v", d)
			}
		}
		if len(res.Customers)+len(res.Diagnostics) == 0 && res.Files > 0 {
			t.Fatalf("file %q neither loaded nor reported", name)
		}
	})
}
