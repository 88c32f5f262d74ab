package stix

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/google/uuid"
)

// pyctiNamespace is the UUIDv5 namespace pycti derives every deterministic STIX id from.
var pyctiNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// organizationID is the STIX id pycti gives the organization identity of that name:
// "identity--" + uuid5(namespace, canonical JSON of {"identity_class","name"}), the name
// lower-cased and trimmed (pycti Identity.generate_id). Objects carrying it in created_by_ref
// were written by our own detections pull.
func organizationID(name string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // RFC 8785 canonical JSON does not escape <, > and &
	// encoding/json sorts map keys, which gives the canonical key order here.
	_ = enc.Encode(map[string]string{
		"identity_class": "organization",
		"name":           strings.ToLower(strings.TrimSpace(name)),
	})
	return "identity--" + uuid.NewSHA1(pyctiNamespace, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))).String()
}
