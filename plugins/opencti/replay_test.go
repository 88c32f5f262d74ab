package opencti

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

// A rejected message comes back as it was read, before the next one, and holds the cursor
// until a delivery of it is acknowledged; a rejection wakes a Read waiting for the stream.
func TestReplayDeliversARejectedMessageAgainUnchanged(t *testing.T) {
	sim := openctisim.New("tok")
	url, err := sim.Start("")
	require.NoError(t, err)
	defer sim.Close()
	sim.PublishWithID("live", "1-0", "create", []byte(`{"n":0}`)) // the cursor's: retained
	sim.PublishWithID("live", "100-0", "create", []byte(`{"n":1}`))
	sim.PublishWithID("live", "200-0", "update", []byte(`not json`))
	sim.PublishWithID("live", "300-0", "create", []byte(`{"n":3}`))

	in := newTestInput(t, "url: "+url+"\ntoken: tok\ncheckpoint_cache: cursor\ncheckpoint_flush_interval: 0s\n")
	setCursor(t, in, "1-0")
	r := newReplayInput(in)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, r.Connect(ctx))

	read := func() (*service.Message, service.AckFunc, string) {
		t.Helper()
		msg, ack, err := r.Read(ctx)
		require.NoError(t, err)
		b, err := msg.AsBytes()
		require.NoError(t, err)
		return msg, ack, string(b)
	}
	msg, ack1, body := read()
	assert.JSONEq(t, `{"n":1}`, body)
	// What the pipeline does to a message must not reach its next delivery.
	msg.SetBytes([]byte(`changed`))
	msg.MetaSetMut(metaEvent, "changed")
	msg.MetaSetMut("harfanglab_owner", "x")
	require.NoError(t, ack1(ctx, errors.New("rejected")))
	require.NoError(t, ack1(ctx, nil), "a delivery is acknowledged once")

	for range 4 { // the fourth delivery and later ones pause a little first
		msg, ack, body := read()
		assert.JSONEq(t, `{"n":1}`, body)
		ev, _ := msg.MetaGet(metaEvent)
		id, _ := msg.MetaGet(metaEventID)
		_, owner := msg.MetaGet("harfanglab_owner")
		assert.Equal(t, []any{"create", "100-0", false}, []any{ev, id, owner})
		require.NoError(t, ack(ctx, errors.New("rejected again")))
	}
	_, ack1, body = read()
	assert.JSONEq(t, `{"n":1}`, body)

	msg, ack2, body := read()
	assert.Equal(t, `not json`, body)
	require.Error(t, msg.GetError(), "flagged at the input")
	require.NoError(t, ack2(ctx, errors.New("rejected")))
	msg, ack2, body = read()
	assert.Equal(t, `not json`, body)
	require.Error(t, msg.GetError(), "the flag comes back with the message")
	require.NoError(t, ack2(ctx, nil))
	assert.Equal(t, "1-0", storedCursor(t, in).StartFrom, "the rejected first message holds the cursor")
	require.NoError(t, ack1(ctx, nil))
	assert.Contains(t, []string{"100-0", "200-0"}, storedCursor(t, in).StartFrom, "200-0 completes with a later id")

	_, ack3, body := read()
	assert.JSONEq(t, `{"n":3}`, body)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = ack3(ctx, errors.New("rejected while Read waits"))
	}()
	_, ack3, body = read()
	assert.JSONEq(t, `{"n":3}`, body, "the rejection woke the waiting Read")
	require.NoError(t, ack3(ctx, nil))
}

func TestReplayPauseGrowsTo1s(t *testing.T) {
	assert.InDelta(t, float64(time.Millisecond), float64(replayPause(0)), float64(time.Millisecond)/2)
	assert.InDelta(t, 1.1*float64(time.Millisecond), float64(replayPause(1)), 1.1*float64(time.Millisecond)/2)
	assert.InDelta(t, float64(time.Second), float64(replayPause(500)), float64(time.Second)/2)
}
