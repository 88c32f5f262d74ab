package statefile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStateFileCreatesDirectoryAndRoundTrips(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "state")
	conf, err := stateFileSpec().ParseYAML("directory: "+dir, nil)
	require.NoError(t, err)
	d, err := conf.FieldString(sfFieldDirectory)
	require.NoError(t, err)
	c, err := newStateFile(d)
	require.NoError(t, err)

	_, err = c.Get(t.Context(), "opencti_stream/live")
	require.ErrorIs(t, err, service.ErrKeyNotFound)

	require.NoError(t, c.Set(t.Context(), "opencti_stream/live", []byte("1718445600123-0"), nil))
	require.NoError(t, c.Set(t.Context(), "opencti_stream/live", []byte("1718445600999-1"), nil))
	got, err := c.Get(t.Context(), "opencti_stream/live")
	require.NoError(t, err)
	assert.Equal(t, "1718445600999-1", string(got))

	require.ErrorIs(t, c.Add(t.Context(), "opencti_stream/live", []byte("x"), nil), service.ErrKeyAlreadyExists)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file may be left behind")

	require.NoError(t, c.Delete(t.Context(), "opencti_stream/live"))
	require.NoError(t, c.Delete(t.Context(), "opencti_stream/live"))
	_, err = c.Get(t.Context(), "opencti_stream/live")
	require.ErrorIs(t, err, service.ErrKeyNotFound)
}

func TestStateFileRejectsUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := newStateFile(filepath.Join(file, "sub"))
	require.ErrorContains(t, err, "creating directory")
	_, err = newStateFile("")
	require.Error(t, err)
}
