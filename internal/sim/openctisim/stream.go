package openctisim

// The live stream simulator: GET /stream/{id} speaks the OpenCTI SSE wire format
// (opencti-stream-and-api.md §1): a `connected` event first (no id), then
// `id:`/`event:`/`data:` frames, heartbeats carrying the current position, exclusive resume
// from `from` / `Last-Event-ID`, the `recover` snapshot of every element's current state,
// `listen-delete`, and fault injection.
//
// API used by tests and the demo:
//
//	Publish(streamID, event, data) string       append an event (data = the full envelope JSON),
//	                                             id = <now ms>-<seq>, strictly increasing
//	PublishWithID(streamID, id, event, data)    append with an explicit id (shared ids, replays)
//	SetStreamFaults(StreamFaults)               replace the stream faults
//	StreamConnections() int                     GET /stream requests served (faulted ones included)
//	LastStreamRequest() *http.Request           headers/query of the last GET /stream (for asserts)
//
// Events live in memory (one shared []byte each); 100 000 events of 2 KB cost ~200 MB.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// StreamFaults scripts misbehaviour of the live stream endpoint. The zero value is a healthy stream
// with 5 s heartbeats.
type StreamFaults struct {
	DisconnectEvery int           // end the response after every N data events sent on a connection
	Stall           time.Duration // go silent (no events, no heartbeats) this long ...
	StallEvery      int           // ... after every N data events sent on a connection
	Status5xxNext   int           // answer the next N stream requests with 503
	SlowWrite       time.Duration // pause before each data event (a slow server)
	HeartbeatPeriod time.Duration // heartbeat period (0 → 5 s)
	// FirstRetainedID simulates Redis trimming: events with a smaller id are never served and
	// the `connected` payload reports it as firstEventId.
	FirstRetainedID string
}

// octiExtension is the OpenCTI STIX extension that carries updated_at.
const octiExtension = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba"

type simEventID struct{ ms, seq uint64 }

func parseSimEventID(s string) (simEventID, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return simEventID{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		return simEventID{}, false
	}
	return simEventID{ms, seq}, true
}

func (e simEventID) less(o simEventID) bool {
	return e.ms < o.ms || (e.ms == o.ms && e.seq < o.seq)
}

func (e simEventID) String() string {
	return strconv.FormatUint(e.ms, 10) + "-" + strconv.FormatUint(e.seq, 10)
}

type simEvent struct {
	id    simEventID
	name  string
	data  []byte
	idStr string
}

// element is the current state of one STIX object, for `recover` snapshots.
type element struct {
	stix      json.RawMessage
	updatedAt time.Time
	stixID    string
}

type streamLog struct {
	events   []simEvent
	elements map[string]element
	notify   chan struct{} // closed and replaced on every publish
}

// streamStore holds the live streams' events, their element states and the stream faults.
type streamStore struct {
	streams     map[string]*streamLog
	faults      StreamFaults
	connections int
	lastReq     *http.Request
	lastID      simEventID
	stop        chan struct{} // closed by stopStreams: every open stream ends
	noBypass    bool          // the token's user lacks BYPASS: `live` answers 401
}

func newStreamStore() *streamStore {
	return &streamStore{streams: map[string]*streamLog{}, stop: make(chan struct{})}
}

// stopStreams ends every open stream connection (called by Close).
func (s *Server) stopStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stream.stop:
	default:
		close(s.stream.stop)
	}
}

func (st *streamStore) log(streamID string) *streamLog {
	l := st.streams[streamID]
	if l == nil {
		l = &streamLog{elements: map[string]element{}, notify: make(chan struct{})}
		st.streams[streamID] = l
	}
	return l
}

// Reason phrases of sseMiddleware.js (res.statusMessage), sent with an empty body.
const (
	msgNotAuthenticated = "You are not authenticated, please check your credentials"
	msgNotAuthorized    = "You are not authorized, please check your credentials"
)

// SetBypass grants (true, the default) or revokes the BYPASS capability of the token's user:
// without it the unfiltered `live` stream answers 401.
func (s *Server) SetBypass(granted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stream.noBypass = !granted
}

// writeStatusMessage answers status with OpenCTI's custom reason phrase (Express
// res.statusMessage), which net/http cannot set: the response is written on the hijacked
// connection, which is then closed.
func writeStatusMessage(w http.ResponseWriter, status int, reason string) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.WriteHeader(status)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		w.WriteHeader(status)
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status, reason)
	_ = buf.Flush()
}

func (s *Server) registerStream() {
	s.mux.HandleFunc("GET /stream/{id}", s.handleStream)
}

// Publish appends an event to a stream and returns its id (<now ms>-<seq>, strictly increasing
// across all streams). data is the full envelope JSON (`{"version":"4","type":...,"data":{...}}`).
func (s *Server) Publish(streamID, event string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := simEventID{ms: uint64(time.Now().UnixMilli())}
	if !s.stream.lastID.less(id) {
		id = simEventID{s.stream.lastID.ms, s.stream.lastID.seq + 1}
	}
	s.appendLocked(streamID, id, event, data)
	return id.String()
}

// PublishWithID appends an event with an explicit id, which may repeat or precede earlier ids
// (dependency events sharing the triggering id, replays). It panics on a malformed id: tests only.
func (s *Server) PublishWithID(streamID, id, event string, data []byte) {
	eid, ok := parseSimEventID(id)
	if !ok {
		panic(fmt.Sprintf("openctisim: malformed event id %q", id))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendLocked(streamID, eid, event, data)
}

func (s *Server) appendLocked(streamID string, id simEventID, event string, data []byte) {
	if s.stream.lastID.less(id) {
		s.stream.lastID = id
	}
	l := s.stream.log(streamID)
	l.events = append(l.events, simEvent{id: id, name: event, data: data, idStr: id.String()})
	trackElement(l, id, event, data)
	close(l.notify)
	l.notify = make(chan struct{})
}

// trackElement keeps the last state of each element for `recover` snapshots.
func trackElement(l *streamLog, id simEventID, event string, data []byte) {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(data, &env) != nil || len(env.Data) == 0 {
		return
	}
	var obj struct {
		ID         string `json:"id"`
		Modified   string `json:"modified"`
		Extensions map[string]struct {
			ID        string `json:"id"`
			UpdatedAt string `json:"updated_at"`
		} `json:"extensions"`
	}
	if json.Unmarshal(env.Data, &obj) != nil || obj.ID == "" {
		return
	}
	// OpenCTI keeps one current state per entity, keyed by its internal id: an indicator whose
	// pattern changed has a new STIX id but is still one element of the snapshot.
	key := obj.ID
	if internal := obj.Extensions[octiExtension].ID; internal != "" {
		key = internal
	}
	if event == "delete" {
		delete(l.elements, key)
		return
	}
	updated := time.UnixMilli(int64(id.ms)).UTC()
	for _, v := range []string{obj.Extensions[octiExtension].UpdatedAt, obj.Modified} {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			updated = t
			break
		}
	}
	l.elements[key] = element{stix: env.Data, updatedAt: updated, stixID: obj.ID}
}

// SetStreamFaults replaces the stream faults (applies to new and open connections).
func (s *Server) SetStreamFaults(f StreamFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stream.faults = f
}

// StreamConnections is how many GET /stream requests were served (503-faulted ones included).
func (s *Server) StreamConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream.connections
}

// LastStreamRequest returns the last GET /stream request (its headers and URL), or nil.
func (s *Server) LastStreamRequest() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream.lastReq
}

// param reads a stream parameter the way OpenCTI does: query first, then headers.
func param(r *http.Request, query string, headers ...string) string {
	if v := r.URL.Query().Get(query); v != "" {
		return v
	}
	for _, h := range headers {
		if v := r.Header.Get(h); v != "" {
			return v
		}
	}
	return ""
}

// toPosition converts a from/recover parameter like OpenCTI's convertParameterToStreamId.
func toPosition(p string) (simEventID, bool) {
	if p == "" {
		return simEventID{}, false
	}
	if p == "0" || p == "0-0" {
		return simEventID{}, true
	}
	if strings.Count(p, "-") == 1 {
		return parseSimEventID(p)
	}
	if t, err := time.Parse(time.RFC3339Nano, p); err == nil {
		return simEventID{ms: uint64(t.UnixMilli())}, true
	}
	return simEventID{}, false
}

type streamConn struct {
	w       *bufio.Writer
	flusher http.Flusher
	sent    int // data events sent on this connection
	lastID  simEventID
	hasID   bool
}

func (c *streamConn) write(id, event string, data []byte) error {
	if id != "" {
		c.w.WriteString("id: ")
		c.w.WriteString(id)
		c.w.WriteByte('\n')
	}
	c.w.WriteString("event: ")
	c.w.WriteString(event)
	c.w.WriteString("\ndata: ")
	c.w.Write(data)
	_, err := c.w.WriteString("\n\n")
	return err
}

func (c *streamConn) flush() error {
	if err := c.w.Flush(); err != nil {
		return err
	}
	c.flusher.Flush()
	return nil
}

func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	r, cancel := s.withStop(r)
	defer cancel()
	streamID := r.PathValue("id")
	s.mu.Lock()
	s.stream.connections++
	s.stream.lastReq = r.Clone(r.Context())
	f := s.stream.faults
	if f.Status5xxNext > 0 {
		s.stream.faults.Status5xxNext--
		s.mu.Unlock()
		http.Error(w, "stream unavailable (injected)", http.StatusServiceUnavailable)
		return
	}
	l, known := s.stream.streams[streamID]
	if (!known && streamID != "live") || (streamID == "live" && s.stream.noBypass) {
		// sseMiddleware.js: an unknown stream id and `live` without BYPASS are both 401 (never
		// 404), with the same reason phrase and no body.
		s.mu.Unlock()
		writeStatusMessage(w, http.StatusUnauthorized, msgNotAuthorized)
		return
	}
	if l == nil {
		l = s.stream.log(streamID)
	}
	s.mu.Unlock()

	fromParam := param(r, "from", "from", "Last-Event-ID")
	recoverParam := param(r, "recover", "recover", "recover-date")
	from, hasFrom := toPosition(fromParam)
	recoverPos, hasRecover := toPosition(recoverParam)
	if hasRecover && !hasFrom {
		http.Error(w, "Recovery mode is only possible with a start date.", http.StatusInternalServerError)
		return
	}
	listenDelete := param(r, "listen-delete", "listen-delete") != "false"

	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	c := &streamConn{w: bufio.NewWriterSize(w, 64<<10), flusher: flusher}

	s.mu.Lock()
	first, last, size := retainedBounds(l, f.FirstRetainedID)
	s.mu.Unlock()
	connected, _ := json.Marshal(map[string]any{
		"lastEventId": last.String(), "firstEventId": first.String(),
		"firstEventDate": msDate(first.ms), "lastEventDate": msDate(last.ms),
		"streamSize": size, "connectionId": uuid.NewString(),
	})
	if c.write("", "connected", connected) != nil || c.flush() != nil {
		return
	}

	if hasRecover && from.less(recoverPos) {
		if !s.sendSnapshot(r, c, l, from, recoverPos, f) {
			return
		}
		from = recoverPos
	} else if !hasFrom {
		from, hasFrom = last, true // live tail
	}
	c.lastID, c.hasID = from, true
	s.tail(r, c, l, from, listenDelete)
}

// retainedBounds returns the first retained id, the last id and the retained size.
func retainedBounds(l *streamLog, firstRetained string) (first, last simEventID, size int) {
	floor, _ := parseSimEventID(firstRetained)
	for i, e := range l.events {
		if e.id.less(floor) {
			continue
		}
		if size == 0 {
			first = e.id
		}
		size++
		if i == len(l.events)-1 || last.less(e.id) {
			last = e.id
		}
	}
	return first, last, size
}

func msDate(ms uint64) string {
	return time.UnixMilli(int64(ms)).UTC().Format("2006-01-02T15:04:05.000Z")
}

// sendSnapshot publishes the current state of every element updated in [from, recover] as
// `create` events with origin referer `init` and id `<updated_at ms>-0`, oldest first.
func (s *Server) sendSnapshot(r *http.Request, c *streamConn, l *streamLog, from, recoverPos simEventID, f StreamFaults) bool {
	s.mu.Lock()
	var els []element
	for _, e := range l.elements {
		ms := uint64(e.updatedAt.UnixMilli())
		if ms >= from.ms && ms <= recoverPos.ms {
			els = append(els, e)
		}
	}
	s.mu.Unlock()
	sort.Slice(els, func(i, j int) bool {
		if !els[i].updatedAt.Equal(els[j].updatedAt) {
			return els[i].updatedAt.Before(els[j].updatedAt)
		}
		return els[i].stixID < els[j].stixID
	})
	for _, e := range els {
		env, _ := json.Marshal(map[string]any{
			"data": e.stix, "message": "creates " + e.stixID,
			"origin": map[string]string{"referer": "init"}, "version": "4",
		})
		id := simEventID{ms: uint64(e.updatedAt.UnixMilli())}
		if !s.sendData(r, c, simEvent{id: id, idStr: id.String(), name: "create", data: env}, f) {
			return false
		}
	}
	return c.flush() == nil
}

// sendData writes one data event, applying SlowWrite, Stall and DisconnectEvery. It returns
// false when the connection must end.
func (s *Server) sendData(r *http.Request, c *streamConn, e simEvent, f StreamFaults) bool {
	if f.SlowWrite > 0 {
		if c.flush() != nil || !sleepCtx(r, f.SlowWrite) {
			return false
		}
	}
	if c.write(e.idStr, e.name, e.data) != nil {
		return false
	}
	c.sent++
	c.lastID, c.hasID = e.id, true
	if f.StallEvery > 0 && c.sent%f.StallEvery == 0 && f.Stall > 0 {
		if c.flush() != nil || !sleepCtx(r, f.Stall) {
			return false
		}
	}
	if f.DisconnectEvery > 0 && c.sent%f.DisconnectEvery == 0 {
		_ = c.flush()
		return false
	}
	return true
}

func sleepCtx(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// withStop returns r with a context that also ends when the simulator stops its streams.
func (s *Server) withStop(r *http.Request) (*http.Request, context.CancelFunc) {
	s.mu.Lock()
	stop := s.stream.stop
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(r.Context())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return r.WithContext(ctx), cancel
}

// tail serves the events after `from` (exclusive, in log order), then waits for new ones,
// sending heartbeats with the current position.
func (s *Server) tail(r *http.Request, c *streamConn, l *streamLog, from simEventID, listenDelete bool) {
	s.mu.Lock()
	next := len(l.events)
	for i, e := range l.events {
		if from.less(e.id) {
			next = i
			break
		}
	}
	s.mu.Unlock()

	lastBeat := time.Now()
	for {
		s.mu.Lock()
		f := s.stream.faults
		end := min(next+100, len(l.events))
		batch := l.events[next:end]
		notify := l.notify
		s.mu.Unlock()
		floor, _ := parseSimEventID(f.FirstRetainedID)
		period := f.HeartbeatPeriod
		if period <= 0 {
			period = 5 * time.Second
		}

		for _, e := range batch {
			if e.id.less(floor) || (!listenDelete && e.name == "delete") {
				continue
			}
			if !s.sendData(r, c, e, f) {
				return
			}
		}
		next = end
		if len(batch) > 0 {
			if c.flush() != nil {
				return
			}
			if time.Since(lastBeat) >= period {
				if !s.heartbeat(c, false) {
					return
				}
				lastBeat = time.Now()
			}
			continue
		}
		wait := time.NewTimer(max(period-time.Since(lastBeat), 0))
		select {
		case <-notify:
			wait.Stop()
		case <-wait.C:
			if !s.heartbeat(c, true) {
				return
			}
			lastBeat = time.Now()
		case <-r.Context().Done():
			wait.Stop()
			return
		}
	}
}

// heartbeat sends the connection's position; when idle it is the wall clock, as OpenCTI does
// after an empty XREAD, so it may be ahead of the next event's id.
func (s *Server) heartbeat(c *streamConn, idle bool) bool {
	id := c.lastID
	if now := (simEventID{ms: uint64(time.Now().UnixMilli())}); idle && id.less(now) {
		id = now
	}
	data, _ := json.Marshal(msDate(id.ms))
	if c.write(id.String(), "heartbeat", data) != nil {
		return false
	}
	return c.flush() == nil
}
