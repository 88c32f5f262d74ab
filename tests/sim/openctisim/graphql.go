package openctisim

// graphStore holds connectors, works and the objects pushed through stixBundlePush.
// Placeholder: the GraphQL simulator replaces this file.
type graphStore struct{}

func newGraphStore() *graphStore { return &graphStore{} }

func (s *Server) registerGraphQL() {}
