// Package docs renders the reference of the project's own components from their config specs,
// for the "Components reference" section of README.md. The test in this package fails when the
// README is stale; `UPDATE_DOCS=1 go test ./tests/docs/` rewrites the section.
package docs

//go:generate env UPDATE_DOCS=1 go test -run TestReadmeComponentReferenceIsCurrent .

import (
	"fmt"
	"sort"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Components lists the components documented, in the order of the data flow.
var Components = []struct{ Kind, Name string }{
	{"input", "opencti_stream"},
	{"processor", "stix_to_harfanglab"},
	{"output", "harfanglab_intel"},
	{"input", "harfanglab_alerts"},
	{"processor", "harfanglab_to_stix"},
	{"output", "opencti"},
	{"cache", "state_file"},
}

// Markers delimit the generated section in README.md.
const (
	BeginMarker = "<!-- BEGIN GENERATED COMPONENTS REFERENCE (UPDATE_DOCS=1 go test ./tests/docs/) -->"
	EndMarker   = "<!-- END GENERATED COMPONENTS REFERENCE -->"
)

// Render returns the markdown reference of every component in Components.
func Render(env *service.Environment) (string, error) {
	views := map[string]*service.ConfigView{}
	collect := func(kind string) func(string, *service.ConfigView) {
		return func(name string, v *service.ConfigView) { views[kind+"/"+name] = v }
	}
	env.WalkInputs(collect("input"))
	env.WalkProcessors(collect("processor"))
	env.WalkOutputs(collect("output"))
	env.WalkCaches(collect("cache"))

	var b strings.Builder
	for _, c := range Components {
		v, ok := views[c.Kind+"/"+c.Name]
		if !ok {
			return "", fmt.Errorf("%s %q is not registered: is its package imported?", c.Kind, c.Name)
		}
		data, err := v.TemplateData()
		if err != nil {
			return "", fmt.Errorf("%s %q: %w", c.Kind, c.Name, err)
		}
		writeComponent(&b, c.Kind, data)
	}
	return b.String(), nil
}

func writeComponent(b *strings.Builder, kind string, d service.TemplateDataPlugin) {
	fmt.Fprintf(b, "### `%s` (%s)\n\n%s\n\n", d.Name, kind, strings.TrimSpace(d.Summary))
	if desc := strings.TrimSpace(d.Description); desc != "" {
		// Headings inside a description sit one level below the component's own.
		desc = strings.ReplaceAll("\n"+desc, "\n### ", "\n#### ")[1:]
		fmt.Fprintf(b, "%s\n\n", desc)
	}
	fmt.Fprintf(b, "```yaml\n%s```\n\n", d.CommonConfigYAML)
	fields := append([]service.TemplateDataPluginField(nil), d.Fields...)
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].FullName < fields[j].FullName })
	b.WriteString("| field | type | default | description |\n|---|---|---|---|\n")
	for _, f := range fields {
		if strings.Contains(f.FullName, "tls.") && f.FullName != "tls.enabled" && f.FullName != "tls.skip_cert_verify" {
			continue // the standard Benthos TLS block: only its switches are listed here
		}
		typ := f.Type
		if f.IsSecret {
			typ += " (secret)"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", f.FullName, typ, code(cell(f.DefaultMarshalled)), cell(firstSentence(f.Description)))
	}
	b.WriteString("\n")
}

func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func cell(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// Splice replaces the generated section of readme with section.
func Splice(readme, section string) (string, error) {
	start := strings.Index(readme, BeginMarker)
	end := strings.Index(readme, EndMarker)
	if start < 0 || end < start {
		return "", fmt.Errorf("README.md lacks the generated-section markers")
	}
	return readme[:start+len(BeginMarker)] + "\n\n" + section + readme[end:], nil
}
