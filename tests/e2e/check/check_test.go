// Package check_test runs `opencti-harfanglab check` through the real binary against the
// simulators: the exit code, the table and the absence of tokens in what it prints.
package check_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/check"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

const (
	octiToken = "e2e-octi-secret-token"
	hlToken   = "e2e-hl-secret-token"
)

func startSims(t *testing.T) (*openctisim.Server, *hlsim.Server, map[string]string) {
	t.Helper()
	octi, hl := openctisim.New(octiToken), hlsim.New(hlToken)
	octiURL, err := octi.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = octi.Close() })
	hlURL, err := hl.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hl.Close() })
	hl.AddAlert(hl.SampleAlert(hlsim.SampleIOCDomain, 1))
	return octi, hl, map[string]string{
		"OPENCTI_URL": octiURL, "OPENCTI_TOKEN": octiToken, "CONNECTOR_ID": "0e0c0000-0000-4000-8000-0000000000ab",
		"HARFANGLAB_URL": hlURL, "HARFANGLAB_TOKEN": hlToken,
	}
}

// runCheck runs the binary and returns its output and exit code.
func runCheck(t *testing.T, env map[string]string, args ...string) (string, int) {
	t.Helper()
	p := harness.Start(t, env, append([]string{"check"}, args...)...)
	code := p.Wait(2 * time.Minute)
	out := p.Logs()
	if code == -1 {
		t.Fatalf("check did not end:\n%s", out)
	}
	for _, tok := range []string{octiToken, hlToken, env["OPENCTI_TOKEN"], env["HARFANGLAB_TOKEN"]} {
		if strings.Contains(out, tok) {
			t.Fatalf("the output contains a token:\n%s", out)
		}
	}
	return out, code
}

func wantLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)` + p).MatchString(out) {
			t.Errorf("no line matching /%s/ in:\n%s", p, out)
		}
	}
}

func TestCheckWriteThroughTheBinary(t *testing.T) {
	_, hl, env := startSims(t)
	out, code := runCheck(t, env, "--write")
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	wantLines(t, out,
		`^\* opencti\.token +ok: accepted`,
		`^\* opencti\.stream +ok: stream "live" readable`,
		`^\* harfanglab\.alerts +ok: readable: 1 security events with status`,
		`^\* write\.ioc\.create +ok: POST 201 object \{id: string`,
		`^\* write\.sigma\.create +ok: POST 20[01] status list of 1 \{`,
		`^\* write\.yara\.delete +ok: DELETE 204`,
		`^\* write\.cleanup +ok: temporary lists deleted`,
		`every required one ok$`,
	)
	for _, kind := range []string{"IOCSource", "SigmaSource", "YaraSource"} {
		for _, name := range hl.Sources(kind) {
			if strings.HasPrefix(name, check.ListPrefix) {
				t.Errorf("temporary %s %q left behind", kind, name)
			}
		}
	}
}

func TestCheckFailsOnARefusedToken(t *testing.T) {
	_, _, env := startSims(t)
	env["HARFANGLAB_TOKEN"] = "expired-hl-token-0000"
	env["CONNECTOR_LIVE_STREAM_ID"] = "no-such-stream"
	out, code := runCheck(t, env)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	wantLines(t, out,
		`^\* harfanglab\.token +differs: 401 .*HarfangLab refused HARFANGLAB_TOKEN$`,
		`^\* opencti\.stream +differs: .*"no-such-stream".*CONNECTOR_LIVE_STREAM_ID`,
		`required not ok: .*harfanglab\.token`,
	)
}

// Interrupted in the middle of --write (SIGTERM while a Sigma upload hangs), check still deletes
// its temporary lists before it exits.
func TestCheckInterruptedStillCleansUp(t *testing.T) {
	_, hl, env := startSims(t)
	inj := hl.Faults()
	inj.Skip = func(r *http.Request) bool {
		return r.Method != http.MethodPost || !strings.Contains(r.URL.Path, "/SigmaRule/")
	}
	inj.Set(faults.Config{Latency: time.Minute})
	p := harness.Start(t, env, "check", "--write")
	p.Eventually(30*time.Second, func() bool { return inj.Requests() > 0 }, "the Sigma upload never started")
	p.Stop()
	out := p.Logs()
	if code := p.Wait(time.Second); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	wantLines(t, out,
		`^\* write\.ioc\.delete +ok: DELETE 204`,
		`^\* write\.sigma\.create +cannot tell: POST: no answer: .*signal received`,
		`^\* write\.interrupted +cannot tell: the remaining write probes did not run`,
		`^\* write\.cleanup +ok: temporary lists deleted`,
	)
	for _, kind := range []string{"IOCSource", "SigmaSource", "YaraSource"} {
		for _, name := range hl.Sources(kind) {
			if strings.HasPrefix(name, check.ListPrefix) {
				t.Errorf("temporary %s %q left behind", kind, name)
			}
		}
	}
}
