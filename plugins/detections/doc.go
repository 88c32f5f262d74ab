// Package detections holds the harfanglab_to_stix processor: HarfangLab alerts and threats
// (as emitted by the harfanglab_alerts input) become STIX 2.1 bundles for OpenCTI.
//
// Ids. Every id is computed exactly as pycti (client-python) and the stix2 library do:
// "<type>--" + uuid5(00abedb4-aa42-466c-9c01-fed23315a9b7, JCS(id-contributing properties)),
// with Python's str.lower()/str.strip() semantics and Python isoformat() timestamps
// (ids.go, timefmt.go). The choices that differ from the public HarfangLab connectors:
//
//   - Sighting and Note ids use pycti's documented argument order (sighting_of_ref = the
//     indicator, where_sighted_refs = the host's System identity; note content then created),
//     not the swapped order of the "harfanglab-incidents" connector, which produced
//     sightings "of the author, seen at the indicator". Ids stay deterministic: the sighting id
//     uses alert_time as both first_seen and last_seen inputs (as that connector did), so a
//     later update of the alert (status, last_update) updates the same sighting instead of
//     creating a new one.
//   - Incident name is "<rule name> on <host>" (IOC alerts: "<IOC value> on <host>"), created
//     = alert_time, as the recommended design of the reference says; the id therefore does not
//     match the incident ids of the older Python connector (whose name was the alert message).
//   - created/modified come from HarfangLab timestamps, never the wall clock, so converting the
//     same input twice gives byte-identical bundles. The objects every alert shares (author,
//     System identities, attack patterns) carry one fixed version (sharedTime) instead, so an
//     older alert pushed after a newer one never sends them with an older `modified`; the
//     author has no created_by_ref (it would be itself).
//   - Timestamps are normalised to UTC before they are hashed into ids (stixid.Time.UTC): the
//     legacy ids for the UTC times HarfangLab writes, one id per instant whatever the offset.
//   - x_opencti_negative (false positive) is on the Sighting only: OpenCTI has no such
//     Incident attribute. Indicators built from Sigma/YARA rules carry the
//     x_opencti_main_observable_type OpenCTI would record ("Unknown" / "StixFile").
//
// Indicators known only by their OpenCTI internal id (an IOC rule comment may hold bare UUIDs)
// cannot be named in valid STIX. For them the processor emits a pending Sighting carrying the
// internal id in stixid.PendingSightingOfProperty; the opencti output resolves it with one cached
// GraphQL `indicator(id:)` query and calls stixid.ResolvePendingSighting before pushing.
package detections
