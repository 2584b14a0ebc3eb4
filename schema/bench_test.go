package schema

import (
	"fmt"
	"testing"
)

func thousandFiles() []File {
	tiers := []string{"casual", "pro", "enterprise"}
	files := make([]File, 1000)
	for i := range files {
		name := fmt.Sprintf("cust-%04d", i)
		data := fmt.Sprintf("name: %s\ndisplayName: Customer %d\nowner: ops@c%d.example\ntier: %s\nregion: fsn1\nlabels:\n  n: \"%d\"\n", name, i, i, tiers[i%3], i)
		files[i] = File{Path: "customers/" + name + ".yaml", Data: []byte(data)}
	}
	return files
}

// BenchmarkLoad1000Cold: a fresh loader (empty cache) per iteration.
func BenchmarkLoad1000Cold(b *testing.B) {
	files := thousandFiles()
	for b.Loop() {
		l, err := NewLoader()
		if err != nil {
			b.Fatal(err)
		}
		if res := l.Load(files); !res.OK() {
			b.Fatal(res.Error())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "µs/customer")
}

// BenchmarkLoad1000Warm: the same files again; every one is a cache hit.
func BenchmarkLoad1000Warm(b *testing.B) {
	files := thousandFiles()
	l, err := NewLoader()
	if err != nil {
		b.Fatal(err)
	}
	l.Load(files)
	b.ResetTimer()
	for b.Loop() {
		if res := l.Load(files); !res.OK() {
			b.Fatal(res.Error())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "µs/customer")
}
