package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestOperationsUnitVerifies: the systemd unit docs/operations.md shows
// passes systemd-analyze verify with this build of vdc as its ExecStart.
func TestOperationsUnitVerifies(t *testing.T) {
	raw, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```ini\n(.*?)```").FindSubmatch(raw)
	if m == nil {
		t.Fatal("docs/operations.md has no ```ini unit")
	}
	unit := string(m[1])
	for _, want := range []string{"User=vdc", "StateDirectory=vdc", "ProtectSystem=strict", "NoNewPrivileges=yes", "ExecStart=/usr/bin/vdc serve "} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit is not verified")
	}
	path := filepath.Join(t.TempDir(), "vdc.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/bin/vdc", vdcBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDocsStayInTheRepository: the README and docs/ link only to files
// that exist in this repository.
func TestDocsStayInTheRepository(t *testing.T) {
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	link := regexp.MustCompile(`\]\(([^)#]+)(#[^)]*)?\)`)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "../shared/") {
			t.Errorf("%s points outside the repository (../shared/)", f)
		}
		for _, m := range link.FindAllStringSubmatch(string(raw), -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), target)); err != nil {
				t.Errorf("%s links to %s, which does not exist", f, target)
			}
		}
	}
}
