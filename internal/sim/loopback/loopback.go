// Package loopback serves a simulator's handler on a loopback address (never another one by
// default: simulators are test peers, not services).
package loopback

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
)

// Server is one listening HTTP server.
type Server struct {
	srv *http.Server
	url string
}

// Start listens on addr (default 127.0.0.1:0) and serves h; it returns the base URL.
func (l *Server) Start(addr string, h http.Handler) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	l.srv = &http.Server{Handler: h}
	l.url = "http://" + ln.Addr().String()
	go func() { _ = l.srv.Serve(ln) }()
	return l.url, nil
}

// URL is the base URL once started.
func (l *Server) URL() string { return l.url }

// Close stops the server, waiting for the requests in progress.
func (l *Server) Close() error {
	if l.srv == nil {
		return nil
	}
	err := l.srv.Shutdown(context.Background())
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Sim is what every simulator shares: fault injection in front of its handler, and a loopback
// listener. Embed it and call Init with the simulator's own (authenticating) handler.
type Sim struct {
	faults *faults.Injector
	net    Server
}

// Init puts fault injection in front of h.
func (s *Sim) Init(h http.Handler) { s.faults = faults.New(h) }

// Faults gives access to fault injection and request counters.
func (s *Sim) Faults() *faults.Injector { return s.faults }

// ServeHTTP makes the simulator usable with httptest.NewServer.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.faults.ServeHTTP(w, r) }

// Start listens on addr (default 127.0.0.1:0, loopback only) and returns the base URL.
func (s *Sim) Start(addr string) (string, error) { return s.net.Start(addr, s) }

// URL is the base URL once started.
func (s *Sim) URL() string { return s.net.URL() }

// Close stops the listener.
func (s *Sim) Close() error { return s.net.Close() }
