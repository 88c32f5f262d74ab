package harfanglab

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
)

// Raw sends one request (a single attempt, no retry) and returns HarfangLab's answer as it is,
// whatever its status: the `check` command reports what a console answered, not what the
// components make of it. path is relative to {URL}/api/data/; the trailing slash is ensured.
// err is only set when no answer came (network, TLS, timeout); it never contains the token.
func (c *Client) Raw(ctx context.Context, method, path string, q url.Values, body any) (status int, answer []byte, err error) {
	return c.raw(ctx, method, c.resolve(path, q), body)
}

// APIVersion is Raw for GET {URL}/api/version/, the endpoint HarfangLab's own XSOAR integration
// calls to test a connection (its answer carries `version`).
func (c *Client) APIVersion(ctx context.Context) (status int, answer []byte, err error) {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "data/") + "version/"
	u.RawPath = ""
	return c.raw(ctx, http.MethodGet, &u, nil)
}

func (c *Client) raw(ctx context.Context, method string, u *url.URL, body any) (int, []byte, error) {
	c.requests.Add(1)
	status, _, answer, err := c.send(ctx, method, u, body)
	defer putBuffer(answer)
	if err != nil {
		return 0, nil, err
	}
	return status, bytes.Clone(answer.Bytes()), nil
}
