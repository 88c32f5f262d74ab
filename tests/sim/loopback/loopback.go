// Package loopback serves a simulator's handler on a loopback address (never another one by
// default: simulators are test peers, not services).
package loopback

import (
	"context"
	"errors"
	"net"
	"net/http"
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
