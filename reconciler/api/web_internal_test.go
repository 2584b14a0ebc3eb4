package api

import (
	"strings"
	"testing"
	"time"
)

func TestFormatting(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct{ got, want string }{
		{durString(time.Hour), "1h"},
		{durString(2 * time.Hour), "2h"},
		{durString(90 * time.Minute), "1h30m"},
		{durString(2 * time.Minute), "2m"},
		{durString(5 * time.Second), "5s"},
		{durString(40 * time.Millisecond), "40ms"},
		{durString(0), "—"},
		{ageString(now, time.Time{}), "never"},
		{ageString(now, now.Add(-90*time.Second)), "1m ago"},
		{ageString(now, now.Add(-26*time.Hour)), "26h00m ago"},
		{ageString(now, now.Add(-72*time.Hour)), "3d ago"},
		{untilString(now, now.Add(-time.Second)), "due"},
		{untilString(now, now.Add(40*time.Minute)), "in 40m"},
		{shortCommit("0123456789abcdef"), "0123456789ab"},
		{shortCommit(""), "—"},
		{usd(-3.5), "-$3.50"},
		{usd(12), "$12.00"},
		{trunc("héllo world", 5), "héll…"},
		{safeNext("/customers/a"), "/customers/a"},
		{safeNext("//evil"), "/"},
		{safeNext("/\\evil"), "/"},
		{safeNext("https://evil"), "/"},
	}
	for i, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%d: got %q, want %q", i, tc.got, tc.want)
		}
	}
}

// TestIssue11Item3SafeNext: issue 11, item 3 (open redirect after login).
// Only same-origin paths survive; everything a browser could read as
// another host (tabs and newlines it drops, backslashes it reads as
// slashes, encoded slashes, "//", schemes) becomes "/".
func TestIssue11Item3SafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/customers/acme", "/customers/acme"},
		{"/customers/acme?tab=history#top", "/customers/acme?tab=history#top"},
		{"/", "/"},
		{"", "/"},
		{"/login", "/"},
		{"//evil.example/", "/"},
		{"///evil.example/", "/"},
		{"/\t/evil.example/", "/"},
		{"/\t\t/evil.example/", "/"},
		{"\t//evil.example/", "/"},
		{"/\r\n/evil.example/", "/"},
		{"/\n/evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/\\/evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/%09/evil.example/", "/"},
		{"/%0a/evil.example/", "/"},
		{"/%0D%0A/evil.example/", "/"},
		{"/%2f/evil.example/", "/"},
		{"/%2F%2Fevil.example/", "/"},
		{"%2f%2fevil.example", "/"},
		{"/%5cevil.example", "/"},
		{"/%5C%5Cevil.example", "/"},
		{"/%20/evil.example", "/"},
		{"/ /evil.example", "/"},
		{"/\x00/evil.example", "/"},
		{"/\x7f/evil.example", "/"},
		{"/\u00a0/evil.example", "/"},
		{"/\u3000/evil.example", "/"},
		{"/\u202e/evil.example", "/"},
		{"https://evil.example/", "/"},
		{"http:/evil.example/", "/"},
		{"HTTPS://evil.example", "/"},
		{"//user@evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"JavaScript:alert(1)", "/"},
		{"/javascript:alert(1)", "/javascript:alert(1)"}, // a path on this server
		{"data:text/html,x", "/"},
		{"evil.example", "/"},
		{"customers/acme", "/"},
		{"/" + strings.Repeat("a", 5000), "/"},
	}
	for _, tc := range tests {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
