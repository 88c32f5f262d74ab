package hlsim

// alertStore holds security events (alerts), threats and their notes.
// Placeholder: the alerts simulator replaces this file.
type alertStore struct{}

func newAlertStore() *alertStore { return &alertStore{} }

func (s *Server) registerAlerts() {}
