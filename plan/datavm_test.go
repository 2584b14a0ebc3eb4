package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func dataSecrets(t *testing.T) DataVMSecrets {
	priv, _ := testKey(t, "datavm")
	_, st := testKey(t, "storage")
	return DataVMSecrets{WireGuardPrivateKey: priv, StoragePublicKey: st, StorageEndpoint: "203.0.113.7",
		MinIOAccessKey: "vdc0123456789abcdef", MinIOSecretKey: "minio-secret-minio-secret-0123",
		Neo4jPassword: "neo4j-password-neo4j-password", QdrantAPIKey: "qdrant-api-key-qdrant-api-key-0123456789"}
}

func TestRenderDataVMStartScript(t *testing.T) {
	a := addrsOf("acme")
	s := dataSecrets(t)
	rel := DataReleases()
	tests := []struct {
		services string
		enabled  []string
	}{
		{"minio,neo4j,qdrant", []string{ServiceMinIO, ServiceNeo4j, ServiceQdrant}},
		{"minio", []string{ServiceMinIO}},
		{"neo4j,qdrant", []string{ServiceNeo4j, ServiceQdrant}},
		{"", nil},
	}
	for _, tt := range tests {
		t.Run("services="+tt.services, func(t *testing.T) {
			b := DataVMBootstrapFor("acme", a, tt.services)
			out, err := RenderDataVMStartScript(b, s)
			if err != nil {
				t.Fatal(err)
			}
			script := string(out)
			if !strings.HasPrefix(script, "#!/bin/sh\n") || !strings.Contains(script, "bootstrap "+b.Hash()) {
				t.Errorf("header:\n%.200s", script)
			}
			// wg0: the data VM's mesh address, the storage node as its only peer.
			for _, want := range []string{"Address = 10.64.0.3/25", "PrivateKey = " + s.WireGuardPrivateKey,
				"PublicKey = " + s.StoragePublicKey, "Endpoint = 203.0.113.7:51820", "AllowedIPs = 10.64.0.0/25",
				"PersistentKeepalive = 25"} {
				if !strings.Contains(script, want) {
					t.Errorf("wg0.conf lacks %q", want)
				}
			}
			on := map[string]bool{}
			for _, svc := range tt.enabled {
				on[svc] = true
			}
			checks := map[string][]string{
				ServiceMinIO: {"--address 10.64.0.3:9000", "MINIO_ROOT_USER=" + s.MinIOAccessKey, "MINIO_ROOT_PASSWORD=" + s.MinIOSecretKey,
					"MINIO_BROWSER=off", "http://10.64.0.3:9000/minio/health/live", "run_unit agentvdc-minio.service"},
				ServiceQdrant: {"QDRANT__SERVICE__HOST=10.64.0.3", "QDRANT__SERVICE__HTTP_PORT=6333", "QDRANT__SERVICE__GRPC_PORT=6334",
					"QDRANT__SERVICE__API_KEY=" + s.QdrantAPIKey, "http://10.64.0.3:6333/healthz", "run_unit agentvdc-qdrant.service"},
				ServiceNeo4j: {"server.bolt.listen_address=10.64.0.3:7687", "server.http.listen_address=127.0.0.1:7474",
					"server.https.enabled=false", "set-initial-password \"$neo4j_password\"", "neo4j_password='" + s.Neo4jPassword + "'",
					Neo4jJREPackage, "JAVA_HOME=" + Neo4jJavaHome, "http://127.0.0.1:7474/", "run_unit agentvdc-neo4j.service"},
			}
			for svc, wants := range checks {
				r := rel[svc]
				wants = append(wants, "fetch '"+r.URL+"' "+r.SHA256+" ", "Restart=always", DataVMStateDir+"/"+svc)
				for _, want := range wants {
					if got := strings.Contains(script, want); got != on[svc] && (want != "Restart=always" || len(tt.enabled) == 0) {
						t.Errorf("%s enabled=%v, but script contains %q: %v", svc, on[svc], want, got)
					}
				}
				stop := "systemctl disable --now agentvdc-" + svc + ".service"
				if strings.Contains(script, stop) == on[svc] {
					t.Errorf("%s enabled=%v, but stopping it is %v", svc, on[svc], !on[svc])
				}
			}
			// Nothing listens on all addresses or on the VDC network.
			for _, bad := range []string{"0.0.0.0", "::", a.DataVMIP().String()} {
				if strings.Contains(script, bad) {
					t.Errorf("script mentions %s", bad)
				}
			}
			// Secrets are written to files, never printed.
			for _, line := range strings.Split(script, "\n") {
				for _, secret := range []string{s.WireGuardPrivateKey, s.MinIOSecretKey, s.Neo4jPassword, s.QdrantAPIKey} {
					l := strings.TrimSpace(line)
					if strings.Contains(l, secret) && (strings.HasPrefix(l, "echo") || strings.HasPrefix(l, "printf") || strings.HasPrefix(l, "log")) {
						t.Errorf("a secret is printed: %q", l)
					}
				}
			}
		})
	}
}

// scriptFunctions are the helper functions of a rendered start script, to
// run them on their own.
func scriptFunctions(t *testing.T, script string) string {
	t.Helper()
	start, end := strings.Index(script, "log() {"), strings.Index(script, "\nneed=\"\"")
	if start < 0 || end < start {
		t.Fatal("start script has no helper functions")
	}
	return script[start:end]
}

// The start script's download stops on a checksum mismatch, installs a
// matching file once, and re-verifies what it kept; its file writes report
// whether anything changed.
func TestDataVMScriptFetchAndPut(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing; run make prereqs", tool)
		}
	}
	script, err := RenderDataVMStartScript(DataVMBootstrapFor("acme", addrsOf("acme"), "minio"), dataSecrets(t))
	if err != nil {
		t.Fatal(err)
	}
	funcs := scriptFunctions(t, string(script))
	dir := t.TempDir()
	src := filepath.Join(dir, "release")
	if err := os.WriteFile(src, []byte("the release\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("the release\n"))
	good, bad := hex.EncodeToString(sum[:]), strings.Repeat("ab", 32)
	run := func(body string) (string, error) {
		cmd := exec.Command("sh", "-c", "set -eu\n"+funcs+"\n"+body)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	dest := filepath.Join(dir, "installed")
	out, err := run("fetch 'file://" + src + "' " + bad + " " + dest + "\necho reached")
	if err == nil || !strings.Contains(out, "checksum mismatch for file://"+src) || !strings.Contains(out, "want "+bad+", got "+good) || strings.Contains(out, "reached") {
		t.Errorf("mismatch: err %v, output %q", err, out)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("a mismatching download was installed")
	}
	if matches, _ := filepath.Glob(dest + "*"); len(matches) > 0 {
		t.Errorf("a mismatching download was left behind: %v", matches)
	}
	if out, err := run("fetch 'file://" + src + "' " + good + " " + dest); err != nil {
		t.Fatalf("matching fetch: %v\n%s", err, out)
	}
	// Kept and re-verified: a tampered copy is downloaded again.
	if err := os.WriteFile(dest, []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run("fetch 'file://" + src + "' " + good + " " + dest); err != nil {
		t.Fatalf("re-fetch: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(dest); string(b) != "the release\n" {
		t.Errorf("tampered copy kept: %q", b)
	}
	// put: changed the first time, unchanged the second, mode applied.
	conf := filepath.Join(dir, "service.env")
	out, err = run("for i in 1 2; do if printf 'A=1\\n' | put " + conf + " 0600; then echo changed; else echo same; fi; done")
	if err != nil || out != "changed\nsame\n" {
		t.Errorf("put: %v %q", err, out)
	}
	if fi, err := os.Stat(conf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("put mode: %v %v", fi, err)
	}
}

func TestDataReleasesPinned(t *testing.T) {
	sha := regexp.MustCompile(`^[0-9a-f]{64}$`)
	rel := DataReleases()
	for _, svc := range []string{ServiceMinIO, ServiceNeo4j, ServiceQdrant} {
		r, ok := rel[svc]
		if !ok {
			t.Errorf("no release for %s", svc)
			continue
		}
		if r.Service != svc || !strings.HasPrefix(r.URL, "https://") || !strings.Contains(r.URL, r.Version) || !sha.MatchString(r.SHA256) {
			t.Errorf("%s: %+v", svc, r)
		}
		if strings.Contains(r.URL, "latest") || strings.Contains(r.URL, "dl.min.io") {
			t.Errorf("%s: %s is not a pinned, served URL", svc, r.URL)
		}
	}
	if len(rel) != 3 {
		t.Errorf("%d releases", len(rel))
	}
	// One place: the script carries exactly the pins.
	b := DataVMBootstrapFor("acme", addrsOf("acme"), "minio,neo4j,qdrant")
	if len(b.Releases) != 3 {
		t.Fatalf("bootstrap releases %v", b.Releases)
	}
}
