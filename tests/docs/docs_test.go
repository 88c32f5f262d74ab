package docs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/all"
)

func TestReadmeComponentReferenceIsCurrent(t *testing.T) {
	section, err := Render(service.GlobalEnvironment())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Splice(string(readme), section)
	if err != nil {
		t.Fatal(err)
	}
	if want == string(readme) {
		return
	}
	if os.Getenv("UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("README.md's components reference is stale: run `UPDATE_DOCS=1 go test ./tests/docs/` and commit README.md")
}
