package opencti

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

func newTestInput(t *testing.T, yaml string) *streamInput {
	t.Helper()
	conf, err := streamInputSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	in, err := newStreamInput(conf, service.MockResources(service.MockResourcesOptAddCache("cursor")))
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.Close(context.Background()) })
	return in
}

func TestConfigErrors(t *testing.T) {
	for yaml, want := range map[string]string{
		"url: ftp://x\ntoken: t\ncheckpoint_cache: cursor\n":                         "want an http(s) URL",
		"url: http://x\ntoken: t\ncheckpoint_cache: cursor\nrecover_from: soon\n":    "recover_from",
		"url: http://x\ntoken: t\ncheckpoint_cache: cursor\ncheckpoint_limit: 0\n":   "checkpoint_limit",
		"url: http://x\ntoken: t\ncheckpoint_cache: missing\n":                       "not found",
		"url: http://x\ntoken: t\ncheckpoint_cache: cursor\nmax_event_size: 10\n":    "max_event_size",
		"url: http://x\ntoken: t\ncheckpoint_cache: cursor\nheartbeat_timeout: 0s\n": "heartbeat_timeout",
	} {
		conf, err := streamInputSpec().ParseYAML(yaml, nil)
		require.NoError(t, err, yaml)
		_, err = newStreamInput(conf, service.MockResources(service.MockResourcesOptAddCache("cursor")))
		assert.ErrorContains(t, err, want, yaml)
	}
}

func TestConnectRejectedTokenNamesTheFieldNotTheValue(t *testing.T) {
	sim := openctisim.New("right-token")
	url, err := sim.Start("")
	require.NoError(t, err)
	defer sim.Close()

	in := newTestInput(t, "url: "+url+"\ntoken: wrong-secret-value\ncheckpoint_cache: cursor\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = in.Connect(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "token")
	assert.Contains(t, err.Error(), "401")
	assert.NotContains(t, err.Error(), "wrong-secret-value")
	var backoff *service.ErrBackOff
	assert.ErrorAs(t, err, &backoff, "a rejected token is not retried at full speed")
}

func TestConnectUnknownStreamNamesTheStream(t *testing.T) {
	sim := openctisim.New("tok")
	url, err := sim.Start("")
	require.NoError(t, err)
	defer sim.Close()

	in := newTestInput(t, "url: "+url+"\ntoken: tok\nstream_id: no-such-stream\ncheckpoint_cache: cursor\n")
	err = in.Connect(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"no-such-stream"`)
	assert.Contains(t, err.Error(), "401", "OpenCTI answers 401, never 404, for an unknown stream")
}

func TestReadSendsHeadersAndTracksCursor(t *testing.T) {
	sim := openctisim.New("tok")
	url, err := sim.Start("")
	require.NoError(t, err)
	defer sim.Close()
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: 50 * time.Millisecond})
	sim.PublishWithID("s1", "100-0", "create", []byte(`{"data":{"id":"a"}}`))
	sim.PublishWithID("s1", "200-0", "update", []byte(`{"data":{"id":"a"}}`))

	in := newTestInput(t, "url: "+url+"\ntoken: tok\nstream_id: s1\ncheckpoint_cache: cursor\nno_dependencies: true\nlisten_delete: false\ncheckpoint_flush_interval: 0s\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	setCursor(t, in, `{"start_from":"50-0"}`)
	require.NoError(t, in.Connect(ctx))

	req := sim.LastStreamRequest()
	require.NotNil(t, req)
	assert.Equal(t, "Bearer tok", req.Header.Get("Authorization"))
	assert.Equal(t, "false", req.Header.Get("listen-delete"))
	assert.Equal(t, "true", req.Header.Get("no-dependencies"))
	assert.Equal(t, "false", req.Header.Get("with-inferences"))
	assert.Equal(t, "50-0", req.Header.Get("Last-Event-ID"))
	assert.Empty(t, req.URL.Query().Get("recover"), "a plain resume asks for no snapshot")

	var acks []service.AckFunc
	for _, want := range []string{"create", "update"} {
		msg, ack, err := in.Read(ctx)
		require.NoError(t, err)
		ev, _ := msg.MetaGet(metaEvent)
		assert.Equal(t, want, ev)
		acks = append(acks, ack)
	}
	// Acks out of order: nothing passes the unacked first message.
	require.NoError(t, acks[1](ctx, nil))
	assert.Equal(t, "50-0", storedCursor(t, in).StartFrom)
	require.NoError(t, acks[0](ctx, nil))
	assert.Equal(t, "100-0", storedCursor(t, in).StartFrom, "200-0 is not complete until a later id or heartbeat")
}

func storedCursor(t *testing.T, in *streamInput) cursorState {
	t.Helper()
	var raw []byte
	var err error
	require.NoError(t, in.mgr.AccessCache(context.Background(), "cursor", func(c service.Cache) {
		raw, err = c.Get(context.Background(), in.conf.cacheKey)
	}))
	require.NoError(t, err)
	c, err := decodeCursor(raw)
	require.NoError(t, err)
	require.False(t, strings.Contains(string(raw), "tok"))
	return c
}

func setCursor(t *testing.T, in *streamInput, value string) {
	t.Helper()
	require.NoError(t, in.mgr.AccessCache(context.Background(), "cursor", func(c service.Cache) {
		require.NoError(t, c.Set(context.Background(), in.conf.cacheKey, []byte(value), nil))
	}))
}

func TestFirstRunAsksForSnapshotAndStoresIt(t *testing.T) {
	sim := openctisim.New("tok")
	url, err := sim.Start("")
	require.NoError(t, err)
	defer sim.Close()

	in := newTestInput(t, "url: "+url+"\ntoken: tok\ncheckpoint_cache: cursor\nrecover_from: 2024-06-15T10:00:00Z\n")
	require.NoError(t, in.Connect(context.Background()))
	req := sim.LastStreamRequest()
	require.NotNil(t, req)
	assert.Equal(t, "1718445600000-0", req.Header.Get("Last-Event-ID"))
	recoverUntil := req.URL.Query().Get("recover")
	_, err = time.Parse(time.RFC3339Nano, recoverUntil)
	require.NoError(t, err, "recover=%q", recoverUntil)
	// Stored before the first event, so a crash in mid-snapshot resumes the same snapshot.
	assert.Equal(t, cursorState{StartFrom: "1718445600000-0", RecoverUntil: recoverUntil}, storedCursor(t, in))
}

// A Read cancelled while the checkpointer is full must not lose the frame it already took.
func TestCancelledReadKeepsTheFrame(t *testing.T) {
	sim := openctisim.New("tok")
	url, err := sim.Start("")
	require.NoError(t, err)
	defer sim.Close()
	sim.PublishWithID("live", "100-0", "create", []byte(`{"n":1}`))
	sim.PublishWithID("live", "200-0", "create", []byte(`{"n":2}`))

	in := newTestInput(t, "url: "+url+"\ntoken: tok\ncheckpoint_cache: cursor\ncheckpoint_limit: 1\n")
	setCursor(t, in, "1-0")
	ctx := context.Background()
	require.NoError(t, in.Connect(ctx))
	msg, ack, err := in.Read(ctx)
	require.NoError(t, err)
	b, _ := msg.AsBytes()
	assert.JSONEq(t, `{"n":1}`, string(b))

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, _, err = in.Read(short)
	require.ErrorIs(t, err, context.DeadlineExceeded, "limit 1 reached: Read waits for the ack")

	require.NoError(t, ack(ctx, nil))
	msg, _, err = in.Read(ctx)
	require.NoError(t, err)
	b, _ = msg.AsBytes()
	assert.JSONEq(t, `{"n":2}`, string(b))
}
