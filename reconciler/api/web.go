package api

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/daemon"
	"github.com/agentvdc/agentvdc/state"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageRefreshSeconds is how often the status page reloads itself.
const pageRefreshSeconds = 15

// pageHistoryLimit is the history length on a customer page.
const pageHistoryLimit = 20

// maxNextLen caps the redirect target after sign-in.
const maxNextLen = 2048

// The page's security headers: nothing but inline styles and same-origin
// forms; no scripts at all.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func parsePages(now func() time.Time) (*template.Template, error) {
	t, err := template.New("pages").Funcs(template.FuncMap{
		"age":    func(t time.Time) string { return ageString(now(), t) },
		"until":  func(t time.Time) string { return untilString(now(), t) },
		"short":  shortCommit,
		"usd":    usd,
		"dur":    durString,
		"secs":   func(s float64) string { return durString(time.Duration(s * float64(time.Second))) },
		"trunc":  trunc,
		"attrs":  attrLines,
		"latest": latestDecision,
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("api: parse page templates: %w", err)
	}
	return t, nil
}

// page is what every page template gets.
type page struct {
	Title    string
	Refresh  int
	SignedIn bool
	Now      time.Time
	Err      string
}

type statusCount struct {
	Status state.Status
	N      int
}

type indexPage struct {
	page
	Customers []daemon.CustomerView
	Counts    []statusCount
	CostUSD   float64
	ListUSD   float64
}

type customerPage struct {
	page
	C          *daemon.CustomerView
	History    []state.ApplyRecord
	HistoryErr string
}

type loginPage struct {
	page
	Next string
}

// render executes a page into a buffer first, so a template error is a
// clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := s.pages.ExecuteTemplate(&b, name, data); err != nil {
		s.log.Error("render page", logKeyPath, name, logKeyError, err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *Server) indexPage(w http.ResponseWriter, r *http.Request) {
	d := indexPage{page: page{Title: "Customers", Refresh: pageRefreshSeconds, SignedIn: true, Now: s.now()}}
	cs, err := s.svc.Customers(r.Context())
	status := http.StatusOK
	if err != nil {
		status = http.StatusInternalServerError
		d.Err = "Could not list customers: " + err.Error()
		s.log.Error("status page", logKeyError, err)
	}
	d.Customers = cs
	counts := map[state.Status]int{}
	for _, c := range cs {
		counts[c.Status.Status]++
		d.CostUSD += c.MonthlyCostUSD
		d.ListUSD += c.ListPriceUSD
	}
	for _, st := range state.Statuses() {
		if counts[st] > 0 {
			d.Counts = append(d.Counts, statusCount{Status: st, N: counts[st]})
		}
	}
	s.render(w, status, "index.html", d)
}

func (s *Server) customerPage(w http.ResponseWriter, r *http.Request) {
	s.renderCustomer(w, r, http.StatusOK, "")
}

func (s *Server) renderCustomer(w http.ResponseWriter, r *http.Request, status int, msg string) {
	name := r.PathValue("name")
	d := customerPage{page: page{Title: name, Refresh: pageRefreshSeconds, SignedIn: true, Now: s.now(), Err: msg}}
	c, err := s.svc.Customer(r.Context(), name)
	switch {
	case err == nil:
		d.C = &c
	case status == http.StatusOK:
		status = http.StatusInternalServerError
		if isNotFound(err) {
			status = http.StatusNotFound
		}
		d.Err = err.Error()
	}
	if d.C != nil {
		d.History, err = s.svc.History(r.Context(), name, pageHistoryLimit)
		if err != nil {
			d.HistoryErr = "Could not read the history: " + err.Error()
		}
	}
	s.render(w, status, "customer.html", d)
}

func (s *Server) pageAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var err error
	switch r.PathValue("action") {
	case "reconcile":
		err = s.svc.Reconcile(r.Context(), name)
	case "suspend":
		err = s.svc.Hold(r.Context(), name, true)
	case "resume":
		err = s.svc.Hold(r.Context(), name, false)
	default:
		http.NotFound(w, r)
		return
	}
	s.logAction(r, r.PathValue("action"), name, "status page", err)
	if err != nil {
		status := http.StatusInternalServerError
		if isNotFound(err) {
			status = http.StatusNotFound
		}
		s.renderCustomer(w, r, status, fmt.Sprintf("%s failed: %v", r.PathValue("action"), err))
		return
	}
	http.Redirect(w, r, "/customers/"+url.PathEscape(name), http.StatusSeeOther)
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	next := r.URL.Path
	if r.URL.Path == "/login" {
		next = safeNext(r.FormValue("next"))
	}
	s.render(w, status, "login.html", loginPage{page: page{Title: "Sign in", Now: s.now(), Err: msg}, Next: next})
}

// login sets the token cookie from the form field (POST) or the query
// (GET, for scripts and headless browsers), then redirects to next.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, "Bad form.")
		return
	}
	tok := r.PostForm.Get("token")
	if r.Method == http.MethodGet {
		tok = r.Form.Get("token")
	}
	if tok == "" {
		s.renderLogin(w, r, http.StatusOK, "")
		return
	}
	if s.authLimited(w, r) {
		s.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed sign-ins from this address; try again later.")
		return
	}
	if !tokenMatch(tok, s.token) {
		s.authFailed(r, "wrong token (sign-in form)")
		s.renderLogin(w, r, http.StatusForbidden, "The token was not accepted.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: tok, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, safeNext(r.Form.Get("next")), http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps redirects on this server: a same-origin absolute path
// only, else "/". It accepts printable ASCII alone (browsers drop tabs and
// newlines and read a backslash as a slash, so "/\t/host" and "/\\host"
// would leave the site), refuses "//" and anything with a scheme, host or
// user, and refuses encoded slashes, backslashes and control characters
// (%2f, %5c, %09), which a second decoding would turn into the same.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > maxNextLen {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "/"
		}
	}
	if strings.HasPrefix(next, "//") {
		return "/"
	}
	lower := strings.ToLower(next)
	for _, enc := range []string{"%2f", "%5c", "%0", "%1", "%7f", "%20"} {
		if strings.Contains(lower, enc) {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") || u.Path == "/login" {
		return "/"
	}
	return next
}

func isNotFound(err error) bool { return errors.Is(err, daemon.ErrNotFound) }

// Template helpers: formatting only.

func ageString(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return humanDuration(now.Sub(t)) + " ago"
}

func untilString(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := t.Sub(now)
	if d <= 0 {
		return "due"
	}
	return "in " + humanDuration(d)
}

func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

func durString(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	out := d.Round(time.Second).String() // "1h0m0s" → "1h", "2m0s" → "2m"
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

func shortCommit(c string) string {
	if c == "" {
		return "—"
	}
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func usd(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "?"
	}
	if v < 0 {
		return fmt.Sprintf("-$%.2f", -v)
	}
	return fmt.Sprintf("$%.2f", v)
}

func trunc(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// attrLines lists attributes as sorted key=value lines, long values cut.
func attrLines(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+trunc(v, 80))
	}
	sort.Strings(out)
	return out
}

// latestDecision is the newest decision (the list is newest first).
func latestDecision(ds []daemon.ScaleDecision) *daemon.ScaleDecision {
	if len(ds) == 0 {
		return nil
	}
	return &ds[0]
}
