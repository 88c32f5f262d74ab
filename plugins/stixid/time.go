package stixid

import (
	"fmt"
	"strings"
	"time"
)

// Time is a parsed HarfangLab timestamp as Python's dateutil would hold it: the instant,
// its original UTC offset, microsecond precision, and whether the source had no offset at all.
type Time struct {
	t     time.Time
	naive bool
}

// ParseTime parses the ISO-8601 timestamps HarfangLab writes (`Z` or any offset, `T` or space
// separator, 0 to 9 fraction digits — truncated to microseconds as dateutil does, or none).
func ParseTime(s string) (Time, error) {
	s = strings.TrimSpace(s)
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999Z07"} {
		if t, err := time.Parse(layout, s); err == nil {
			return Time{t: t.Truncate(time.Microsecond)}, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return Time{t: t.Truncate(time.Microsecond), naive: true}, nil
		}
	}
	return Time{}, fmt.Errorf("unrecognised timestamp %q", s)
}

// ISO is Python's datetime.isoformat(): `YYYY-MM-DDTHH:MM:SS[.ffffff]±HH:MM`, the fraction
// only when microseconds are not zero, no offset for a naive time. It feeds the ids.
func (p Time) ISO() string {
	out := p.t.Format("2006-01-02T15:04:05")
	if us := p.t.Nanosecond() / 1000; us != 0 {
		out += fmt.Sprintf(".%06d", us)
	}
	if !p.naive {
		out += p.t.Format("-07:00")
	}
	return out
}

// PyISOFormat parses an ISO-8601 timestamp and returns Python's isoformat() of it, the form
// pycti feeds into ids.
func PyISOFormat(s string) (string, error) {
	p, err := ParseTime(s)
	if err != nil {
		return "", err
	}
	return p.ISO(), nil
}

// fraction returns the microseconds as 6 digits with trailing zeros removed ("" when zero).
func (p Time) fraction() string {
	us := p.t.Nanosecond() / 1000
	if us == 0 {
		return ""
	}
	return strings.TrimRight(fmt.Sprintf("%06d", us), "0")
}

// STIXMillis is stix2's serialisation of created/modified (precision millisecond, minimum):
// UTC, at least three fraction digits, more when the source had them.
func (p Time) STIXMillis() string {
	f := p.fraction()
	for len(f) < 3 {
		f += "0"
	}
	return p.t.UTC().Format("2006-01-02T15:04:05") + "." + f + "Z"
}

// STIXAny is stix2's serialisation of first_seen/last_seen (precision any): UTC, trailing
// fraction zeros removed, no fraction when zero.
func (p Time) STIXAny() string {
	out := p.t.UTC().Format("2006-01-02T15:04:05")
	if f := p.fraction(); f != "" {
		out += "." + f
	}
	return out + "Z"
}

// UTC is the same instant at offset +00:00, for hashing into ids: ISO keeps the offset, so
// without it one alert written with +02:00 and with Z would get two ids. HarfangLab writes UTC,
// so this changes no id the legacy connector computed. A naive time stays naive: it has no
// offset to convert from, and the legacy connector hashed it without one.
func (p Time) UTC() Time { return Time{t: p.t.UTC(), naive: p.naive} }

// After reports whether p is strictly later than q.
func (p Time) After(q Time) bool { return p.t.After(q.t) }
