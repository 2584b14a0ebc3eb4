package opennebula

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	gerr "github.com/OpenNebula/one/src/oca/go/src/goca/errors"
)

var (
	// errMalformed marks an answer the adapter cannot read.
	errMalformed = errors.New("malformed OpenNebula answer")
	// errNotFound marks a resource that is gone (oned NO_EXISTS, OneFlow 404).
	errNotFound = errors.New("not found")
)

// FlowError is a non-2xx OneFlow answer.
type FlowError struct {
	Status  int
	Message string
}

func (e *FlowError) Error() string {
	return fmt.Sprintf("OneFlow HTTP %d: %s", e.Status, e.Message)
}

// Is makes a 404 match errNotFound.
func (e *FlowError) Is(target error) bool {
	return target == errNotFound && e.Status == http.StatusNotFound
}

// newFlowError reads OneFlow's {"error":{"message":...}} body.
func newFlowError(status int, body string) *FlowError {
	var b struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := strings.TrimSpace(body)
	if json.Unmarshal([]byte(body), &b) == nil && b.Error.Message != "" {
		msg = b.Error.Message
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return &FlowError{Status: status, Message: msg}
}

// oneCode returns oned's error code of err, if it is a oned answer.
func oneCode(err error) (gerr.OneErrCode, bool) {
	var re *gerr.ResponseError
	if errors.As(err, &re) {
		return re.Code, true
	}
	return 0, false
}

func isAllocate(err error) bool {
	c, ok := oneCode(err)
	return ok && c == gerr.OneAllocateError
}

func isNoExists(err error) bool {
	c, ok := oneCode(err)
	return (ok && c == gerr.OneNoExistsError) || errors.Is(err, errNotFound)
}

// retryable reports whether err is transient: transport failures and
// timeouts, HTTP 5xx and 429 (from oned's front end or OneFlow). oned's
// own answers are deterministic and never retried (AUTHENTICATION and
// ALLOCATE in particular).
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if _, ok := oneCode(err); ok {
		return false
	}
	var fe *FlowError
	if errors.As(err, &fe) {
		return fe.Status >= 500 || fe.Status == http.StatusTooManyRequests
	}
	var ce *gerr.ClientError
	if errors.As(err, &ce) {
		switch ce.Code {
		case gerr.ClientReqHTTP:
			return true
		case gerr.ClientRespHTTP:
			if ce.HttpResp == nil {
				return true
			}
			s := ce.HttpResp.StatusCode
			return s >= 500 || s == http.StatusTooManyRequests
		default:
			return false
		}
	}
	// OneFlow transport errors arrive as *url.Error from net/http.
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "EOF") ||
		strings.Contains(err.Error(), "connection reset")
}
