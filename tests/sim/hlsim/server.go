// Package hlsim is a HarfangLab simulator: a real HTTP server speaking the HarfangLab API wire
// format (threat-intelligence lists and rules in intel.go, security events and threats in
// alerts.go), with token authentication and fault injection. Tests, benchmarks and the `demo`
// command run it on loopback.
package hlsim

import (
	"net/http"
	"strings"
	"sync"

	"github.com/opencti-harfanglab/opencti-harfanglab/tests/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/sim/loopback"
)

// Server is one simulated HarfangLab.
type Server struct {
	token  string
	mux    *http.ServeMux
	faults *faults.Injector

	mu     sync.Mutex // guards the stores below
	intel  *intelStore
	alerts *alertStore

	net loopback.Server
}

// New builds a simulator that accepts `Authorization: Token <token>`.
func New(token string) *Server {
	s := &Server{token: token, mux: http.NewServeMux()}
	s.intel = newIntelStore()
	s.alerts = newAlertStore()
	s.registerIntel()
	s.registerAlerts()
	s.faults = faults.New(http.HandlerFunc(s.authenticated))
	return s
}

// Faults gives access to fault injection and request counters.
func (s *Server) Faults() *faults.Injector { return s.faults }

// ServeHTTP makes the simulator usable with httptest.NewServer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.faults.ServeHTTP(w, r) }

// Start listens on addr (default 127.0.0.1:0, loopback only) and returns the base URL.
func (s *Server) Start(addr string) (string, error) { return s.net.Start(addr, s) }

// URL is the base URL once started.
func (s *Server) URL() string { return s.net.URL() }

// Close stops the server.
func (s *Server) Close() error {
	return s.net.Close()
}

func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Token "+s.token {
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
