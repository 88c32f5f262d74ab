package opencti

// Re-snapshots and snapshot markers. A complete snapshot (from `0-0`) lists every live element,
// so what it does not list is gone; with snapshot_markers the input brackets it with a
// `snapshot_start` and a `snapshot_end` message and harfanglab_intel removes, at the end, what
// owners absent from the snapshot still hold (the sweep). The input takes such a snapshot again
// by itself when its resume position was trimmed from the server's stream (events lost), and
// when OpenCTI resets the connector (resnapshot, called by the connector registration).

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// Reasons of a snapshot (log lines, marker bodies and opencti_stream_resnapshots_total).
const (
	reasonFirstRun = "first_run"
	reasonTrimmed  = "trimmed"
	reasonRestart  = "restart" // a snapshot whose sweep had not run when the process stopped
	reasonReset    = "reset"   // the connector state was reset from the OpenCTI UI
	// drainPoll is how often a marker barrier looks at the messages still in flight.
	drainPoll = 5 * time.Millisecond
	// freshSnapshot: a snapshot begun this recently cannot have lost events to trimming; a
	// "trimmed" answer then comes from clock skew and must not start another snapshot.
	freshSnapshot = time.Minute
)

// snapshotRun is the marker state of the complete snapshot under way. Read and Connect only
// (Benthos never runs them at once).
type snapshotRun struct {
	gen, reason  string // generation: the snapshot's recover date
	startPending bool   // the start marker is the next message
	started      bool   // the start marker went out: the end marker follows the snapshot
	barrier      bool   // the next data message waits for the start marker's acknowledgement
}

// resnapshot makes the input take its recover_from snapshot again, as after a reset of its
// cursor: the current connection ends, the next Connect starts the snapshot (with markers, so
// harfanglab_intel sweeps at its end). Called when OpenCTI's UI resets the connector state and
// when the resume position was trimmed. Safe from any goroutine.
func (s *streamInput) resnapshot(reason string) {
	s.metrics.resnaps.Incr(1, reason)
	s.connMu.Lock()
	s.resnap = reason
	r := s.reader
	s.connMu.Unlock()
	if r != nil {
		r.stop()
	}
}

// startSnapshot prepares a snapshot from recover_from (first run or re-snapshot) and stores
// the cursor at once, so a crash in mid-snapshot takes the same snapshot again. Connect only.
func (s *streamInput) startSnapshot(ctx context.Context, reason string) error {
	from := s.conf.firstPosition
	s.position, s.held, s.snap = from, nil, snapshotRun{}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	complete := from == "0-0" && s.conf.snapshotMarkers
	s.commitMu.Lock()
	s.recover, s.snapFrom = "", ""
	if from != "" {
		s.recover = now
	}
	if complete {
		s.snapFrom = from
	}
	if s.committed == "" {
		s.committed = from
	}
	s.commitMu.Unlock()
	switch {
	case complete:
		s.snap = snapshotRun{gen: now, reason: reason, startPending: true}
		s.log.Infof("opencti_stream: snapshot of stream %q from %s (%s), generation %s; its end sweeps what it does not list",
			s.conf.streamID, from, reason, now)
	case reason == reasonFirstRun:
	case from == "":
		s.log.Warnf("opencti_stream: %s = now: no snapshot to take again (%s); resuming at the live tail", osFieldRecoverFrom, reason)
	default:
		s.log.Warnf("opencti_stream: snapshot of stream %q from %s (%s): not from 0-0 (or %s off), so nothing is swept at its end",
			s.conf.streamID, from, reason, osFieldSnapshotMarkers)
	}
	return s.writeCursor(ctx)
}

// restartSnapshot takes again, from its start, a complete snapshot whose end marker was not
// acknowledged: the owners it listed before the stop are not known any more, and the sweep
// needs them all. It is a new snapshot (recover = now): one ending at the old date would not
// list elements updated since, and its sweep would remove them. Called by loadCursor.
func (s *streamInput) restartSnapshot(c cursorState) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	s.position, s.snapFrom, s.recover = c.SnapshotFrom, c.SnapshotFrom, now
	s.snap = snapshotRun{gen: now, reason: reasonRestart, startPending: true}
	s.log.Infof("opencti_stream: the snapshot of generation %s did not reach its sweep; taking a new one from %s, generation %s",
		c.RecoverUntil, c.SnapshotFrom, now)
}

// startMarker returns the pending snapshot_start message, if any, once the messages of the
// previous stream (a re-snapshot) are acknowledged: they must not count as listed by this one.
func (s *streamInput) startMarker(ctx context.Context) (*service.Message, service.AckFunc, bool, error) {
	if !s.snap.startPending {
		return nil, nil, false, nil
	}
	if err := s.drain(ctx); err != nil {
		return nil, nil, false, err
	}
	s.snap.startPending, s.snap.started, s.snap.barrier = false, true, true
	msg, ack := s.marker(intel.ControlSnapshotStart)
	return msg, ack, true, nil
}

// snapshotBoundary emits the snapshot_end marker before the first frame past the snapshot,
// once every snapshot message has been acknowledged (so the output has applied them all), and
// holds the first data message after either marker until that marker is acknowledged.
func (s *streamInput) snapshotBoundary(ctx context.Context, f frame) (*service.Message, service.AckFunc, bool, error) {
	if f.event == "connected" {
		return nil, nil, false, nil
	}
	if s.snap.barrier && f.event != "heartbeat" {
		if err := s.drain(ctx); err != nil {
			return nil, nil, true, err
		}
		s.snap.barrier = false
	}
	if !s.snap.started {
		return nil, nil, false, nil
	}
	id, ok := parseEventID(f.id)
	end, hasEnd := s.snapshotEnd()
	if !ok || !hasEnd || !end.less(id) {
		return nil, nil, false, nil
	}
	if err := s.drain(ctx); err != nil {
		return nil, nil, true, err
	}
	// The next data message waits for the end marker too: the sweep runs while it is
	// written, and a live change of an indicator it removes must come after it.
	s.snap.started, s.snap.barrier = false, true
	s.log.Infof("opencti_stream: snapshot %s (%s) complete", s.snap.gen, s.snap.reason)
	msg, ack := s.marker(intel.ControlSnapshotEnd)
	return msg, ack, true, nil
}

// drain waits until no message or marker is in flight.
func (s *streamInput) drain(ctx context.Context) error {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for s.cp.Pending() > 0 || s.markers.Load() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// marker builds a snapshot marker message. Markers are not positions: they do not pass
// through the checkpointer; the end marker's acknowledgement clears the pending sweep from the
// cursor.
func (s *streamInput) marker(kind string) (*service.Message, service.AckFunc) {
	gen := s.snap.gen
	body, _ := json.Marshal(map[string]string{"generation": gen, "reason": s.snap.reason})
	msg := service.NewMessage(body)
	msg.MetaSetMut(metaEvent, kind)
	if end, ok := s.snapshotEnd(); ok {
		msg.MetaSetMut(metaEventID, end.String())
	}
	s.markers.Add(1)
	return msg, func(ctx context.Context, _ error) error {
		defer s.markers.Add(-1)
		if kind != intel.ControlSnapshotEnd {
			return nil
		}
		s.commitMu.Lock()
		if s.recover == gen {
			s.snapFrom = ""
		}
		s.commitMu.Unlock()
		return s.writeCursor(ctx)
	}
}

// connectedInfo is the payload of the `connected` event.
type connectedInfo struct {
	LastEventID  string `json:"lastEventId"`
	FirstEventID string `json:"firstEventId"`
	StreamSize   int64  `json:"streamSize"`
}

// checkTrimmed compares where the stream will resume with the oldest event the server still
// holds. While recovering, the live part starts at `<recover ms>-0`; otherwise at position.
// Older means events were trimmed unread: lost. Then the input re-snapshots. r.mu held.
func (r *streamReader) checkTrimmed(info connectedInfo, position string, recovering bool) bool {
	in := r.in
	first, ok := parseEventID(info.FirstEventID)
	if !ok {
		return false
	}
	resume, ok := parseEventID(position)
	if recovering {
		resume, ok = in.snapshotEnd()
	}
	if !ok || (!recovering && position == "0-0") || !resume.less(first) {
		return false
	}
	in.metrics.trimmed.Incr(1)
	lost, how := "an unknown number of", ""
	if n, ok := estimateLost(resume, first, info); ok {
		lost, how = "about "+formatCount(n), " (estimated from the rate of the events the server holds)"
	}
	if recovering && time.Since(time.UnixMilli(int64(resume.ms))) < freshSnapshot {
		in.log.Warnf("opencti_stream: stream %q holds events from %s only, after the snapshot end %s just set: clock skew with the server? not re-snapshotting",
			in.conf.streamID, info.FirstEventID, resume)
		return false
	}
	in.log.Errorf("opencti_stream: stream %q resumes after %s but the server's oldest event is %s: %s events were trimmed unread and are lost%s; taking the %s snapshot again (then what it does not list is swept)",
		in.conf.streamID, resume, info.FirstEventID, lost, how, osFieldRecoverFrom)
	in.resnapshot(reasonTrimmed) // stops this reader; takes connMu, never held while waiting on r.mu
	return true
}

// estimateLost estimates the events between resume and first from the rate of the events the
// server holds (ids are `<ms>-<seq>`: the count between two of them is not knowable).
func estimateLost(resume, first eventID, info connectedInfo) (int64, bool) {
	last, ok := parseEventID(info.LastEventID)
	if !ok || info.StreamSize <= 1 || last.ms <= first.ms || resume.ms == 0 {
		return 0, false
	}
	rate := float64(info.StreamSize-1) / float64(last.ms-first.ms)
	return max(1, int64(rate*float64(first.ms-resume.ms))), true
}

func formatCount(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
