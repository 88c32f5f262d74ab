// Package deploy is one test deployment of the product: both simulators on loopback, a state
// directory, the environment of the shipped pipelines, and the real binary started on them.
// The chaos and bad-input suites share it.
package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

// Tokens of the simulators: distinctive, so a scan of the output finds any leak.
const (
	HLToken   = "hl-deploy-TOKEN-3e9b71c5d2"
	OCTIToken = "octi-deploy-TOKEN-b04f8a6e17"
	ListName  = "from_OpenCTI"
	StreamID  = "live"
)

// Pipeline files.
const (
	IntelPush      = "opencti-to-harfanglab.yaml"
	DetectionsPull = "harfanglab-to-opencti.yaml"
)

// Deployment is both simulators, a state directory and the binary's environment.
type Deployment struct {
	T     testing.TB
	HL    *hlsim.Server
	OCTI  *openctisim.Server
	State string
	Vars  map[string]string
	Addr  string // HTTP server of the current process
	Proc  *harness.Proc
	// AllLogs is the output of every process started so far (for token scans).
	AllLogs strings.Builder
}

// New starts both simulators and prepares the environment (poll interval 300 ms).
func New(t testing.TB) *Deployment {
	t.Helper()
	d := &Deployment{T: t, HL: hlsim.New(HLToken), OCTI: openctisim.New(OCTIToken), State: t.TempDir()}
	hlURL, err := d.HL.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.HL.Close() })
	octiURL, err := d.OCTI.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.OCTI.Close() })
	d.Vars = map[string]string{
		"OPENCTI_URL": octiURL, "OPENCTI_TOKEN": OCTIToken,
		"HARFANGLAB_URL": hlURL, "HARFANGLAB_TOKEN": HLToken,
		"CONNECTOR_ID": uuid.NewString(), "CONNECTOR_LIVE_STREAM_ID": StreamID,
		"HARFANGLAB_POLL_INTERVAL": "300ms",
		// Alerts are seen as soon as the simulator holds them (the 2 min default waits for a
		// real console's Elasticsearch refresh and late agent uploads).
		"HARFANGLAB_SETTLE_DELAY": "0s",
		"STATE_DIR":               d.State, "LOG_LEVEL": "INFO",
	}
	return d
}

// Start runs the binary on the given pipelines and waits until it is ready (wait ≤ 0: no wait).
func (d *Deployment) Start(wait time.Duration, pipelines ...string) *harness.Proc {
	d.T.Helper()
	d.Addr = harness.FreeAddr(d.T)
	d.Vars["HTTP_ADDRESS"] = d.Addr
	args := []string{"streams", "--no-api", "-o", harness.Pipeline("observability.yaml"), "-r", harness.Pipeline("resources.yaml")}
	for _, p := range pipelines {
		args = append(args, harness.Pipeline(p))
	}
	p := harness.Start(d.T, d.Vars, args...)
	d.Proc = p
	n := strings.Count(d.AllLogs.String(), "\n=== process ")
	d.T.Cleanup(func() { d.keepLogs(p, n) })
	if wait > 0 {
		require.NoError(d.T, p.WaitReady(d.Addr, wait))
	}
	return p
}

// Kill SIGKILLs the current process and records its output.
func (d *Deployment) Kill() {
	if d.Proc == nil {
		return
	}
	d.Proc.Kill()
	d.record(d.Proc)
}

// Stop ends the current process gracefully and records its output.
func (d *Deployment) Stop() {
	if d.Proc == nil {
		return
	}
	d.Proc.Stop()
	d.record(d.Proc)
}

func (d *Deployment) record(p *harness.Proc) {
	fmt.Fprintf(&d.AllLogs, "\n=== process %d\n%s", strings.Count(d.AllLogs.String(), "\n=== process "), p.Logs())
	d.Proc = nil
}

// keepLogs writes a process's output under TEST_LOG_DIR when set (the harness shows a tail).
func (d *Deployment) keepLogs(p *harness.Proc, n int) {
	dir := os.Getenv("TEST_LOG_DIR")
	if dir == "" {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(d.T.Name())
	_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s.%02d.log", name, n)), []byte(p.Logs()), 0o600)
}

// DeadLetters reads the dead-letter file of a pipeline ("opencti-to-harfanglab" or
// "harfanglab-to-opencti"); lines that are not JSON are returned as {"unparsable": line}.
func (d *Deployment) DeadLetters(pipeline string) []map[string]any {
	f, err := os.Open(filepath.Join(d.State, "dead-letter", pipeline+".jsonl"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			m = map[string]any{"unparsable": sc.Text()}
		}
		out = append(out, m)
	}
	return out
}

// PublishEnvelope publishes one event whose envelope carries data (any JSON value).
func (d *Deployment) PublishEnvelope(event string, data any) string {
	env := map[string]any{"version": "4", "type": event, "data": data, "message": event, "origin": map[string]any{}}
	b, err := json.Marshal(env)
	require.NoError(d.T, err)
	return d.OCTI.Publish(StreamID, event, b)
}

// IOCValues is the IOC list as value → enabled.
func (d *Deployment) IOCValues() map[string]bool {
	out := map[string]bool{}
	for _, r := range d.HL.IOCs(ListName) {
		out[r.Value] = r.Enabled
	}
	return out
}

// Eventually polls cond until it holds or wait passes, then fails with msg (state printed lazily).
func (d *Deployment) Eventually(wait time.Duration, cond func() bool, msg string, state func() string) {
	d.T.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := ""
	if state != nil {
		s = ": " + state()
	}
	d.T.Fatalf("after %v: %s%s", wait, msg, s)
}
