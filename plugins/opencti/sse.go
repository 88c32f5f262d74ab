package opencti

import (
	"bytes"
)

// frame is one parsed SSE event. safe is the stream position it is safe to resume from
// once this frame and everything before it has been handled (see groupTracker).
type frame struct {
	id    string
	event string
	data  []byte
	safe  string
}

// parseFrame parses one raw event as returned by sse.EventStreamReader (the lines between
// two blank lines): `field: value` lines, `:` comments ignored, several `data:` lines joined
// with "\n", unknown fields ignored. data is copied: the reader reuses its buffer.
func parseFrame(raw []byte) (frame, bool) {
	var f frame
	var data []byte
	seenData := false
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 || line[0] == ':' {
			continue
		}
		name, value, _ := bytes.Cut(line, []byte{':'})
		value = bytes.TrimPrefix(value, []byte{' '})
		switch string(name) {
		case "id":
			f.id = string(value)
		case "event":
			f.event = eventName(value)
		case "data":
			if seenData {
				data = append(data, '\n')
			} else {
				// One allocation: what is left of the frame bounds the rest of the data.
				data = make([]byte, 0, len(value)+len(raw))
			}
			data = append(data, value...)
			seenData = true
		}
	}
	if f.event == "" && !seenData && f.id == "" {
		return frame{}, false
	}
	if f.event == "" {
		f.event = "message"
	}
	f.data = data
	return f, true
}

// eventName is the event type of a frame; the usual ones are shared, not allocated per frame.
func eventName(b []byte) string {
	for _, name := range knownEvents {
		if string(b) == name {
			return name
		}
	}
	return string(b)
}

var knownEvents = [...]string{"create", "update", "delete", "merge", "heartbeat", "connected"}

// groupTracker computes safe resume positions. OpenCTI gives dependency events the id of the
// event that triggered them, and recovery snapshot events share `<updated_at ms>-0`, while
// resuming is exclusive (events with a greater id). So a position is safe only once its
// whole group has been received: when an event with another id, or a heartbeat with a
// greater id, arrives. It is used by the reader goroutine only.
type groupTracker struct {
	open   string // id of the group being received ("" if none)
	closed string // last complete group, the safe resume position
}

// data records a data event with id and returns the position safe once it is handled.
func (g *groupTracker) data(id string) string {
	if id != "" && id != g.open {
		g.closeOpen()
		g.open = id
	}
	return g.closed
}

// heartbeat records a heartbeat and reports the group it closed, if any.
func (g *groupTracker) heartbeat(id string) (closed string, ok bool) {
	if g.open != "" && idLess(g.open, id) {
		g.closeOpen()
		return g.closed, true
	}
	return "", false
}

// closeOpen marks the open group complete; the safe position never moves backwards (a
// replayed older id does not make the stream re-send what lies after the newer one).
func (g *groupTracker) closeOpen() {
	if g.open != "" && idLess(g.closed, g.open) {
		g.closed = g.open
	}
	g.open = ""
}
