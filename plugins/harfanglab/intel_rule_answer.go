package harfanglab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// uploadOutcome is what a Sigma/YARA upload answer says, whatever JSON types it uses.
type uploadOutcome struct {
	ok     bool
	id     string
	code   string // "duplicate_rule", "201", ... ("" when absent)
	reason string // HarfangLab's own words (`content` of a refusal)
}

// duplicate tells whether HarfangLab refused the upload because the rule already exists.
func (u uploadOutcome) duplicate() bool {
	return u.code == "duplicate_rule" || strings.Contains(strings.ToLower(u.reason), "already exists")
}

func (u uploadOutcome) String() string {
	switch {
	case u.code != "" && u.reason != "":
		return u.code + ": " + u.reason
	case u.code != "":
		return u.code
	}
	return u.reason
}

// parseUploadAnswer reads the answer to POST SigmaRule/ or YaraFile/. A real console answers 201
// whatever the outcome, which is carried by the `status` list (evidence D); `code` is a string
// there (`duplicate_rule`) and an integer in older notes, so every field is decoded from any JSON
// type. A missing or empty `status` is a failure (D), unless the answer is the created object
// itself (a plain `id`).
func parseUploadAnswer(raw []byte) uploadOutcome {
	var ans map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ans); err != nil {
		return uploadOutcome{reason: "undecodable answer: " + truncate(string(raw), 300)}
	}
	var list []map[string]json.RawMessage
	if json.Unmarshal(ans["status"], &list) != nil || len(list) == 0 {
		if id := anyString(ans["id"]); id != "" {
			return uploadOutcome{ok: true, id: id}
		}
		return uploadOutcome{reason: "answer without a status: " + truncate(string(raw), 300)}
	}
	st := list[0]
	out := uploadOutcome{id: anyString(st["id"]), code: anyString(st["code"]), reason: anyString(st["content"])}
	out.ok = truthy(st["status"]) && out.id != ""
	if out.ok {
		out.reason = ""
	} else if out.reason == "" {
		out.reason = "refused without a reason"
	}
	return out
}

// anyString renders a JSON scalar as text (strings unquoted); objects and lists stay JSON.
func anyString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	return string(raw)
}

// truthy reads a success flag sent as a boolean, a number or a word.
func truthy(raw json.RawMessage) bool {
	switch strings.ToLower(anyString(raw)) {
	case "true", "1", "ok", "success", "created":
		return true
	}
	return false
}

// patchFindings reads the `errors` and `warnings` a Sigma/YARA PATCH answer carries (evidence D),
// each given as a string, a list or an object of them.
func patchFindings(raw []byte) (errs, warnings []string) {
	var ans map[string]json.RawMessage
	if json.Unmarshal(raw, &ans) != nil {
		return nil, nil
	}
	return flatten(ans["errors"]), flatten(ans["warnings"])
}

func flatten(raw json.RawMessage) []string {
	var v any
	if len(bytes.TrimSpace(raw)) == 0 || json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case nil:
		case string:
			if t != "" {
				out = append(out, prefix+t)
			}
		case []any:
			for _, x := range t {
				walk(prefix, x)
			}
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(prefix+k+": ", t[k])
			}
		case bool:
			if t {
				out = append(out, prefix+strconv.FormatBool(t))
			}
		default:
			out = append(out, prefix+fmt.Sprint(t))
		}
	}
	walk("", v)
	return out
}
