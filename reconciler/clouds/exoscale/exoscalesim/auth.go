package exoscalesim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Authentication failure messages. They never echo the key or signature.
const (
	msgMissingAuth = "missing or malformed Authorization header (want EXO2-HMAC-SHA256)"
	msgBadAuth     = "invalid API key or request signature"
	msgExpired     = "request signature has expired"
)

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rawPath is the escaped path the client sent (and signed), before any
// http.StripPrefix of the mount point.
func rawPath(r *http.Request) string {
	u := r.RequestURI
	if u == "" {
		return r.URL.EscapedPath()
	}
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		if pu, err := url.ParseRequestURI(u); err == nil {
			return pu.EscapedPath()
		}
	}
	p, _, _ := strings.Cut(u, "?")
	return p
}

// authHeader is a parsed EXO2-HMAC-SHA256 Authorization header.
type authHeader struct {
	credential string
	signedArgs []string
	hasArgs    bool
	expires    string
	signature  string
}

func parseAuth(h string) (authHeader, bool) {
	var a authHeader
	rest, ok := strings.CutPrefix(h, "EXO2-HMAC-SHA256 ")
	if !ok {
		return a, false
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, false
		}
		switch k {
		case "credential":
			a.credential = v
		case "signed-query-args":
			a.hasArgs = true
			a.signedArgs = strings.Split(v, ";")
		case "expires":
			a.expires = v
		case "signature":
			a.signature = v
		}
	}
	return a, a.credential != "" && a.expires != "" && a.signature != ""
}

// verify checks the request signature exactly as egoscale computes it
// (v3 api.go signRequest). It returns 0 when the request is authentic,
// else the status and message to answer with.
func (s *Server) verify(r *http.Request, body []byte) (int, string) {
	a, ok := parseAuth(r.Header.Get("Authorization"))
	if !ok {
		return http.StatusUnauthorized, msgMissingAuth
	}
	if subtle.ConstantTimeCompare([]byte(a.credential), []byte(s.opts.APIKey)) != 1 {
		return http.StatusForbidden, msgBadAuth
	}
	exp, err := strconv.ParseInt(a.expires, 10, 64)
	if err != nil {
		return http.StatusUnauthorized, msgMissingAuth
	}
	// Query parameters holding exactly one value, sorted by name.
	q, err := url.ParseQuery(rawQuery(r))
	if err != nil {
		return http.StatusBadRequest, "malformed query string"
	}
	var names []string
	for k, vs := range q {
		if len(vs) == 1 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if a.hasArgs || len(names) > 0 {
		if len(names) != len(a.signedArgs) {
			return http.StatusForbidden, msgBadAuth
		}
		for i := range names {
			if names[i] != a.signedArgs[i] {
				return http.StatusForbidden, msgBadAuth
			}
		}
	}
	var values strings.Builder
	for _, n := range names {
		values.WriteString(q.Get(n))
	}
	msg := strings.Join([]string{
		r.Method + " " + rawPath(r),
		string(body),
		values.String(),
		"",
		a.expires,
	}, "\n")
	mac := hmac.New(sha256.New, []byte(s.opts.APISecret))
	mac.Write([]byte(msg))
	got, err := base64.StdEncoding.DecodeString(a.signature)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return http.StatusForbidden, msgBadAuth
	}
	if s.opts.Now().Unix() > exp {
		return http.StatusForbidden, msgExpired
	}
	return 0, ""
}

func rawQuery(r *http.Request) string {
	if r.RequestURI != "" {
		if _, q, ok := strings.Cut(r.RequestURI, "?"); ok {
			return q
		}
		return ""
	}
	return r.URL.RawQuery
}
