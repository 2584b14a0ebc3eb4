package api

import (
	"net/http"
	"strings"
	"unicode"
)

// ActorHeader names who asks for an on-call action (vdc sends
// "user@host", or $VDC_ACTOR); the daemon logs it with the action. It is
// informational: the bearer token is what authorises.
const ActorHeader = "X-VDC-Actor"

// maxActorLen caps the logged actor.
const maxActorLen = 64

// SetActor makes the client name actor in the requests it sends.
func (c *Client) SetActor(actor string) { c.actor = actor }

// actorOf is the request's actor for the log: the header, printable and
// capped, else what the request came through.
func actorOf(r *http.Request, fallback string) string {
	a := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) && r != '"' {
			return r
		}
		return -1
	}, strings.TrimSpace(r.Header.Get(ActorHeader)))
	if len(a) > maxActorLen {
		a = a[:maxActorLen]
	}
	if a == "" {
		return fallback
	}
	return a
}

// logAction logs an on-call action once, with its actor and outcome.
func (s *Server) logAction(r *http.Request, action, customer, via string, err error) {
	args := []any{"action", action, "customer", customer, "actor", actorOf(r, "unknown"), "via", via, "remote", r.RemoteAddr}
	if err != nil {
		s.log.Warn("on-call action refused", append(args, logKeyError, err.Error())...)
		return
	}
	s.log.Info("on-call action", args...)
}
