// Package stix holds the stix_to_harfanglab processor: it turns OpenCTI live-stream events
// into the desired HarfangLab state of each indicator, for the harfanglab_intel output.
//
// # Input
//
// One message per stream event, as the opencti_stream input emits it: the body is the event's
// `data:` JSON unchanged (envelope {"data": <STIX object>, "context": {...}, ...}), metadata
// `opencti_event` (create, update, delete or merge: the processor dispatches on it, not on the
// envelope's type, which OpenCTI relabels) and `opencti_event_id` ("<ms>-<n>").
//
// # Output
//
// Zero or more messages per event, each the JSON of one intel.Change (package plugins/intel,
// which is the contract with the output), with the input's metadata plus `harfanglab_owner` =
// Change.Owner (handy to partition by indicator when scaling out). A Change is the full desired
// state of one claim, never a delta:
//
//	{"owner": "<indicator internal id>", "stix_ids": ["indicator--<current>", "<previous>..."],
//	 "via": "pattern" | "<based-on relationship id>", "seq": "<opencti_event_id>",
//	 "live": true, "valid_until": "2025-01-01T00:00:00Z", "name": "...", "description": "...",
//	 "score": 80, "platforms": ["windows"], "maturity": "stable",
//	 "iocs": [{"type": "domain_name", "value": "evil.com", "block": true}],
//	 "rule": {"kind": "sigma", "name": "...", "content": "..."}}
//
// so the output can apply changes idempotently, in any order across claims, and ignore a
// change older (by seq) than the last one it applied to the same claim. What each event gives:
//
//   - indicator create/update: one Change via "pattern". Live when not revoked, detection on,
//     valid_until absent or future, score >= min_score. STIX patterns give IOCs (see
//     patternIOCs for the translation rules), Sigma/YARA give one Rule; other pattern types and
//     patterns that name nothing HarfangLab can match give Live=false.
//   - indicator delete: Live=false via "pattern" (the output then drops every claim of the owner).
//   - merge: the target as for an update, plus Live=false for each absorbed indicator.
//   - based-on relationship (indicator → observable) create/update: one Change via the
//     relationship id holding the observable's IOC; delete or revoked: Live=false.
//   - anything else, and objects authored by one of ignore_author_names: no message.
//
// An unparsable pattern, a supported value that fails validation (e.g. a 10-digit SHA-256) or a
// malformed event is an error on that message, naming the indicator and the reason.
package stix
