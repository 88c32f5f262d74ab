package harfanglab

import (
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/jsonscan"
)

// appendJSON writes the body exactly as json.Marshal does (TestNewIOCBodyMatchesEncodingJSON),
// without the reflection: it is sent once per IOC created (issue 12).
func (b newIOCBody) appendJSON(buf []byte) []byte {
	if buf == nil {
		// The comment is JSON: its quotes come out escaped, hence the quarter more.
		buf = make([]byte, 0, 160+len(b.SourceID)+len(b.Type)+len(b.Value)+len(b.Description)+len(b.Comment)*5/4+len(b.HLStatus))
	}
	buf = append(buf, `{"source_id":`...)
	buf = jsonscan.AppendString(buf, b.SourceID)
	buf = append(buf, `,"type":`...)
	buf = jsonscan.AppendString(buf, b.Type)
	buf = append(buf, `,"value":`...)
	buf = jsonscan.AppendString(buf, b.Value)
	buf = append(buf, `,"description":`...)
	buf = jsonscan.AppendString(buf, b.Description)
	buf = append(buf, `,"comment":`...)
	buf = jsonscan.AppendString(buf, b.Comment)
	buf = append(buf, `,"hl_status":`...)
	buf = jsonscan.AppendString(buf, b.HLStatus)
	buf = append(buf, `,"enabled":`...)
	buf = appendBool(buf, b.Enabled)
	buf = append(buf, `,"block_on_agent":`...)
	buf = appendBool(buf, b.BlockOnAgent)
	if b.LocalTestingStatus != "" {
		buf = append(buf, `,"hl_local_testing_status":`...)
		buf = jsonscan.AppendString(buf, b.LocalTestingStatus)
	}
	return append(buf, '}')
}

func appendBool(buf []byte, v bool) []byte {
	if v {
		return append(buf, "true"...)
	}
	return append(buf, "false"...)
}

// createdID is the id HarfangLab answers to a creation; the rest of the answer is not needed.
type createdID struct {
	ID string `json:"id"`
}

// decodeFast is json.Unmarshal into c, without its scanner and reflection in the plain case
// (jsonscan.ObjectString): the answer is read once per IOC created (issue 12). false: the
// client lets encoding/json decide (fastDecoding).
func (c *createdID) decodeFast(b []byte) bool {
	id, ok := jsonscan.ObjectString(b, "id")
	if ok {
		c.ID = id
	}
	return ok
}
