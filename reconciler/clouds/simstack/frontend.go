package simstack

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"github.com/agentvdc/agentvdc/reconciler/clouds/hetzner/hetznersim"
	"github.com/agentvdc/agentvdc/reconciler/clouds/opennebula/onesim"
)

// The simulated OpenNebula front-end has its own SSH key pair, as a real
// front-end has oneadmin's: the hosts must authorise its public key (in
// the servers' cloud-init) or the front-end cannot monitor them. The pair
// is kept in the data dir, so servers created before a restart stay
// reachable.
const frontendKeyFile = "frontend_ed25519"

// frontendKeyPub is the public key's file beside it (authorized_keys
// format), what an operator points VDC_FRONTEND_SSH_KEY at.
const frontendKeyPub = frontendKeyFile + ".pub"

// frontendKey loads or generates the front-end's key pair and returns its
// public key as an authorized_keys line (also written to frontendKeyPub
// with a data dir).
func frontendKey(dataDir string) (string, error) {
	var priv ed25519.PrivateKey
	path := ""
	if dataDir != "" {
		path = filepath.Join(dataDir, frontendKeyFile)
		if b, err := os.ReadFile(path); err == nil {
			k, err := ssh.ParseRawPrivateKey(b)
			if err != nil {
				return "", fmt.Errorf("front-end key %s: %w", path, err)
			}
			p, ok := k.(*ed25519.PrivateKey)
			if !ok {
				return "", fmt.Errorf("front-end key %s is not ed25519", path)
			}
			priv = *p
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("front-end key: %w", err)
		}
	}
	if priv == nil {
		var err error
		if _, priv, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return "", fmt.Errorf("front-end key: %w", err)
		}
		if path != "" {
			blk, err := ssh.MarshalPrivateKey(priv, "oneadmin@onesim")
			if err != nil {
				return "", fmt.Errorf("front-end key: %w", err)
			}
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				return "", fmt.Errorf("front-end key: %w", err)
			}
			if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
				return "", fmt.Errorf("front-end key: %w", err)
			}
		}
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return "", fmt.Errorf("front-end key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " oneadmin@onesim"
	if path != "" {
		if err := os.WriteFile(path+".pub", []byte(line+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("front-end key: %w", err)
		}
	}
	return line, nil
}

// oneAuthorizedKeys is oneadmin's on a node (the opennebula-node packages'
// user), where its authorized_keys lives.
const oneAuthorizedKeys = "/var/lib/one/.ssh/authorized_keys"

// nodePackage is the package a host of a driver needs (OpenNebula's
// node packages: opennebula-node-kvm, opennebula-node-lxc).
func nodePackage(vmMad string) string { return "opennebula-node-" + vmMad }

// hostProbe models the front-end monitoring a host registered by a
// Hetzner server's public IPv4, from what the Hetzner simulator received:
// the server must exist and run, its user-data (cloud-config) must
// authorise the front-end's key for oneadmin and install the driver's
// node package, and the driver must be able to run there: KVM needs
// /dev/kvm, which no Hetzner Cloud server exposes, so a KVM host goes to
// ERROR. The capacity is the server type's.
func hostProbe(hz *hetznersim.Server, frontendKey string) onesim.Prober {
	keyFields := strings.Fields(frontendKey)
	return func(hostname, imMad, vmMad string) onesim.HostProbe {
		var srv *hetznersim.ServerInfo
		for _, s := range hz.Servers() {
			if s.PublicIPv4 == hostname {
				srv = &s
				break
			}
		}
		if srv == nil || srv.Status != "running" {
			// ssh to the host fails: oned's monitor cannot copy its probes.
			return onesim.HostProbe{Err: "Could not update remotes"}
		}
		cc, err := parseCloudConfig(srv.UserData)
		if err != nil {
			return onesim.HostProbe{Err: "Could not update remotes"}
		}
		if len(keyFields) < 2 || !cc.authorises(keyFields[0]+" "+keyFields[1]) {
			return onesim.HostProbe{Err: "Could not update remotes"}
		}
		if !cc.installs(nodePackage(vmMad)) || imMad != vmMad {
			return onesim.HostProbe{Err: fmt.Sprintf("Error executing %s probes: %s is not installed", imMad, nodePackage(vmMad))}
		}
		if vmMad == "kvm" {
			return onesim.HostProbe{Err: "KVM is not available: /dev/kvm is missing (Hetzner Cloud servers expose no hardware virtualization)"}
		}
		return onesim.HostProbe{Cores: srv.Cores, MemoryMB: int(srv.MemoryGB * 1024)}
	}
}

// cloudConfig is the part of a cloud-config the probe reads.
type cloudConfig struct {
	Packages   []any `yaml:"packages"`
	RunCmd     []any `yaml:"runcmd"`
	WriteFiles []struct {
		Path    string `yaml:"path"`
		Content string `yaml:"content"`
	} `yaml:"write_files"`
	Users []any `yaml:"users"`
}

func parseCloudConfig(ud string) (*cloudConfig, error) {
	if !strings.HasPrefix(ud, "#cloud-config") {
		return nil, errors.New("user-data is not a cloud-config")
	}
	var cc cloudConfig
	if err := yaml.Unmarshal([]byte(ud), &cc); err != nil {
		return nil, err
	}
	return &cc, nil
}

// commands returns runcmd's entries as shell words, followed by the lines
// of every write_files script a runcmd entry executes (cloud-init runs
// them; what they install or authorise counts as the config's).
func (cc *cloudConfig) commands() [][]string {
	var out [][]string
	for _, c := range cc.RunCmd {
		switch v := c.(type) {
		case string:
			out = append(out, strings.Fields(v))
		case []any:
			var words []string
			for _, w := range v {
				words = append(words, fmt.Sprint(w))
			}
			out = append(out, words)
		}
	}
	var scripts [][]string
	for _, words := range out {
		if len(words) == 0 {
			continue
		}
		for _, wf := range cc.WriteFiles {
			if wf.Path == words[0] {
				for _, l := range strings.Split(wf.Content, "\n") {
					scripts = append(scripts, strings.Fields(l))
				}
			}
		}
	}
	return append(out, scripts...)
}

// installs reports whether pkg is in packages or installed by an
// `apt-get install` / `apt install` in runcmd.
func (cc *cloudConfig) installs(pkg string) bool {
	for _, p := range cc.Packages {
		if s, ok := p.(string); ok && s == pkg {
			return true
		}
	}
	for _, words := range cc.commands() {
		for i := 0; i+1 < len(words); i++ {
			if (words[i] == "apt-get" || words[i] == "apt") && words[i+1] == "install" {
				for _, w := range words[i+2:] {
					if w == pkg {
						return true
					}
				}
			}
		}
	}
	return false
}

// authorises reports whether key ("type base64") ends up in oneadmin's
// authorized_keys: written there by write_files, appended there from a
// written file by runcmd (`cat FILE >> authorized_keys`), or listed in
// the oneadmin user's ssh_authorized_keys.
func (cc *cloudConfig) authorises(key string) bool {
	has := func(content string) bool {
		for _, l := range strings.Split(content, "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0]+" "+f[1] == key {
				return true
			}
		}
		return false
	}
	for _, wf := range cc.WriteFiles {
		if !has(wf.Content) {
			continue
		}
		if wf.Path == oneAuthorizedKeys {
			return true
		}
		for _, words := range cc.commands() {
			for i := 1; i+2 < len(words); i++ {
				if words[i-1] == "cat" && words[i] == wf.Path && words[i+1] == ">>" && words[i+2] == oneAuthorizedKeys {
					return true
				}
			}
		}
	}
	for _, u := range cc.Users {
		m, ok := u.(map[string]any)
		if !ok || m["name"] != "oneadmin" {
			continue
		}
		keys, _ := m["ssh_authorized_keys"].([]any)
		for _, k := range keys {
			if s, ok := k.(string); ok && has(s) {
				return true
			}
		}
	}
	return false
}
