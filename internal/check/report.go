package check

import (
	"fmt"
	"io"
	"strings"
)

// Status is the outcome of one probe.
type Status int

// Probe outcomes, as printed.
const (
	// OK: the console behaves in a way the product handles.
	OK Status = iota
	// Differs: the console answered something else than the product expects.
	Differs
	// CannotTell: the probe could not decide (no data to look at, endpoint absent, no answer).
	CannotTell
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Differs:
		return "differs"
	default:
		return "cannot tell"
	}
}

// Result is one line of the report.
type Result struct {
	Probe    string
	Required bool // a required probe that is not OK makes the command exit non-zero
	Status   Status
	Detail   string
}

// maxDetail keeps every line readable; bodies quoted in details are cut before that.
const maxDetail = 400

// Report is the list of results, printed as a table. Every text that enters it is passed
// through redact, so no token ever reaches the output (it is what users attach to bug reports).
type Report struct {
	Results []Result
	secrets []string
}

// minSecretLen: shorter "tokens" are not redacted (replacing a one-letter token everywhere would
// shred the report; such a token is refused by both servers anyway).
const minSecretLen = 4

func newReport(secrets ...string) *Report {
	r := &Report{}
	for _, s := range secrets {
		if len(strings.TrimSpace(s)) >= minSecretLen {
			r.secrets = append(r.secrets, s)
		}
	}
	return r
}

func (r *Report) redact(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	return s
}

// add records one result; detail is formatted, flattened to one line and redacted.
func (r *Report) add(probe string, required bool, st Status, format string, args ...any) {
	d := fmt.Sprintf(format, args...)
	d = strings.Join(strings.Fields(d), " ")
	d = r.redact(d)
	if len(d) > maxDetail {
		d = d[:maxDetail] + "…"
	}
	r.Results = append(r.Results, Result{Probe: probe, Required: required, Status: st, Detail: d})
}

// Failed lists the required probes that are not OK.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Required && res.Status != OK {
			out = append(out, res)
		}
	}
	return out
}

// Find returns the result of a probe (ok false if it did not run).
func (r *Report) Find(probe string) (Result, bool) {
	for _, res := range r.Results {
		if res.Probe == probe {
			return res, true
		}
	}
	return Result{}, false
}

// Line is how one result is printed: `* probe   status: detail` (`*` marks required probes).
func (res Result) Line() string {
	mark := " "
	if res.Required {
		mark = "*"
	}
	text := res.Status.String()
	if res.Detail != "" {
		text += ": " + res.Detail
	}
	return fmt.Sprintf("%s %-36s %s", mark, res.Probe, text)
}

// Write prints the table and its summary.
func (r *Report) Write(w io.Writer, header ...string) {
	for _, h := range header {
		fmt.Fprintln(w, r.redact(h))
	}
	fmt.Fprintf(w, "  %-36s %s\n", "PROBE", "RESULT   (* = required)")
	for _, res := range r.Results {
		fmt.Fprintln(w, r.redact(res.Line()))
	}
	failed := r.Failed()
	if len(failed) == 0 {
		fmt.Fprintf(w, "\n%d probes, every required one ok\n", len(r.Results))
		return
	}
	names := make([]string, len(failed))
	for i, f := range failed {
		names[i] = f.Probe
	}
	fmt.Fprintf(w, "\n%d probes, %d required not ok: %s\n", len(r.Results), len(failed), strings.Join(names, ", "))
}
