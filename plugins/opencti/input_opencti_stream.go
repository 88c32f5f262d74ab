// Package opencti holds the OpenCTI components and their client: the `opencti_stream` input (a live stream
// reader with a persisted, gap-free cursor, registered as a STREAM connector) and the `opencti`
// output (an EXTERNAL_IMPORT connector pushing STIX bundles).
package opencti

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Jeffail/checkpoint"
	"github.com/Jeffail/shutdown"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/jsonscan"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/metricbuf"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/safehttp"
)

const (
	osFieldStreamID            = "stream_id"
	osFieldListenDelete        = "listen_delete"
	osFieldNoDependencies      = "no_dependencies"
	osFieldWithInferences      = "with_inferences"
	osFieldRecoverFrom         = "recover_from"
	osFieldHeartbeatTimeout    = "heartbeat_timeout"
	osFieldCheckpointCache     = "checkpoint_cache"
	osFieldCheckpointCacheKey  = "checkpoint_cache_key"
	osFieldCheckpointLimit     = "checkpoint_limit"
	osFieldCheckpointFlush     = "checkpoint_flush_interval"
	osFieldMaxEventSize        = "max_event_size"
	osFieldSnapshotMarkers     = "snapshot_markers"
	metaEvent                  = "opencti_event"
	metaEventID                = "opencti_event_id"
	heartbeatSafetyMargin      = 10 * time.Second
	framesBuffer               = 64
	defaultMaxEventSize        = 64 << 20
	defaultCheckpointFlushTime = 250 * time.Millisecond
)

// osDescription is the input's documentation (metadata, delivery, re-snapshots, metrics).
const osDescription = `
Connects to ` + "`GET {url}/stream/{stream_id}`" + ` with ` + "`Authorization: Bearer`" + ` and emits one message
per ` + "`create`, `update`, `delete` and `merge`" + ` event. The body is the event's ` + "`data:`" + ` JSON
unchanged; ` + "`connected` and `heartbeat`" + ` events are not messages. A ` + "`data:`" + ` line that is not
valid JSON still becomes a message, flagged with an error so a ` + "`catch`/`switch`" + ` can dead-letter it.

### Metadata

- ` + "`opencti_event`" + `: the SSE event name (` + "`create`, `update`, `delete`, `merge`" + `), the one to
  dispatch on (` + "`data.type`" + ` is not reliable on live streams).
- ` + "`opencti_event_id`" + `: the stream id of the event (` + "`<ms>-<seq>`" + `).

### Delivery

At-least-once, with no gaps. The cursor stored in ` + "`checkpoint_cache`" + ` (which must persist across
restarts, e.g. ` + "`state_file`" + `) only moves to a position once every earlier message has been
acknowledged, and only past complete groups of events sharing one id (OpenCTI gives dependency events
the id of the event that triggered them, and snapshot events share ` + "`<updated_at ms>-0`" + `). After a
crash, at most the unacknowledged window (` + "`checkpoint_limit`" + ` messages) plus the acknowledgements
of the last ` + "`checkpoint_flush_interval`" + ` are delivered again. Heartbeats move the cursor through
idle periods only when nothing is in flight, minus a 10 s margin.

On the first run (no cursor) the input asks for a snapshot of every element updated since
` + "`recover_from`" + ` (` + "`from`" + ` + ` + "`recover=<now>`" + `) then tails the live stream; a crash during the
snapshot resumes it. Disconnects, 5xx and silences longer than ` + "`heartbeat_timeout`" + ` reconnect with
jittered exponential back-off from the last complete group received. 401/403 and 404/410 are reported
as configuration errors.

### Metrics

` + "`opencti_stream_events_total{event}`, `opencti_stream_reconnects_total`, `opencti_stream_lag_ms`" + `
(now − event time), ` + "`opencti_stream_checkpoint_ms`" + ` (persisted position),
` + "`opencti_stream_trimmed_total`" + ` (resume position older than the server's first retained event),
` + "`opencti_stream_resnapshots_total{reason}`" + `.

### Lost events and re-snapshots

When the position to resume from (the cursor, or ` + "`<recover ms>-0`" + ` during a snapshot) is older than
the server's ` + "`firstEventId`" + `, events were trimmed unread: the input logs how many (estimated from the
stream's rate) and takes the ` + "`recover_from`" + ` snapshot again, as it does when the connector is reset
from OpenCTI. With ` + "`recover_from: now`" + ` the first connection only reads ` + "`connected.lastEventId`" + `
and the stream is read again from it, so nothing published before the server's first read is lost.`

func streamInputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Version("0.1.0").
		Categories("Services").
		Summary("Reads an OpenCTI live stream (server-sent events) and resumes from a persisted cursor.").
		Description(osDescription).
		Fields(
			connectionFields(service.NewDurationField(octiFieldTimeout).
				Description("Connect and response-header timeout. The stream itself has no overall timeout.").
				Default("30s"))...).
		Fields(
			service.NewStringField(osFieldStreamID).Description("Live stream id, or `live` for the unfiltered stream.").
				Default("live"),
			service.NewBoolField(osFieldListenDelete).Description("Receive `delete` events.").Default(true),
			service.NewBoolField(osFieldNoDependencies).
				Description("Do not receive the relationships and sightings of published elements.").Default(false),
			service.NewBoolField(osFieldWithInferences).Description("Receive inferred elements.").Default(false),
			service.NewStringField(osFieldRecoverFrom).
				Description("First run only (no cursor): start of the backfill snapshot. `0-0` = every current element, an RFC 3339 date = elements updated since then, `now` = no snapshot, start at the live tail.").
				Default("0-0"),
			service.NewDurationField(osFieldHeartbeatTimeout).
				Description("Reconnect when nothing, not even a heartbeat, arrived for this long.").Default("60s"),
			service.NewStringField(osFieldCheckpointCache).
				Description("Name of the cache resource holding the cursor; it must persist across restarts."),
			service.NewStringField(osFieldCheckpointCacheKey).Description("Key of the cursor in the cache.").
				Default("opencti_stream"),
			service.NewIntField(osFieldCheckpointLimit).
				Description("Most messages in flight (unacknowledged) at once; also bounds re-deliveries after a crash.").
				Default(1024).Advanced(),
			service.NewDurationField(osFieldCheckpointFlush).
				Description("How often the cursor is written to the cache (and on close). Longer means fewer writes and more re-deliveries after a crash; `0s` writes on every acknowledgement.").
				Default(defaultCheckpointFlushTime.String()).Advanced(),
			service.NewIntField(osFieldMaxEventSize).
				Description("Largest event accepted, in bytes (OpenCTI events are single lines of up to several MB).").
				Default(defaultMaxEventSize).Advanced(),
			service.NewBoolField(osFieldSnapshotMarkers).
				Description("Emit a `snapshot_start` and a `snapshot_end` message around every complete snapshot (from `0-0`: first run, re-snapshot after a trimmed resume, reset), so that `stix_to_harfanglab` + `harfanglab_intel` remove what the snapshot no longer lists. Their body is `{\"generation\",\"reason\"}`, `opencti_event` is the marker's name. The end marker waits for the acknowledgement of every snapshot event, and the next event for the end marker's (an output batching policy therefore needs a `period`).").
				Default(false),
			service.NewAutoRetryNacksToggleField(),
			connectorRegistrationField(),
		).
		Example("Tail the live stream", "Resumes from a cursor kept under ./state.", `
input:
  opencti_stream:
    url: ${OPENCTI_URL}
    token: ${OPENCTI_TOKEN}
    stream_id: live
    checkpoint_cache: cursor
cache_resources:
  - label: cursor
    state_file:
      directory: ./state
`)
}

func init() {
	service.MustRegisterInput("opencti_stream", streamInputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Input, error) {
			in, err := newStreamInput(conf, mgr)
			if err != nil {
				return nil, err
			}
			replay, err := conf.FieldBool(service.AutoRetryNacksToggleFieldName)
			if err != nil {
				return nil, fmt.Errorf("opencti_stream: %w", err)
			}
			if replay {
				return newReplayInput(in), nil // replay.go
			}
			return in, nil
		})
}

type streamConfig struct {
	streamURL        string // {url}/stream/{stream_id}
	baseURL          string // for error messages (no credentials)
	token            string
	streamID         string
	listenDelete     bool
	noDependencies   bool
	withInferences   bool
	firstPosition    string // from recover_from; "" = live tail
	heartbeatTimeout time.Duration
	cacheName        string
	cacheKey         string
	checkpointLimit  int
	flushInterval    time.Duration
	maxEventSize     int
	snapshotMarkers  bool
}

func parseStreamConfig(conf *service.ParsedConfig) (c streamConfig, err error) {
	var rawURL, recoverFrom string
	if rawURL, err = conf.FieldString(octiFieldURL); err != nil {
		return c, err
	}
	u, err := url.Parse(strings.TrimRight(rawURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("%s %q: want an http(s) URL", octiFieldURL, rawURL)
	}
	u.User = nil
	c.baseURL = u.String()
	if c.token, err = conf.FieldString(octiFieldToken); err != nil {
		return c, err
	}
	if c.streamID, err = conf.FieldString(osFieldStreamID); err != nil {
		return c, err
	}
	if c.streamID == "" {
		return c, fmt.Errorf("%s is empty", osFieldStreamID)
	}
	c.streamURL = c.baseURL + "/stream/" + url.PathEscape(c.streamID)
	if c.listenDelete, err = conf.FieldBool(osFieldListenDelete); err != nil {
		return c, err
	}
	if c.noDependencies, err = conf.FieldBool(osFieldNoDependencies); err != nil {
		return c, err
	}
	if c.withInferences, err = conf.FieldBool(osFieldWithInferences); err != nil {
		return c, err
	}
	if recoverFrom, err = conf.FieldString(osFieldRecoverFrom); err != nil {
		return c, err
	}
	if c.firstPosition, err = startPosition(recoverFrom); err != nil {
		return c, err
	}
	if c.heartbeatTimeout, err = conf.FieldDuration(osFieldHeartbeatTimeout); err != nil {
		return c, err
	}
	if c.heartbeatTimeout <= 0 {
		return c, fmt.Errorf("%s must be positive", osFieldHeartbeatTimeout)
	}
	if c.cacheName, err = conf.FieldString(osFieldCheckpointCache); err != nil {
		return c, err
	}
	if c.cacheKey, err = conf.FieldString(osFieldCheckpointCacheKey); err != nil {
		return c, err
	}
	if c.checkpointLimit, err = conf.FieldInt(osFieldCheckpointLimit); err != nil {
		return c, err
	}
	if c.checkpointLimit < 1 {
		return c, fmt.Errorf("%s must be at least 1", osFieldCheckpointLimit)
	}
	if c.flushInterval, err = conf.FieldDuration(osFieldCheckpointFlush); err != nil {
		return c, err
	}
	if c.maxEventSize, err = conf.FieldInt(osFieldMaxEventSize); err != nil {
		return c, err
	}
	if c.snapshotMarkers, err = conf.FieldBool(osFieldSnapshotMarkers); err != nil {
		return c, err
	}
	if c.maxEventSize < 4096 {
		return c, fmt.Errorf("%s must be at least 4096 bytes", osFieldMaxEventSize)
	}
	return c, nil
}

type streamMetrics struct {
	events     *metricbuf.Counter // per event: coalesced (plugins/metricbuf)
	reconnects *service.MetricCounter
	trimmed    *service.MetricCounter
	resnaps    *service.MetricCounter
	lag        *metricbuf.Gauge
	checkpoint *metricbuf.Gauge
}

// streamInput is the `opencti_stream` input. A reader goroutine (conn.go) owns the HTTP
// connection and its reconnects and feeds parsed frames to Read; Read tracks each message in
// the checkpointer; acknowledgements move the cursor, which a flusher writes to the cache.
type streamInput struct {
	conf    streamConfig
	mgr     *service.Resources
	log     *service.Logger
	client  *http.Client
	metrics streamMetrics
	cp      *checkpoint.Capped[string]
	shutSig *shutdown.Signaller
	wg      sync.WaitGroup

	connMu   sync.Mutex
	loaded   bool   // cursor read from the cache
	position string // start position for the next (re)connect
	reader   *streamReader
	link     *connectorLink  // OpenCTI connector registration (input_registration.go); nil: none
	held     *frame          // see Read; only touched by Read
	wake     <-chan struct{} // ends a Read waiting for the stream (replay.go); nil: never
	resnap   string          // reason of a requested re-snapshot, applied by the next Connect
	snap     snapshotRun
	markers  atomic.Int32 // snapshot markers not acknowledged yet

	commitMu  sync.Mutex
	committed string // highest safe position reached (never moves backwards)
	recover   string // RecoverUntil: end of the current snapshot ("" when none)
	snapFrom  string // SnapshotFrom: start of a complete snapshot whose sweep is pending
	written   cursorState
	writeMu   sync.Mutex
	closeOnce sync.Once
}

func newStreamInput(conf *service.ParsedConfig, mgr *service.Resources) (*streamInput, error) {
	c, err := parseStreamConfig(conf)
	if err != nil {
		return nil, fmt.Errorf("opencti_stream: %w", err)
	}
	if !mgr.HasCache(c.cacheName) {
		return nil, fmt.Errorf("opencti_stream: %s: cache resource %q not found", osFieldCheckpointCache, c.cacheName)
	}
	tlsConf, err := conf.FieldTLS(octiFieldTLS)
	if err != nil {
		return nil, fmt.Errorf("opencti_stream: %w", err)
	}
	timeout, err := conf.FieldDuration(octiFieldTimeout)
	if err != nil {
		return nil, fmt.Errorf("opencti_stream: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	transport.ResponseHeaderTimeout = timeout
	transport.TLSHandshakeTimeout = timeout
	transport.TLSClientConfig = tlsConf
	m := mgr.Metrics()
	s := &streamInput{
		conf: c,
		mgr:  mgr,
		log:  mgr.Logger(),
		// No client timeout: the stream is endless; liveness is heartbeat_timeout's job.
		client: &http.Client{Transport: transport, CheckRedirect: safehttp.RedirectPolicy(5, false)},
		metrics: streamMetrics{
			events:     metricbuf.NewCounter(m.NewCounter("opencti_stream_events_total", "event"), 1),
			reconnects: m.NewCounter("opencti_stream_reconnects_total"),
			trimmed:    m.NewCounter("opencti_stream_trimmed_total"),
			resnaps:    m.NewCounter("opencti_stream_resnapshots_total", "reason"),
			lag:        metricbuf.NewGauge(m.NewGauge("opencti_stream_lag_ms"), 0),
			checkpoint: metricbuf.NewGauge(m.NewGauge("opencti_stream_checkpoint_ms"), 0),
		},
		cp:      checkpoint.NewCapped[string](int64(c.checkpointLimit)),
		shutSig: shutdown.NewSignaller(),
	}
	if err := s.attachConnectorLink(conf); err != nil {
		return nil, fmt.Errorf("opencti_stream: %w", err)
	}
	return s, nil
}

// Connect loads the cursor on first use and opens the stream. Once open, the reader goroutine
// reconnects by itself; Connect is called again only after it gave up on a fatal answer
// (401/403/404/410), and then reports that answer.
func (s *streamInput) Connect(ctx context.Context) error {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.reader != nil && !s.reader.finished() {
		return nil
	}
	if s.shutSig.IsSoftStopSignalled() {
		return service.ErrNotConnected
	}
	if !s.loaded {
		if err := s.loadCursor(ctx); err != nil {
			return err
		}
		s.loaded = true
		s.link.start() // after the cursor: the first ping carries the position
		if s.conf.flushInterval > 0 {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.flushLoop()
			}()
		}
	}
	if s.reader != nil {
		s.position, _ = s.reader.resumePoint()
	}
	if reason := s.resnap; reason != "" {
		s.resnap = ""
		if err := s.startSnapshot(ctx, reason); err != nil {
			return err
		}
	}
	s.commitMu.Lock()
	recoverUntil := s.recover
	s.commitMu.Unlock()
	r := newStreamReader(s, s.position, recoverUntil)
	if err := r.dial(ctx); err != nil {
		return err
	}
	s.reader = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.run()
	}()
	return nil
}

// loadCursor reads the stored cursor; without one it prepares the first run and stores it
// at once, so a crash during the snapshot resumes the same snapshot.
func (s *streamInput) loadCursor(ctx context.Context) error {
	var raw []byte
	var getErr error
	if err := s.mgr.AccessCache(ctx, s.conf.cacheName, func(c service.Cache) {
		raw, getErr = c.Get(ctx, s.conf.cacheKey)
	}); err != nil {
		return fmt.Errorf("opencti_stream: accessing %s %q: %w", osFieldCheckpointCache, s.conf.cacheName, err)
	}
	switch {
	case errors.Is(getErr, service.ErrKeyNotFound):
		s.log.Infof("opencti_stream: no cursor under %q, first run from %s", s.conf.cacheKey, displayPosition(s.conf.firstPosition))
		if s.conf.firstPosition == "" {
			return nil // live tail: the position comes from the connected event
		}
		s.committed = s.conf.firstPosition
		return s.startSnapshot(ctx, reasonFirstRun)
	case getErr != nil:
		return fmt.Errorf("opencti_stream: reading cursor %q: %w", s.conf.cacheKey, getErr)
	}
	c, err := decodeCursor(raw)
	if err != nil {
		return fmt.Errorf("opencti_stream: cursor %q: %w", s.conf.cacheKey, err)
	}
	s.position, s.recover, s.committed, s.written = c.StartFrom, c.RecoverUntil, c.StartFrom, c
	if c.SnapshotFrom != "" && s.conf.snapshotMarkers {
		s.restartSnapshot(c)
		return nil
	}
	s.log.Infof("opencti_stream: resuming after %s", displayPosition(s.position))
	return nil
}

func displayPosition(p string) string {
	if p == "" {
		return "the live tail"
	}
	return p
}

// Read returns the next data event. Control frames are handled here, in stream order.
func (s *streamInput) Read(ctx context.Context) (*service.Message, service.AckFunc, error) {
	s.connMu.Lock()
	r := s.reader
	s.connMu.Unlock()
	if r == nil {
		return nil, nil, service.ErrNotConnected
	}
	if msg, ack, ok, err := s.startMarker(ctx); ok || err != nil {
		return msg, ack, err
	}
	for {
		var f frame
		if s.held != nil {
			// A frame taken from the reader but not tracked (Read was cancelled): it must
			// not be lost, or a later position could be committed past it.
			f, s.held = *s.held, nil
			if msg, ack, done, err := s.handle(ctx, f); done {
				return msg, ack, err
			}
			continue
		}
		select {
		case f = <-r.frames:
		case <-r.done:
			// The reader may have queued frames before stopping: drain them first.
			select {
			case f = <-r.frames:
			default:
				return nil, nil, service.ErrNotConnected
			}
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-s.wake:
			return nil, nil, errWoken
		}
		if msg, ack, done, err := s.handle(ctx, f); done {
			return msg, ack, err
		}
	}
}

// handle turns a frame into a message (done=true) or consumes a control frame. A frame that
// could not be tracked is held for the next Read.
func (s *streamInput) handle(ctx context.Context, f frame) (msg *service.Message, ack service.AckFunc, done bool, err error) {
	if msg, ack, done, err = s.snapshotBoundary(ctx, f); done || err != nil {
		if err != nil || msg != nil {
			s.held = &f // processed after the marker (or at the next Read)
		}
		return msg, ack, msg != nil || err != nil, err
	}
	switch f.event {
	case "create", "update", "delete", "merge":
		msg, ack, err = s.message(ctx, f)
	case "heartbeat", "connected":
		err = s.control(ctx, f)
	default:
		s.log.Debugf("opencti_stream: ignoring event %q", f.event)
	}
	if err != nil {
		s.held = &f
		return nil, nil, true, err
	}
	return msg, ack, msg != nil, nil
}

func (s *streamInput) message(ctx context.Context, f frame) (*service.Message, service.AckFunc, error) {
	release, err := s.cp.Track(ctx, f.safe, 1)
	if err != nil {
		return nil, nil, err
	}
	s.metrics.events.Incr(1, f.event)
	if id, ok := parseEventID(f.id); ok {
		s.metrics.lag.Set(time.Now().UnixMilli() - int64(id.ms))
	}
	msg := service.NewMessage(f.data)
	msg.MetaSetMut(metaEvent, f.event)
	msg.MetaSetMut(metaEventID, f.id)
	if !jsonscan.Valid(f.data) {
		msg.SetError(fmt.Errorf("opencti_stream: event %s (%s): data is not valid JSON", f.id, f.event))
	}
	// With auto_replay_nacks (default) only final acks arrive here. With it off, a nack means
	// the pipeline chose to drop the message, so it resolves the position like an ack.
	return msg, func(ctx context.Context, _ error) error {
		s.commitMu.Lock()
		if h := release(); h != nil {
			s.advanceLocked(*h)
		}
		s.commitMu.Unlock()
		if s.conf.flushInterval <= 0 {
			return s.writeCursor(ctx)
		}
		return nil
	}, nil
}

// control handles `heartbeat` and `connected` frames: a frame that completes a group (f.safe)
// passes through the checkpointer like a message, so the position is committed only after
// every earlier message; an idle heartbeat moves the cursor when nothing is in flight.
func (s *streamInput) control(ctx context.Context, f frame) error {
	if f.safe != "" {
		release, err := s.cp.Track(ctx, f.safe, 1)
		if err != nil {
			return err
		}
		s.commitMu.Lock()
		if h := release(); h != nil {
			s.advanceLocked(*h)
		}
		s.commitMu.Unlock()
	}
	if f.event != "heartbeat" {
		return nil
	}
	id, ok := parseEventID(f.id)
	if !ok || id.ms <= uint64(heartbeatSafetyMargin.Milliseconds()) {
		return nil
	}
	// A heartbeat id may be ahead of the next event's id (idle heartbeats carry the wall
	// clock), hence the margin; and it must never pass an unacknowledged message.
	candidate := eventID{ms: id.ms - uint64(heartbeatSafetyMargin.Milliseconds())}
	// Once a heartbeat is past the end of the first-run snapshot, the live part starts
	// right after `<recover ms>-0`: that position is safe without a margin.
	if end, ok := s.snapshotEnd(); ok && end.less(id) && candidate.less(end) {
		candidate = end
	}
	s.commitMu.Lock()
	if s.cp.Pending() == 0 && s.committed != "" {
		s.advanceLocked(candidate.String())
	}
	s.commitMu.Unlock()
	if s.conf.flushInterval <= 0 {
		// Not an error of this Read: the next acknowledgement or heartbeat writes again.
		if err := s.writeCursor(ctx); err != nil {
			s.log.Warnf("%v", err)
		}
	}
	return nil
}

// snapshotEnd is the position where the live stream starts after the first-run snapshot.
func (s *streamInput) snapshotEnd() (eventID, bool) {
	s.commitMu.Lock()
	recoverUntil := s.recover
	s.commitMu.Unlock()
	t, err := time.Parse(time.RFC3339Nano, recoverUntil)
	if recoverUntil == "" || err != nil {
		return eventID{}, false
	}
	return eventID{ms: uint64(t.UnixMilli())}, true
}

// advanceLocked moves the committed position forward (never backwards). commitMu held.
func (s *streamInput) advanceLocked(p string) {
	if p == "" || !idLess(s.committed, p) {
		return
	}
	s.committed = p
	if id, ok := parseEventID(p); ok {
		s.metrics.checkpoint.Set(int64(id.ms))
	}
}

// writeCursor stores the committed position if it changed. Writes are serialised and each
// takes the latest position, so the stored cursor never moves backwards.
func (s *streamInput) writeCursor(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.commitMu.Lock()
	state := cursorState{StartFrom: s.committed, RecoverUntil: s.recover, SnapshotFrom: s.snapFrom}
	s.commitMu.Unlock()
	if state.StartFrom == "" || state == s.written {
		return nil
	}
	var setErr error
	if err := s.mgr.AccessCache(ctx, s.conf.cacheName, func(c service.Cache) {
		setErr = c.Set(ctx, s.conf.cacheKey, state.encode(), nil)
	}); err != nil {
		setErr = err
	}
	if setErr != nil {
		return fmt.Errorf("opencti_stream: writing cursor %q: %w", s.conf.cacheKey, setErr)
	}
	s.written = state
	return nil
}

// flushLoop writes the cursor every flush interval: one cache write per interval instead of
// one per message, at the price of re-delivering up to one interval of acknowledged messages
// after a crash.
func (s *streamInput) flushLoop() {
	t := time.NewTicker(s.conf.flushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			ctx, cancel := s.shutSig.HardStopCtx(context.Background())
			if err := s.writeCursor(ctx); err != nil {
				s.log.Warnf("%v", err)
			}
			cancel()
		case <-s.shutSig.SoftStopChan():
			return
		}
	}
}

// Close stops the reader and writes the final cursor. Safe to call more than once.
func (s *streamInput) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		s.link.stop()
		s.shutSig.TriggerSoftStop()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.shutSig.TriggerHardStop()
		}
		err = s.writeCursor(ctx)
		s.metrics.events.Flush()
		s.metrics.lag.Flush()
		s.metrics.checkpoint.Flush()
		s.shutSig.TriggerHasStopped()
	})
	return err
}
