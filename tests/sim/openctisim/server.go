// Package openctisim is an OpenCTI simulator: a real HTTP server speaking OpenCTI's wire formats
// (the live stream over SSE in stream.go, the GraphQL connector and import API in graphql.go),
// with bearer-token authentication and fault injection. Tests, benchmarks and the `demo`
// command run it on loopback.
package openctisim

import (
	"net/http"
	"sync"

	"github.com/opencti-harfanglab/opencti-harfanglab/tests/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/sim/loopback"
)

// Server is one simulated OpenCTI platform.
type Server struct {
	token  string
	mux    *http.ServeMux
	faults *faults.Injector

	mu     sync.Mutex // guards the stores below
	stream *streamStore
	graph  *graphStore

	net loopback.Server
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
func (s *Server) Start(addr string) (string, error) { return s.net.Start(addr, s) }

// URL is the base URL once started.
func (s *Server) URL() string { return s.net.URL() }

// Close stops the server.
func (s *Server) Close() error {
	s.stopStreams() // open event streams never end by themselves; Shutdown would wait forever
	return s.net.Close()
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
