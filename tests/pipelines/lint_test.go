// Package pipelines_test lints every YAML pipeline shipped under pipelines/ with the real binary,
// so a renamed field or component breaks the build, not a user's deployment.
package pipelines_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

func pipelineFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.yaml", "examples/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(harness.RepoRoot(), "pipelines", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 8 {
		t.Fatalf("expected the pipelines and their examples, found %d files", len(files))
	}
	return files
}

func TestEveryPipelineLints(t *testing.T) {
	bin := harness.Binary(t)
	for _, f := range pipelineFiles(t) {
		out, err := exec.Command(bin, "lint", "--skip-env-var-check", f).CombinedOutput()
		if err != nil {
			t.Errorf("lint %s: %v\n%s", filepath.Base(f), err, out)
		}
	}
}

// A pipeline started without a required variable must stop at once with one line naming it.
func TestMissingVariableIsNamed(t *testing.T) {
	p := harness.Start(t, map[string]string{"STATE_DIR": t.TempDir()},
		"streams", "--no-api",
		"-o", harness.Pipeline("observability.yaml"),
		"-r", harness.Pipeline("resources.yaml"),
		harness.Pipeline("opencti-to-harfanglab.yaml"))
	if code := p.Wait(30e9); code == 0 || code == -1 {
		t.Fatalf("exit code %d, want a failure", code)
	}
	logs := p.Logs()
	for _, v := range []string{"OPENCTI_URL", "OPENCTI_TOKEN", "HARFANGLAB_URL", "HARFANGLAB_TOKEN"} {
		if !strings.Contains(logs, v) {
			t.Errorf("the start error does not name %s:\n%s", v, logs)
		}
	}
}
