package clientlimit

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"push", 64, "push"},
		{"a\nb\r\x00c\x1b[31m", 64, "a?b??c?[31m"},
		{"x\u202ey", 64, "x?y"},
		{"\xff\xfe", 64, "??"},
		{strings.Repeat("a", 100), 10, "aaaaaaaaaa…(100 bytes)"},
		{"ééééé", 5, "éé…(10 bytes)"},
	}
	for _, tc := range tests {
		got := Sanitize(tc.in, tc.max)
		if got != tc.want {
			t.Errorf("Sanitize(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Sanitize(%q) is not valid UTF-8", tc.in)
		}
	}
}

func TestPerClientBoundedAndPerKey(t *testing.T) {
	p := NewPerClient(rate.Limit(0.001), 2)
	if !p.Allow("a") || !p.Allow("a") || p.Allow("a") {
		t.Fatal("a: want 2 allowed, then refused")
	}
	if !p.Exhausted("a") || p.Exhausted("b") || !p.Allow("b") {
		t.Fatal("buckets are not per client")
	}
	if p.RetryAfter("a") < 1 {
		t.Fatal("RetryAfter < 1")
	}
	p.max = 100
	for i := 0; i < 1000; i++ {
		p.Allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if n := p.Len(); n > 100 {
		t.Fatalf("%d clients tracked, max 100", n)
	}
}

func TestLogGate(t *testing.T) {
	g := NewLogGate(rate.Limit(0.001), 3)
	logged := 0
	for i := 0; i < 10; i++ {
		if ok, _ := g.Allow(); ok {
			logged++
		}
	}
	if logged != 3 {
		t.Fatalf("logged %d of 10, want 3", logged)
	}
	g.lim.SetLimit(rate.Inf)
	if ok, n := g.Allow(); !ok || n != 7 {
		t.Fatalf("after the pause: ok %v suppressed %d, want true 7", ok, n)
	}
}
