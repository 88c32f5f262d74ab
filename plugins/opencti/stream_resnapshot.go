package opencti

// PLACEHOLDER (branch help/octiconn): the snapshot/recovery work (branch help/snapshot) owns
// this file and replaces it at merge with the real re-snapshot (cursor back to recover_from,
// reader restarted, orphans removed). This stand-in only logs, so that the connector
// registration (input_registration.go) builds and its reset detection can be tested.

// resnapshot starts the recover_from snapshot again; reason says why (logged).
func (s *streamInput) resnapshot(reason string) {
	s.log.Warnf("opencti_stream: re-snapshot requested (%s); placeholder: not implemented on this branch", reason)
}
