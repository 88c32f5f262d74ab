// Package safehttp holds the HTTP client policies every component shares so credentials stay
// on the server the user configured.
package safehttp

import (
	"fmt"
	"net/http"
)

// RedirectPolicy is an http.Client CheckRedirect that follows at most maxHops redirects, and
// only to the scheme and host of the first request: Go keeps the Authorization header on a
// redirect to the same host, so an https→http hop would send the token in clear text. With
// getOnly, a redirected write is not followed either (Go turns a redirected POST into a GET and
// drops a redirected PATCH body); its 3xx answer is returned instead.
func RedirectPolicy(maxHops int, getOnly bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) == 0 {
			return nil
		}
		first := via[0]
		if getOnly && first.Method != http.MethodGet {
			return http.ErrUseLastResponse
		}
		if req.URL.Scheme != first.URL.Scheme || req.URL.Host != first.URL.Host {
			return fmt.Errorf("refusing a redirect from %s://%s to %s://%s: credentials stay on the configured server",
				first.URL.Scheme, first.URL.Host, req.URL.Scheme, req.URL.Host)
		}
		if len(via) >= maxHops {
			return fmt.Errorf("stopped after %d redirects", len(via))
		}
		return nil
	}
}
