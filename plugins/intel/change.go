// Package intel holds the contract between the stix_to_harfanglab processor and the
// harfanglab_intel output: the JSON body of every message that flows between them.
//
// A message is one Change: the desired HarfangLab state of one claim. A claim is the pair
// (owner indicator, via): via is "pattern" for what the indicator itself names (IOCs of a STIX
// pattern, or its Sigma rule / YARA file) or the id of a based-on relationship that links an
// observable to the indicator. A Change is a full desired state, never a delta, so applying the
// same Change twice changes nothing, and Changes for different claims commute. Changes of one
// claim are ordered by Seq (the OpenCTI stream event id): the output ignores a Change whose Seq
// is older than the last one it applied for that claim.
package intel

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ViaPattern is the Via of a claim made by the indicator's own pattern.
const ViaPattern = "pattern"

// IOC types HarfangLab knows (IOCRule.type).
const (
	TypeDomainName = "domain_name"
	TypeIPBoth     = "ip_both"
	TypeURL        = "url"
	TypeHash       = "hash"
	TypeFilename   = "filename"
)

// Rule kinds for content-based detection entries.
const (
	RuleSigma = "sigma"
	RuleYara  = "yara"
)

// IOC is one atomic value wanted in the IOC list.
type IOC struct {
	Type  string `json:"type"`
	Value string `json:"value"`
	// Block asks for blocking mode (the indicator's score is at or above block_min_score).
	Block bool `json:"block,omitempty"`
}

// Rule is a Sigma rule or YARA file wanted in the Sigma or YARA list.
type Rule struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Control kinds: markers the opencti_stream input puts around a complete snapshot (one that
// lists every live element). A Change with Control set carries no claim: the output records
// the owners named between a start and the end of the same Generation, and at the end removes
// what every other owner still holds (the sweep), so the lists equal what the snapshot says.
const (
	ControlSnapshotStart = "snapshot_start"
	ControlSnapshotEnd   = "snapshot_end"
)

// Change is the desired state of one claim, or a control marker (Control set).
type Change struct {

	// Owner is the indicator's stable key: its OpenCTI internal id (extension `id`), which
	// survives pattern changes; the STIX id only when no internal id is known.
	Owner string `json:"owner"`
	// StixIDs are the indicator's current STIX id first, then the previous ones known.
	StixIDs []string `json:"stix_ids,omitempty"`
	// Via is ViaPattern or a based-on relationship id.
	Via string `json:"via"`
	// Seq is the stream event id the change comes from ("<ms>-<n>"); empty means unordered.
	Seq string `json:"seq,omitempty"`
	// Live false means: remove everything this claim holds (and, for ViaPattern, every claim
	// of the owner: a dead indicator keeps nothing in HarfangLab).
	Live bool `json:"live"`
	// ValidUntil, when set, is the instant the claim stops being live with no further event.
	ValidUntil *time.Time `json:"valid_until,omitempty"`

	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Score       int      `json:"score"`
	Platforms   []string `json:"platforms,omitempty"`
	// Maturity is the HarfangLab hl_status to write: "stable" or "testing".
	Maturity string `json:"maturity,omitempty"`

	// IOCs is the full set of values this claim wants (empty when Live is false).
	IOCs []IOC `json:"iocs,omitempty"`
	// Rule is set for Sigma / YARA indicators (ViaPattern only).
	Rule *Rule `json:"rule,omitempty"`

	// Control is ControlSnapshotStart or ControlSnapshotEnd for a marker; empty for a claim.
	Control string `json:"control,omitempty"`
	// Generation identifies the snapshot a marker belongs to (its recover date).
	Generation string `json:"generation,omitempty"`
	// Reason says why the snapshot was taken (first_run, trimmed, reset, restart).
	Reason string `json:"reason,omitempty"`
}

// Validate reports a Change that the output cannot apply.
func (c *Change) Validate() error {
	switch c.Control {
	case "":
	case ControlSnapshotStart, ControlSnapshotEnd:
		if c.Generation == "" {
			return fmt.Errorf("%s marker has no generation", c.Control)
		}
		return nil
	default:
		return fmt.Errorf("unknown control %q", c.Control)
	}
	if c.Owner == "" {
		return fmt.Errorf("change has no owner")
	}
	if c.Via == "" {
		return fmt.Errorf("change for %s has no via", c.Owner)
	}
	if c.Rule != nil && c.Rule.Kind != RuleSigma && c.Rule.Kind != RuleYara {
		return fmt.Errorf("change for %s has unknown rule kind %q", c.Owner, c.Rule.Kind)
	}
	return nil
}

// ExpiredAt tells whether the claim has passed its valid_until at now.
func (c *Change) ExpiredAt(now time.Time) bool {
	return c.ValidUntil != nil && !now.Before(*c.ValidUntil)
}

// Decode parses a message body into a Change.
func Decode(b []byte) (*Change, error) {
	c, ok := decodeFast(b)
	if !ok {
		c = &Change{}
		if err := json.Unmarshal(b, c); err != nil {
			return nil, fmt.Errorf("decoding intel change: %w", err)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Encode serialises a Change into a message body.
func (c *Change) Encode() ([]byte, error) {
	return json.Marshal(c)
}

// CompareSeq orders two OpenCTI stream event ids ("<ms>-<n>"). It returns -1, 0 or 1. An
// empty or malformed id compares equal to anything, so unordered changes always apply.
func CompareSeq(a, b string) int {
	am, an, aok := splitSeq(a)
	bm, bn, bok := splitSeq(b)
	if !aok || !bok {
		return 0
	}
	switch {
	case am < bm:
		return -1
	case am > bm:
		return 1
	case an < bn:
		return -1
	case an > bn:
		return 1
	}
	return 0
}

func splitSeq(s string) (ms, n uint64, ok bool) {
	head, tail, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	var err error
	if ms, err = strconv.ParseUint(head, 10, 64); err != nil {
		return 0, 0, false
	}
	if n, err = strconv.ParseUint(tail, 10, 64); err != nil {
		return 0, 0, false
	}
	return ms, n, true
}

// ParseSeq reads an OpenCTI stream event id ("<ms>-<n>"); ok is false for an empty or
// malformed one.
func ParseSeq(s string) (ms, n uint64, ok bool) { return splitSeq(s) }
