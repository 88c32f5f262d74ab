package detections

import (
	"fmt"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/stixid"
	"strings"
)

// threatsSource is the external-reference source name of a threat link.
const threatsSource = "HarfangLab - Threats"

// priorities maps threat levels to OpenCTI case priorities.
var priorities = map[string]string{"critical": "P1", "high": "P2", "medium": "P3", "low": "P4"}

// threatInput is one threat with its alerts and analyst notes.
type threatInput struct {
	Threat map[string]any
	Alerts []map[string]any
	Notes  []map[string]any
}

// addThreat converts a threat into a Case-Incident gathering the incidents of its alerts (built
// here too, without sightings, so the bundle is self-consistent; left out when withIncidents is
// false), its hosts, and its notes.
func (c *converter) addThreat(b *bundle, in threatInput, withIncidents bool, warn func(string)) error {
	t := in.Threat
	if t == nil {
		return fmt.Errorf("the message has no threat object")
	}
	threatID := str(t, "id")
	label := firstNonEmpty(threatID, "(no id)")
	created, modified, err := threatTimes(t, label)
	if err != nil {
		return err
	}
	c.addBase(b)
	var refs []string
	host := threatHost(t)
	if host != "" {
		sysID, hostnameID := c.addSystem(b, host)
		refs = append(refs, sysID, hostnameID)
	} else {
		warn(fmt.Sprintf("threat %s: no top agent: the case names no host", label))
	}
	if withIncidents {
		refs = c.addThreatIncidents(b, in.Alerts, label, refs, warn)
	}
	caseID, links := c.addCase(b, t, host, created, modified, refs, warn)
	for i, n := range in.Notes {
		c.addNote(b, n, caseID, created, links, fmt.Sprintf("threat %s: note %d", label, i), warn)
	}
	return nil
}

// threatTimes returns the threat's creation and last update (never earlier than its creation).
func threatTimes(t map[string]any, label string) (created, modified stixid.Time, err error) {
	rawCreated := firstNonEmpty(str(t, "creation_date"), str(t, "first_seen"))
	if rawCreated == "" {
		return created, modified, fmt.Errorf("threat %s has neither creation_date nor first_seen: nothing to date a case with", label)
	}
	if created, err = parseTime(rawCreated); err != nil {
		return created, modified, fmt.Errorf("threat %s: creation_date: %w", label, err)
	}
	modified = created
	if p, err := parseTime(str(t, "last_update")); err == nil && p.After(created) {
		modified = p
	}
	return created, modified, nil
}

// threatHost is the hostname of the threat's first top agent, or "".
func threatHost(t map[string]any) string {
	agents, _ := t["top_agents"].([]any)
	if len(agents) == 0 {
		return ""
	}
	ag, _ := agents[0].(map[string]any)
	return firstNonEmpty(str(ag, "hostname"), str(ag, "agent_hostname"))
}

// addThreatIncidents adds the incidents of the threat's alerts and returns refs with their ids
// and hosts.
func (c *converter) addThreatIncidents(b *bundle, alerts []map[string]any, label string, refs []string, warn func(string)) []string {
	for i, a := range alerts {
		res, err := c.addAlert(b, alertInput{Alert: a}, false, warn)
		if err != nil {
			warn(fmt.Sprintf("threat %s: alert %d left out: %v", label, i, err))
			continue
		}
		refs = appendUnique(refs, res.incidentID)
		if res.hostID != "" {
			refs = appendUnique(refs, res.hostID)
		}
	}
	return refs
}

// addCase adds the Case-Incident of a threat; it returns its id and its external references.
func (c *converter) addCase(b *bundle, t map[string]any, host string, created, modified stixid.Time, refs []string, warn func(string)) (string, []any) {
	threatID := str(t, "id")
	slug := firstNonEmpty(str(t, "slug"), "HarfangLab threat "+threatID)
	name := slug
	if host != "" {
		name += " on " + host
	}
	caseID := stixid.CaseIncidentID(name, created.ISO())
	cs := c.sdo("case-incident", caseID, created, modified)
	cs["name"] = name
	cs["description"] = fmt.Sprintf("HarfangLab threat %s (%s), imported by %s.", slug, firstNonEmpty(str(t, "status"), "unknown status"), c.authorName)
	level := strings.ToLower(str(t, "level"))
	if severities[level] {
		cs["severity"] = level
		cs["priority"] = priorities[level]
	} else if level != "" {
		warn(fmt.Sprintf("threat %s: level %q is not a case severity: left out", firstNonEmpty(threatID, "(no id)"), level))
	}
	var links []any
	if threatID != "" {
		link := map[string]any{"source_name": threatsSource, "external_id": threatID}
		if c.hlURL != "" {
			link["url"] = c.hlURL + "/threat/" + threatID + "/summary"
		}
		links = []any{link}
		cs["external_references"] = links
	}
	if len(refs) > 0 {
		cs["object_refs"] = refs
	}
	b.add(cs)
	return caseID, links
}

// addNote adds an analyst note attached to the case.
func (c *converter) addNote(b *bundle, n map[string]any, caseID string, caseCreated stixid.Time, links []any, label string, warn func(string)) {
	content := str(n, "content")
	if content == "" {
		warn(label + ": empty content: left out")
		return
	}
	created, idCreated := caseCreated, ""
	if raw := str(n, "creation_date"); raw != "" {
		if p, err := parseTime(raw); err == nil {
			created, idCreated = p, p.ISO()
		} else {
			warn(fmt.Sprintf("%s: creation_date ignored: %v", label, err))
		}
	}
	modified := created
	if p, err := parseTime(str(n, "last_update")); err == nil && p.After(created) {
		modified = p
	}
	note := c.sdo("note", stixid.NoteID(content, idCreated), created, modified)
	if title := str(n, "title"); title != "" {
		note["abstract"] = title
	}
	note["content"] = content
	note["object_refs"] = []string{caseID}
	if links != nil {
		note["external_references"] = links
	}
	b.add(note)
}
