package exoscale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	v3 "github.com/exoscale/egoscale/v3"

	"github.com/agentvdc/agentvdc/reconciler/clouds/backoff"
)

// ErrOperationFailed is wrapped by the error of an async operation that
// ended in state "failure" or "timeout"; the error text carries the
// operation's reason and message.
var ErrOperationFailed = errors.New("exoscale operation failed")

// retry runs fn until it succeeds, fails with a non-retryable error, the
// attempts are used up or ctx ends. Each attempt has its own
// RequestTimeout. Retryable: 5xx, 429, 408, transport errors (refused,
// reset, dropped connection) and an attempt that timed out while ctx is
// still alive. fn must be safe to repeat (reads, deletes, idempotent PUTs);
// creates go through createOnce, which looks before it repeats.
func (p *Provider) retry(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
		err = fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if !p.retryable(ctx, err) || attempt+1 >= p.cfg.Retry.Attempts {
			break
		}
		if serr := p.backoff(ctx, what, attempt, err); serr != nil {
			return fmt.Errorf("%s: %w (last error: %w)", what, serr, apiErr(err))
		}
	}
	return fmt.Errorf("%s: %w", what, apiErr(err))
}

// backoff logs the failure and sleeps the Retry policy's delay before
// attempt+1 (attempt counts from 0). It returns ctx's error if ctx ends
// first.
func (p *Provider) backoff(ctx context.Context, what string, attempt int, cause error) error {
	d := p.cfg.Retry.Delay(attempt + 1)
	p.log.Warn("exoscale call failed, retrying", "op", what, "attempt", attempt+1, "delay", d, "err", cause)
	return backoff.Sleep(ctx, d)
}

// retryable reports whether err is worth another attempt while ctx lives.
func (p *Provider) retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	for _, s := range []error{
		v3.ErrInternalServerError, v3.ErrBadGateway, v3.ErrServiceUnavailable,
		v3.ErrGatewayTimeout, v3.ErrTooManyRequests, v3.ErrRequestTimeout,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	var api *v3.APIError
	if errors.As(err, &api) {
		return false // any other 4xx/5xx answer is final
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true // the attempt timed out (ctx is alive) or the answer was cut
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// apiErr adds the API's message to err (egoscale's *APIError prints only
// the status text). Exoscale messages name fields and ids, never request
// bodies, so no Sensitive value can leak through them.
func apiErr(err error) error {
	var api *v3.APIError
	if errors.As(err, &api) {
		msg := api.Message
		if msg == "" {
			msg = api.Detail
		}
		// egoscale's text often ends with the status text already.
		if msg != "" && !strings.HasSuffix(err.Error(), msg) {
			return fmt.Errorf("%w: %s", err, msg)
		}
	}
	return err
}

// mutate runs one mutating call that answers with an operation (retried
// like retry: only for calls that are safe to repeat) and waits for the
// operation. It returns the operation's reference id.
func (p *Provider) mutate(ctx context.Context, c *v3.Client, what string, fn func(ctx context.Context) (*v3.Operation, error)) (v3.UUID, error) {
	var op *v3.Operation
	if err := p.retry(ctx, what, func(ctx context.Context) error {
		var err error
		op, err = fn(ctx)
		return err
	}); err != nil {
		return "", err
	}
	return p.wait(ctx, c, what, op)
}

// wait polls the operation until it leaves "pending": every PollInterval
// at first, doubling up to PollMaxInterval, within OperationTimeout.
// egoscale's own Client.Wait first polls after 3 s, which would make every
// mutation take 3 s. A "failure" or "timeout" state is an error wrapping
// ErrOperationFailed with the operation's reason and message.
func (p *Provider) wait(ctx context.Context, c *v3.Client, what string, op *v3.Operation) (v3.UUID, error) {
	if op == nil {
		return "", fmt.Errorf("%s: the API answered without an operation", what)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.OperationTimeout)
	defer cancel()
	interval := p.cfg.PollInterval
	for {
		switch op.State {
		case v3.OperationStateSuccess:
			if op.Reference != nil {
				return op.Reference.ID, nil
			}
			return "", nil
		case v3.OperationStateFailure, v3.OperationStateTimeout:
			return "", fmt.Errorf("%s: operation %s ended in state %q (reason %q): %s: %w",
				what, op.ID, op.State, op.Reason, op.Message, ErrOperationFailed)
		case v3.OperationStatePending:
		default:
			return "", fmt.Errorf("%s: operation %s is in unknown state %q", what, op.ID, op.State)
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("%s: waiting for operation %s: %w", what, op.ID, ctx.Err())
		}
		interval = min(interval*2, p.cfg.PollMaxInterval)
		id := op.ID
		var next *v3.Operation
		if err := p.retry(ctx, "get operation", func(ctx context.Context) error {
			var err error
			next, err = c.GetOperation(ctx, id)
			return err
		}); err != nil {
			return "", fmt.Errorf("%s: waiting for operation %s: %w", what, id, err)
		}
		op = next
	}
}

// gone reports whether err is the API's 404.
func gone(err error) bool { return errors.Is(err, v3.ErrNotFound) }
