package opencti

import (
	"encoding/json"
	"fmt"
	"strings"
)

// cursorState is what the checkpoint cache holds. It has the shape pycti keeps in the
// connector state, so a cursor can be moved between the two by hand.
type cursorState struct {
	// StartFrom is the last position whose events (and every earlier one) were acknowledged.
	StartFrom string `json:"start_from"`
	// RecoverUntil is the end of the first-run snapshot: while StartFrom is before it, a
	// reconnect asks for the snapshot again from StartFrom (a crash in mid-snapshot resumes it).
	RecoverUntil string `json:"recover_until,omitempty"`
	// SnapshotFrom is set while a complete snapshot whose end must sweep the HarfangLab lists
	// is under way: a restart takes that snapshot again from here (the owners it listed
	// before the crash are not known any more), until its end marker is acknowledged.
	SnapshotFrom string `json:"snapshot_from,omitempty"`
}

func (c cursorState) encode() []byte {
	b, _ := json.Marshal(c)
	return b
}

// decodeCursor reads a stored cursor: the JSON above, or a bare stream id.
func decodeCursor(b []byte) (cursorState, error) {
	s := strings.TrimSpace(string(b))
	if id, ok := parseEventID(s); ok {
		return cursorState{StartFrom: id.String()}, nil
	}
	var c cursorState
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return cursorState{}, fmt.Errorf("decoding stored cursor: %w", err)
	}
	// A cursor without a position is damaged, not "start at the live tail": resuming there
	// would skip, silently, every event published while the process was down.
	if _, ok := parseEventID(c.StartFrom); !ok {
		return cursorState{}, fmt.Errorf("stored cursor start_from %q is not a stream id", c.StartFrom)
	}
	return c, nil
}
