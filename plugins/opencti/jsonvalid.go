package opencti

import "github.com/opencti-harfanglab/opencti-harfanglab/plugins/jsonscan"

// validJSON is json.Valid in one plain pass: every event is checked before it becomes a
// message (an event that is not JSON is flagged at the input), and encoding/json's scanner,
// one state-machine call per byte, was 3 % of the CPU of the intel push (issue 12). It accepts
// exactly what json.Valid accepts (TestValidJSONMatchesEncodingJSON): no UTF-8 check inside
// strings, nesting up to 10 000 levels. The scanning is jsonscan's, shared with the decoders.
func validJSON(b []byte) bool {
	return jsonscan.Valid(b)
}
