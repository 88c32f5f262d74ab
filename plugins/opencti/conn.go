package opencti

// The HTTP side of opencti_stream. We use r3labs/sse's EventStreamReader for framing (with its
// buffer raised to max_event_size) but not its Client: the client resumes from the last id it
// saw, heartbeats included, and retries on its own schedule, whereas resuming safely needs
// the last *complete* group of events sharing an id, the `recover` parameter during the
// first-run snapshot, and distinct errors for a bad token or an unknown stream.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/r3labs/sse/v2"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/retry"
)

const (
	backoffInitial = 250 * time.Millisecond
	backoffMax     = 30 * time.Second
	fatalBackoff   = 10 * time.Second
)

// errFatal marks answers that retrying cannot fix (bad token, unknown or stopped stream).
type errFatal struct{ err error }

func (e *errFatal) Error() string { return e.err.Error() }
func (e *errFatal) Unwrap() error { return e.err }

// streamReader owns one logical stream: it dials, parses frames into `frames`, and
// reconnects with back-off until the input closes or the server gives a fatal answer.
type streamReader struct {
	in     *streamInput
	frames chan frame
	done   chan struct{}

	mu      sync.Mutex // guards groups and recover (read by Connect after the reader ended)
	groups  groupTracker
	recover string

	first   *http.Response // from the synchronous dial in Connect
	cancel  context.CancelFunc
	stopped atomic.Bool
}

func newStreamReader(in *streamInput, position, recoverUntil string) *streamReader {
	return &streamReader{
		in:      in,
		frames:  make(chan frame, framesBuffer),
		done:    make(chan struct{}),
		groups:  groupTracker{closed: position},
		recover: recoverUntil,
	}
}

func (r *streamReader) finished() bool { return r.stopped.Load() }

// resumePoint is where a new reader should start: the last complete group received.
func (r *streamReader) resumePoint() (position, recoverUntil string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.groups.closed, r.recover
}

// dial opens the first connection; ctx (Connect's) bounds the attempt, not the stream.
func (r *streamReader) dial(ctx context.Context) error {
	connCtx, cancel := r.in.shutSig.SoftStopCtx(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	resp, err := r.open(connCtx)
	if !stop() || err != nil {
		cancel()
		if err == nil {
			resp.Body.Close()
			err = ctx.Err()
		}
		var fatal *errFatal
		if errors.As(err, &fatal) {
			return service.NewErrBackOff(err, fatalBackoff)
		}
		return err
	}
	r.first, r.cancel = resp, cancel
	return nil
}

// open sends the stream request from the current resume point.
func (r *streamReader) open(ctx context.Context) (*http.Response, error) {
	c := &r.in.conf
	position, recoverUntil := r.resumePoint()
	target := c.streamURL
	if position != "" && recoverUntil != "" && beforeDate(position, recoverUntil) {
		target += "?recover=" + url.QueryEscape(recoverUntil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("opencti_stream: building request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("listen-delete", fmt.Sprint(c.listenDelete))
	req.Header.Set("no-dependencies", fmt.Sprint(c.noDependencies))
	req.Header.Set("with-inferences", fmt.Sprint(c.withInferences))
	if position != "" {
		req.Header.Set("Last-Event-ID", position)
	}
	resp, err := r.in.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("opencti_stream: connecting to %s: %w", c.streamURL, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		resp.Body.Close()
		return nil, &errFatal{unauthorizedError(c, resp.Status)}
	case resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, &errFatal{fmt.Errorf("opencti_stream: %s answered %q: live stream %q is stopped; start it in OpenCTI (Data > Data sharing > Live streams)",
			c.baseURL, resp.Status, c.streamID)}
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, &errFatal{fmt.Errorf("opencti_stream: %s answered %q: nothing serves /stream there (OpenCTI itself answers 401, never 404, for an unknown stream); check the %s field (OPENCTI_URL)",
			c.baseURL, resp.Status, fieldURL)}
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, fmt.Errorf("opencti_stream: %s answered %q", c.streamURL, resp.Status)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
		resp.Body.Close()
		return nil, fmt.Errorf("opencti_stream: %s answered with content type %q, not an event stream", c.streamURL, resp.Header.Get("Content-Type"))
	}
	return resp, nil
}

// unauthorizedError explains a 401 from the stream endpoint. OpenCTI gives the same answer for
// three causes (sseMiddleware.js): a token it does not know, a user without the capability (the
// `live` stream needs BYPASS; a stream collection needs TAXIIAPI, and membership when it is
// restricted), and a stream id that names no live stream. Only the administrator can tell them
// apart, so the message names all three and the setting of each.
func unauthorizedError(c *streamConfig, status string) error {
	capability := `the "Access data sharing" capability (TAXIIAPI), and membership if the stream is restricted`
	if c.streamID == "live" {
		capability = `the "Bypass all capabilities" capability (BYPASS), which the unfiltered "live" stream requires`
	}
	return fmt.Errorf("opencti_stream: %s answered %q for stream %q; OpenCTI answers 401 for three causes: "+
		"(1) the token is wrong or expired: check the %s field (OPENCTI_TOKEN); "+
		"(2) the token's user lacks %s: check its roles in OpenCTI; "+
		"(3) no live stream has id %q: check the %s field (CONNECTOR_LIVE_STREAM_ID) against Data > Data sharing > Live streams",
		c.baseURL, status, c.streamID, fieldToken, capability, c.streamID, osFieldStreamID)
}

// beforeDate reports whether position lies before an RFC 3339 date.
func beforeDate(position, date string) bool {
	id, ok := parseEventID(position)
	t, err := time.Parse(time.RFC3339Nano, date)
	return ok && err == nil && int64(id.ms) < t.UnixMilli()
}

// run consumes connections until the input stops or a fatal answer arrives.
func (r *streamReader) run() {
	defer func() {
		r.stopped.Store(true)
		close(r.done)
	}()
	in := r.in
	soft := in.shutSig.SoftStopChan()
	resp, cancel := r.first, r.cancel
	attempt := 0
	for {
		if resp != nil {
			started := time.Now()
			events, err := r.consume(resp, cancel)
			resp.Body.Close()
			cancel()
			resp = nil
			if in.shutSig.IsSoftStopSignalled() {
				return
			}
			if events > 0 || time.Since(started) >= in.conf.heartbeatTimeout {
				attempt = 0 // it worked for a while: reconnect at once
			} else {
				attempt++
			}
			in.metrics.reconnects.Incr(1)
			pos, _ := r.resumePoint()
			in.log.Infof("opencti_stream: stream %q interrupted after %d events (%v); reconnecting from %s",
				in.conf.streamID, events, err, displayPosition(pos))
		}
		if attempt > 0 {
			select {
			case <-time.After(backoff(attempt)):
			case <-soft:
				return
			}
		}
		var err error
		var connCtx context.Context
		connCtx, cancel = in.shutSig.SoftStopCtx(context.Background())
		if resp, err = r.open(connCtx); err != nil {
			cancel()
			var fatal *errFatal
			if errors.As(err, &fatal) {
				in.log.Errorf("%v", err)
				return
			}
			attempt++
			in.log.Warnf("%v; retrying with back-off", err)
		}
	}
}

// backoff is the jittered exponential delay before attempt n (n >= 1).
func backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return retry.Backoff(n-1, backoffInitial, backoffMax)
}

// consume reads one connection until it ends; it returns the number of data events read.
// A watchdog cancels the connection when the server is silent for heartbeat_timeout; it is
// paused while we wait for Read, so a slow pipeline is not mistaken for a dead server.
func (r *streamReader) consume(resp *http.Response, cancel context.CancelFunc) (int, error) {
	in := r.in
	var silent atomic.Bool
	watchdog := time.AfterFunc(in.conf.heartbeatTimeout, func() { silent.Store(true); cancel() })
	defer watchdog.Stop()
	position, recoverUntil := r.resumePoint()
	recovering := recoverUntil != "" && position != "" && beforeDate(position, recoverUntil)
	reader := sse.NewEventStreamReader(resp.Body, in.conf.maxEventSize)
	events := 0
	for {
		raw, err := reader.ReadEvent()
		if err != nil {
			switch {
			case silent.Load():
				return events, fmt.Errorf("nothing received for %s", in.conf.heartbeatTimeout)
			case errors.Is(err, io.EOF):
				return events, errors.New("closed by the server")
			case errors.Is(err, bufio.ErrTooLong):
				in.log.Errorf("opencti_stream: an event of stream %q is larger than %s (%d bytes); raise it", in.conf.streamID, osFieldMaxEventSize, in.conf.maxEventSize)
			}
			return events, err
		}
		watchdog.Stop()
		f, ok := parseFrame(raw)
		if !ok {
			watchdog.Reset(in.conf.heartbeatTimeout)
			continue
		}
		r.mu.Lock()
		switch f.event {
		case "connected":
			f.safe = r.onConnected(f.data, position, recovering)
		case "heartbeat":
			if closed, ok := r.groups.heartbeat(f.id); ok {
				f.safe = closed
			} else if r.groups.closed == "" && r.groups.open == "" {
				// Live tail with nothing received yet: the heartbeat gives the first position.
				if id, ok := parseEventID(f.id); ok && id.ms > uint64(heartbeatSafetyMargin.Milliseconds()) {
					r.groups.closed = eventID{ms: id.ms - uint64(heartbeatSafetyMargin.Milliseconds())}.String()
					f.safe = r.groups.closed
				}
			}
		default:
			f.safe = r.groups.data(f.id)
			events++
		}
		r.mu.Unlock()
		select {
		case r.frames <- f:
		case <-in.shutSig.SoftStopChan():
			return events, errors.New("input closing")
		}
		watchdog.Reset(in.conf.heartbeatTimeout)
	}
}

// onConnected checks the server's retention against our position and, on a live-tail start,
// takes the server's last event id as the position. r.mu held.
func (r *streamReader) onConnected(data []byte, position string, recovering bool) string {
	var info struct {
		LastEventID  string `json:"lastEventId"`
		FirstEventID string `json:"firstEventId"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		r.in.log.Debugf("opencti_stream: unreadable connected event: %v", err)
		return ""
	}
	in := r.in
	in.log.Infof("opencti_stream: connected to stream %q from %s (server holds %s to %s)",
		in.conf.streamID, displayPosition(position), info.FirstEventID, info.LastEventID)
	if position != "" && position != "0-0" && !recovering && idLess(position, info.FirstEventID) {
		in.metrics.trimmed.Incr(1)
		in.log.Warnf("opencti_stream: resuming stream %q from %s but the server's oldest event is %s: events in between may have been trimmed and lost; reset the cursor %q to re-snapshot",
			in.conf.streamID, position, info.FirstEventID, in.conf.cacheKey)
	}
	if r.groups.closed == "" && r.groups.open == "" {
		if _, ok := parseEventID(info.LastEventID); ok {
			r.groups.closed = info.LastEventID
			return info.LastEventID
		}
	}
	return ""
}
