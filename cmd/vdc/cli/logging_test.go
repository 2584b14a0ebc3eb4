package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	log, err := newLogger(&b, "", "")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("step", "duration", 1500*time.Millisecond, "n", 3)
	log.Debug("hidden")
	if got := b.String(); !strings.HasPrefix(got, "{") || !strings.Contains(got, `"duration":"1.5s"`) || !strings.Contains(got, `"n":3`) || strings.Contains(got, "hidden") {
		t.Errorf("not a terminal: want JSON at info with the duration as a string, got %s", got)
	}
	b.Reset()
	log, _ = newLogger(&b, "text", "debug")
	log.With("customer", "acme").Debug("step", "took", 2*time.Minute)
	if got := b.String(); !strings.Contains(got, "level=DEBUG msg=step customer=acme took=2m0s") {
		t.Errorf("text: %s", got)
	}
	for _, bad := range [][2]string{{"xml", ""}, {"", "loud"}} {
		if _, err := newLogger(&b, bad[0], bad[1]); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
