// Package stream holds end-to-end tests of the opencti_stream input: a Benthos stream built
// with service.NewStreamBuilder reads from the OpenCTI simulator on loopback.
package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/opencti"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/statefile"
)

const (
	testToken = "stream-test-token"
	cursorKey = "opencti_stream"
)

func startSim(t testing.TB) (*openctisim.Server, string) {
	t.Helper()
	sim := openctisim.New(testToken)
	u, err := sim.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim, u
}

// envelope is a create event of an indicator, padded to about size bytes.
func envelope(stixID string, size int) []byte {
	pad := max(size-330, 0)
	return fmt.Appendf(nil, `{"version":"4","type":"create","scope":"external","message":"creates a Indicator","origin":{"user_id":"u"},"data":{"id":%q,"spec_version":"2.1","type":"indicator","name":"n","pattern":"[domain-name:value = 'evil.example.com']","pattern_type":"stix","description":"%s"}}`,
		stixID, strings.Repeat("x", pad))
}

type received struct {
	id, event string
	body      []byte
	err       error
}

// sink collects what reaches the output.
type sink struct {
	mu  sync.Mutex
	got []received
}

func (s *sink) consume(_ context.Context, m *service.Message) error {
	b, err := m.AsBytes()
	if err != nil {
		return err
	}
	id, _ := m.MetaGet("opencti_event_id")
	ev, _ := m.MetaGet("opencti_event")
	s.mu.Lock()
	s.got = append(s.got, received{id: id, event: ev, body: append([]byte(nil), b...), err: m.GetError()})
	s.mu.Unlock()
	return nil
}

func (s *sink) all() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// dataIDs returns data.id of every received body, in order.
func (s *sink) dataIDs(t testing.TB) []string {
	var ids []string
	for _, r := range s.all() {
		var env struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(r.body, &env))
		ids = append(ids, env.Data.ID)
	}
	return ids
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

type running struct {
	stream *service.Stream
	done   chan error
	logs   *syncBuffer
	mux    *http.ServeMux // the stream's HTTP endpoints (json_api metrics at /metrics)
}

// metrics returns the stream's metrics as the json_api exporter renders them.
func (r *running) metrics(t testing.TB) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

// run starts a stream: opencti_stream (with the extra input fields) → sink, cursor in a
// state_file cache under dir.
func run(t testing.TB, simURL, dir, extra string, snk *sink) *running {
	t.Helper()
	b := service.NewStreamBuilder()
	in := fmt.Sprintf("opencti_stream:\n  url: %s\n  token: %s\n  checkpoint_cache: cursor\n", simURL, testToken)
	for _, line := range strings.Split(strings.TrimSpace(extra), "\n") {
		if line != "" {
			in += "  " + strings.TrimSpace(line) + "\n"
		}
	}
	require.NoError(t, b.AddInputYAML(in))
	require.NoError(t, b.AddResourcesYAML("cache_resources:\n  - label: cursor\n    state_file:\n      directory: "+dir+"\n"))
	require.NoError(t, b.AddConsumerFunc(snk.consume))
	logs := &syncBuffer{}
	b.SetLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	require.NoError(t, b.SetMetricsYAML("json_api: {}"))
	mux := http.NewServeMux()
	b.SetHTTPMux(mux)
	s, err := b.Build()
	require.NoError(t, err)
	r := &running{stream: s, done: make(chan error, 1), logs: logs, mux: mux}
	go func() { r.done <- s.Run(context.Background()) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t testing.TB) {
	if r.stream == nil {
		return
	}
	_ = r.stream.StopWithin(10 * time.Second)
	select {
	case err := <-r.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("stream ended with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("stream did not stop")
	}
	r.stream = nil
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type cursor struct {
	StartFrom    string `json:"start_from"`
	RecoverUntil string `json:"recover_until"`
}

func cursorPath(dir string) string { return filepath.Join(dir, url.PathEscape(cursorKey)) }

func seedCursor(t testing.TB, dir, startFrom string) {
	t.Helper()
	b, _ := json.Marshal(cursor{StartFrom: startFrom})
	require.NoError(t, os.WriteFile(cursorPath(dir), b, 0o600))
}

// readCursor returns the stored cursor (zero value when absent).
func readCursor(t testing.TB, dir string) cursor {
	t.Helper()
	b, err := os.ReadFile(cursorPath(dir))
	if os.IsNotExist(err) {
		return cursor{}
	}
	require.NoError(t, err)
	var c cursor
	require.NoError(t, json.Unmarshal(b, &c))
	return c
}

// idMs is the millisecond part of a stream id (0 if malformed).
func idMs(id string) int64 {
	a, _, _ := strings.Cut(id, "-")
	var ms int64
	_, _ = fmt.Sscan(a, &ms)
	return ms
}

// idLess compares stream ids numerically.
func idLess(a, b string) bool {
	var am, as, bm, bs int64
	_, _ = fmt.Sscanf(a, "%d-%d", &am, &as)
	_, _ = fmt.Sscanf(b, "%d-%d", &bm, &bs)
	return am < bm || (am == bm && as < bs)
}
