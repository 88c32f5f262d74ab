package stixid

// Reserved properties of a Sighting whose indicator is known only by its OpenCTI internal id:
// the processor cannot name a STIX id for it, so the `opencti` output looks the indicator up,
// then calls ResolvePendingSighting before pushing.
const (
	PendingSightingOfProperty   = "x_harfanglab_sighting_of_internal_id"
	PendingSightingSeenProperty = "x_harfanglab_sighting_id_seen"
)

// ResolvePendingSighting completes a pending Sighting with the standard STIX id of its indicator:
// sets sighting_of_ref, recomputes the deterministic id and drops the reserved properties.
// It reports false when o is not a pending Sighting.
func ResolvePendingSighting(o map[string]any, indicatorStandardID string) bool {
	if o["type"] != "sighting" {
		return false
	}
	if _, ok := o[PendingSightingOfProperty].(string); !ok {
		return false
	}
	seen, _ := o[PendingSightingSeenProperty].(string)
	where := ""
	if refs, ok := o["where_sighted_refs"].([]any); ok && len(refs) > 0 {
		where, _ = refs[0].(string)
	} else if refs, ok := o["where_sighted_refs"].([]string); ok && len(refs) > 0 {
		where = refs[0]
	}
	o["sighting_of_ref"] = indicatorStandardID
	o["id"] = SightingID(indicatorStandardID, where, seen, seen)
	delete(o, PendingSightingOfProperty)
	delete(o, PendingSightingSeenProperty)
	return true
}
