package openctisim

// streamStore holds the live streams' events.
// Placeholder: the stream simulator replaces this file.
type streamStore struct{}

func newStreamStore() *streamStore { return &streamStore{} }

func (s *Server) registerStream() {}
