// Package statefile provides the `state_file` cache: a crash-safe, file-per-key cache for the
// cursors of the inputs (the core `file` cache writes in place and needs an existing folder; a
// crash in mid-write there can leave a truncated cursor).
package statefile

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const sfFieldDirectory = "directory"

func stateFileSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Version("0.1.0").
		Categories("Services").
		Summary("Stores each key in its own file under a directory, crash-safely.").
		Description(`Made for input cursors (the `+"`checkpoint_cache`"+` of `+"`opencti_stream`"+` and
`+"`harfanglab_alerts`"+`). The directory is created if missing. A write goes to a temporary file
that is synced and then renamed over the old one, so a crash at any instant leaves either the old or
the new value, never a torn one. TTLs are ignored.`).
		Field(service.NewStringField(sfFieldDirectory).
			Description("Folder that holds one file per key.").
			Default("./state")).
		Example("Cursor under STATE_DIR", "", `
cache_resources:
  - label: cursor
    state_file:
      directory: ${STATE_DIR:./state}
`)
}

func init() {
	service.MustRegisterCache("state_file", stateFileSpec(),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.Cache, error) {
			dir, err := conf.FieldString(sfFieldDirectory)
			if err != nil {
				return nil, err
			}
			return newStateFile(dir)
		})
}

type stateFile struct{ dir string }

func newStateFile(dir string) (*stateFile, error) {
	if dir == "" {
		return nil, errors.New("state_file: directory is empty")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("state_file: creating directory %s: %w", dir, err)
	}
	return &stateFile{dir: dir}, nil
}

// path escapes the key so any key is one plain file name inside dir.
func (s *stateFile) path(key string) string {
	return filepath.Join(s.dir, url.PathEscape(key))
}

func (s *stateFile) Get(_ context.Context, key string) ([]byte, error) {
	b, err := os.ReadFile(s.path(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, service.ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("state_file: reading %s: %w", key, err)
	}
	return b, nil
}

func (s *stateFile) Set(_ context.Context, key string, value []byte, _ *time.Duration) error {
	tmp, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("state_file: writing %s: %w", key, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(value); err != nil {
		tmp.Close()
		return fmt.Errorf("state_file: writing %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("state_file: syncing %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state_file: writing %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), s.path(key)); err != nil {
		return fmt.Errorf("state_file: replacing %s: %w", key, err)
	}
	return nil
}

func (s *stateFile) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	if _, err := os.Stat(s.path(key)); err == nil {
		return service.ErrKeyAlreadyExists
	}
	return s.Set(ctx, key, value, ttl)
}

func (s *stateFile) Delete(_ context.Context, key string) error {
	if err := os.Remove(s.path(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("state_file: deleting %s: %w", key, err)
	}
	return nil
}

func (s *stateFile) Close(context.Context) error { return nil }
