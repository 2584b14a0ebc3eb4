package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
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

// The server's VDC network script builds the customer's bridge and VXLAN
// for real, in a network namespace of its own with a veth standing in for
// the Hetzner private interface (named as on some server types), and a
// second run changes nothing.
func TestServerVDCNetScriptInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	for _, tool := range []string{"unshare", "ip", "bridge", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing", tool)
		}
	}
	if err := exec.Command("unshare", "-n", "true").Run(); err != nil {
		t.Skipf("cannot create a network namespace here: %v", err)
	}
	a := addrsOf("acme")
	b := ServerBootstrapFor("acme", 3, a)
	script := filepath.Join(t.TempDir(), "vdcnet")
	if err := os.WriteFile(script, []byte(serverVDCNetScript(b)), 0o755); err != nil {
		t.Fatal(err)
	}
	vx := vxlanName(b)
	out, err := exec.Command("unshare", "-n", "sh", "-ec", fmt.Sprintf(`
ip link add enp7s0 type veth peer name peer0
ip addr add %s/32 dev enp7s0
ip link set enp7s0 up
sh %s
sh %s
echo '--- bridge'
ip -d -o link show dev %s
ip -o -4 addr show dev %s
echo '--- vxlan'
ip -d -o link show dev %s
echo '--- fdb'
bridge fdb show dev %s | grep '^00:00:00:00:00:00'
`, b.PrivateIP, script, script, b.Bridge, b.Bridge, vx, vx)).CombinedOutput()
	if err != nil {
		t.Fatalf("vdcnet in a namespace: %v\n%s", err, out)
	}
	got := string(out)
	sections := strings.Split(got, "--- ")
	if len(sections) != 4 {
		t.Fatalf("output:\n%s", got)
	}
	bridge, vxlan, fdb := sections[1], sections[2], strings.TrimPrefix(sections[3], "fdb\n")
	for _, want := range []string{"mtu 1400", "link/ether " + bridgeMAC(b.Gateway), "inet " + b.Gateway, "state UP"} {
		if !strings.Contains(bridge, want) && !(want == "state UP" && strings.Contains(bridge, "state UNKNOWN")) {
			t.Errorf("bridge lacks %q:\n%s", want, bridge)
		}
	}
	for _, want := range []string{"master " + b.Bridge, "vxlan id " + strconv.Itoa(b.VXLANID) + " ", "local " + b.PrivateIP, "dev enp7s0", "dstport 4789", "mtu 1400"} {
		if !strings.Contains(vxlan, want) {
			t.Errorf("vxlan lacks %q:\n%s", want, vxlan)
		}
	}
	lines := strings.Split(strings.TrimSpace(fdb), "\n")
	if len(lines) != ServerSlots-1 {
		t.Errorf("%d flood entries after two runs, want %d:\n%s", len(lines), ServerSlots-1, fdb)
	}
	for _, peer := range b.FloodPeers {
		if !strings.Contains(fdb, "dst "+peer+" ") {
			t.Errorf("no flood entry for %s", peer)
		}
	}
	if strings.Contains(fdb, "dst "+b.PrivateIP+" ") {
		t.Error("the host floods to itself")
	}
}

// TestNetnsHelper is not a test: run by TestStorageFirewallInNetns inside a
// network namespace, it listens on, or dials, the addresses it is given.
func TestNetnsHelper(t *testing.T) {
	mode, arg, ok := strings.Cut(os.Getenv("AGENTVDC_NETNS_HELPER"), "=")
	if !ok {
		t.Skip("helper process of TestStorageFirewallInNetns")
	}
	switch mode {
	case "listen": // ADDR,ADDR,...: accept forever, tell each caller its address
		for _, addr := range strings.Split(arg, ",") {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				fmt.Println("listen:", err)
				os.Exit(1)
			}
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
					fmt.Fprintln(c, host)
					c.Close()
				}
			}()
		}
		fmt.Println("ready")
		select {}
	case "dial": // SRC>DST,...: one line "SRC>DST ok AS|blocked" each
		for _, pair := range strings.Split(arg, ",") {
			src, dst, _ := strings.Cut(pair, ">")
			d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
			c, err := d.Dial("tcp", dst)
			res := "blocked"
			if err == nil {
				seen, _ := io.ReadAll(io.LimitReader(c, 64))
				res = "ok " + strings.TrimSpace(string(seen))
				c.Close()
			}
			fmt.Println(pair, res)
		}
		os.Exit(0)
	}
}

// The storage node's firewall, loaded for real in a network namespace whose
// wg0 is a veth to a second namespace holding mesh addresses: NFS answers
// only the servers' addresses, SSH only the control plane, nothing else.
func TestStorageFirewallInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing (make prereqs)", tool)
		}
	}
	a := addrsOf("acme")
	st, _ := storageSecrets(t)
	ud, err := RenderStorageUserData(StorageBootstrapFor("acme", a), st)
	if err != nil {
		t.Fatal(err)
	}
	nft := filepath.Join(t.TempDir(), "storage.nft")
	if err := os.WriteFile(nft, []byte(file(t, parseUserData(t, ud), "/etc/nftables.conf")), 0o600); err != nil {
		t.Fatal(err)
	}
	stNS, clNS := netns(t, "st"), netns(t, "cl")
	srv, cp, dv, outsider := a.ServerWG(5).String(), a.ControlPlaneWG().String(), a.DataVMWG().String(), "10.64.0.99"
	hub := a.StorageWG().String()
	nsShell(t, fmt.Sprintf(`ip link add wg0 netns %[1]s type veth peer name c0 netns %[2]s
ip -n %[1]s addr add %[3]s/25 dev wg0
ip -n %[1]s link set wg0 up
ip -n %[1]s link set lo up
for ip in %[4]s; do ip -n %[2]s addr add "$ip"/25 dev c0; done
ip -n %[2]s link set c0 up`, stNS, clNS, hub, strings.Join([]string{srv, cp, dv, outsider}, " ")))
	if out, err := exec.Command("ip", "netns", "exec", stNS, "nft", "-f", nft).CombinedOutput(); err != nil {
		t.Fatalf("loading the storage firewall: %v\n%s", err, out)
	}
	nsListen(t, stNS, hub+":2049", hub+":22", hub+":8080")
	want := map[string]string{
		srv + ">" + hub + ":2049":      "ok",
		dv + ">" + hub + ":2049":       "blocked",
		cp + ">" + hub + ":2049":       "blocked",
		outsider + ">" + hub + ":2049": "blocked",
		cp + ">" + hub + ":22":         "ok",
		srv + ">" + hub + ":22":        "blocked",
		cp + ">" + hub + ":8080":       "blocked",
	}
	got := nsDial(t, clNS, want)
	for p := range want {
		if res, _, _ := strings.Cut(got[p], " "); res != want[p] {
			t.Errorf("%s: %q, want %s", p, got[p], want[p])
		}
	}
}

// netns creates a network namespace for the test (removed after it); the
// test is skipped where namespaces cannot be made.
func netns(t *testing.T, role string) string {
	t.Helper()
	name := fmt.Sprintf("agentvdc-%s-%d", role, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("network namespaces unavailable here: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return name
}

// nsShell runs a setup script (ip commands) or fails the test.
func nsShell(t *testing.T, script string) {
	t.Helper()
	if out, err := exec.Command("sh", "-ec", script).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// nsListen starts TestNetnsHelper listening on addrs inside ns.
func nsListen(t *testing.T, ns string, addrs ...string) {
	t.Helper()
	l := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNetnsHelper$")
	l.Env = append(os.Environ(), "AGENTVDC_NETNS_HELPER=listen="+strings.Join(addrs, ","))
	stdout, err := l.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Process.Kill(); _ = l.Wait() })
	ready := make([]byte, 6)
	if _, err := io.ReadFull(stdout, ready); err != nil || string(ready) != "ready\n" {
		t.Fatalf("listener in %s: %q %v", ns, ready, err)
	}
}

// nsDial dials every "SRC>DST" of pairs from ns; the result per pair is
// "ok AS" (AS: the address the listener saw) or "blocked".
func nsDial(t *testing.T, ns string, pairs map[string]string) map[string]string {
	t.Helper()
	keys := make([]string, 0, len(pairs))
	for p := range pairs {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	d := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNetnsHelper$")
	d.Env = append(os.Environ(), "AGENTVDC_NETNS_HELPER=dial="+strings.Join(keys, ","))
	out, err := d.Output()
	if err != nil {
		t.Fatalf("dialer in %s: %v\n%s", ns, err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if p, res, ok := strings.Cut(line, " "); ok {
			got[p] = res
		}
	}
	return got
}

// A server's firewall and VDC network, loaded for real in namespaces: a VM
// on the customer's bridge reaches the internet masqueraded as the host,
// and neither the Hetzner private network nor the host itself.
func TestServerFirewallInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for _, tool := range []string{"ip", "nft", "bridge", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing (make prereqs)", tool)
		}
	}
	a := addrsOf("acme")
	b := ServerBootstrapFor("acme", 3, a)
	dir := t.TempDir()
	vdcnet, nft := filepath.Join(dir, "vdcnet"), filepath.Join(dir, "server.nft")
	if err := os.WriteFile(vdcnet, []byte(serverVDCNetScript(b)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nft, []byte(serverNftables(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, vm, inet, priv := netns(t, "srv"), netns(t, "vm"), netns(t, "inet"), netns(t, "priv")
	const public, internet = "203.0.113.10", "203.0.113.1"
	neighbour := ServerPrivateIP(2)
	nsShell(t, fmt.Sprintf(`
ip link add eth0 netns %[1]s type veth peer name up0 netns %[3]s
ip -n %[1]s addr add %[5]s/24 dev eth0
ip -n %[1]s link set eth0 up
ip -n %[3]s addr add %[6]s/24 dev up0
ip -n %[3]s link set up0 up
ip -n %[1]s route add default via %[6]s
ip link add enp7s0 netns %[1]s type veth peer name pn0 netns %[4]s
ip -n %[1]s addr add %[7]s/24 dev enp7s0
ip -n %[1]s link set enp7s0 up
ip -n %[4]s addr add %[8]s/24 dev pn0
ip -n %[4]s link set pn0 up
ip netns exec %[1]s sh %[9]s
ip link add vmport netns %[1]s type veth peer name eth0 netns %[2]s
ip -n %[1]s link set vmport master %[10]s up
ip -n %[2]s addr add %[11]s/25 dev eth0
ip -n %[2]s link set eth0 up
ip -n %[2]s route add default via %[12]s
ip netns exec %[1]s sysctl -qw net.ipv4.ip_forward=1
ip netns exec %[1]s nft -f %[13]s
`, srv, vm, inet, priv, public, internet, b.PrivateIP, neighbour, vdcnet, b.Bridge, a.DataVMIP(), a.VDCGateway(), nft))
	nsListen(t, inet, internet+":80")
	nsListen(t, priv, neighbour+":80")
	nsListen(t, srv, a.VDCGateway().String()+":22", b.PrivateIP+":22")
	vmIP := a.DataVMIP().String()
	want := map[string]string{
		vmIP + ">" + internet + ":80":                "ok " + public, // masqueraded
		vmIP + ">" + neighbour + ":80":               "blocked",
		vmIP + ">" + a.VDCGateway().String() + ":22": "blocked",
		vmIP + ">" + b.PrivateIP + ":22":             "blocked",
	}
	got := nsDial(t, vm, want)
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
}
