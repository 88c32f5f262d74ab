package stream

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the real opencti-harfanglab binary once per test run.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "och-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "opencti-harfanglab")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/opencti-harfanglab")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

const killConfig = `
http:
  enabled: false
logger:
  level: WARN
input:
  opencti_stream:
    url: %s
    token: %s
    checkpoint_cache: cursor
    checkpoint_limit: %d
pipeline:
  processors:
    - mapping: 'root = meta("opencti_event_id")'
output:
  file:
    path: %s
    codec: lines
cache_resources:
  - label: cursor
    state_file:
      directory: %s
`

// Kill the real binary with SIGKILL at random points, 20 times, while it streams 3 000 events
// to a file: every event must be delivered at least once overall, and each restart may
// re-deliver at most checkpoint_limit events.
func TestSIGKILLAtRandomPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const (
		events = 3000
		kills  = 20
		limit  = 1024
	)
	bin := binary(t)
	sim, u := startSim(t)
	// ~2 ms per event: the stream takes several seconds, so kills land in mid-stream.
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: 200 * time.Millisecond, SlowWrite: 2 * time.Millisecond})
	var ids []string
	for i := range events {
		ids = append(ids, sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--%d", i), 500)))
	}
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	require.NoError(t, os.MkdirAll(stateDir, 0o750))
	seedCursor(t, stateDir, "0-0")

	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	start := time.Now()
	seen := map[string]bool{}
	maxDups := 0
	for k := 0; k <= kills; k++ {
		out := filepath.Join(dir, fmt.Sprintf("out-%02d.txt", k))
		conf := filepath.Join(dir, fmt.Sprintf("config-%02d.yaml", k))
		require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, killConfig, u, testToken, limit, out, stateDir), 0o600))
		cmd := exec.Command(bin, "-c", conf)
		var stderr syncBuffer
		cmd.Stderr, cmd.Stdout = &stderr, &stderr
		require.NoError(t, cmd.Start())
		if k == kills {
			t.Logf("%d of %d events delivered before the last restart", len(seen), events)
		}
		if k < kills {
			time.Sleep(time.Duration(50+rng.IntN(1200)) * time.Millisecond)
		} else {
			waitFor(t, 30*time.Second, "every event after the last restart", func() bool {
				return len(merge(seen, readLines(t, out))) == events
			})
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		lines := readLines(t, out)
		dups := 0
		for _, id := range lines {
			if seen[id] {
				dups++
			}
			seen[id] = true
		}
		maxDups = max(maxDups, dups)
		assert.LessOrEqual(t, dups, limit, "run %d re-delivered %d events", k, dups)
		assert.NotContains(t, stderr.String(), testToken)
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("event %s was never delivered", id)
		}
	}
	t.Logf("%d kills in %s: all %d events delivered, at most %d re-deliveries after a kill",
		kills, time.Since(start).Round(time.Millisecond), events, maxDups)
}

func merge(seen map[string]bool, lines []string) map[string]bool {
	all := make(map[string]bool, len(seen)+len(lines))
	for id := range seen {
		all[id] = true
	}
	for _, id := range lines {
		all[id] = true
	}
	return all
}

// readLines returns the complete lines of a file (a torn last line is ignored).
func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' && len(lines) > 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}
