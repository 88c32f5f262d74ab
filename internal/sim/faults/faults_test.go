package faults

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestInjectorAnswersFaultsAndCounts(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	inj := New(ok)
	srv := httptest.NewServer(inj)
	defer srv.Close()

	inj.Set(Config{Rate429: 1, RetryAfter: 1500 * time.Millisecond})
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("got %d Retry-After=%q, want 429 and 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	inj.Set(Config{RateDrop: 1})
	if resp, err := http.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped connection answered %d", resp.StatusCode)
	}
	inj.Set(Config{})
	resp, err = http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || inj.Requests() != 3 || inj.Faulted() != 2 {
		t.Fatalf("status %d, requests %d, faulted %d", resp.StatusCode, inj.Requests(), inj.Faulted())
	}
}
