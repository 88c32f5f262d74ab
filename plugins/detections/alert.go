package detections

import (
	"fmt"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/stixid"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// securityEventsSource is the external-reference source name of an alert link.
const securityEventsSource = "HarfangLab - Security Events"

// severities are the HarfangLab levels that are also OpenCTI incident severities.
var severities = map[string]bool{"low": true, "medium": true, "high": true, "critical": true}

// techniqueTag matches ATT&CK technique tags such as "attack.t1136.001".
var techniqueTag = regexp.MustCompile(`(?i)^attack\.(t\d{4}(?:\.\d{3})?)$`)

// converter turns HarfangLab documents into STIX objects. It is immutable once built.
type converter struct {
	authorName string
	authorID   string
	marking    marking
	score      int
	hlURL      string // without trailing slash; "" leaves links without url
}

func newConverter(authorName string, m marking, score int, hlURL string) *converter {
	return &converter{
		authorName: authorName,
		authorID:   stixid.IdentityID(authorName, "organization"),
		marking:    m,
		score:      score,
		hlURL:      strings.TrimRight(hlURL, "/"),
	}
}

// alertInput is one alert with what the harfanglab_alerts input found about its rule.
type alertInput struct {
	Alert        map[string]any
	Rule         map[string]any
	RuleType     string
	IndicatorIDs []string
}

// alertResult names the objects a threat's Case-Incident gathers.
type alertResult struct {
	incidentID string
	hostID     string
}

// stamp adds author and marking, which every object the connector creates carries.
func (c *converter) stamp(o obj) obj {
	o["spec_version"] = "2.1"
	o["created_by_ref"] = c.authorID
	o["object_marking_refs"] = []string{c.marking.id}
	return o
}

// sdo adds the common SDO/SRO properties with deterministic created/modified.
func (c *converter) sdo(typ, id string, created, modified stixid.Time) obj {
	return c.stamp(obj{"type": typ, "id": id, "created": created.STIXMillis(), "modified": modified.STIXMillis()})
}

// addBase adds the author identity and the marking definition.
func (c *converter) addBase(b *bundle, at stixid.Time) {
	if !b.has(c.marking.id) {
		b.add(c.marking.object)
	}
	if !b.has(c.authorID) {
		author := c.sdo("identity", c.authorID, at, at)
		author["name"] = c.authorName
		author["identity_class"] = "organization"
		author["description"] = "HarfangLab EDR, imported by opencti-harfanglab"
		b.add(author)
	}
}

// addSystem adds the identity of a host (where things were sighted) and its Hostname.
func (c *converter) addSystem(b *bundle, host string, at stixid.Time) (systemID, hostnameID string) {
	systemID = stixid.IdentityID(host, "system")
	if !b.has(systemID) {
		sys := c.sdo("identity", systemID, at, at)
		sys["name"] = host
		sys["identity_class"] = "system"
		b.add(sys)
	}
	hostnameID = stixid.ValueObservableID("hostname", host)
	if !b.has(hostnameID) {
		b.add(c.stamp(obj{"type": "hostname", "id": hostnameID, "value": host}))
	}
	return systemID, hostnameID
}

func (c *converter) relationship(b *bundle, relType, src, tgt string, at stixid.Time) {
	r := c.sdo("relationship", stixid.RelationshipID(relType, src, tgt), at, at)
	r["relationship_type"] = relType
	r["source_ref"] = src
	r["target_ref"] = tgt
	b.add(r)
}

func (c *converter) alertLink(alertID string) map[string]any {
	ref := map[string]any{"source_name": securityEventsSource, "external_id": alertID}
	if c.hlURL != "" {
		ref["url"] = c.hlURL + "/security-event/" + alertID + "/summary"
	}
	return ref
}

// processHashes maps HarfangLab process hash keys to STIX algorithm names.
var processHashes = []struct{ key, alg string }{{"md5", "MD5"}, {"sha1", "SHA-1"}, {"sha256", "SHA-256"}, {"sha512", "SHA-512"}}

// addAlert converts one alert into b. withSighting=false (alerts inside a threat) leaves out
// the indicator and sighting, which come with the alert's own message. A part that cannot be
// converted is reported through warn and left out; an error means nothing usable.
func (c *converter) addAlert(b *bundle, in alertInput, withSighting bool, warn func(string)) (alertResult, error) {
	a := in.Alert
	if a == nil {
		return alertResult{}, fmt.Errorf("the message has no alert object")
	}
	alertID := str(a, "id")
	label := alertID
	if label == "" {
		label = "(no id)"
	}
	rawTime := firstNonEmpty(str(a, "alert_time"), str(a, "@event_create_date"))
	if rawTime == "" {
		return alertResult{}, fmt.Errorf("alert %s has neither alert_time nor @event_create_date: nothing to date an incident or sighting with", label)
	}
	at, err := stixid.ParseTime(rawTime)
	if err != nil {
		return alertResult{}, fmt.Errorf("alert %s: alert_time: %w", label, err)
	}
	last := at
	if lu := str(a, "last_update"); lu != "" {
		if p, err := stixid.ParseTime(lu); err != nil {
			warn(fmt.Sprintf("alert %s: last_update ignored: %v", label, err))
		} else if p.After(at) {
			last = p
		}
	}
	c.addBase(b, at)

	var res alertResult
	var observables []string // ids related to the incident
	agent, _ := a["agent"].(map[string]any)
	host := firstNonEmpty(str(agent, "hostname"), str(a, "agent_hostname"))
	if host == "" {
		warn(fmt.Sprintf("alert %s: no agent hostname: host identity and Hostname left out", label))
	} else {
		var hostnameID string
		res.hostID, hostnameID = c.addSystem(b, host, at)
		observables = append(observables, hostnameID)
	}

	processFile, processHashesFound := c.addProcess(b, a, label, warn, &observables)

	ruleType := strings.ToLower(firstNonEmpty(in.RuleType, str(a, "alert_type")))
	rule := in.Rule
	var ioc *iocObservable
	if ruleType == "ioc" {
		typ, val := str(rule, "type"), str(rule, "value")
		if typ == "" || val == "" {
			var ok bool
			if typ, val, ok = iocFromMessage(str(a, "msg")); !ok {
				warn(fmt.Sprintf("alert %s: IOC alert without rule and without a \"<type>=<value>\" msg: no IOC observable", label))
			}
		}
		if typ != "" && val != "" {
			if o, err := convertIOC(typ, val); err != nil {
				warn(fmt.Sprintf("alert %s: %v", label, err))
			} else {
				ioc = &o
				if o.hashAlg != "" && processHashesFound[o.hashAlg] == o.hashValue && processFile != "" {
					ioc.object = obj{"id": processFile} // the process file is the IOC: reuse it
				} else {
					b.add(c.stamp(o.object))
					observables = append(observables, o.object["id"].(string))
				}
			}
		}
	}

	// Incident.
	msg := str(a, "msg")
	base := str(a, "rule_name")
	if ioc != nil {
		base = ioc.displayValue
	}
	base = firstNonEmpty(base, msg, "HarfangLab alert "+alertID)
	name := base
	if host != "" {
		name += " on " + host
	}
	status := str(a, "status")
	negative := status == "false_positive" || status == "probable_false_positive"
	var links []any
	if alertID != "" {
		links = []any{c.alertLink(alertID)}
	}
	res.incidentID = stixid.IncidentID(name, at.ISO())
	inc := c.sdo("incident", res.incidentID, at, last)
	inc["name"] = name
	if msg != "" {
		inc["description"] = msg
	}
	inc["first_seen"] = at.STIXAny()
	inc["last_seen"] = last.STIXAny()
	inc["incident_type"] = "alert"
	inc["source"] = c.authorName
	if lvl := strings.ToLower(str(a, "level")); severities[lvl] {
		inc["severity"] = lvl
	} else if lvl != "" {
		warn(fmt.Sprintf("alert %s: level %q is not an incident severity: left out", label, lvl))
	}
	if links != nil {
		inc["external_references"] = links
	}
	if t := str(a, "alert_type"); t != "" {
		inc["labels"] = []string{t}
	}
	inc["x_opencti_negative"] = negative
	b.add(inc)

	for _, id := range observables {
		c.relationship(b, "related-to", id, res.incidentID, at)
	}
	if res.hostID != "" {
		c.relationship(b, "targets", res.incidentID, res.hostID, at)
	}
	c.addTechniques(b, a, rule, res.incidentID, at)

	if !withSighting {
		return res, nil
	}
	where := res.hostID
	if where == "" {
		where = c.authorID
	}
	sightings := c.sightingTargets(b, in, ruleType, ioc, label, at, warn)
	for _, t := range sightings.stixIDs {
		c.relationship(b, "indicates", t, res.incidentID, at)
	}
	newSighting := func(id string) obj {
		s := c.sdo("sighting", id, at, last)
		s["first_seen"] = at.STIXAny()
		s["last_seen"] = last.STIXAny()
		s["count"] = 1
		s["where_sighted_refs"] = []string{where}
		s["x_opencti_negative"] = negative
		if msg != "" {
			s["description"] = msg
		}
		if links != nil {
			s["external_references"] = links
		}
		return s
	}
	for _, t := range sightings.stixIDs {
		s := newSighting(stixid.SightingID(t, where, at.ISO(), at.ISO()))
		s["sighting_of_ref"] = t
		b.add(s)
	}
	for _, internal := range sightings.internalIDs {
		s := newSighting(stixid.SightingID("opencti-internal-id:"+internal, where, at.ISO(), at.ISO()))
		s[stixid.PendingSightingOfProperty] = internal
		s[stixid.PendingSightingSeenProperty] = at.ISO()
		b.add(s)
	}
	return res, nil
}

// addProcess adds the process's File, Directory and User-Account. It returns the File id and
// its hashes by algorithm.
func (c *converter) addProcess(b *bundle, a map[string]any, label string, warn func(string), observables *[]string) (string, map[string]string) {
	p, _ := a["process"].(map[string]any)
	if p == nil {
		warn(fmt.Sprintf("alert %s: no process: File, Directory and User-Account left out", label))
		return "", nil
	}
	hashes := map[string]string{}
	hm, _ := p["hashes"].(map[string]any)
	for _, h := range processHashes {
		v := str(hm, h.key)
		if v == "" {
			continue
		}
		if hashAlgorithm(v) != h.alg {
			warn(fmt.Sprintf("alert %s: process %s %q is not a valid digest: left out", label, h.key, v))
			continue
		}
		hashes[h.alg] = v
	}
	var fileID string
	if name := str(p, "process_name"); name != "" || len(hashes) > 0 {
		fileID = stixid.FileID(name, hashes)
		f := obj{"type": "file", "id": fileID}
		if name != "" {
			f["name"] = name
		}
		if len(hashes) > 0 {
			hs := map[string]any{}
			for k, v := range hashes {
				hs[k] = v
			}
			f["hashes"] = hs
		}
		b.add(c.stamp(f))
		*observables = append(*observables, fileID)
	}
	if dir := str(p, "current_directory"); dir != "" {
		id := stixid.DirectoryID(dir)
		b.add(c.stamp(obj{"type": "directory", "id": id, "path": dir}))
		*observables = append(*observables, id)
	}
	if user := str(p, "username"); user != "" {
		id := stixid.UserAccountID(user)
		b.add(c.stamp(obj{"type": "user-account", "id": id, "account_login": user}))
		*observables = append(*observables, id)
	}
	return fileID, hashes
}

// addTechniques links the incident to the ATT&CK techniques named by the alert's tags and the
// rule's technique tags.
func (c *converter) addTechniques(b *bundle, a, rule map[string]any, incidentID string, at stixid.Time) {
	seen := map[string]bool{}
	for _, tag := range append(strs(a, "tags"), strs(rule, "rule_technique_tags")...) {
		m := techniqueTag.FindStringSubmatch(strings.TrimSpace(tag))
		if m == nil {
			continue
		}
		t := strings.ToUpper(m[1])
		if seen[t] {
			continue
		}
		seen[t] = true
		ap := c.sdo("attack-pattern", stixid.AttackPatternID(t), at, at)
		ap["name"] = t
		ap["x_mitre_id"] = t
		b.add(ap)
		c.relationship(b, "uses", incidentID, ap["id"].(string), at)
	}
}

// targets are the indicators an alert is a sighting of.
type targets struct {
	stixIDs     []string
	internalIDs []string
}

// sightingTargets returns the OpenCTI indicators behind the rule (from its comment), or adds an
// indicator built from the rule when it did not come from OpenCTI.
func (c *converter) sightingTargets(b *bundle, in alertInput, ruleType string, ioc *iocObservable, label string, at stixid.Time, warn func(string)) targets {
	var t targets
	for _, id := range in.IndicatorIDs {
		id = strings.TrimSpace(id)
		switch {
		case strings.HasPrefix(id, "indicator--"):
			t.stixIDs = appendUnique(t.stixIDs, id)
		case uuid.Validate(id) == nil:
			t.internalIDs = appendUnique(t.internalIDs, id)
		default:
			warn(fmt.Sprintf("alert %s: indicator id %q is neither a STIX indicator id nor an OpenCTI internal id: ignored", label, id))
		}
	}
	if len(t.stixIDs)+len(t.internalIDs) > 0 {
		return t
	}
	if id := c.addRuleIndicator(b, in, ruleType, ioc, label, at, warn); id != "" {
		t.stixIDs = []string{id}
	}
	return t
}

// addRuleIndicator builds the indicator of a rule that did not come from OpenCTI.
func (c *converter) addRuleIndicator(b *bundle, in alertInput, ruleType string, ioc *iocObservable, label string, at stixid.Time, warn func(string)) string {
	rule, a := in.Rule, in.Alert
	var name, pattern, patternType string
	switch ruleType {
	case "sigma":
		name, pattern, patternType = firstNonEmpty(str(rule, "rule_name"), str(rule, "name"), str(a, "rule_name")), str(rule, "content"), "sigma"
	case "yara":
		name, pattern, patternType = firstNonEmpty(str(rule, "name"), str(a, "rule_name")), str(rule, "content"), "yara"
	case "ioc":
		if ioc != nil {
			name, pattern, patternType = ioc.displayValue, ioc.pattern, "stix"
		}
	}
	if strings.TrimSpace(pattern) == "" {
		warn(fmt.Sprintf("alert %s: no %s rule content and no OpenCTI indicator: no indicator, no sighting", label, firstNonEmpty(ruleType, "unknown")))
		return ""
	}
	created, modified := at, at
	if p, err := stixid.ParseTime(str(rule, "creation_date")); err == nil {
		created, modified = p, p
	}
	if p, err := stixid.ParseTime(str(rule, "last_update")); err == nil && p.After(created) {
		modified = p
	}
	id := stixid.IndicatorID(pattern)
	ind := c.sdo("indicator", id, created, modified)
	ind["name"] = firstNonEmpty(name, pattern)
	ind["pattern"] = pattern
	ind["pattern_type"] = patternType
	if patternType == "stix" {
		ind["pattern_version"] = "2.1"
		ind["x_opencti_main_observable_type"] = ioc.mainType
	}
	ind["valid_from"] = created.STIXMillis()
	if d := str(rule, "description"); d != "" {
		ind["description"] = d
	}
	ind["x_opencti_score"] = c.score
	ind["x_opencti_detection"] = true
	b.add(ind)
	if ioc != nil {
		c.relationship(b, "based-on", id, ioc.object["id"].(string), at)
	}
	return id
}

// str reads a string field of a JSON object (numbers are formatted, other types give "").
func str(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64) // ints that arrive as JSON numbers (threat ids)
	case int:
		return strconv.Itoa(v)
	}
	return ""
}

// strs reads a list of strings, skipping other elements.
func strs(m map[string]any, key string) []string {
	l, _ := m[key].([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func appendUnique(l []string, v string) []string {
	for _, e := range l {
		if e == v {
			return l
		}
	}
	return append(l, v)
}
