package hlsim

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// The evidenced behaviours of a real console's threat-intelligence endpoints (reference
// harfanglab-api-evidence.md, tags D, W, K, O). They are on by default; SetLenient(true) turns
// them off to get the simulator's first, assumed behaviour back.

// Sigma/YARA upload outcome codes. D: `code` is a string on a real console (e.g.
// `duplicate_rule`); the lenient simulator answers integers.
const (
	codeCreated       = "created"
	codeDuplicateRule = "duplicate_rule"
	codeInvalidRule   = "invalid_rule"
)

// ruleAnswer writes the answer to a Sigma/YARA upload. Strict (D): HTTP 201 whatever the
// outcome, the outcome in the `status` list with a string code. Lenient: HTTP 200, int code.
func (s *Server) ruleAnswer(w http.ResponseWriter, ok bool, code, content string, id *string, name string) {
	entry := map[string]any{"status": ok, "code": code, "content": content, "id": id, "filename": name}
	status := http.StatusCreated
	if s.lenient {
		status = http.StatusOK
		entry["code"] = 400
		if ok {
			entry["code"] = 201
		}
	}
	writeJSON(w, status, map[string]any{"status": []map[string]any{entry}})
}

// sigmaID is the `id:` of a Sigma rule ("" when the content has none or does not parse).
func sigmaID(content string) string {
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

// sigmaIDTaken returns the rule (of any Sigma list) holding the Sigma id, other than except.
// W: "The ID of a Sigma rule has to be unique"; D: refused even when the holder is in another
// source. Callers hold s.mu.
func (st *intelStore) sigmaIDTaken(id, except string) *Rule {
	if id == "" {
		return nil
	}
	for _, r := range st.sigma {
		if r.ID != except && r.sid == id {
			return r
		}
	}
	return nil
}

// reserialise stores Sigma YAML the way a real console does (D: "HarfangLab re-serialises the
// YAML it stores"): parsed and written again, so comments, quoting and indentation change.
func reserialise(content string) string {
	var doc yaml.Node
	if yaml.Unmarshal([]byte(content), &doc) != nil {
		return content
	}
	plain(&doc)
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(4)
	if enc.Encode(&doc) != nil {
		return content
	}
	_ = enc.Close()
	return b.String()
}

// plain drops comments and flow/quoting styles, as a parse-and-dump re-serialiser does.
func plain(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	n.Style = 0
	for _, c := range n.Content {
		plain(c)
	}
}

// strictRuleFields applies what a real console does to a stored rule: the name trimmed (D),
// no `description` (W: not a field of _CreateSigmaRule), Sigma YAML re-serialised (D).
func strictRuleFields(kind string, r *Rule) {
	r.Name = strings.TrimSpace(r.Name)
	r.Description = ""
	if kind == kindSigmaSource {
		r.Content = reserialise(r.Content)
	}
}

// strictIOCValue checks the value formats a real console refuses with a 400 (K: "400 for
// unsupported value formats"): IP types take an address or a CIDR, domains no blanks or slashes,
// URLs a scheme and a host. The exact rules of a real console are not known.
func strictIOCValue(typ, value string, errs map[string][]string) {
	if errs["value"] != nil {
		return
	}
	switch typ {
	case "ip_both", "ip_src", "ip_dst":
		if net.ParseIP(value) == nil {
			if _, _, err := net.ParseCIDR(value); err != nil {
				errs["value"] = []string{"Enter a valid IPv4 or IPv6 address."}
			}
		}
	case "domain_name":
		if strings.ContainsAny(value, " /\t\n") {
			errs["value"] = []string{"Enter a valid domain name."}
		}
	case "url": // Django's URLValidator message; a URL needs a scheme and a host
		if u, err := url.Parse(value); err != nil || u.Scheme == "" || u.Host == "" {
			errs["value"] = []string{"Enter a valid URL."}
		}
	}
}
