package daemon_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentvdc/agentvdc/reconciler/daemon"
)

const alertRules = "../../docs/examples/prometheus-alerts.yml"

// recorder is a Registerer that keeps the metrics' names.
type recorder struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([a-z_:]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}
func (r *recorder) Unregister(prometheus.Collector) bool { return true }

// TestAlertRules: the example alert rules are valid for Prometheus
// (promtool check rules, from Debian's prometheus package) and name only
// metrics the daemon exports.
func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile(alertRules)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{names: map[string]bool{}}
	if _, err := daemon.NewMetrics(rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.names) < 10 {
		t.Fatalf("only %d metric names recorded: %v", len(rec.names), rec.names)
	}
	used := regexp.MustCompile(`\bagentvdc_[a-z_]+`).FindAllString(string(raw), -1)
	if len(used) == 0 {
		t.Fatal("the rules name no agentvdc metric")
	}
	for _, u := range used {
		base := u
		for _, suf := range []string{"_bucket", "_count", "_sum"} {
			if rec.names[base] {
				break
			}
			base = strings.TrimSuffix(u, suf)
		}
		if !rec.names[base] {
			t.Errorf("%s names %s, which the daemon does not export", alertRules, u)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed (Debian package prometheus; `make prereqs` installs it): the rules' syntax cannot be checked")
	}
	out, err := exec.Command(promtool, "check", "rules", alertRules).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS: 9 rules found") {
		t.Errorf("promtool check rules:\n%s", out)
	}
}
