package demo

import (
	"fmt"
	"strings"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

type streamEvent struct {
	event string
	data  []byte
}

// seeded is what the demo put into the OpenCTI stream and what it expects in HarfangLab.
type seeded struct {
	events, later []streamEvent
	indicators    int
	firstValues   []string          // IOC values that must appear once the stream is read
	finalIOCs     int               // enabled IOC rules at the end
	dying         []string          // values of the indicators that stop being live
	stixIDs       map[string]bool   // STIX ids of the seeded indicators (what sightings must name)
	internalIDs   map[string]string // internal id → STIX id, what OpenCTI knows of them
	alerts        map[string]map[string]any
}

// seedIndicators builds one OpenCTI indicator per HarfangLab sample alert (so the alerts of the
// second half fire on intelligence that came from OpenCTI), plus a compound pattern, a based-on
// observable, an invalid pattern, a revoked and an expiring indicator.
func seedIndicators(hl *hlsim.Server) seeded {
	s := seeded{stixIDs: map[string]bool{}, internalIDs: map[string]string{}, alerts: map[string]map[string]any{}}
	n := 0
	add := func(ind openctisim.Indicator) openctisim.Indicator {
		n++
		ind.InternalID = fmt.Sprintf("6f1c0000-0000-4000-8000-%012d", n)
		ind.StixID = openctisim.IndicatorStixID(ind.Pattern)
		if ind.Score == 0 {
			ind.Score = 80
		}
		s.stixIDs[ind.StixID] = true
		s.internalIDs[ind.InternalID] = ind.StixID
		s.events = append(s.events, streamEvent{"create", openctisim.IndicatorEvent("create", ind, nil)})
		s.indicators++
		return ind
	}
	iocPattern := map[string]string{
		"hash": "[file:hashes.'SHA-256' = '%s']", "domain_name": "[domain-name:value = '%s']",
		"ip_dst": "[ipv4-addr:value = '%s']", "url": "[url:value = '%s']", "filename": "[file:name = '%s']",
	}
	var domainIndicator openctisim.Indicator
	for i, kind := range hlsim.SampleKinds {
		alert := hl.SampleAlert(kind, i)
		s.alerts[kind] = alert
		ruleKind, rule := hlsim.SampleRuleFor(alert)
		switch ruleKind {
		case "sigma", "yara":
			name := fmt.Sprint(rule["name"])
			add(openctisim.Indicator{Name: name, Pattern: fmt.Sprint(rule["content"]), PatternType: ruleKind, Description: "demo " + ruleKind + " rule"})
		case "ioc":
			typ, value := fmt.Sprint(rule["type"]), fmt.Sprint(rule["value"])
			ind := add(openctisim.Indicator{Name: value, Pattern: fmt.Sprintf(iocPattern[typ], value)})
			s.firstValues = append(s.firstValues, value)
			if typ == "domain_name" {
				domainIndicator = ind
			}
		}
	}
	// Every observation contributes; domains are lower-cased.
	compound := add(openctisim.Indicator{Name: "Update server", Pattern: "[ipv4-addr:value = '203.0.113.10'] OR [domain-name:value = 'Update.Evil-Example.COM']"})
	s.firstValues = append(s.firstValues, "203.0.113.10", "update.evil-example.com")
	// An observable linked by based-on is owned by the indicator too.
	s.events = append(s.events, streamEvent{"create", openctisim.BasedOnEvent("create", openctisim.BasedOn{
		InternalID: "7a2d0000-0000-4000-8000-000000000001", Indicator: domainIndicator,
		TargetType: "Domain-Name", TargetValue: "cdn." + domainIndicator.Name,
	})})
	s.firstValues = append(s.firstValues, "cdn."+domainIndicator.Name)
	// Expires a few seconds from now: it must leave HarfangLab with no event.
	until := time.Now().Add(6 * time.Second)
	add(openctisim.Indicator{Name: "Short-lived C2", Pattern: "[domain-name:value = 'short-lived.evil.example']", ValidUntil: &until})
	s.firstValues = append(s.firstValues, "short-lived.evil.example")
	// Does not parse: dead-lettered with its reason, the rest goes on.
	add(openctisim.Indicator{Name: "Broken pattern", Pattern: "[ipv4-addr:value = "})

	// Later: the compound indicator is revoked.
	compound.Revoked = true
	compound.Modified = time.Now().Add(time.Second)
	s.later = append(s.later, streamEvent{"update", openctisim.IndicatorEvent("update", compound, map[string]any{
		"patch":         []any{map[string]any{"op": "replace", "path": "/revoked", "value": true}},
		"reverse_patch": []any{map[string]any{"op": "replace", "path": "/revoked", "value": false}},
	})})
	s.dying = []string{"203.0.113.10", "update.evil-example.com", "short-lived.evil.example"}
	s.finalIOCs = len(s.firstValues) - len(s.dying)
	return s
}

// seedAlerts adds the sample alerts to HarfangLab, and one threat gathering the Sigma and YARA
// ones. It returns how many alerts and threats it added.
func seedAlerts(hl *hlsim.Server, s seeded) (alerts, threats int) {
	ids := map[string]string{}
	for _, kind := range hlsim.SampleKinds {
		ids[kind] = hl.AddAlert(s.alerts[kind])
	}
	host := fmt.Sprint(s.alerts[hlsim.SampleSigma]["agent"].(map[string]any)["hostname"])
	hl.AddThreat(map[string]any{"slug": "credential-theft", "top_agents": []any{map[string]any{"agent_hostname": host}}},
		[]string{ids[hlsim.SampleSigma], ids[hlsim.SampleYara]},
		[]map[string]any{{"title": "Analyst note", "content": "Mimikatz dropped after a PowerShell user creation; host isolated."}})
	return len(ids), 1
}

// seenAll tells whether every value has been seen.
func seenAll(seen map[string]bool, values []string) bool {
	for _, v := range values {
		if !seen[strings.ToLower(v)] {
			return false
		}
	}
	return true
}
