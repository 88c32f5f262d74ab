// Package readme_test executes the commands of README.md exactly as written, so the first ten
// minutes of a new user are tested: the demo, the build, and the production command.
package readme_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

var fence = regexp.MustCompile("(?s)```sh\n(.*?)```")

// shellBlocks returns the ```sh blocks of README.md, backslash continuations joined.
func shellBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range fence.FindAllStringSubmatch(string(b), -1) {
		out = append(out, strings.ReplaceAll(m[1], "\\\n", " "))
	}
	return out
}

// command returns the one line of README's shell blocks that starts with prefix, comment removed.
func command(t *testing.T, prefix string) string {
	t.Helper()
	for _, block := range shellBlocks(t) {
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(line, prefix) {
				if i := strings.Index(line, "  #"); i >= 0 {
					line = line[:i]
				}
				return strings.TrimSpace(line)
			}
		}
	}
	t.Fatalf("README.md has no command starting with %q", prefix)
	return ""
}

func TestCIRunsTheReadmeTestCommand(t *testing.T) {
	testCmd := command(t, "bash tests/run.sh")
	ci, err := os.ReadFile(filepath.Join(harness.RepoRoot(), ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "\n"+testCmd+"\n") {
		t.Fatalf(".ci/run does not run README's test command %q", testCmd)
	}
	// The command must pass on a fresh machine: it installs the real servers tests start.
	script, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "tests", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apt-get install -y -qq redis-server", "golangci-lint/v2/cmd/golangci-lint@", "\"$lint\" run ./...", "go test -count=1"} {
		if !strings.Contains(string(script), want) {
			t.Errorf("tests/run.sh lacks %q", want)
		}
	}
}

func TestDemoAsWritten(t *testing.T) {
	demo := command(t, "go run ")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", demo)
	cmd.Dir = harness.RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", demo, err, out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`IOC rules enabled\s+\d+ \(`),
		regexp.MustCompile(`Sigma rules\s+1\n`),
		regexp.MustCompile(`YARA files\s+1\n`),
		regexp.MustCompile(`removed \(revoked, expired\)\s+3\n`),
		regexp.MustCompile(`rejected to dead letter\s+1\n`),
		regexp.MustCompile(`case incidents\s+[1-9]`),
		regexp.MustCompile(`sightings\s+[1-9]\d* \([1-9]\d* of the seeded OpenCTI indicators\)`),
		regexp.MustCompile(`demo complete`),
	} {
		if !want.Match(out) {
			t.Errorf("the demo summary lacks %v:\n%s", want, out)
		}
	}
}

func TestProductionCommandAsWritten(t *testing.T) {
	root := harness.RepoRoot()
	build := exec.Command("bash", "-c", command(t, "go build -o bin/"))
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build as written: %v\n%s", err, out)
	}

	octi, hl := openctisim.New("octi-secret-token"), hlsim.New("hl-secret-token")
	octiURL, err := octi.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer octi.Close()
	hlURL, err := hl.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	octi.Publish("live", "create", openctisim.IndicatorEvent("create", openctisim.Indicator{
		InternalID: "0e0c0000-0000-4000-8000-000000000001", Name: "readme", Score: 70,
		Pattern: "[domain-name:value = 'readme.evil.example']",
	}, nil))

	addr := harness.FreeAddr(t)
	run := exec.Command("bash", "-c", "exec "+command(t, "bin/opencti-harfanglab streams"))
	run.Dir = root
	run.Env = append(os.Environ(),
		"OPENCTI_URL="+octiURL, "OPENCTI_TOKEN=octi-secret-token", "CONNECTOR_ID=0e0c0000-0000-4000-8000-0000000000aa",
		"HARFANGLAB_URL="+hlURL, "HARFANGLAB_TOKEN=hl-secret-token", "STATE_DIR="+t.TempDir(),
		"HTTP_ADDRESS="+addr, "HARFANGLAB_POLL_INTERVAL=1s")
	var logs strings.Builder
	run.Stdout, run.Stderr = &logs, &logs
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = run.Process.Signal(syscall.SIGTERM)
		_ = run.Wait()
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()

	deadline := time.Now().Add(60 * time.Second)
	ready, pushed := false, false
	for time.Now().Before(deadline) && (!ready || !pushed) {
		if resp, err := http.Get("http://" + addr + "/ready"); err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
		for _, r := range hl.IOCs("from_OpenCTI") {
			pushed = pushed || (r.Value == "readme.evil.example" && r.Enabled)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !ready || !pushed {
		t.Fatalf("after 60 s: ready=%v, indicator pushed=%v", ready, pushed)
	}
	if strings.Contains(logs.String(), "secret-token") {
		t.Fatal("a token appears in the logs")
	}
}
