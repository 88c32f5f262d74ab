// Package openctisim is an OpenCTI simulator: a real HTTP server speaking OpenCTI's wire formats
// (the live stream over SSE in stream.go, the GraphQL connector and import API in graphql.go),
// with bearer-token authentication and fault injection. Tests, benchmarks and the `demo`
// command run it on loopback.
package openctisim

import (
	"net/http"
	"strings"
	"sync"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/loopback"
)

// Server is one simulated OpenCTI platform.
type Server struct {
	loopback.Sim // Faults, ServeHTTP, Start, URL
	token        string
	mux          *http.ServeMux

	mu     sync.Mutex // guards the stores below
	stream *streamStore
	graph  *graphStore
	ident  identity
}

// New builds a simulator that accepts `Authorization: Bearer <token>`.
func New(token string) *Server {
	s := &Server{token: token, mux: http.NewServeMux()}
	s.stream = newStreamStore()
	s.graph = newGraphStore()
	s.registerStream()
	s.registerGraphQL()
	s.Init(http.HandlerFunc(s.authenticated))
	return s
}

// Close stops the server.
func (s *Server) Close() error {
	s.stopStreams() // open event streams never end by themselves; Shutdown would wait forever
	return s.Sim.Close()
}

func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		if strings.HasPrefix(r.URL.Path, "/stream") {
			writeStatusMessage(w, http.StatusUnauthorized, msgNotAuthenticated)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"message":"You must be logged in to do this.","extensions":{"code":"AUTH_REQUIRED"}}]}`))
		return
	}
	s.mux.ServeHTTP(w, r)
}
