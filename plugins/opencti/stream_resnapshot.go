package opencti

// PLACEHOLDER (branch help/octiconn): the snapshot/recovery work (branch help/snapshot) owns
// this file and replaces it at merge with the real re-snapshot (cursor back to recover_from,
// reader restarted, orphans removed). This stand-in only logs, so that the connector
// registration (input_registration.go) builds and its reset detection can be tested.

// resnapshot starts the recover_from snapshot again; reason says why (logged). Contract with
// input_registration.go: called from the registration goroutine, concurrently with Read and the
// reader, at most once per detected reset; it must not block for long (the heartbeat waits).
func (s *streamInput) resnapshot(reason string) {
	s.log.Warnf("opencti_stream: re-snapshot requested (%s); placeholder: not implemented on this branch", reason)
}
