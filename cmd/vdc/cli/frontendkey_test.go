package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/plan"
)

func TestFrontendKeyFlag(t *testing.T) {
	dir := t.TempDir()
	good := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl oneadmin@frontend"
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noenv := func(string) string { return "" }
	f := &cloudFlags{frontendKeyFile: write("good.pub", good+"\n")}
	if k, err := f.frontendKey(noenv); err != nil || k != good {
		t.Errorf("good key: %q %v", k, err)
	}
	// From the environment when the flag is not given.
	f = &cloudFlags{}
	env := func(k string) string {
		if k == "VDC_FRONTEND_SSH_KEY" {
			return filepath.Join(dir, "good.pub")
		}
		return ""
	}
	if k, err := f.frontendKey(env); err != nil || k != good {
		t.Errorf("key from env: %q %v", k, err)
	}
	if k, err := f.frontendKey(noenv); k != "" || err != nil {
		t.Errorf("no key configured: %q %v", k, err)
	}
	for name, body := range map[string]string{
		"private": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
		"two":     good + "\n" + good + "\n",
		"junk":    "hello",
	} {
		f := &cloudFlags{frontendKeyFile: write(name, body)}
		if _, err := f.frontendKey(noenv); err == nil || strings.Contains(err.Error(), "PRIVATE") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := (&cloudFlags{frontendKeyFile: filepath.Join(dir, "missing")}).frontendKey(noenv); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestAddressPoolFlag(t *testing.T) {
	for _, ok := range []string{plan.DefaultAddressPool, "10.0.0.0/16", "192.168.7.0/24"} {
		if _, err := (&cloudFlags{addressPool: ok}).pool(); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"10.64.0.1/10", "10.64.0.0/25", "fd00::/48", "ten"} {
		if _, err := (&cloudFlags{addressPool: bad}).pool(); err == nil || !strings.Contains(err.Error(), "--address-pool") {
			t.Errorf("%s accepted: %v", bad, err)
		}
	}
}
