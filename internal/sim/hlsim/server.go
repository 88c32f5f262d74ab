// Package hlsim is a HarfangLab simulator: a real HTTP server speaking the HarfangLab API wire
// format (threat-intelligence lists and rules in intel.go, security events and threats in
// alerts.go), with token authentication and fault injection. Tests, benchmarks and the `demo`
// command run it on loopback.
package hlsim

import (
	"net/http"
	"strings"
	"sync"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/loopback"
)

// Server is one simulated HarfangLab.
type Server struct {
	loopback.Sim // Faults, ServeHTTP, Start, URL, Close
	token        string
	mux          *http.ServeMux

	mu sync.Mutex // guards the fields below
	// lenient turns off the evidenced behaviours of real consoles (reference
	// harfanglab-api-evidence.md) that a simulator written from assumptions would not show.
	// Strict is the default so the product's own tests prove it works with real consoles.
	lenient bool
	// resultWindow overrides Elasticsearch's default result window (SetResultWindow).
	resultWindow int
	intel        *intelStore
	alerts       *alertStore
}

// New builds a simulator that accepts `Authorization: Token <token>`.
func New(token string) *Server {
	s := &Server{token: token, mux: http.NewServeMux()}
	s.intel = newIntelStore()
	s.alerts = newAlertStore()
	s.registerIntel()
	s.registerAlerts()
	s.registerMeta()
	s.Init(http.HandlerFunc(s.authenticated))
	return s
}

// SetLenient switches between the strict, evidenced behaviour (false, the default) and the
// lenient one our first simulator assumed (true). Each behaviour it covers says so where it is
// implemented.
func (s *Server) SetLenient(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lenient = on
}

// Lenient reports the mode set by SetLenient.
func (s *Server) Lenient() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lenient
}

// SetToken replaces the accepted token, as a console administrator revoking or renewing it:
// requests with the old one are answered 401 from now on.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	token := s.token
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Token "+token {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"detail":"Invalid token."}`))
		return
	}
	// DRF redirects a path without its trailing slash (APPEND_SLASH); clients must not rely on it.
	if !strings.HasSuffix(r.URL.Path, "/") {
		target := r.URL.Path + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	s.mux.ServeHTTP(w, r)
}
