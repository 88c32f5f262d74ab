package pipelines_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

// Every metric the example Grafana dashboard queries must be one a component registers (or a
// Benthos standard one), so a renamed metric cannot leave a panel silently empty.
func TestDashboardQueriesExistingMetrics(t *testing.T) {
	root := harness.RepoRoot()
	b, err := os.ReadFile(filepath.Join(root, "pipelines", "examples", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{"processor_error": true, "output_sent": true, "output_error": true, "input_received": true}
	metricName := regexp.MustCompile(`New(?:Counter|Gauge|Timer)\("([a-z_]+)"`)
	err = filepath.WalkDir(filepath.Join(root, "plugins"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range metricName.FindAllSubmatch(src, -1) {
			registered[string(m[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	identifier := regexp.MustCompile(`\b([a-z][a-z_]+)\b(?:\{|\[|\)|\s|$)`)
	promql := map[string]bool{"sum": true, "rate": true, "max": true, "by": true, "event": true, "op": true}
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			for _, m := range identifier.FindAllStringSubmatch(target.Expr, -1) {
				if name := m[1]; !promql[name] && !registered[name] {
					t.Errorf("panel %q queries %q, which no component registers", p.Title, name)
				}
			}
		}
	}
}
