package detections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/stixid"
	"sort"
	"strings"
)

// obj is one STIX object under construction.
type obj = map[string]any

// marking is a TLP marking definition: OpenCTI maps these well-known ids to its built-in markings.
type marking struct {
	id, name string
	object   obj
}

// markingEpoch is the `created` of the TLP markings in the stix2 library.
const markingEpoch = "2017-01-20T00:00:00.000Z"

func tlp1(id, name, color string) marking {
	return marking{id: id, name: name, object: obj{
		"type": "marking-definition", "spec_version": "2.1", "id": id, "created": markingEpoch,
		"definition_type": "tlp", "name": name, "definition": map[string]any{"tlp": color},
	}}
}

// markings maps the configurable names to their definitions. TLP:CLEAR shares TLP:WHITE's id
// (stix2 and OpenCTI do the same); TLP:AMBER+STRICT has no STIX 2.1 TLP v1 object, so it is
// written the way OpenCTI exports its own markings.
var markings = map[string]marking{
	"TLP:CLEAR": tlp1("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "TLP:WHITE", "white"),
	"TLP:GREEN": tlp1("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "TLP:GREEN", "green"),
	"TLP:AMBER": tlp1("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "TLP:AMBER", "amber"),
	"TLP:RED":   tlp1("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "TLP:RED", "red"),
	"TLP:AMBER+STRICT": {
		id: "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37", name: "TLP:AMBER+STRICT",
		object: obj{
			"type": "marking-definition", "spec_version": "2.1",
			"id": "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37", "created": markingEpoch,
			"definition_type": "statement", "definition": map[string]any{"statement": "custom"},
			"name": "TLP:AMBER+STRICT", "x_opencti_definition_type": "TLP", "x_opencti_definition": "TLP:AMBER+STRICT",
		},
	},
}

// markingNames lists the accepted marking names, for the spec and error messages.
func markingNames() []string {
	names := make([]string, 0, len(markings))
	for n := range markings {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookupMarking accepts the names case-insensitively (TLP:WHITE is an alias of TLP:CLEAR).
func lookupMarking(name string) (marking, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if n == "TLP:WHITE" {
		n = "TLP:CLEAR"
	}
	m, ok := markings[n]
	if !ok {
		return marking{}, fmt.Errorf("unknown marking %q: use one of %s", name, strings.Join(markingNames(), ", "))
	}
	return m, nil
}

// bundle collects objects in emission order, keeping one object per id (the later wins, merged
// into the earlier position so references stay in dependency order).
type bundle struct {
	objects []obj
	index   map[string]int
}

func newBundle() *bundle { return &bundle{index: map[string]int{}} }

func (b *bundle) add(o obj) {
	id, _ := o["id"].(string)
	if i, ok := b.index[id]; ok {
		b.objects[i] = o
		return
	}
	b.index[id] = len(b.objects)
	b.objects = append(b.objects, o)
}

func (b *bundle) has(id string) bool { _, ok := b.index[id]; return ok }

// marshal writes the bundle; its id is derived from seed so the same input gives the same bytes.
func (b *bundle) marshal(seed string) ([]byte, error) {
	doc := map[string]any{
		"type":    "bundle",
		"id":      stixid.BundleID(seed),
		"objects": b.objects,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding bundle: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
