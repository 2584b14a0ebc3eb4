package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The Debian tools that validate what is rendered for a machine; `make
// prereqs` installs them (packages cloud-init, wireguard-tools, shellcheck,
// nftables).
var validators = []struct{ tool, pkg string }{
	{"cloud-init", "cloud-init"},
	{"wg-quick", "wireguard-tools"},
	{"shellcheck", "shellcheck"},
	{"nft", "nftables"},
	{"sh", "dash"},
}

// rendered is one file rendered for a machine, with what it is.
type rendered struct {
	name string // machine/file, for messages and golden names
	kind string // "cloud-config", "script", "wireguard", "nftables"
	body []byte
}

// testFrontendKey is an ed25519 authorized_keys line (wire-format blob of
// a fixed 32-byte key).
func testFrontendKey() string {
	var blob bytes.Buffer
	for _, part := range [][]byte{[]byte("ssh-ed25519"), bytes.Repeat([]byte{7}, 32)} {
		_ = binary.Write(&blob, binary.BigEndian, uint32(len(part)))
		blob.Write(part)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob.Bytes()) + " oneadmin@frontend"
}

// testCred is a deterministic stand-in for a generated credential.
func testCred(label string, n int) string {
	s := sha256.Sum256([]byte(label))
	return base64.RawURLEncoding.EncodeToString(s[:])[:n]
}

// renderMachines renders every machine file of a customer with test keys;
// placeholders maps each secret to the placeholder the golden files show.
func renderMachines(t *testing.T, name string, maxServers int, services string, a Addresses) (files []rendered, placeholders map[string]string) {
	t.Helper()
	placeholders = map[string]string{}
	key := func(label string) (string, string) {
		priv, pub := testKey(t, name+"/"+label)
		placeholders[priv], placeholders[pub] = "<"+label+"-private-key>", "<"+label+"-public-key>"
		return priv, pub
	}
	cred := func(label string, n int) string {
		v := testCred(name+"/"+label, n)
		placeholders[v] = "<" + label + ">"
		return v
	}
	stPriv, stPub := key("storage")
	_, cpPub := key("controlplane")
	dvPriv, dvPub := key("datavm")
	const endpoint = "203.0.113.7"
	pubs := map[int]string{}
	for n := 1; n <= ServerSlots; n++ {
		priv, pub := key("server-" + strconv.Itoa(n))
		pubs[n] = pub
		if n > maxServers {
			continue
		}
		ud, err := RenderServerUserData(ServerBootstrapFor(name, n, a), ServerSecrets{WireGuardPrivateKey: priv,
			StoragePublicKey: stPub, StorageEndpoint: endpoint, FrontendSSHKey: testFrontendKey()})
		if err != nil {
			t.Fatalf("%s server %d: %v", name, n, err)
		}
		files = append(files, rendered{fmt.Sprintf("%s/server-%d.yaml", name, n), "cloud-config", ud})
	}
	ud, err := RenderStorageUserData(StorageBootstrapFor(name, a), StorageSecrets{WireGuardPrivateKey: stPriv,
		ServerPublicKeys: pubs, ControlPlanePublicKey: cpPub, DataVMPublicKey: dvPub})
	if err != nil {
		t.Fatalf("%s storage: %v", name, err)
	}
	files = append(files, rendered{name + "/storage.yaml", "cloud-config", ud})
	b := DataVMBootstrapFor(name, a, services)
	s := DataVMSecrets{WireGuardPrivateKey: dvPriv, StoragePublicKey: stPub, StorageEndpoint: endpoint,
		MinIOAccessKey: "vdc" + cred("minio-access-key", 16), MinIOSecretKey: cred("minio-secret-key", 32),
		Neo4jPassword: cred("neo4j-password", 32), QdrantAPIKey: cred("qdrant-api-key", 43)}
	placeholders[s.MinIOAccessKey] = "<minio-access-key>"
	script, err := RenderDataVMStartScript(b, s)
	if err != nil {
		t.Fatalf("%s data VM: %v", name, err)
	}
	files = append(files, rendered{name + "/datavm-start.sh", "script", script},
		rendered{name + "/datavm-wg0.conf", "wireguard", []byte(dataVMWireGuard(b, s))})
	return files, placeholders
}

// embedded are the files a rendered file carries: write_files of a
// cloud-config (scripts by their #!, WireGuard and nftables by path) and its
// runcmd as one script; the heredoc bodies of a script that are scripts.
func embedded(t *testing.T, f rendered) []rendered {
	t.Helper()
	var out []rendered
	switch f.kind {
	case "cloud-config":
		cc := parseUserData(t, f.body)
		for _, w := range cc.WriteFiles {
			name := f.name + ":" + w.Path
			switch {
			case strings.HasPrefix(w.Content, "#!/usr/sbin/nft"):
				out = append(out, rendered{name, "nftables", []byte(w.Content)})
			case strings.HasPrefix(w.Content, "#!/bin/sh"):
				out = append(out, rendered{name, "script", []byte(w.Content)})
			case strings.HasPrefix(w.Path, "/etc/wireguard/"):
				out = append(out, rendered{name, "wireguard", []byte(w.Content)})
			}
		}
		out = append(out, rendered{f.name + ":runcmd", "script", []byte("#!/bin/sh\nset -eu\n" + strings.Join(cc.RunCmd, "\n") + "\n")})
	case "script":
		rest := string(f.body)
		for {
			i := strings.Index(rest, "<<'AGENTVDC_EOF'")
			if i < 0 {
				break
			}
			rest = rest[i:]
			rest = rest[strings.IndexByte(rest, '\n')+1:]
			j := strings.Index(rest, "\nAGENTVDC_EOF\n")
			if j < 0 {
				t.Fatalf("%s: unterminated heredoc", f.name)
			}
			if body := rest[:j+1]; strings.HasPrefix(body, "#!/bin/sh") {
				out = append(out, rendered{f.name + ":heredoc", "script", []byte(body)})
			}
			rest = rest[j:]
		}
	}
	return out
}

// validate runs the Debian validator of f's kind on it and returns its
// complaints.
func validate(dir string, f rendered) []string {
	sub, err := os.MkdirTemp(dir, "f")
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s %s: %v\n%s", f.name, name, strings.Join(args, " "), err, out))
		}
	}
	write := func(base string) string {
		p := filepath.Join(sub, base)
		if err := os.WriteFile(p, f.body, 0o600); err != nil {
			problems = append(problems, err.Error())
		}
		return p
	}
	switch f.kind {
	case "cloud-config":
		p := write("user-data")
		run("cloud-init", "schema", "--config-file", p)
	case "script":
		p := write("script.sh")
		run("sh", "-n", p)
		run("shellcheck", "--shell=sh", "--severity=style", p)
	case "wireguard":
		// wg-quick wants the interface name as the file name.
		p := write("wg0.conf")
		out, err := exec.Command("wg-quick", "strip", p).Output()
		if err != nil {
			return append(problems, fmt.Sprintf("%s: wg-quick strip: %v", f.name, err))
		}
		problems = append(problems, checkStrippedWireGuard(f.name, out)...)
	case "nftables":
		p := write("nftables.conf")
		run("nft", "-c", "-f", p)
	default:
		problems = append(problems, fmt.Sprintf("%s: no validator for %q", f.name, f.kind))
	}
	return problems
}

// checkStrippedWireGuard reads what wg-quick leaves for wg(8): only wg's
// own keys, every key a 32-byte base64 value, every peer with allowed IPs.
func checkStrippedWireGuard(name string, out []byte) []string {
	var problems []string
	peers := 0
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "[Interface]" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "[Peer]" {
			peers++
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: stripped line %q is not KEY = VALUE", name, line))
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "PrivateKey", "PublicKey":
			if err := checkKey(k, v); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			}
		case "ListenPort", "Endpoint", "AllowedIPs", "PersistentKeepalive":
		default:
			problems = append(problems, fmt.Sprintf("%s: wg(8) does not know %q", name, k))
		}
	}
	if peers == 0 {
		problems = append(problems, name+": no peers")
	}
	return problems
}

// Every file rendered for a machine of the four example customers passes
// the Debian validators.
func TestRenderedPassDebianValidators(t *testing.T) {
	var missing []string
	for _, v := range validators {
		if _, err := exec.LookPath(v.tool); err != nil {
			missing = append(missing, v.tool+" (Debian package "+v.pkg+")")
		}
	}
	if len(missing) > 0 {
		t.Skipf("validators missing: %s; run make prereqs", strings.Join(missing, ", "))
	}
	cs := exampleList(t)
	if len(cs) != 4 {
		t.Fatalf("%d example customers, want 4", len(cs))
	}
	blocks := blocksOf(cs...)
	dir := t.TempDir()
	kinds := map[string]int{}
	for _, c := range cs {
		files, _ := renderMachines(t, c.Name, c.Compute.MaxServers, servicesList(c.Services), blocks[c.Name])
		var all []rendered
		for _, f := range files {
			all = append(all, f)
			all = append(all, embedded(t, f)...)
		}
		for _, f := range all {
			// Hetzner and Exoscale take at most 32 KiB of user data.
			if f.kind == "cloud-config" && len(f.body) > 32*1024 {
				t.Errorf("%s is %d bytes, over the 32 KiB the clouds accept", f.name, len(f.body))
			}
			for _, p := range validate(dir, f) {
				t.Error(p)
			}
			kinds[f.kind]++
		}
	}
	// Each kind was checked (a renderer change cannot make a validator
	// silently check nothing).
	for _, k := range []string{"cloud-config", "script", "wireguard", "nftables"} {
		if kinds[k] == 0 {
			t.Errorf("no %s validated", k)
		}
	}
	t.Logf("validated %v", kinds)
}

// The validators reject what they should: the test above would catch a
// broken renderer.
func TestDebianValidatorsReject(t *testing.T) {
	for _, v := range validators {
		if _, err := exec.LookPath(v.tool); err != nil {
			t.Skipf("%s missing (Debian package %s); run make prereqs", v.tool, v.pkg)
		}
	}
	dir := t.TempDir()
	for _, f := range []rendered{
		{"bad.yaml", "cloud-config", []byte("#cloud-config\npackages: 5\nwrite_files: nope\n")},
		{"bad.sh", "script", []byte("#!/bin/sh\nfor x in $(ls); do echo $x; done\n")},
		{"bad.nft", "nftables", []byte("table inet x {\n chain y { type filter hook nowhere priority 0; }\n}\n")},
		{"bad.conf", "wireguard", []byte("[Interface]\nPrivateKey = short\n")},
	} {
		if problems := validate(dir, f); len(problems) == 0 {
			t.Errorf("%s passed its validator", f.name)
		}
	}
}

// Golden files of one customer's rendered machine files, keys and
// credentials replaced by placeholders.
func TestGoldenBootstrap(t *testing.T) {
	cs := exampleList(t)
	blocks := blocksOf(cs...)
	c := example(t, "casa-verde")
	files, ph := renderMachines(t, c.Name, c.Compute.MaxServers, servicesList(c.Services), blocks[c.Name])
	secrets := make([]string, 0, len(ph))
	for s := range ph {
		secrets = append(secrets, s)
	}
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, f := range files {
		body := string(f.body)
		for _, s := range secrets {
			body = strings.ReplaceAll(body, s, ph[s])
		}
		checkGolden(t, "bootstrap-"+strings.ReplaceAll(f.name, "/", "-")+".golden", []byte(body))
	}
}
