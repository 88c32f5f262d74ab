// Package hlsim is a OpenCTI simulator: a real HTTP server speaking the OpenCTI wire
// format (threat-intelligence lists and rules in intel.go, security events and threats in
// alerts.go), with token authentication and fault injection. Tests, benchmarks and the `demo`
// command run it on loopback.
package openctisim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"

	"github.com/opencti-harfanglab/opencti-harfanglab/tests/sim/faults"
)

// Server is one simulated OpenCTI platform.
type Server struct {
	token  string
	mux    *http.ServeMux
	faults *faults.Injector

	mu     sync.Mutex // guards the stores below
	stream *streamStore
	graph  *graphStore

	httpSrv *http.Server
	url     string
}

// New builds a simulator that accepts `Authorization: Bearer <token>`.
func New(token string) *Server {
	s := &Server{token: token, mux: http.NewServeMux()}
	s.stream = newStreamStore()
	s.graph = newGraphStore()
	s.registerStream()
	s.registerGraphQL()
	s.faults = faults.New(http.HandlerFunc(s.authenticated))
	return s
}

// Faults gives access to fault injection and request counters.
func (s *Server) Faults() *faults.Injector { return s.faults }

// ServeHTTP makes the simulator usable with httptest.NewServer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.faults.ServeHTTP(w, r) }

// Start listens on addr (default 127.0.0.1:0, loopback only) and returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.httpSrv = &http.Server{Handler: s}
	s.url = "http://" + ln.Addr().String()
	go func() { _ = s.httpSrv.Serve(ln) }()
	return s.url, nil
}

// URL is the base URL once started.
func (s *Server) URL() string { return s.url }

// Close stops the server.
func (s *Server) Close() error {
	s.stopStreams() // open event streams never end by themselves; Shutdown would wait forever
	if s.httpSrv == nil {
		return nil
	}
	err := s.httpSrv.Shutdown(context.Background())
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"message":"You must be logged in to do this.","extensions":{"code":"AUTH_REQUIRED"}}]}`))
		return
	}
	s.mux.ServeHTTP(w, r)
}
