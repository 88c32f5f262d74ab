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

// sharedTime is the created/modified of the objects every alert shares: the author, the System
// identities and the ATT&CK attack patterns. Their content is a function of their id (a name, a
// class, a technique), so they have one version forever; dating them with each alert's time
// would re-push them with an older `modified` whenever an older alert arrives after a newer one,
// and a per-process "latest seen" would differ between replicas and restarts and break
// byte-identical bundles. It is the epoch the stix2 library gives its shared TLP markings.
var sharedTime = mustParseTime(markingEpoch)

func mustParseTime(s string) stixid.Time {
	t, err := stixid.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

// parseTime reads a HarfangLab timestamp normalised to UTC, so that ids hashed from it depend
// on the instant only (stixid.Time.UTC).
func parseTime(s string) (stixid.Time, error) {
	t, err := stixid.ParseTime(s)
	return t.UTC(), err
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

// addBase adds the author identity and the marking definition. The author is not its own
// creator: it carries no created_by_ref.
func (c *converter) addBase(b *bundle) {
	if !b.has(c.marking.id) {
		b.add(c.marking.object)
	}
	if !b.has(c.authorID) {
		author := c.sdo("identity", c.authorID, sharedTime, sharedTime)
		delete(author, "created_by_ref")
		author["name"] = c.authorName
		author["identity_class"] = "organization"
		author["description"] = "HarfangLab EDR, imported by opencti-harfanglab"
		b.add(author)
	}
}

// addSystem adds the identity of a host (where things were sighted) and its Hostname.
func (c *converter) addSystem(b *bundle, host string) (systemID, hostnameID string) {
	systemID = stixid.IdentityID(host, "system")
	if !b.has(systemID) {
		sys := c.sdo("identity", systemID, sharedTime, sharedTime)
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
	c.relationshipAt(b, relType, src, tgt, at, at)
}

func (c *converter) relationshipAt(b *bundle, relType, src, tgt string, created, modified stixid.Time) {
	r := c.sdo("relationship", stixid.RelationshipID(relType, src, tgt), created, modified)
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

// alertFacts is what the objects of one alert are built from.
type alertFacts struct {
	id, label string // label names the alert in warnings ("(no id)" when it has none)
	at, last  stixid.Time
	host, msg string
	ruleType  string
	negative  bool  // the analyst's verdict: false positive
	links     []any // external references (nil without an alert id)
}

// readAlert reads the facts of an alert; an error means it cannot be dated.
func (c *converter) readAlert(in alertInput, warn func(string)) (alertFacts, error) {
	a := in.Alert
	if a == nil {
		return alertFacts{}, fmt.Errorf("the message has no alert object")
	}
	f := alertFacts{id: str(a, "id"), msg: str(a, "msg")}
	f.label = firstNonEmpty(f.id, "(no id)")
	var err error
	if f.at, f.last, err = alertTimes(a, f.label, warn); err != nil {
		return alertFacts{}, err
	}
	agent, _ := a["agent"].(map[string]any)
	f.host = firstNonEmpty(str(agent, "hostname"), str(a, "agent_hostname"))
	f.ruleType = strings.ToLower(firstNonEmpty(in.RuleType, str(a, "alert_type")))
	status := str(a, "status")
	f.negative = status == "false_positive" || status == "probable_false_positive"
	if f.id != "" {
		f.links = []any{c.alertLink(f.id)}
	}
	return f, nil
}

// alertTimes returns the alert time and its last update (never earlier than the alert time).
func alertTimes(a map[string]any, label string, warn func(string)) (at, last stixid.Time, err error) {
	rawTime := firstNonEmpty(str(a, "alert_time"), str(a, "@event_create_date"))
	if rawTime == "" {
		return at, last, fmt.Errorf("alert %s has neither alert_time nor @event_create_date: nothing to date an incident or sighting with", label)
	}
	if at, err = parseTime(rawTime); err != nil {
		return at, last, fmt.Errorf("alert %s: alert_time: %w", label, err)
	}
	last = at
	if lu := str(a, "last_update"); lu != "" {
		if p, err := parseTime(lu); err != nil {
			warn(fmt.Sprintf("alert %s: last_update ignored: %v", label, err))
		} else if p.After(at) {
			last = p
		}
	}
	return at, last, nil
}

// addAlert converts one alert into b. withSighting=false (alerts inside a threat) leaves out
// the indicator and sighting, which come with the alert's own message. A part that cannot be
// converted is reported through warn and left out; an error means nothing usable.
func (c *converter) addAlert(b *bundle, in alertInput, withSighting bool, warn func(string)) (alertResult, error) {
	f, err := c.readAlert(in, warn)
	if err != nil {
		return alertResult{}, err
	}
	c.addBase(b)
	var res alertResult
	var observables []string // ids related to the incident
	if f.host == "" {
		warn(fmt.Sprintf("alert %s: no agent hostname: host identity and Hostname left out", f.label))
	} else {
		var hostnameID string
		res.hostID, hostnameID = c.addSystem(b, f.host)
		observables = append(observables, hostnameID)
	}
	processFile, processHashesFound := c.addProcess(b, in.Alert, f.label, warn, &observables)
	var ioc *iocObservable
	if f.ruleType == "ioc" {
		ioc = c.addIOC(b, in, f.label, processFile, processHashesFound, warn, &observables)
	}
	res.incidentID = c.addIncident(b, in.Alert, f, ioc, warn)
	for _, id := range observables {
		c.relationship(b, "related-to", id, res.incidentID, f.at)
	}
	if res.hostID != "" {
		c.relationship(b, "targets", res.incidentID, res.hostID, f.at)
	}
	c.addTechniques(b, in.Alert, in.Rule, res.incidentID, f.at)
	if withSighting {
		c.addSightings(b, in, f, res, ioc, warn)
	}
	return res, nil
}

// iocRule returns the type and value of the IOC an alert matched: from its rule, else from
// the alert message.
func iocRule(in alertInput, label string, warn func(string)) (typ, val string) {
	typ, val = str(in.Rule, "type"), str(in.Rule, "value")
	if typ != "" && val != "" {
		return typ, val
	}
	typ, val, ok := iocFromMessage(str(in.Alert, "msg"))
	if !ok {
		warn(fmt.Sprintf("alert %s: IOC alert without rule and without a \"<type>=<value>\" msg: no IOC observable", label))
		return "", ""
	}
	return typ, val
}

// addIOC adds the observable of the IOC an alert matched, or reuses the process File when the
// IOC is one of its hashes. It returns nil when there is no usable IOC.
func (c *converter) addIOC(b *bundle, in alertInput, label, processFile string, processHashesFound map[string]string, warn func(string), observables *[]string) *iocObservable {
	typ, val := iocRule(in, label, warn)
	if typ == "" || val == "" {
		return nil
	}
	o, err := convertIOC(typ, val)
	if err != nil {
		warn(fmt.Sprintf("alert %s: %v", label, err))
		return nil
	}
	if o.hashAlg != "" && processHashesFound[o.hashAlg] == o.hashValue && processFile != "" {
		o.object = obj{"id": processFile} // the process file is the IOC: reuse it
		return &o
	}
	b.add(c.stamp(o.object))
	*observables = append(*observables, o.object["id"].(string))
	return &o
}

// addIncident adds the alert's Incident and returns its id. The analyst's verdict is not an
// Incident attribute: only the sighting carries x_opencti_negative.
func (c *converter) addIncident(b *bundle, a map[string]any, f alertFacts, ioc *iocObservable, warn func(string)) string {
	base := str(a, "rule_name")
	if ioc != nil {
		base = ioc.displayValue
	}
	name := firstNonEmpty(base, f.msg, "HarfangLab alert "+f.id)
	if f.host != "" {
		name += " on " + f.host
	}
	id := stixid.IncidentID(name, f.at.ISO())
	inc := c.sdo("incident", id, f.at, f.last)
	inc["name"] = name
	if f.msg != "" {
		inc["description"] = f.msg
	}
	inc["first_seen"] = f.at.STIXAny()
	inc["last_seen"] = f.last.STIXAny()
	inc["incident_type"] = "alert"
	inc["source"] = c.authorName
	if lvl := strings.ToLower(str(a, "level")); severities[lvl] {
		inc["severity"] = lvl
	} else if lvl != "" {
		warn(fmt.Sprintf("alert %s: level %q is not an incident severity: left out", f.label, lvl))
	}
	if f.links != nil {
		inc["external_references"] = f.links
	}
	if t := str(a, "alert_type"); t != "" {
		inc["labels"] = []string{t}
	}
	b.add(inc)
	return id
}

// addSightings adds the sightings of the indicators behind the alert's rule, where the alert
// was raised (its host, else the author), and the indicates relationships to the incident.
func (c *converter) addSightings(b *bundle, in alertInput, f alertFacts, res alertResult, ioc *iocObservable, warn func(string)) {
	where := firstNonEmpty(res.hostID, c.authorID)
	seen := f.at.ISO()
	sightings := c.sightingTargets(b, in, f.ruleType, ioc, f.label, f.at, warn)
	for _, t := range sightings.stixIDs {
		c.relationship(b, "indicates", t, res.incidentID, f.at)
	}
	for _, t := range sightings.stixIDs {
		s := c.sighting(stixid.SightingID(t, where, seen, seen), where, f)
		s["sighting_of_ref"] = t
		b.add(s)
	}
	for _, internal := range sightings.internalIDs {
		s := c.sighting(stixid.SightingID("opencti-internal-id:"+internal, where, seen, seen), where, f)
		s[stixid.PendingSightingOfProperty] = internal
		s[stixid.PendingSightingSeenProperty] = seen
		b.add(s)
	}
}

// sighting is one Sighting of the alert, without its sighting_of_ref.
func (c *converter) sighting(id, where string, f alertFacts) obj {
	s := c.sdo("sighting", id, f.at, f.last)
	s["first_seen"] = f.at.STIXAny()
	s["last_seen"] = f.last.STIXAny()
	s["count"] = 1
	s["where_sighted_refs"] = []string{where}
	s["x_opencti_negative"] = f.negative
	if f.msg != "" {
		s["description"] = f.msg
	}
	if f.links != nil {
		s["external_references"] = f.links
	}
	return s
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
		ap := c.sdo("attack-pattern", stixid.AttackPatternID(t), sharedTime, sharedTime)
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

// mainObservableTypes is the x_opencti_main_observable_type of the indicators built from Sigma
// and YARA rules. OpenCTI's addIndicator sets "StixFile" itself for a YARA indicator that has
// none (a YARA rule matches files) and "Unknown" for any other pattern type without one; a
// Sigma rule matches log events, not one observable type, so "Unknown" is what OpenCTI would
// record. Writing them out keeps the bundle equal to what OpenCTI stores.
var mainObservableTypes = map[string]string{"yara": "StixFile", "sigma": "Unknown"}

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
	if p, err := parseTime(str(rule, "creation_date")); err == nil {
		created, modified = p, p
	}
	if p, err := parseTime(str(rule, "last_update")); err == nil && p.After(created) {
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
	} else {
		ind["x_opencti_main_observable_type"] = mainObservableTypes[patternType]
	}
	ind["valid_from"] = created.STIXMillis()
	if d := str(rule, "description"); d != "" {
		ind["description"] = d
	}
	ind["x_opencti_score"] = c.score
	ind["x_opencti_detection"] = true
	b.add(ind)
	if ioc != nil {
		// Shared by every alert of the rule: dated like the indicator, not like the alert.
		c.relationshipAt(b, "based-on", id, ioc.object["id"].(string), created, modified)
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
