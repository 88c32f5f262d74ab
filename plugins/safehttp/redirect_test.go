package safehttp

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func request(method, url string) *http.Request {
	r, _ := http.NewRequest(method, url, nil)
	return r
}

func TestRedirectPolicy(t *testing.T) {
	policy := RedirectPolicy(3, true)
	get := request(http.MethodGet, "https://hl.example:8443/api/data/x/")
	if err := policy(request(http.MethodGet, "https://hl.example:8443/api/data/x/?page=2"), []*http.Request{get}); err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	for _, to := range []string{"http://hl.example:8443/api/data/x/", "https://other.example:8443/x/", "https://hl.example:9443/x/"} {
		err := policy(request(http.MethodGet, to), []*http.Request{get})
		if err == nil || !strings.Contains(err.Error(), "refusing a redirect") {
			t.Errorf("redirect to %s followed: %v", to, err)
		}
	}
	post := request(http.MethodPost, "https://hl.example:8443/api/data/x/")
	if err := policy(request(http.MethodGet, "https://hl.example:8443/api/data/x/"), []*http.Request{post}); !errors.Is(err, http.ErrUseLastResponse) {
		t.Errorf("a redirected write was followed: %v", err)
	}
	chain := []*http.Request{get, get, get}
	if err := policy(request(http.MethodGet, "https://hl.example:8443/y/"), chain); err == nil {
		t.Error("no limit on redirects")
	}
}
