package main

import (
	"archive/tar"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestContainerImage builds the container image as make image does (the
// static binary on an empty base, go-containerregistry in packaging/, no
// container engine) and inspects the tarball: its manifest, the config
// (entrypoint, command, non-root user, volume, port, labels) and the
// layer's files.
func TestContainerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a static vdc and the packaging tool")
	}
	out := t.TempDir()
	pack := func(bin string) ([]byte, error) {
		cmd := exec.Command("go", "run", ".", "-image", "-bin", bin, "-version", "v1.2.3", "-arch", "amd64",
			"-out", out, "-revision", "0123456789abcdef", "-mtime", "2026-01-02T03:04:05Z")
		cmd.Dir = "../../packaging"
		return cmd.CombinedOutput()
	}
	// A dynamically linked vdc (cgo) is refused: an empty base has no libc.
	if dynamic(t, vdcBin) {
		if b, err := pack(vdcBin); err == nil || !strings.Contains(string(b), "is dynamically linked: build it with CGO_ENABLED=0") {
			t.Errorf("a dynamic binary was not refused: %v\n%s", err, b)
		}
	}
	static := filepath.Join(t.TempDir(), "vdc")
	build := exec.Command("go", "build", "-trimpath", "-o", static, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, b)
	}
	b, err := pack(static)
	if err != nil {
		t.Fatalf("packaging -image: %v\n%s", err, b)
	}
	path := filepath.Join(out, "vdc_1.2.3_amd64.image.tar")

	files := map[string][]byte{}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(h.Name, ".tar.gz") {
			files[h.Name] = nil // the layer: checked through its listing below
			continue
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v %s", err, files["manifest.json"])
	}
	m := manifest[0]
	if len(m.RepoTags) != 1 || m.RepoTags[0] != "agentvdc/vdc:1.2.3-amd64" || len(m.Layers) != 1 {
		t.Errorf("manifest %+v", m)
	}
	var cfg struct {
		Architecture, OS string
		Config           struct {
			Entrypoint, Cmd, Env []string
			User, WorkingDir     string
			ExposedPorts         map[string]struct{}
			Volumes              map[string]struct{}
			Labels               map[string]string
		} `json:"config"`
	}
	if err := json.Unmarshal(files[m.Config], &cfg); err != nil {
		t.Fatalf("config %s: %v", m.Config, err)
	}
	c := cfg.Config
	if cfg.Architecture != "amd64" || cfg.OS != "linux" {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if strings.Join(c.Entrypoint, " ") != "/usr/bin/vdc" || strings.Join(c.Cmd, " ") != "serve --listen 0.0.0.0:8787 --data /var/lib/vdc --log-format json" {
		t.Errorf("entrypoint %q, cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.User != "65532:65532" || strings.HasPrefix(c.User, "0") || strings.HasPrefix(c.User, "root") {
		t.Errorf("user %q: want the non-root 65532:65532", c.User)
	}
	if _, ok := c.Volumes["/var/lib/vdc"]; !ok || c.WorkingDir != "/var/lib/vdc" {
		t.Errorf("volumes %v, workdir %q", c.Volumes, c.WorkingDir)
	}
	if _, ok := c.ExposedPorts["8787/tcp"]; !ok {
		t.Errorf("ports %v", c.ExposedPorts)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version": "1.2.3", "org.opencontainers.image.revision": "0123456789abcdef",
		"org.opencontainers.image.source": "https://github.com/agentvdc/agentvdc", "org.opencontainers.image.created": "2026-01-02T03:04:05Z",
		"org.opencontainers.image.title": "vdc",
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
		}
	}

	// The layer: the binary, the CA bundle, the user, a state directory the
	// user owns.
	list, err := exec.Command("sh", "-c", "tar -xOf '"+path+"' '"+m.Layers[0]+"' | tar -tvzf -").Output()
	if err != nil {
		t.Fatalf("list the layer: %v", err)
	}
	for _, want := range []string{"-rwxr-xr-x 0/0", "usr/bin/vdc", "etc/ssl/certs/ca-certificates.crt", "etc/passwd", "drwx------ 65532/65532", "var/lib/vdc/"} {
		if !strings.Contains(string(list), want) {
			t.Errorf("the layer lacks %q:\n%s", want, list)
		}
	}
	sums, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if !strings.Contains(string(sums), "  vdc_1.2.3_amd64.image.tar\n") {
		t.Errorf("SHA256SUMS:\n%s", sums)
	}
}

func dynamic(t *testing.T, path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}
