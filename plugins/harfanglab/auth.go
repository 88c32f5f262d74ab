package harfanglab

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// tokenEnvVar is where the shipped pipelines read the `token` of every HarfangLab component
// from: the setting a user must fix when HarfangLab refuses it.
const tokenEnvVar = "HARFANGLAB_TOKEN"

// authError is the one line, for the intel output and the alerts input alike, that says what to
// fix when HarfangLab refuses the token (401) or its rights (403). It never contains the token.
func authError(err error) error {
	return fmt.Errorf("HarfangLab refuses the API token (field %s, %s in the shipped pipelines): "+
		"set a valid token whose user may read security events and write threat intelligence; "+
		"the work waits and is retried, nothing is dead-lettered: %w",
		hlFieldToken, tokenEnvVar, err)
}

// onAuthFailure turns a 401/403 met while writing into "not connected": Benthos retries the
// change with back-off through Connect (which probes the token) and /ready turns false, instead
// of dead-lettering every change while the token is expired (issue 10, item 11).
func (o *intelOutput) onAuthFailure(err error) error {
	if o.authFailed.CompareAndSwap(false, true) {
		o.log.Errorf("%v", authError(err))
	}
	return service.ErrNotConnected
}

// reconnectAuth is Connect after an auth failure: it waits a growing delay (a 403 on writes may
// pass the read probe, and must not turn into a busy loop), then probes the token with a read.
func (o *intelOutput) reconnectAuth(ctx context.Context) error {
	attempt := int(o.authAttempts.Add(1)) - 1
	select {
	case <-time.After(o.client.Backoff(min(attempt, 10))):
	case <-ctx.Done():
		return ctx.Err()
	}
	q := url.Values{"name__exact": {o.sourceListName}, "limit": {"1"}}
	if err := o.client.Get(ctx, PathIOCSource, q, nil); err != nil {
		if IsAuthFailure(err) {
			return authError(err)
		}
		return fmt.Errorf("probing the HarfangLab token: %w", err)
	}
	if o.authFailed.CompareAndSwap(true, false) {
		o.log.Infof("HarfangLab accepts the API token again: resuming the writes")
	}
	return nil
}
