package stix

import "github.com/opencti-harfanglab/opencti-harfanglab/plugins/stixid"

// organizationID is the STIX id pycti gives the organization identity of that name. Objects
// carrying it in created_by_ref were written by our own detections pull (whose author is that
// identity), so the id must be computed exactly as harfanglab_to_stix computes it.
func organizationID(name string) string { return stixid.IdentityID(name, "organization") }
