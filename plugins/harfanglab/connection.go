package harfanglab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// ConnectionTest implements service.ConnectionTestable: one cheap authenticated read of the
// IOC sources, so Benthos tooling can verify URL, TLS and token without running the pipeline.
func (o *intelOutput) ConnectionTest(ctx context.Context) service.ConnectionTestResults {
	return probe(ctx, o.client, PathIOCSource)
}

// ConnectionTest implements service.ConnectionTestable: one cheap authenticated read of the
// security events.
func (in *alertsInput) ConnectionTest(ctx context.Context) service.ConnectionTestResults {
	return probe(ctx, in.client, PathAlerts)
}

// probe reads one item of path. The error names the endpoint and status (never the token).
func probe(ctx context.Context, c *Client, path string) service.ConnectionTestResults {
	var page json.RawMessage
	if err := c.Get(ctx, path, url.Values{"limit": {"1"}}, &page); err != nil {
		return service.ConnectionTestFailed(fmt.Errorf("reading %s: %w", path, err)).AsList()
	}
	return service.ConnectionTestSucceeded().AsList()
}
