package api

import (
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
