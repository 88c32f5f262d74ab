package harfanglab

import (
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// What a real console keeps of a Sigma rule or YARA file (evidence W, D), and so what the output
// may rely on after a restart:
//   - name: kept, trimmed, at most 100 characters. It carries the owner ("[<owner>]" suffix) and
//     the owner's expiry ("(until <RFC 3339>)"), so expiry still happens after a restart with no
//     new event.
//   - content: kept, but Sigma YAML is re-serialised (comments, quoting, indentation change):
//     compared parsed, never byte for byte. Whether custom Sigma keys or YARA comments survive is
//     unknown, so nothing is written into the content.
//   - description: NOT a field of _CreateSigmaRule (W); whether PATCH can set it is unknown. It is
//     neither sent nor read.
//   - score and platforms: not kept anywhere for rules (HarfangLab has no field for them and the
//     output needs neither after a restart).
//   - co-owners of a shared Sigma rule (two indicators carrying the same Sigma id): only the first
//     owner fits in the name; the others are known in memory and come back with their next change
//     or a replay. See ruleEntry.

// ruleUntilLayout is the expiry written into rule names (whole seconds: short and exact enough).
const ruleUntilLayout = "2006-01-02T15:04:05Z"

// ruleNameRe splits a rule name "<base>[ (until <t>)] [<owner>]".
var ruleNameRe = regexp.MustCompile(`^(.*?)\s*(?:\(until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)\s*)?\[([^\[\]]+)\]$`)

// parseRuleName returns the owner and expiry a rule name carries (owner "" when it is not ours).
func parseRuleName(name string) (owner string, until *time.Time) {
	m := ruleNameRe.FindStringSubmatch(strings.TrimSpace(name))
	if m == nil {
		return "", nil
	}
	if m[2] != "" {
		if t, err := time.Parse(ruleUntilLayout, m[2]); err == nil {
			until = &t
		}
	}
	return m[3], until
}

// sigmaRuleID is the Sigma `id:` of content ("" when it has none or does not parse): HarfangLab
// tells Sigma rules apart by it, across every list (W, D).
func sigmaRuleID(content string) string {
	var doc struct {
		ID any `yaml:"id"`
	}
	if yaml.Unmarshal([]byte(content), &doc) != nil {
		return ""
	}
	if s, ok := doc.ID.(string); ok {
		return strings.TrimSpace(s)
	}
	return ""
}

// sameContent compares rule contents as HarfangLab keeps them: Sigma parsed (the console
// re-serialises the YAML it stores), YARA with line endings and outer blanks ignored.
func sameContent(kind, a, b string) bool {
	norm := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }
	if norm(a) == norm(b) {
		return true
	}
	if kind != intel.RuleSigma {
		return false
	}
	var x, y any
	if yaml.Unmarshal([]byte(a), &x) != nil || yaml.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// sameName compares names as HarfangLab stores them (trimmed).
func sameName(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) }
