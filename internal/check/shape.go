package check

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// interestingKeys are the keys of an answer the product reads; shape names them, with their JSON
// type, and only counts the others.
var interestingKeys = []string{"id", "status", "code", "errors", "warnings", "global_state", "enabled", "description", "detail", "__all__"}

// shape describes a JSON answer by its structure, never its values, e.g.
// `object {id: string, enabled: bool, +12 keys}` or `status list of 1 {code: string, id: string, status: bool}`.
func shape(b []byte) string {
	if len(strings.TrimSpace(string(b))) == 0 {
		return "empty body"
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Sprintf("not JSON (%d bytes)", len(b))
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return jsonType(v)
	}
	if list, ok := obj["status"].([]any); ok {
		desc := fmt.Sprintf("status list of %d", len(list))
		if len(list) > 0 {
			if first, ok := list[0].(map[string]any); ok {
				desc += " " + describeKeys(first, nil)
			}
		}
		return desc
	}
	return "object " + describeKeys(obj, interestingKeys)
}

// describeKeys lists keys with their types: every key when only is nil, else those in only
// (the rest counted).
func describeKeys(obj map[string]any, only []string) string {
	var parts []string
	if only == nil {
		for k := range obj {
			parts = append(parts, k+": "+jsonType(obj[k]))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	for _, k := range only {
		if v, ok := obj[k]; ok {
			parts = append(parts, k+": "+jsonType(v))
		}
	}
	if rest := len(obj) - len(parts); rest > 0 {
		parts = append(parts, fmt.Sprintf("+%d keys", rest))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func jsonType(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return fmt.Sprintf("list of %d", len(t))
	default:
		return "object"
	}
}
