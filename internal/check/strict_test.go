package check_test

import (
	"strings"
	"testing"
)

// The strict simulator answers as the evidence says real consoles do: new alerts without
// last_update, 400 on the unconfirmed ordering and time format and past the result window.
func TestReadOnlyStrict(t *testing.T) {
	s := startSims(t, false)
	report, failed := s.run(t, false)
	expect(t, report, common)
	expect(t, report, map[string]string{
		"harfanglab.alerts_last_update":       `^ok: 2 of the 2 most recent security events have no last_update \(such events are imported by alert_time\)$`,
		"harfanglab.ordering_last_update_id":  `^ok: refused \(400 \{"ordering":\["Invalid ordering \\"last_update,id\\": .*\); the pull does not depend on it$`,
		"harfanglab.time_filter_microseconds": `^ok: microseconds \(2100-01-01T00:00:00.000000Z\): alert_time__gte refused \(400 \{"alert_time__gte":\["Enter a valid date/time."\]\}\)$`,
		"harfanglab.result_window":            `^ok: offset 10000 refused \(400 \{"detail":"Result window is too large, .*\): listings stop at 10000 results$`,
	})
	if failed != 0 || !strings.Contains(report, "every required one ok") {
		t.Fatalf("failed=%d, want 0:\n%s", failed, report)
	}
}

// With --write, the strict simulator answers Sigma/YARA uploads with 201 and a status list whose
// code is a string, drops `description`, re-serialises Sigma YAML, refuses a second rule with the
// same Sigma id (duplicate_rule) and answers PATCH with errors/warnings.
func TestWriteStrict(t *testing.T) {
	s := startSims(t, false)
	report, failed := s.run(t, true)
	expect(t, report, common)
	expect(t, report, writeCommon)
	expect(t, report, map[string]string{
		"write.sigma.create":    `^ok: POST 201 status list of 1 \{code: string, content: string, filename: string, id: string, status: bool\}$`,
		"write.sigma.read_back": `^ok: content re-serialised, description not stored, (no global_state|global_state \S+)$`,
		"write.sigma.duplicate": `^ok: same Sigma id refused: 201 status list of 1 \{code: string, content: string, filename: string, id: null, status: bool\}, code "duplicate_rule"$`,
		"write.sigma.patch":     `^ok: PATCH 200 object \{id: string, errors: list of 0, warnings: list of 0, `,
		"write.yara.create":     `^ok: POST 201 status list of 1 \{code: string, content: string, filename: string, id: string, status: bool\}$`,
		"write.yara.read_back":  `^ok: content stored as sent, description not stored, `,
	})
	if failed != 0 {
		t.Fatalf("failed=%d:\n%s", failed, report)
	}
	assertNoTemporaryList(t, s.hl)
}
