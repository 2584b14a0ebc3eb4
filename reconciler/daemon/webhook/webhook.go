package webhook

import (
	"bytes"
	"container/list"
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
	"strconv"
	"strings"
	"sync"

	"golang.org/x/time/rate"

	"github.com/agentvdc/agentvdc/reconciler/internal/clientlimit"
)

// Limits.
const (
	// DefaultMaxBodyBytes is the largest accepted payload.
	DefaultMaxBodyBytes = 1 << 20
	// MinSecretBytes is the shortest GitHub secret or GitLab token New
	// accepts.
	MinSecretBytes = 16
	// DefaultDedupeSize is how many verified delivery ids are remembered.
	DefaultDedupeSize = 1024
	// DefaultRejectBurst rejected calls per client IP are answered and
	// logged as such; past that, DefaultRejectRate per second, and the
	// others get 429 and are only counted.
	DefaultRejectBurst = 20
	DefaultRejectRate  = rate.Limit(0.5)
	// maxLogValue caps a header value in the log; maxLogField a payload
	// field (ref, repository).
	maxLogValue = 64
	maxLogField = 256
	// maxDeliveryID: longer ids are not remembered for deduplication.
	maxDeliveryID = 128
)

// Reasons of a rejected call, the label values of the rejection counter
// (Config.Rejected).
const (
	ReasonMethod        = "method"
	ReasonNoEvent       = "no_event"
	ReasonDisabled      = "disabled"
	ReasonNoCredentials = "no_credentials"
	ReasonTooLarge      = "too_large"
	ReasonBadBody       = "bad_body"
	ReasonBadSignature  = "bad_signature"
	ReasonUnsupported   = "unsupported_event"
	ReasonBadPayload    = "bad_payload"
	ReasonRateLimited   = "rate_limited"
	// ReasonDuplicate: a verified delivery seen before (answered 202
	// "duplicate", not acted upon).
	ReasonDuplicate = "duplicate"
)

// Reasons lists every reason, for pre-creating counter series.
func Reasons() []string {
	return []string{ReasonMethod, ReasonNoEvent, ReasonDisabled, ReasonNoCredentials, ReasonTooLarge, ReasonBadBody,
		ReasonBadSignature, ReasonUnsupported, ReasonBadPayload, ReasonRateLimited, ReasonDuplicate}
}

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
	// logSuppressed: rejected calls not logged since the last line.
	logSuppressed = "suppressed"
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
	// Rejected, if set, is called once per call not acted upon, with its
	// reason (one of Reasons); it must not block (a counter).
	Rejected func(reason string)
	// DedupeSize is how many delivery ids are remembered (default
	// DefaultDedupeSize).
	DedupeSize int
	// RejectRate and RejectBurst bound the rejected calls answered per
	// client IP (defaults DefaultRejectRate, DefaultRejectBurst).
	RejectRate  rate.Limit
	RejectBurst int
}

// Handler is the webhook endpoint. Create it with New.
type Handler struct {
	githubSecret []byte
	gitlabToken  []byte
	ref          string
	trigger      func(PushEvent)
	maxBody      int64
	log          *slog.Logger
	rejected     func(string)
	perIP        *clientlimit.PerClient
	logGate      *clientlimit.LogGate
	seen         *lru
}

var _ http.Handler = (*Handler)(nil)

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.GitHubSecret == "" && cfg.GitLabToken == "" {
		return nil, fmt.Errorf("%w: neither a GitHub secret nor a GitLab token is set", ErrConfig)
	}
	if cfg.GitHubSecret != "" && len(cfg.GitHubSecret) < MinSecretBytes {
		return nil, fmt.Errorf("%w: the GitHub webhook secret is %d bytes, shorter than the minimum %d (generate one with: openssl rand -hex 32)", ErrConfig, len(cfg.GitHubSecret), MinSecretBytes)
	}
	if cfg.GitLabToken != "" && len(cfg.GitLabToken) < MinSecretBytes {
		return nil, fmt.Errorf("%w: the GitLab webhook token is %d bytes, shorter than the minimum %d (generate one with: openssl rand -hex 32)", ErrConfig, len(cfg.GitLabToken), MinSecretBytes)
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
	h.rejected = cfg.Rejected
	if h.rejected == nil {
		h.rejected = func(string) {}
	}
	if cfg.RejectRate <= 0 {
		cfg.RejectRate = DefaultRejectRate
	}
	if cfg.RejectBurst <= 0 {
		cfg.RejectBurst = DefaultRejectBurst
	}
	h.perIP = clientlimit.NewPerClient(cfg.RejectRate, cfg.RejectBurst)
	// Rejections from all clients together: a flood from many addresses
	// still adds at most a line a second after the first burst.
	h.logGate = clientlimit.NewLogGate(1, cfg.RejectBurst)
	if cfg.DedupeSize <= 0 {
		cfg.DedupeSize = DefaultDedupeSize
	}
	h.seen = newLRU(cfg.DedupeSize)
	return h, nil
}

// delivery is what a request is known to be, for the response and the log.
// event and id are the raw header values (logged only sanitised).
type delivery struct {
	provider, event, id, ip string
}

// ServeHTTP handles one delivery; see the package documentation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := delivery{ip: clientlimit.IP(r)}
	switch {
	case r.Header.Get(hdrGitHubEvent) != "":
		d.provider, d.event, d.id = GitHub, r.Header.Get(hdrGitHubEvent), r.Header.Get(hdrGitHubDelivery)
	case r.Header.Get(hdrGitLabEvent) != "":
		d.provider, d.event, d.id = GitLab, r.Header.Get(hdrGitLabEvent), r.Header.Get(hdrGitLabUUID)
	}
	// A client past its budget of rejected calls gets 429 at once unless
	// it presents credentials (which are still checked: a busy shared
	// sender such as GitHub's hook servers keeps working).
	if h.perIP.Exhausted(d.ip) && r.Header.Get(hdrGitHubSignature) == "" && r.Header.Get(hdrGitLabToken) == "" {
		h.tooMany(w, d)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, r, d, http.StatusMethodNotAllowed, ReasonMethod, "method "+clientlimit.Sanitize(r.Method, 16)+" not allowed")
		return
	}
	if d.provider == "" {
		h.reject(w, r, d, http.StatusBadRequest, ReasonNoEvent, "no X-GitHub-Event or X-Gitlab-Event header")
		return
	}
	if code, key, reason := h.credentialsPresent(r, d); code != 0 {
		h.reject(w, r, d, code, key, reason)
		return
	}
	if r.ContentLength > h.maxBody {
		h.reject(w, r, d, http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Sprintf("body over %d bytes", h.maxBody))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.reject(w, r, d, http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Sprintf("body over %d bytes", h.maxBody))
			return
		}
		h.reject(w, r, d, http.StatusBadRequest, ReasonBadBody, "reading body failed")
		return
	}
	if !h.verify(r, d, body) {
		h.reject(w, r, d, http.StatusForbidden, ReasonBadSignature, "signature or token does not match")
		return
	}
	// Verified from here on. A delivery id seen before is a redelivery or
	// a replay: answered, not acted upon.
	if d.id != "" && len(d.id) <= maxDeliveryID && !h.seen.add(d.provider+" "+d.id) {
		h.rejected(ReasonDuplicate)
		h.reply(w, r, d, http.StatusAccepted, "duplicate", "delivery already handled")
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
		h.reject(w, r, d, http.StatusBadRequest, ReasonUnsupported, "unsupported event")
		return
	}

	if d.provider == GitHub && isForm(r.Header.Get("Content-Type")) {
		body, err = formPayload(body)
		if err != nil {
			h.reject(w, r, d, http.StatusBadRequest, ReasonBadPayload, err.Error())
			return
		}
	}
	ev, deleted, err := parsePush(d.provider, body)
	if err != nil {
		h.reject(w, r, d, http.StatusBadRequest, ReasonBadPayload, err.Error())
		return
	}
	ev.Delivery = d.id
	attrs := []slog.Attr{slog.String(logRef, clientlimit.Sanitize(ev.Ref, maxLogField)), slog.String(logCommit, ev.After),
		slog.String(logRepo, clientlimit.Sanitize(ev.RepoName, maxLogField))}
	switch {
	case !strings.HasPrefix(ev.Ref, "refs/heads/"):
		h.reply(w, r, d, http.StatusAccepted, "ignored", "not a branch", attrs...)
	case ev.Ref != h.ref:
		h.reply(w, r, d, http.StatusAccepted, "ignored", "branch "+clientlimit.Sanitize(ev.Branch, maxLogField)+" is not "+strings.TrimPrefix(h.ref, "refs/heads/"), attrs...)
	case deleted:
		h.reply(w, r, d, http.StatusAccepted, "ignored", "branch deleted", attrs...)
	default:
		h.trigger(ev)
		h.reply(w, r, d, http.StatusAccepted, "triggered", "", attrs...)
	}
}

// reject answers a call not acted upon: counted always; answered with
// code and logged (through the shared log gate) while the client is within
// its budget of rejections, else 429 and not logged.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, d delivery, code int, key, reason string) {
	reason = clientlimit.Sanitize(reason, maxLogField) // may quote a payload field
	if !h.perIP.Allow(d.ip) {
		h.tooMany(w, d)
		return
	}
	h.rejected(key)
	ok, suppressed := h.logGate.Allow()
	if !ok {
		h.write(w, code, "rejected", reason)
		return
	}
	extra := []slog.Attr{}
	if suppressed > 0 {
		extra = append(extra, slog.Int(logSuppressed, suppressed))
	}
	h.reply(w, r, d, code, "rejected", reason, extra...)
}

// tooMany answers a client past its budget of rejected calls.
func (h *Handler) tooMany(w http.ResponseWriter, d delivery) {
	h.rejected(ReasonRateLimited)
	w.Header().Set("Retry-After", strconv.Itoa(h.perIP.RetryAfter(d.ip)))
	h.write(w, http.StatusTooManyRequests, "rejected", "too many rejected calls from this address")
}

// credentialsPresent rejects a delivery without credentials before its body
// is read: 401 without a signature or token, 403 if the provider is off.
func (h *Handler) credentialsPresent(r *http.Request, d delivery) (int, string, string) {
	switch d.provider {
	case GitHub:
		if h.githubSecret == nil {
			return http.StatusForbidden, ReasonDisabled, "GitHub webhooks are not enabled"
		}
		if r.Header.Get(hdrGitHubSignature) == "" {
			return http.StatusUnauthorized, ReasonNoCredentials, "no " + hdrGitHubSignature + " header"
		}
	case GitLab:
		if h.gitlabToken == nil {
			return http.StatusForbidden, ReasonDisabled, "GitLab webhooks are not enabled"
		}
		if r.Header.Get(hdrGitLabToken) == "" {
			return http.StatusUnauthorized, ReasonNoCredentials, "no " + hdrGitLabToken + " header"
		}
	}
	return 0, "", ""
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

// reply writes the JSON response and logs the outcome. Header values are
// logged sanitised and cut (clientlimit.Sanitize); reasons are fixed texts
// or sanitised payload fields, never a header value that carries a
// credential.
func (h *Handler) reply(w http.ResponseWriter, r *http.Request, d delivery, code int, status, reason string, extra ...slog.Attr) {
	level := slog.LevelInfo
	if code >= 400 {
		level = slog.LevelWarn
	}
	attrs := append([]slog.Attr{
		slog.String(logProvider, d.provider), slog.String(logEvent, clientlimit.Sanitize(d.event, maxLogValue)),
		slog.String(logDelivery, clientlimit.Sanitize(d.id, maxLogValue)), slog.Int(logStatus, code),
		slog.String(logReason, reason), slog.String(logRemote, d.ip),
	}, extra...)
	h.log.LogAttrs(r.Context(), level, "webhook "+status, attrs...)
	h.write(w, code, status, reason)
}

func (h *Handler) write(w http.ResponseWriter, code int, status, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(response{Status: status, Reason: reason})
}

// lru remembers the last n keys.
type lru struct {
	mu    sync.Mutex
	n     int
	order *list.List // front: newest
	keys  map[string]*list.Element
}

func newLRU(n int) *lru { return &lru{n: n, order: list.New(), keys: map[string]*list.Element{}} }

// add records key and reports whether it is new.
func (l *lru) add(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.keys[key]; ok {
		l.order.MoveToFront(e)
		return false
	}
	l.keys[key] = l.order.PushFront(key)
	if l.order.Len() > l.n {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.keys, old.Value.(string))
	}
	return true
}
