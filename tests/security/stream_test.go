// Package security checks the security promises of DESIGN.md ("Reliability"): TLS is verified
// unless the user turns it off, the simulators and the HTTP server listen on loopback by
// default, and tokens never appear in logs or error strings.
package security

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/opencti"
)

// lockedBuffer collects the logs of a stream (written from several goroutines).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// streamRun is the outcome of runStream.
type streamRun struct {
	logs     string
	messages int64 // messages the stream's input produced (when consumed by the test)
	done     bool  // the done condition held before the deadline
}

// runStream runs a stream from yaml (with a test consumer as output when consume is true)
// until done() holds or d passes, and returns its logs.
func runStream(t *testing.T, yaml string, consume bool, d time.Duration, done func(messages int64) bool) streamRun {
	t.Helper()
	var logs lockedBuffer
	var messages atomic.Int64
	b := service.NewStreamBuilder()
	b.SetLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.NoError(t, b.SetYAML(yaml))
	if consume {
		require.NoError(t, b.AddConsumerFunc(func(context.Context, *service.Message) error {
			messages.Add(1)
			return nil
		}))
	}
	s, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	run := streamRun{}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case err := <-ran:
			if err != nil && ctx.Err() == nil {
				t.Logf("stream ended: %v", err)
			}
			ran <- err
			run.done = done(messages.Load())
			break wait
		case <-tick.C:
			if done(messages.Load()) {
				run.done = true
				break wait
			}
		}
	}
	cancel() // Run stops the stream when its context ends
	select {
	case err := <-ran:
		// The run ends by its context (cancelled, or its deadline): anything else is a failure.
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("stream ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("stream did not stop")
	}
	run.messages = messages.Load()
	run.logs = logs.String()
	return run
}

// caFile writes the certificate of a TLS test server as a PEM file and returns its path.
func caFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	require.NoError(t, os.WriteFile(p, pemBytes, 0o600))
	return p
}
