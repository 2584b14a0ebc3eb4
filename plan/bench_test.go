package plan

import (
	"testing"
)

func benchBuild(b *testing.B, observed bool) {
	cs := fleet(b, 1000)
	in := Input{Commit: "c0ffee", Customers: cs, Now: testNow, ObservedAtAll: testNow, Prices: testPrices()}
	if observed {
		in.Observed = converged(cs...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := Build(in)
		if err != nil {
			b.Fatal(err)
		}
		if observed == p.HasChanges() {
			b.Fatalf("converged=%v but HasChanges=%v", observed, p.HasChanges())
		}
	}
}

// BenchmarkBuild1000Converged: plan of 1,000 customers against a warm
// cache that matches git (the daemon's steady state).
func BenchmarkBuild1000Converged(b *testing.B) { benchBuild(b, true) }

// BenchmarkBuild1000New: plan of 1,000 customers against empty clouds.
func BenchmarkBuild1000New(b *testing.B) { benchBuild(b, false) }

func BenchmarkRenderMarkdown1000New(b *testing.B) {
	p, err := Build(Input{Customers: fleet(b, 1000), Now: testNow, Prices: testPrices()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var sb countingWriter
		if err := RenderMarkdown(&sb, p, MarkdownOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
