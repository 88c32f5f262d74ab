package chaos

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
)

// TestOpenCTIOutageLosesNoAlert: OpenCTI answers 503 to everything for 40 s while alerts keep
// coming (an upgrade, a restart of the platform). Once it is back, every alert is in OpenCTI
// exactly once: an outage is a transient error, never a reason to give an alert up.
// (It once lost 30 of 60 alerts: the opencti output gave up after 5 retries and the pipeline's
// fallback dead-lettered them; transient errors are now retried until OpenCTI answers.)
func TestOpenCTIOutageLosesNoAlert(t *testing.T) {
	d := deploy.New(t)
	w := newWorld(d)
	w.addAlerts(0, 20)
	d.Start(60*time.Second, deploy.DetectionsPull)
	d.Eventually(60*time.Second, func() bool { _, n := incidentsPerAlert(d, w.alerts); return n == 20 }, "the first alerts", nil)

	d.OCTI.SetGraphQLFaults(openctisim.GraphQLFaults{Status5xxNext: 1 << 30})
	for i := 20; i < 60; i += 10 {
		w.addAlerts(i, i+10)
		time.Sleep(10 * time.Second)
	}
	d.OCTI.SetGraphQLFaults(openctisim.GraphQLFaults{})

	reached := func() bool {
		per, total := incidentsPerAlert(d, w.alerts)
		return total == len(w.alerts) && len(per) == len(w.alerts)
	}
	d.Eventually(45*time.Second, reached, "every alert in OpenCTI after the outage", func() string {
		per, total := incidentsPerAlert(d, w.alerts)
		return fmt.Sprintf("%d incidents, %d of %d alerts; %d dead letters", total, len(per), len(w.alerts),
			len(d.DeadLetters("harfanglab-to-opencti")))
	})
	assert.Empty(t, d.DeadLetters("harfanglab-to-opencti"), "nothing dead-lettered for a transient outage")
}

// TestHarfangLabAndStreamOutagesLoseNoIndicator: HarfangLab answers 503 to everything for 40 s,
// then the OpenCTI stream refuses connections (503) and is cut every 10 events for a while,
// as indicators keep being published. Afterwards the IOC and Sigma lists are exactly what the
// history says, with nothing dead-lettered.
func TestHarfangLabAndStreamOutagesLoseNoIndicator(t *testing.T) {
	d := deploy.New(t)
	w := newWorld(d)
	w.indicators(0, 40)
	d.Start(60*time.Second, deploy.IntelPush)

	d.HL.Faults().Set(faults.Config{Rate5xx: 1})
	for i := 40; i < 120; i += 20 {
		w.indicators(i, i+20)
		time.Sleep(10 * time.Second)
	}
	d.HL.Faults().Set(faults.Config{})
	d.OCTI.SetStreamFaults(openctisim.StreamFaults{Status5xxNext: 5, DisconnectEvery: 10})
	w.indicators(120, 200)

	want := w.wantIOCs()
	d.Eventually(2*time.Minute, func() bool { got, dup := gotIOCs(d); return dup == 0 && equal(got, want) },
		"the exact IOC list after the outages", func() string { got, _ := gotIOCs(d); return diff(want, got, 20) })
	assert.Empty(t, d.DeadLetters("opencti-to-harfanglab"), "nothing dead-lettered for a transient outage")
	assert.Positive(t, d.HL.Faults().Faulted())
}
