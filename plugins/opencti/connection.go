package opencti

import (
	"context"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// ConnectionTest implements service.ConnectionTestable: it opens the live stream exactly as
// Connect does (URL, TLS, token, capability, stream id) and closes it once the headers say it
// is an event stream, so Benthos tooling and `check` can verify the settings without reading.
func (s *streamInput) ConnectionTest(ctx context.Context) service.ConnectionTestResults {
	r := newStreamReader(s, "", "")
	defer r.stop()
	resp, err := r.open(ctx)
	if err != nil {
		return service.ConnectionTestFailed(err).AsList()
	}
	_ = resp.Body.Close()
	return service.ConnectionTestSucceeded().AsList()
}

// ConnectionTest implements service.ConnectionTestable: one GraphQL query any valid token may
// run (`me`), which verifies URL, TLS and token.
func (o *openCTIOutput) ConnectionTest(ctx context.Context) service.ConnectionTestResults {
	var out struct {
		Me struct {
			ID string `json:"id"`
		} `json:"me"`
	}
	if err := o.client.Do(ctx, "me", "query Me { me { id } }", nil, &out); err != nil {
		return service.ConnectionTestFailed(err).AsList()
	}
	return service.ConnectionTestSucceeded().AsList()
}
