package badinput

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
)

// damageCursors runs both pipelines once (so both cursors exist), stops, publishes an
// indicator and adds an alert while the process is down, overwrites every cursor file with
// content and starts again. It returns the new process's output after a few seconds.
func damageCursors(t *testing.T, content []byte) (d *deploy.Deployment, logs string) {
	d = deploy.New(t)
	indicator := func(v string) []byte {
		return openctisim.IndicatorEvent("create", openctisim.Indicator{InternalID: uuid.NewString(), Name: v,
			Pattern: "[domain-name:value = '" + v + "']"}, nil)
	}
	d.OCTI.Publish(deploy.StreamID, "create", indicator("before.example"))
	d.HL.AddAlert(d.HL.SampleAlert(hlsim.SampleSigma, 1))
	d.Start(60*time.Second, deploy.IntelPush, deploy.DetectionsPull)
	d.Eventually(60*time.Second, func() bool {
		return d.IOCValues()["before.example"] && len(d.OCTI.ObjectsOfType("incident")) == 1
	}, "first run", nil)
	d.Stop()

	d.OCTI.Publish(deploy.StreamID, "create", indicator("while-down.example"))
	d.HL.AddAlert(d.HL.SampleAlert(hlsim.SampleSigma, 2))
	var cursors []string
	require.NoError(t, filepath.WalkDir(d.State, func(path string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && !strings.Contains(path, "dead-letter") {
			cursors = append(cursors, filepath.Base(path))
			return os.WriteFile(path, content, 0o600)
		}
		return err
	}))
	require.ElementsMatch(t, []string{"opencti_stream_live", "harfanglab_alerts"}, cursors)
	p := d.Start(0, deploy.IntelPush, deploy.DetectionsPull)
	time.Sleep(5 * time.Second)
	logs = p.Logs()
	assert.False(t, p.Exited() && strings.Contains(logs, "panic"), "no crash")
	assert.NotContains(t, logs, "goroutine ")
	return d, logs
}

// TestUnreadableCursorFilesAreReportedByName: garbage, empty or oversized cursor files stop
// the input that owns them with an error naming the cursor (never a crash, never a silent
// restart from another position).
func TestUnreadableCursorFilesAreReportedByName(t *testing.T) {
	for name, content := range map[string][]byte{
		"garbage": {0xff, 0x00, 0x13, 'x', '\n'},
		"empty":   {},
		"huge":    []byte(strings.Repeat("9", 1<<20)),
	} {
		t.Run(name, func(t *testing.T) {
			d, logs := damageCursors(t, content)
			assert.Contains(t, logs, `cursor \"opencti_stream_live\"`)
			assert.Contains(t, logs, `cursor \"harfanglab_alerts\"`)
			assert.False(t, d.IOCValues()["while-down.example"], "nothing read from an unknown position")
			assert.Len(t, d.OCTI.ObjectsOfType("incident"), 1, "nothing read from an unknown position")
		})
	}
}

// TestCursorWithoutPositionIsNotTheLiveTail: a cursor file that is JSON but holds no position
// must be refused like an unreadable one, or resumed without loss.
// Resuming "after the live tail" would skip the events published since the last acknowledged
// position (here while-down.example) silently; both inputs refuse such a cursor.
func TestCursorWithoutPositionIsNotTheLiveTail(t *testing.T) {
	d, logs := damageCursors(t, []byte(`{"position": 12, "ids": "x"}`))
	assert.Contains(t, logs, `cursor \"harfanglab_alerts\"`, "harfanglab_alerts refuses it")
	refused := strings.Contains(logs, `cursor \"opencti_stream_live\"`)
	assert.True(t, refused || d.IOCValues()["while-down.example"],
		"opencti_stream neither refused the cursor nor delivered the event published while it was down:\n%s", logs)
}
