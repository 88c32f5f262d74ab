package stream

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

const benchConfig = `
http:
  enabled: false
logger:
  level: WARN
input:
  opencti_stream:
    url: %s
    token: %s
    checkpoint_cache: cursor
output:
  drop: {}
cache_resources:
  - label: cursor
    state_file:
      directory: %s
`

// TestThroughput streams 100 000 events of ~2 KB from the simulator through the real binary
// (opencti_stream → drop) and reports events/s and the binary's peak RSS. The simulator runs
// in the test process, so the RSS is the input's alone. Run with BENCH=1.
func TestThroughput(t *testing.T) {
	if os.Getenv("BENCH") != "1" {
		t.Skip("set BENCH=1")
	}
	const events = 100_000
	bin := binary(t)
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: 50 * time.Millisecond})
	var last string
	for i := range events {
		last = sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--%08d", i), 2048))
	}
	dir := t.TempDir()
	seedCursor(t, dir, "0-0")
	conf := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, benchConfig, u, testToken, dir), 0o600))

	cmd := exec.Command(bin, "-c", conf)
	var logs syncBuffer
	cmd.Stderr, cmd.Stdout = &logs, &logs
	start := time.Now()
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// Done when the stored cursor reaches the last event: everything was read and acknowledged.
	waitFor(t, 120*time.Second, "the cursor at the last event", func() bool {
		return !idLess(readCursor(t, dir).StartFrom, last)
	})
	elapsed := time.Since(start)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	require.NoError(t, err)
	var hwm string
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			hwm = strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	// CPU time does not depend on how busy the machine is: report it too.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	var cpu time.Duration
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	t.Logf("%d events of ~2 KB in %s (process start included): %.0f events/s, peak RSS %s; input process CPU %s (%.1f µs/event)",
		events, elapsed.Round(time.Millisecond), float64(events)/elapsed.Seconds(), hwm,
		cpu.Round(time.Millisecond), float64(cpu.Microseconds())/events)
}
