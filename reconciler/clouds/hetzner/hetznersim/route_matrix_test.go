package hetznersim

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/routes.golden")

// TestRouteMatrix pins how the routing table answers every method on
// every path shape (collections, action lists, items, sub-paths, unknown
// and malformed ids) against testdata/routes.golden: status, error code
// and message. Regenerate with -update after a deliberate change.
func TestRouteMatrix(t *testing.T) {
	h := newHarness(t, Options{})
	srv := h.createServer(t, "s1", nil)
	nw, fw, key := h.createNetworkFirewallKey(t)
	ids := map[string]int64{"servers": srv.ID, "networks": nw.ID, "firewalls": fw.Firewall.ID, "ssh_keys": key.ID}
	var out strings.Builder
	for _, res := range []string{"servers", "networks", "firewalls", "ssh_keys", "actions", "images", "server_types", "locations", "datacenters", "bogus", ""} {
		id := strconv.FormatInt(ids[res], 10)
		for _, suf := range []string{"", "/", "/actions", "/actions/1", "/actions/x/y", "/ID", "/ID/actions", "/ID/actions/poweron", "/ID/actions/set_rules", "/ID/actions/1", "/ID/actions/x/y", "/ID/metrics", "/ID/bogus", "/999", "/999/bogus", "/999/actions/poweron", "/abc", "/abc/metrics", "//x", "/ID/x/y/z"} {
			for _, m := range []string{"GET", "PUT", "PATCH", "POST"} {
				p := "/v1/" + res + strings.ReplaceAll(suf, "ID", id)
				req, _ := http.NewRequest(m, h.ts.URL+p, strings.NewReader("{}"))
				req.Header.Set("Authorization", "Bearer "+h.sim.Token())
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				_ = json.Unmarshal(b, &e)
				fmt.Fprintf(&out, "%s %s -> %d %s %s\n", m, strings.ReplaceAll(p, id, "ID"), resp.StatusCode, e.Error.Code, e.Error.Message)
			}
		}
	}
	golden := filepath.Join("testdata", "routes.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got := out.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("got %d lines, want %d", len(gl), len(wl))
	}
}
