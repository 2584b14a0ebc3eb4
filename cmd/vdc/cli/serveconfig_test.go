package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigEnvNames(t *testing.T) {
	def := defaultServeConfig()
	names := map[string]string{}
	for _, s := range configSettings(&def) {
		names[s.Key] = s.Env
	}
	for key, want := range map[string]string{
		"repo.url": "VDC_REPO_URL", "reconcile.maxDeleteFraction": "VDC_RECONCILE_MAX_DELETE_FRACTION",
		"clouds.frontendSSHKeyFile": "VDC_CLOUDS_FRONTEND_SSH_KEY_FILE", "webhook.githubSecretEnv": "VDC_WEBHOOK_GITHUB_SECRET_ENV",
		"simLatency": "VDC_SIM_LATENCY", "log.level": "VDC_LOG_LEVEL", "autoscale.enabled": "VDC_AUTOSCALE_ENABLED",
	} {
		if names[key] != want {
			t.Errorf("%s: variable %q, want %q", key, names[key], want)
		}
	}
	if len(names) < 25 {
		t.Errorf("only %d settings: %v", len(names), names)
	}
}

func TestApplyConfigEnv(t *testing.T) {
	env := map[string]string{
		"VDC_REPO_URL": "https://git.example.com/customers.git", "VDC_RECONCILE_WORKERS": "16", "VDC_REPO_POLL": "30s",
		"VDC_RECONCILE_MAX_DELETE_FRACTION": "0.1", "VDC_AUTOSCALE_ENABLED": "false", "VDC_SIM": "true",
	}
	c := defaultServeConfig()
	if err := applyConfigEnv(&c, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Repo.URL != "https://git.example.com/customers.git" || c.Reconcile.Workers != 16 || c.Repo.Poll.Duration != 30*time.Second ||
		c.Reconcile.MaxDeleteFraction != 0.1 || c.Autoscale.Enabled == nil || *c.Autoscale.Enabled || !c.Sim || c.Listen != "127.0.0.1:8787" {
		t.Errorf("%+v", c)
	}
	for k, v := range map[string]string{"VDC_RECONCILE_WORKERS": "many", "VDC_REPO_POLL": "soon", "VDC_SIM": "maybe"} {
		c := defaultServeConfig()
		err := applyConfigEnv(&c, func(key string) string {
			if key == k {
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "$"+k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

func TestDiscoverConfig(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	none := func(string) string { return "" }
	if _, err := os.Stat(systemConfigFile); err != nil {
		if p, err := discoverConfig("", none); err != nil || p != "" {
			t.Errorf("nothing to find: %q %v", p, err)
		}
	}
	os.WriteFile(filepath.Join(dir, "vdc.yaml"), []byte("listen: 127.0.0.1:9000\n"), 0o644)
	if p, _ := discoverConfig("", none); p != "vdc.yaml" {
		t.Errorf("./vdc.yaml not found: %q", p)
	}
	if p, _ := discoverConfig("", func(k string) string { return map[string]string{"VDC_CONFIG": "/x.yaml"}[k] }); p != "/x.yaml" {
		t.Errorf("$VDC_CONFIG: %q", p)
	}
	if p, _ := discoverConfig("", func(k string) string { return map[string]string{"VDC_CONFIG": "none"}[k] }); p != "" {
		t.Errorf("VDC_CONFIG=none: %q", p)
	}
	if p, _ := discoverConfig("flag.yaml", none); p != "flag.yaml" {
		t.Errorf("--config: %q", p)
	}
}

// TestConfigTableDocumented: docs/operations.md carries the table of every
// setting as the code generates it.
func TestConfigTableDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), ConfigTable()) {
		t.Errorf("docs/operations.md lacks the settings table; paste:\n%s", ConfigTable())
	}
}
