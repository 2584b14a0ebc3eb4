package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// DefaultMaxBodyBytes is the largest accepted payload.
const DefaultMaxBodyBytes = 1 << 20

// Providers.
const (
	GitHub = "github"
	GitLab = "gitlab"
)

// Request headers.
const (
	hdrGitHubEvent     = "X-GitHub-Event"
	hdrGitHubDelivery  = "X-GitHub-Delivery"
	hdrGitHubSignature = "X-Hub-Signature-256"
	hdrGitLabEvent     = "X-Gitlab-Event"
	hdrGitLabToken     = "X-Gitlab-Token"
	hdrGitLabUUID      = "X-Gitlab-Event-UUID"
)

// Log attribute keys.
const (
	logProvider = "provider"
	logEvent    = "event"
	logDelivery = "delivery"
	logStatus   = "status"
	logReason   = "reason"
	logRef      = "ref"
	logCommit   = "commit"
	logRepo     = "repo"
	logRemote   = "remote"
)

// ErrConfig is returned by New for an unusable Config.
var ErrConfig = errors.New("webhook: invalid config")

// zeroSHA is the "after" of a deleted branch.
const zeroSHA = "0000000000000000000000000000000000000000"

// PushEvent is a verified push to the configured branch.
type PushEvent struct {
	Provider string // GitHub or GitLab
	Delivery string // the provider's delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID)
	Ref      string // full ref, "refs/heads/main"
	Branch   string // "main"
	Before   string // commit before the push
	After    string // commit the branch points to now
	RepoURL  string // HTTP(S) clone URL
	SSHURL   string // SSH clone URL
	RepoName string // "owner/name" (GitHub) or "group/project" (GitLab)
}

// Config configures a Handler.
type Config struct {
	// GitHubSecret is the webhook secret set in GitHub; empty refuses
	// GitHub deliveries.
	GitHubSecret string
	// GitLabToken is the secret token set in GitLab; empty refuses GitLab
	// deliveries.
	GitLabToken string
	// Branch is the branch whose pushes trigger, "main" or "refs/heads/main".
	Branch string
	// Trigger is called for each verified push to Branch. Required.
	Trigger func(PushEvent)
	// MaxBodyBytes defaults to DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Handler is the webhook endpoint. Create it with New.
type Handler struct {
	githubSecret []byte
	gitlabToken  []byte
	ref          string
	trigger      func(PushEvent)
	maxBody      int64
	log          *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.GitHubSecret == "" && cfg.GitLabToken == "" {
		return nil, fmt.Errorf("%w: neither a GitHub secret nor a GitLab token is set", ErrConfig)
	}
	if cfg.Trigger == nil {
		return nil, fmt.Errorf("%w: Trigger is nil", ErrConfig)
	}
	branch := strings.TrimPrefix(cfg.Branch, "refs/heads/")
	if branch == "" || strings.HasPrefix(branch, "refs/") || strings.ContainsAny(branch, " \t\n~^:?*[\\") {
		return nil, fmt.Errorf("%w: branch %q is not a branch name", ErrConfig, cfg.Branch)
	}
	h := &Handler{
		ref:     "refs/heads/" + branch,
		trigger: cfg.Trigger,
		maxBody: cfg.MaxBodyBytes,
		log:     cfg.Logger,
	}
	if cfg.GitHubSecret != "" {
		h.githubSecret = []byte(cfg.GitHubSecret)
	}
	if cfg.GitLabToken != "" {
		h.gitlabToken = []byte(cfg.GitLabToken)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// delivery is what a request is known to be, for the response and the log.
type delivery struct {
	provider, event, id string
}

// ServeHTTP handles one delivery; see the package documentation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := delivery{}
	switch {
	case r.Header.Get(hdrGitHubEvent) != "":
		d = delivery{GitHub, r.Header.Get(hdrGitHubEvent), r.Header.Get(hdrGitHubDelivery)}
	case r.Header.Get(hdrGitLabEvent) != "":
		d = delivery{GitLab, r.Header.Get(hdrGitLabEvent), r.Header.Get(hdrGitLabUUID)}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reply(w, r, d, http.StatusMethodNotAllowed, "rejected", "method "+r.Method+" not allowed")
		return
	}
	if d.provider == "" {
		h.reply(w, r, d, http.StatusBadRequest, "rejected", "no X-GitHub-Event or X-Gitlab-Event header")
		return
	}
	if code, reason := h.credentialsPresent(r, d); code != 0 {
		h.reply(w, r, d, code, "rejected", reason)
		return
	}
	if r.ContentLength > h.maxBody {
		h.reply(w, r, d, http.StatusRequestEntityTooLarge, "rejected", fmt.Sprintf("body over %d bytes", h.maxBody))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.reply(w, r, d, http.StatusRequestEntityTooLarge, "rejected", fmt.Sprintf("body over %d bytes", h.maxBody))
			return
		}
		h.reply(w, r, d, http.StatusBadRequest, "rejected", "reading body failed")
		return
	}
	if !h.verify(r, d, body) {
		h.reply(w, r, d, http.StatusForbidden, "rejected", "signature or token does not match")
		return
	}

	switch {
	case d.provider == GitHub && d.event == "ping":
		h.reply(w, r, d, http.StatusOK, "pong", "")
		return
	case d.provider == GitHub && d.event == "push", d.provider == GitLab && d.event == "Push Hook":
	case d.provider == GitLab && d.event == "Tag Push Hook":
		h.reply(w, r, d, http.StatusAccepted, "ignored", "tag push")
		return
	default:
		h.reply(w, r, d, http.StatusBadRequest, "rejected", "unsupported event")
		return
	}

	if d.provider == GitHub && isForm(r.Header.Get("Content-Type")) {
		body, err = formPayload(body)
		if err != nil {
			h.reply(w, r, d, http.StatusBadRequest, "rejected", err.Error())
			return
		}
	}
	ev, deleted, err := parsePush(d.provider, body)
	if err != nil {
		h.reply(w, r, d, http.StatusBadRequest, "rejected", err.Error())
		return
	}
	ev.Delivery = d.id
	attrs := []slog.Attr{slog.String(logRef, ev.Ref), slog.String(logCommit, ev.After), slog.String(logRepo, ev.RepoName)}
	switch {
	case !strings.HasPrefix(ev.Ref, "refs/heads/"):
		h.reply(w, r, d, http.StatusAccepted, "ignored", "not a branch", attrs...)
	case ev.Ref != h.ref:
		h.reply(w, r, d, http.StatusAccepted, "ignored", "branch "+ev.Branch+" is not "+strings.TrimPrefix(h.ref, "refs/heads/"), attrs...)
	case deleted:
		h.reply(w, r, d, http.StatusAccepted, "ignored", "branch deleted", attrs...)
	default:
		h.trigger(ev)
		h.reply(w, r, d, http.StatusAccepted, "triggered", "", attrs...)
	}
}

// credentialsPresent rejects a delivery without credentials before its body
// is read: 401 without a signature or token, 403 if the provider is off.
func (h *Handler) credentialsPresent(r *http.Request, d delivery) (int, string) {
	switch d.provider {
	case GitHub:
		if h.githubSecret == nil {
			return http.StatusForbidden, "GitHub webhooks are not enabled"
		}
		if r.Header.Get(hdrGitHubSignature) == "" {
			return http.StatusUnauthorized, "no " + hdrGitHubSignature + " header"
		}
	case GitLab:
		if h.gitlabToken == nil {
			return http.StatusForbidden, "GitLab webhooks are not enabled"
		}
		if r.Header.Get(hdrGitLabToken) == "" {
			return http.StatusUnauthorized, "no " + hdrGitLabToken + " header"
		}
	}
	return 0, ""
}

// verify checks the signature (GitHub) or token (GitLab) in constant time.
func (h *Handler) verify(r *http.Request, d delivery, body []byte) bool {
	switch d.provider {
	case GitHub:
		hexSig, ok := strings.CutPrefix(r.Header.Get(hdrGitHubSignature), "sha256=")
		if !ok {
			return false
		}
		got, err := hex.DecodeString(hexSig)
		if err != nil {
			return false
		}
		mac := hmac.New(sha256.New, h.githubSecret)
		mac.Write(body)
		return hmac.Equal(got, mac.Sum(nil))
	case GitLab:
		// Hash both sides so the comparison does not reveal the length.
		got := sha256.Sum256([]byte(r.Header.Get(hdrGitLabToken)))
		want := sha256.Sum256(h.gitlabToken)
		return subtle.ConstantTimeCompare(got[:], want[:]) == 1
	}
	return false
}

func isForm(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded")
}

// formPayload extracts the JSON of a GitHub delivery sent as a form.
func formPayload(body []byte) ([]byte, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("malformed form body")
	}
	p := v.Get("payload")
	if p == "" {
		return nil, errors.New("form body without a payload field")
	}
	return []byte(p), nil
}

type githubPush struct {
	Ref        *string `json:"ref"`
	Before     string  `json:"before"`
	After      *string `json:"after"`
	Deleted    bool    `json:"deleted"`
	Repository struct {
		FullName string `json:"full_name"`
		CloneURL string `json:"clone_url"`
		SSHURL   string `json:"ssh_url"`
	} `json:"repository"`
}

type gitlabPush struct {
	ObjectKind string  `json:"object_kind"`
	Ref        *string `json:"ref"`
	Before     string  `json:"before"`
	After      *string `json:"after"`
	Project    struct {
		PathWithNamespace string `json:"path_with_namespace"`
		GitHTTPURL        string `json:"git_http_url"`
		GitSSHURL         string `json:"git_ssh_url"`
	} `json:"project"`
	Repository struct {
		GitHTTPURL string `json:"git_http_url"`
		GitSSHURL  string `json:"git_ssh_url"`
	} `json:"repository"`
}

// parsePush decodes a push payload; deleted reports a branch deletion.
func parsePush(provider string, body []byte) (ev PushEvent, deleted bool, err error) {
	var ref, after *string
	switch provider {
	case GitHub:
		var p githubPush
		if err := decode(body, &p); err != nil {
			return PushEvent{}, false, err
		}
		ref, after, deleted = p.Ref, p.After, p.Deleted
		ev = PushEvent{Provider: GitHub, Before: p.Before, RepoURL: p.Repository.CloneURL,
			SSHURL: p.Repository.SSHURL, RepoName: p.Repository.FullName}
	case GitLab:
		var p gitlabPush
		if err := decode(body, &p); err != nil {
			return PushEvent{}, false, err
		}
		if p.ObjectKind != "push" {
			return PushEvent{}, false, fmt.Errorf("object_kind %q is not push", p.ObjectKind)
		}
		ref, after = p.Ref, p.After
		ev = PushEvent{Provider: GitLab, Before: p.Before, RepoURL: p.Project.GitHTTPURL,
			SSHURL: p.Project.GitSSHURL, RepoName: p.Project.PathWithNamespace}
		if ev.RepoURL == "" {
			ev.RepoURL = p.Repository.GitHTTPURL
		}
		if ev.SSHURL == "" {
			ev.SSHURL = p.Repository.GitSSHURL
		}
	}
	if ref == nil || *ref == "" {
		return PushEvent{}, false, errors.New("payload has no ref")
	}
	if after == nil || !isSHA(*after) {
		return PushEvent{}, false, errors.New("payload has no valid after commit")
	}
	ev.Ref, ev.After = *ref, *after
	ev.Branch = strings.TrimPrefix(ev.Ref, "refs/heads/")
	if ev.After == zeroSHA {
		deleted = true
	}
	return ev, deleted, nil
}

func decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return errors.New("malformed JSON payload")
	}
	if dec.More() {
		return errors.New("malformed JSON payload: trailing data")
	}
	return nil
}

// isSHA accepts a SHA-1 or SHA-256 object name in hex.
func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

type response struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// reply writes the JSON response and logs the outcome. Reasons are fixed
// texts or payload fields, never a header value that carries a credential.
func (h *Handler) reply(w http.ResponseWriter, r *http.Request, d delivery, code int, status, reason string, extra ...slog.Attr) {
	level := slog.LevelInfo
	if code >= 400 {
		level = slog.LevelWarn
	}
	attrs := append([]slog.Attr{
		slog.String(logProvider, d.provider), slog.String(logEvent, d.event),
		slog.String(logDelivery, d.id), slog.Int(logStatus, code),
		slog.String(logReason, reason), slog.String(logRemote, r.RemoteAddr),
	}, extra...)
	h.log.LogAttrs(r.Context(), level, "webhook "+status, attrs...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(response{Status: status, Reason: reason})
}
