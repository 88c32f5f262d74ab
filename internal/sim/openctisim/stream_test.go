package openctisim

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/r3labs/sse/v2"
)

type sseEvent struct{ id, event, data string }

// readEvents opens the stream and reads n events (or until the server ends it).
func readEvents(t *testing.T, url string, header http.Header, n int) (*http.Response, []sseEvent) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header = header
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	r := sse.NewEventStreamReader(resp.Body, 1<<20)
	var out []sseEvent
	for len(out) < n {
		raw, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var e sseEvent
		sc := bufio.NewScanner(strings.NewReader(string(raw)))
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ": ")
			switch k {
			case "id":
				e.id = v
			case "event":
				e.event = v
			case "data":
				e.data = v
			}
		}
		out = append(out, e)
	}
	return resp, out
}

func startStreamSim(t *testing.T) (*Server, string) {
	s := New("tok")
	u, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, u
}

func TestStreamWireFormatAndExclusiveResume(t *testing.T) {
	s, u := startStreamSim(t)
	s.SetStreamFaults(StreamFaults{HeartbeatPeriod: 50 * time.Millisecond})
	s.PublishWithID("x", "100-0", "create", []byte(`{"data":{"id":"a"}}`))
	s.PublishWithID("x", "100-0", "create", []byte(`{"data":{"id":"b"}}`))
	s.PublishWithID("x", "200-0", "delete", []byte(`{"data":{"id":"a"}}`))

	resp, evs := readEvents(t, u+"/stream/x", http.Header{"Last-Event-Id": {"0-0"}}, 5)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	if evs[0].event != "connected" || evs[0].id != "" {
		t.Fatalf("first event %+v, want connected without id", evs[0])
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(evs[0].data), &info); err != nil || info["firstEventId"] != "100-0" || info["lastEventId"] != "200-0" {
		t.Fatalf("connected payload %s (%v)", evs[0].data, err)
	}
	got := []string{evs[1].id + evs[1].event, evs[2].id + evs[2].event, evs[3].id + evs[3].event}
	if strings.Join(got, ",") != "100-0create,100-0create,200-0delete" {
		t.Fatalf("events %v", got)
	}
	if evs[4].event != "heartbeat" || evs[4].id == "" {
		t.Fatalf("want a heartbeat with an id, got %+v", evs[4])
	}

	// Exclusive: after 100-0 comes 200-0 only; `from` in the query beats Last-Event-ID.
	_, evs = readEvents(t, u+"/stream/x?from=100-0", http.Header{"Last-Event-Id": {"0-0"}}, 2)
	if evs[1].id != "200-0" {
		t.Fatalf("resume after 100-0 gave %+v", evs[1])
	}
	// listen-delete: false drops deletes.
	_, evs = readEvents(t, u+"/stream/x", http.Header{"Last-Event-Id": {"100-0"}, "Listen-Delete": {"false"}}, 2)
	if evs[1].event != "heartbeat" {
		t.Fatalf("listen-delete false still sent %+v", evs[1])
	}
}

func TestStreamRecoverSnapshot(t *testing.T) {
	s, u := startStreamSim(t)
	s.SetStreamFaults(StreamFaults{HeartbeatPeriod: time.Hour})
	s.PublishWithID("live", "100-0", "create", []byte(`{"data":{"id":"a","modified":"1970-01-01T00:00:00.100Z"}}`))
	s.PublishWithID("live", "200-0", "create", []byte(`{"data":{"id":"b"}}`))
	s.PublishWithID("live", "300-0", "update", []byte(`{"data":{"id":"a","v":2}}`))
	s.PublishWithID("live", "400-0", "delete", []byte(`{"data":{"id":"b"}}`))
	s.PublishWithID("live", "900-0", "create", []byte(`{"data":{"id":"c"}}`))

	// Snapshot of [0, 500 ms]: only a, in its last state, then the tail after 500-0.
	_, evs := readEvents(t, u+"/stream/live?recover=1970-01-01T00:00:00.500Z", http.Header{"Last-Event-Id": {"0-0"}}, 3)
	if evs[1].id != "300-0" || evs[1].event != "create" || !strings.Contains(evs[1].data, `"v":2`) || !strings.Contains(evs[1].data, `"referer":"init"`) {
		t.Fatalf("snapshot event %+v", evs[1])
	}
	if evs[2].id != "900-0" {
		t.Fatalf("tail after the snapshot %+v", evs[2])
	}
	// recover without a start position is a server error, as in OpenCTI.
	resp, _ := readEvents(t, u+"/stream/live?recover=1970-01-01T00:00:00.500Z", nil, 1)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("recover without from: %d", resp.StatusCode)
	}
}

func TestStreamFaults(t *testing.T) {
	s, u := startStreamSim(t)
	for range 10 {
		s.Publish("live", "create", []byte(`{"data":{"id":"a"}}`))
	}
	s.SetStreamFaults(StreamFaults{Status5xxNext: 1, DisconnectEvery: 4, FirstRetainedID: "0-0"})
	resp, _ := readEvents(t, u+"/stream/live", nil, 1)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("want one 503, got %d", resp.StatusCode)
	}
	_, evs := readEvents(t, u+"/stream/live", http.Header{"Last-Event-Id": {"0-0"}}, 100)
	if len(evs) != 5 { // connected + 4 events, then the server ends the response
		t.Fatalf("DisconnectEvery 4 gave %d events", len(evs))
	}
	if s.StreamConnections() != 2 {
		t.Fatalf("connections %d", s.StreamConnections())
	}
	resp, _ = readEvents(t, u+"/stream/unknown", nil, 1)
	if resp.StatusCode != http.StatusUnauthorized || resp.Status != "401 You are not authorized, please check your credentials" {
		t.Fatalf("unknown stream: %q, want OpenCTI's 401", resp.Status)
	}
}

func TestStreamPublishIDsIncrease(t *testing.T) {
	s := New("tok")
	prev := ""
	for range 1000 {
		id := s.Publish("live", "create", []byte(`{}`))
		a, _ := parseSimEventID(id)
		if p, ok := parseSimEventID(prev); ok && !p.less(a) {
			t.Fatalf("%s after %s", id, prev)
		}
		prev = id
	}
}
