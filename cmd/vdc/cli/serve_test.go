package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestExampleConfigIsTheDefaults keeps vdc.example.yaml true: it parses
// strictly and spells out exactly the built-in defaults.
func TestExampleConfigIsTheDefaults(t *testing.T) {
	got, err := loadServeConfig("../../../vdc.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := defaultServeConfig()
	enabled := true
	want.Autoscale.Enabled, want.Agents.Enabled = &enabled, &enabled
	if !reflect.DeepEqual(got, want) {
		t.Errorf("vdc.example.yaml differs from the defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigErrorsNameTheProblem(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ yaml, want string }{
		{"listen: x\nlisen: y\n", "field lisen not found"},
		{"repo:\n  poll: soon\n", `line 2: "soon" is not a duration`},
	} {
		p := filepath.Join(dir, "vdc.yaml")
		if err := os.WriteFile(p, []byte(tt.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := loadServeConfig(p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to mention %q", tt.yaml, err, tt.want)
		}
	}
}
