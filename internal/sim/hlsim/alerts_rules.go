package hlsim

import (
	"encoding/json"
	"fmt"
)

// DefaultSourceName is the list AddRule puts rules in when the rule names none.
const DefaultSourceName = "from_OpenCTI"

// AddRule stores a threat-intelligence rule that alerts refer to: kind is ioc (an IOCRule),
// sigma (a SigmaRule) or yara (a YaraFile); rule holds the HarfangLab JSON fields (type, value,
// comment, content, name, ...). The rule goes into the list named by its `source_name` key
// (default from_OpenCTI, created if missing) through the intel store's own API, so the intel
// endpoints serve it. It panics on an unknown kind or a rule that is not JSON-shaped: a broken
// fixture must fail the test loudly.
func (s *Server) AddRule(kind string, rule map[string]any) {
	rule = deepCopy(rule)
	source, _ := rule["source_name"].(string)
	delete(rule, "source_name")
	if source == "" {
		source = DefaultSourceName
	}
	b, err := json.Marshal(rule)
	if err != nil {
		panic(fmt.Sprintf("hlsim: AddRule: %v", err))
	}
	switch kind {
	case "ioc":
		var r IOCRule
		mustDecodeRule(b, &r)
		s.AddIOC(source, r)
	case "sigma":
		var r Rule
		mustDecodeRule(b, &r)
		s.AddSigmaRule(source, r)
	case "yara":
		var r Rule
		mustDecodeRule(b, &r)
		s.AddYaraFile(source, r)
	default:
		panic(fmt.Sprintf("hlsim: AddRule: unknown rule kind %q (want ioc, sigma or yara)", kind))
	}
}

func mustDecodeRule(b []byte, out any) {
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("hlsim: AddRule: rule does not fit the HarfangLab shape: %v", err))
	}
}
