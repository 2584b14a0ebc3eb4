package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/cmd/vdc/cli"
)

// TestDebPackage builds the .deb as make deb does (nFPM in packaging/,
// this build of vdc, the man pages) and checks it with dpkg-deb: the files
// and their modes, the conffiles under /etc/vdc, the control fields, the
// maintainer scripts (shellcheck), the checksum line, the packaged binary,
// and the unit with systemd-analyze verify and security.
func TestDebPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the packaging tool")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Fatal("dpkg-deb is not installed (Debian's dpkg): the .deb cannot be checked")
	}
	man := t.TempDir()
	if err := cli.WriteManPages(man); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", ".", "-bin", vdcBin, "-version", "v1.2.3-rc.1", "-arch", "amd64",
		"-out", out, "-man", man, "-root", "..", "-mtime", "2026-01-02T03:04:05Z")
	cmd.Dir = "../../packaging"
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("packaging: %v\n%s", err, b)
	}
	deb := strings.TrimSpace(string(b[strings.LastIndexByte(strings.TrimSpace(string(b)), '\n')+1:]))
	if filepath.Base(deb) != "vdc_1.2.3~rc.1_amd64.deb" {
		t.Fatalf("package %q", deb)
	}
	dpkg := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("dpkg-deb", args...).Output()
		if err != nil {
			t.Fatalf("dpkg-deb %v: %v", args, err)
		}
		return string(out)
	}

	list := dpkg("-c", deb)
	for _, want := range []string{
		`-rwxr-xr-x root/root +\d+ 2026-01-02 03:04 \./usr/bin/vdc$`,
		`-rw-r--r-- root/root +\d+ .* \./usr/lib/systemd/system/vdc\.service$`,
		`-rw-r--r-- root/root +\d+ .* \./usr/lib/sysusers\.d/vdc\.conf$`,
		`-rw-r--r-- root/root +\d+ .* \./etc/vdc/vdc\.yaml$`,
		`-rw------- root/root +\d+ .* \./etc/vdc/env$`,
		`\./usr/share/man/man1/vdc-serve\.1$`,
		`\./usr/share/doc/vdc/operations\.md$`,
	} {
		if !regexp.MustCompile(`(?m)` + want).MatchString(list) {
			t.Errorf("dpkg-deb -c lacks %s:\n%s", want, list)
		}
	}
	for field, want := range map[string]string{"Package": "vdc", "Version": "1.2.3~rc.1", "Architecture": "amd64", "Section": "admin"} {
		if got := strings.TrimSpace(dpkg("-f", deb, field)); got != want {
			t.Errorf("control %s = %q, want %q", field, got, want)
		}
	}
	ctrl := t.TempDir()
	dpkg("-e", deb, ctrl)
	conf, _ := os.ReadFile(filepath.Join(ctrl, "conffiles"))
	if !strings.Contains(string(conf), "/etc/vdc/vdc.yaml\n") || !strings.Contains(string(conf), "/etc/vdc/env\n") {
		t.Errorf("conffiles:\n%s", conf)
	}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		if out, err := exec.Command(sc, filepath.Join(ctrl, "postinst"), filepath.Join(ctrl, "prerm"), filepath.Join(ctrl, "postrm")).CombinedOutput(); err != nil {
			t.Errorf("shellcheck of the maintainer scripts: %v\n%s", err, out)
		}
	}

	// The checksum line matches the file.
	raw, _ := os.ReadFile(deb)
	sum := sha256.Sum256(raw)
	sums, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if string(sums) != hex.EncodeToString(sum[:])+"  "+filepath.Base(deb)+"\n" {
		t.Errorf("SHA256SUMS:\n%s", sums)
	}

	// The payload: the binary runs, the configuration is the defaults, the
	// unit verifies.
	root := t.TempDir()
	dpkg("-x", deb, root)
	if v, err := exec.Command(filepath.Join(root, "usr/bin/vdc"), "--version").Output(); err != nil || !strings.HasPrefix(string(v), "vdc ") {
		t.Errorf("the packaged vdc --version: %v %q", err, v)
	}
	example, _ := os.ReadFile("../../vdc.example.yaml")
	if got, _ := os.ReadFile(filepath.Join(root, "etc/vdc/vdc.yaml")); string(got) != string(example) {
		t.Error("/etc/vdc/vdc.yaml is not vdc.example.yaml")
	}
	unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/vdc.service"))
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := os.ReadFile("../../docs/operations.md")
	if !strings.Contains(string(docs), "```ini\n"+string(unit)+"```") {
		t.Error("docs/operations.md does not show the packaged unit")
	}
	for _, want := range []string{"User=vdc", "StateDirectory=vdc", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "ExecStart=/usr/bin/vdc serve --config /etc/vdc/vdc.yaml --data /var/lib/vdc"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is not installed (Debian package systemd; `make prereqs` installs it): the unit cannot be verified")
	}
	// verify checks that ExecStart exists: point it at the extracted binary.
	u := filepath.Join(t.TempDir(), "vdc.service")
	if err := os.WriteFile(u, []byte(strings.ReplaceAll(string(unit), "/usr/bin/vdc", filepath.Join(root, "usr/bin/vdc"))), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", u).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	sec, err := exec.Command(sa, "security", "--offline=yes", u).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for vdc\.service: ([0-9.]+)`).FindSubmatch(sec)
	if m == nil {
		t.Logf("systemd-analyze security --offline: %v\n%s", err, sec) // older systemd: no offline mode
		return
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.5 {
		t.Errorf("exposure level %s, want at most 2.5 (systemd's \"OK\")", m[1])
	} else {
		t.Logf("systemd-analyze security: exposure %s", m[1])
	}
}
