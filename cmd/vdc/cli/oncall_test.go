package cli

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/api/apitest"
	"github.com/agentvdc/agentvdc/state"
)

// apiServerCmd is the testscript command "apiserver [DATADIR]": it serves
// the daemon's real HTTP API (api.Server) on 127.0.0.1 over an in-memory
// Service holding apitest.Sample's customers (acme-analytics Synced,
// bluebird-books Error, casa-verde Suspended by hold) and two history
// records of acme-analytics. The server generates its token into
// DATADIR/api-token (default .vdc). It sets VDC_DAEMON to the server's URL
// and API_TOKEN to the token, and stops when the script ends.
func apiServerCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: apiserver [DATADIR]")
	}
	data := ".vdc"
	if len(args) == 1 {
		data = args[0]
	}
	now := time.Now()
	svc := apitest.New(apitest.Sample(now)...)
	svc.SetHistory("acme-analytics", []state.ApplyRecord{
		{ID: "2", When: now.Add(-3 * time.Minute), Commit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904", Who: "daemon",
			Customers: []string{"acme-analytics"}, Result: "succeeded", Actions: 2, Duration: 1500 * time.Millisecond},
		{ID: "1", When: now.Add(-2 * time.Hour), Commit: "1111111111111111111111111111111111111111", Who: "vdc apply",
			Customers: []string{"acme-analytics"}, Result: "failed", Actions: 5, Errors: []string{"hetzner: 429", "exoscale: timeout"}},
	})
	tokenFile := filepath.Join(ts.MkAbs(data), "api-token")
	srv, err := api.New(api.Config{Service: svc, TokenFile: tokenFile})
	ts.Check(err)
	hs := httptest.NewUnstartedServer(srv)
	hs.Config.ReadHeaderTimeout = 10 * time.Second
	hs.Start()
	ts.Defer(hs.Close)
	raw, err := os.ReadFile(tokenFile)
	ts.Check(err)
	ts.Setenv("VDC_DAEMON", hs.URL)
	ts.Setenv("API_TOKEN", strings.TrimSpace(string(raw)))
}
