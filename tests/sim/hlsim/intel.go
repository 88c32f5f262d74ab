package hlsim

// intelStore holds the threat-intelligence part (sources, IOC rules, Sigma rules, YARA files).
// Placeholder: the threat-intelligence simulator replaces this file.
type intelStore struct{}

func newIntelStore() *intelStore { return &intelStore{} }

func (s *Server) registerIntel() {}
