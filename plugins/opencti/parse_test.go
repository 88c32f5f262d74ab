package opencti

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFrame(t *testing.T) {
	f, ok := parseFrame([]byte("id: 1-2\r\nevent: create\n: a comment\nretry: 10\ndata: {\"a\":1}\ndata: x"))
	require.True(t, ok)
	assert.Equal(t, "1-2", f.id)
	assert.Equal(t, "create", f.event)
	assert.Equal(t, "{\"a\":1}\nx", string(f.data))

	f, ok = parseFrame([]byte("data:no-space"))
	require.True(t, ok)
	assert.Equal(t, "message", f.event)
	assert.Equal(t, "no-space", string(f.data))

	_, ok = parseFrame([]byte(": only a comment"))
	assert.False(t, ok)
}

func TestParseFrameCopiesData(t *testing.T) {
	raw := []byte("event: create\ndata: {}")
	f, _ := parseFrame(raw)
	raw[len(raw)-1] = 'X'
	assert.Equal(t, "{}", string(f.data))
}

func TestEventIDs(t *testing.T) {
	_, ok := parseEventID("2024-06")
	assert.True(t, ok, "a one-dash string is a stream id, as OpenCTI reads it")
	for _, bad := range []string{"", "1", "a-1", "1-", "-1", "1-2-3"} {
		_, ok := parseEventID(bad)
		assert.False(t, ok, bad)
	}
	assert.True(t, idLess("1-9", "2-0"))
	assert.True(t, idLess("2-1", "2-10"), "numeric, not lexical")
	assert.False(t, idLess("2-0", "2-0"))
	assert.True(t, idLess("", "0-0"))
	assert.False(t, idLess("0-0", ""))
}

func TestStartPosition(t *testing.T) {
	for in, want := range map[string]string{
		"0-0": "0-0", "0": "0-0", "": "0-0", "now": "", "NOW": "",
		"2024-06-15T10:00:00Z": "1718445600000-0", "2024-06-15": "1718409600000-0",
		"1718445600123-4": "1718445600123-4",
	} {
		got, err := startPosition(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := startPosition("yesterday")
	assert.ErrorContains(t, err, "recover_from")
}

func TestCursorCodec(t *testing.T) {
	c := cursorState{StartFrom: "5-1", RecoverUntil: "2024-06-15T10:00:00Z"}
	got, err := decodeCursor(c.encode())
	require.NoError(t, err)
	assert.Equal(t, c, got)

	got, err = decodeCursor([]byte(" 1718445600123-0\n"))
	require.NoError(t, err)
	assert.Equal(t, "1718445600123-0", got.StartFrom)

	_, err = decodeCursor([]byte(`{"start_from":"garbage"}`))
	assert.Error(t, err)
	_, err = decodeCursor([]byte(`{"recover_until":"2024-06-15T10:00:00Z"}`))
	assert.Error(t, err, "a cursor without a position is damaged")
	_, err = decodeCursor([]byte(`{`))
	assert.Error(t, err)
}

func TestGroupTrackerSharedIDs(t *testing.T) {
	g := groupTracker{closed: "0-0"}
	// Dependencies share the triggering id: none of them is a safe position on its own.
	assert.Equal(t, "0-0", g.data("10-0"))
	assert.Equal(t, "0-0", g.data("10-0"))
	assert.Equal(t, "0-0", g.data("10-0"))
	// The next id completes group 10-0.
	assert.Equal(t, "10-0", g.data("20-0"))
	// A heartbeat with the open group's id does not close it (heartbeats flow mid-group)...
	_, ok := g.heartbeat("20-0")
	assert.False(t, ok)
	// ...a greater one does.
	closed, ok := g.heartbeat("21-0")
	assert.True(t, ok)
	assert.Equal(t, "20-0", closed)
	// A replayed older id never moves the safe position backwards.
	assert.Equal(t, "20-0", g.data("10-0"))
	assert.Equal(t, "20-0", g.data("30-0"))
	assert.Equal(t, "30-0", g.data("40-0"))
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	assert.Zero(t, backoff(0))
	for n := 1; n < 20; n++ {
		d := backoff(n)
		ceil := min(backoffInitial<<min(n-1, 10), backoffMax)
		assert.GreaterOrEqual(t, d, ceil/2)
		assert.LessOrEqual(t, d, ceil)
	}
}
