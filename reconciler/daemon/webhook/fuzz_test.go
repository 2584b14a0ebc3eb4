package webhook_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentvdc/agentvdc/reconciler/daemon/webhook"
)

// FuzzWebhookPayload feeds correctly signed deliveries with arbitrary
// bodies, events, delivery ids and content types through the real
// handler: it never panics, answers one of the documented statuses with a
// JSON body, and triggers only for a push to main naming a commit.
func FuzzWebhookPayload(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		provider := strings.SplitN(filepath.Base(file), "-", 2)[0]
		event := "push"
		switch {
		case provider == "gitlab" && strings.Contains(file, "tag"):
			event = "Tag Push Hook"
		case provider == "gitlab":
			event = "Push Hook"
		case strings.Contains(file, "ping"):
			event = "ping"
		}
		f.Add(provider == "gitlab", event, "id-1", false, b)
		if provider == "github" {
			f.Add(false, event, "id-2", true, []byte("payload="+url.QueryEscape(string(b))))
		}
	}
	f.Add(false, "push", "", false, []byte(`{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}`))
	f.Add(false, "push", "x", false, []byte(`{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}{}`))
	f.Add(true, "Push Hook", "y", false, []byte(`{"object_kind":"push","ref":null,"after":"`+strings.Repeat("a", 64)+`"}`))
	f.Add(false, "push", "z", true, []byte("payload=%zz&payload="))
	f.Add(false, "push\x00", "\xff\xfe", false, []byte(`[1,2,3]`))
	f.Add(true, "Push Hook", "w", false, []byte(`{"object_kind":"push","ref":"refs/heads/main","after":"`+strings.Repeat("0", 40)+`"}`))

	const secret = "fuzz-secret-0123456789"
	f.Fuzz(func(t *testing.T, gitlab bool, event, id string, form bool, body []byte) {
		var got []webhook.PushEvent
		h, err := webhook.New(webhook.Config{GitHubSecret: secret, GitLabToken: secret, Branch: "main",
			Trigger: func(ev webhook.PushEvent) { got = append(got, ev) }})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
		ctype := "application/json"
		if form {
			ctype = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", ctype)
		if gitlab {
			req.Header.Set("X-Gitlab-Event", event)
			req.Header.Set("X-Gitlab-Event-UUID", id)
			req.Header.Set("X-Gitlab-Token", secret)
		} else {
			req.Header.Set("X-GitHub-Event", event)
			req.Header.Set("X-GitHub-Delivery", id)
			req.Header.Set("X-Hub-Signature-256", sign(secret, body))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var resp struct{ Status, Reason string }
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%d: body is not JSON: %q", rec.Code, rec.Body.String())
		}
		switch rec.Code {
		case 200, 202, 400, 401, 403, 413, 429:
		default:
			t.Fatalf("status %d (%s %s)", rec.Code, resp.Status, resp.Reason)
		}
		if (resp.Status == "triggered") != (len(got) == 1) || len(got) > 1 {
			t.Fatalf("status %q but %d triggers", resp.Status, len(got))
		}
		if len(got) == 1 {
			ev := got[0]
			if ev.Ref != "refs/heads/main" || ev.Branch != "main" || (len(ev.After) != 40 && len(ev.After) != 64) || ev.After == strings.Repeat("0", 40) {
				t.Fatalf("triggered for %+v", ev)
			}
		}
		if strings.Contains(rec.Body.String(), secret) {
			t.Fatalf("the response echoes the secret")
		}
	})
}
