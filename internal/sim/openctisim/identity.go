package openctisim

import "slices"

// The identity part of the GraphQL simulator: `me { id name capabilities { name } }` and
// `about { version }`, which the `check` command asks before anything else.
//
//	SetCapabilities(names...)   capabilities of the token's user (default: BYPASS and the
//	                            connector ones); without BYPASS the stream `live` answers 401, as
//	                            SetBypass(false) does; SetConnectorAPI(false) removes CONNECTORAPI
//	                            and BYPASS from what `me` reports
//	SetVersion(v)               what `about { version }` answers (default Version)

// Version is the OpenCTI version the simulator claims by default.
const Version = "6.8.10"

// defaultCapabilities are those of an administrator-like connector user.
var defaultCapabilities = []string{"BYPASS", "CONNECTORAPI", "KNOWLEDGE", "KNOWLEDGE_KNUPDATE", "TAXIIAPI"}

type identity struct {
	capabilities []string // nil: defaultCapabilities
	version      string
}

// SetCapabilities replaces the capabilities `me` reports for the token's user.
func (s *Server) SetCapabilities(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ident.capabilities = append([]string{}, names...)
	s.stream.noBypass = !slices.Contains(names, "BYPASS")
}

// SetVersion replaces the version `about` reports.
func (s *Server) SetVersion(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ident.version = v
}

// me answers the `me` query. Callers hold s.mu.
func (s *Server) me() any {
	caps := s.ident.capabilities
	if caps == nil {
		caps = defaultCapabilities
	}
	var out []map[string]any
	for _, c := range caps {
		if s.graph.noConnector && (c == "CONNECTORAPI" || c == "BYPASS") {
			continue // SetConnectorAPI(false): the user lost its connector rights
		}
		if s.stream.noBypass && c == "BYPASS" {
			continue // SetBypass(false)
		}
		out = append(out, map[string]any{"name": c})
	}
	return map[string]any{"id": "88ec0c6a-13ce-5e39-b486-354fe4a7084f", "name": "connector", "capabilities": out}
}

// about answers the `about` query. Callers hold s.mu.
func (s *Server) about() any {
	v := s.ident.version
	if v == "" {
		v = Version
	}
	return map[string]any{"version": v}
}
